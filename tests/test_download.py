"""`emovox download` against a local HTTP server (tests never use the internet)."""

import hashlib
import http.server
import io
import threading
import zipfile

import pytest

from conftest import tone, write_audio
from emovox import corpora
from emovox.download import download_ravdess, expected_sha256
from emovox.errors import DataError


class RangeHandler(http.server.BaseHTTPRequestHandler):
    payload = b""
    ranges: list = []

    def do_GET(self):  # noqa: N802
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            type(self).ranges.append(start)
        body = self.payload[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def archive(tmp_path):
    buffer, expected = io.BytesIO(), {}
    with zipfile.ZipFile(buffer, "w") as zf:
        for actor, emotion in ((1, 3), (2, 5)):
            name = f"Actor_{actor:02d}/03-01-{emotion:02d}-01-01-01-{actor:02d}.wav"
            data = write_audio(tmp_path / "x.wav", tone(0.3, 16000, 100 * emotion), 16000).read_bytes()
            zf.writestr(name, data)
            expected[name] = hashlib.sha256(data).hexdigest()
    return buffer.getvalue(), expected


@pytest.fixture
def server(archive):
    RangeHandler.payload, RangeHandler.ranges = archive[0], []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/Audio_Speech_Actors_01-24.zip"
    httpd.shutdown()


def test_download_resume_verify_unpack(tmp_path, archive, server):
    payload, expected = archive
    target = tmp_path / "ravdess"
    target.mkdir()
    (target / "Audio_Speech_Actors_01-24.zip.part").write_bytes(payload[:1000])  # an interrupted download
    download_ravdess(target, url=server, progress=False, expected=expected)
    assert RangeHandler.ranges == [1000]
    utts = corpora.open_corpus(target)
    assert [(u.speaker, u.label) for u in utts] == [("01", "happy"), ("02", "angry")]


def test_download_rejects_wrong_content(tmp_path, archive, server):
    _, expected = archive
    wrong = {k: "0" * 64 for k in expected}
    with pytest.raises(DataError, match="does not match the published file"):
        download_ravdess(tmp_path / "r", url=server, progress=False, expected=wrong)
    assert not (tmp_path / "r" / "Actor_01").exists()


def test_shipped_checksums_cover_ravdess():
    sums = expected_sha256()
    assert len(sums) == 1440 and all(len(v) == 64 for v in sums.values())
    assert "Actor_24/03-01-08-02-02-02-24.wav" in sums
