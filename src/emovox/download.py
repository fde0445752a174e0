"""``emovox download ravdess DIR``: fetch the official RAVDESS speech archive, resumably, and verify it.

The archive (Zenodo record 1188976, ``Audio_Speech_Actors_01-24.zip``, about 200 MB)
is downloaded to ``DIR/Audio_Speech_Actors_01-24.zip.part`` (a partial file is resumed
with an HTTP Range request), checked (zip CRCs, 1440 files, and every WAV's SHA-256
against the list shipped with emovox), then unpacked into ``DIR``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from importlib import resources
from pathlib import Path

from tqdm.auto import tqdm

from .corpora.ravdess import ARCHIVE_NAME, ARCHIVE_URL
from .errors import DataError

CHUNK = 1 << 20


def expected_sha256() -> dict[str, str]:
    """``Actor_NN/<name>.wav`` -> SHA-256 of the original WAV, for all 1440 files."""
    text = resources.files("emovox.corpora").joinpath("ravdess_sha256.tsv").read_text()
    return dict(line.split("\t") for line in text.splitlines() if line)


def fetch(url: str, target: Path, *, progress: bool = True, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``target``, resuming ``target.part`` if a previous attempt left one."""
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # already complete
            part.replace(target)
            return target
        raise DataError(f"{url}: download failed (HTTP {exc.code})") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DataError(f"{url}: cannot connect ({getattr(exc, 'reason', exc)}); check the network and retry, "
                        f"the download resumes where it stopped") from None
    with response:
        if have and response.status != 206:  # server ignored the range: start again
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length else None
        with open(part, "ab" if have else "wb") as handle, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, desc=target.name, disable=not progress) as bar:
            while chunk := response.read(CHUNK):
                handle.write(chunk)
                bar.update(len(chunk))
    if total is not None and part.stat().st_size != total:
        raise DataError(f"{url}: download stopped at {part.stat().st_size} of {total} bytes; run again to resume")
    part.replace(target)
    return target


def verify_archive(archive: Path, expected: dict[str, str] | None = None) -> list[str]:
    """Check the archive's CRCs and each WAV's SHA-256; return the member names to unpack."""
    expected = expected_sha256() if expected is None else expected
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.namelist() if m.lower().endswith(".wav") and not m.startswith("__MACOSX")]
            by_key = {"/".join(Path(m).parts[-2:]): m for m in members}
            missing = sorted(set(expected) - set(by_key))
            if missing:
                raise DataError(f"{archive}: {len(missing)} of {len(expected)} RAVDESS files missing "
                                f"(first: {missing[0]}); delete it and download again")
            for key, digest in expected.items():
                if hashlib.sha256(zf.read(by_key[key])).hexdigest() != digest:
                    raise DataError(f"{archive}: {key} does not match the published file; delete it and download again")
            return [by_key[k] for k in expected]
    except (zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{archive}: not a complete zip archive ({exc}); delete it and download again") from None


def download_ravdess(folder: str | os.PathLike, *, url: str | None = None, progress: bool = True,
                     expected: dict[str, str] | None = None) -> Path:
    """Fetch, verify and unpack RAVDESS speech into ``folder`` (``folder/Actor_01`` ...).

    Args:
        folder: where to put it.
        url: the archive's address (default: Zenodo; ``$EMOVOX_RAVDESS_URL`` overrides).
        expected: name -> SHA-256 of each WAV (default: the list shipped with emovox).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / ARCHIVE_NAME
    if not archive.exists():
        fetch(url or os.environ.get("EMOVOX_RAVDESS_URL") or ARCHIVE_URL, archive, progress=progress)
    members = verify_archive(archive, expected)
    staging = folder / ".unpacking"
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(archive) as zf:
        for member in tqdm(members, desc="unpacking", unit="file", disable=not progress):
            actor, name = Path(member).parts[-2:]
            (staging / actor).mkdir(parents=True, exist_ok=True)
            (staging / actor / name).write_bytes(zf.read(member))
    for actor_dir in sorted(staging.iterdir()):
        destination = folder / actor_dir.name
        shutil.rmtree(destination, ignore_errors=True)
        actor_dir.replace(destination)
    staging.rmdir()
    return folder
