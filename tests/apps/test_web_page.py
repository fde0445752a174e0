"""The page at ``/`` in headless Chromium: the fake microphone plays a RAVDESS clip, a prediction appears.

Chromium (Debian's ``chromium`` at /usr/bin/chromium) is driven by Playwright; nothing is
downloaded. Set ``EMOVOX_SCREENSHOT=docs/img/web.png`` to save a screenshot of the page.
"""

from __future__ import annotations

import os
import re

import pytest
import soundfile as sf

from conftest import needs_ravdess, ravdess_file
from testkit.browser import CHROMIUM, chromium, microphone_wav

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytest.importorskip("fastapi", reason="the server needs fastapi (pip install fastapi uvicorn python-multipart)")

from emovox.apps.server.app import create_app  # noqa: E402
from emovox.apps.server.common import ServerConfig  # noqa: E402
from testkit.server_thread import ServerThread  # noqa: E402

pytestmark = [needs_ravdess, pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM} "
                                                                              "(apt-get install chromium)")]


@pytest.fixture(scope="module")
def model(tiny_bundle):
    import emovox

    return emovox.load_model(tiny_bundle)


@pytest.fixture(scope="module")
def server(model):
    with ServerThread(create_app(model, ServerConfig())) as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Chromium whose fake microphone loops a RAVDESS clip (with a second of silence) from a WAV file."""
    with chromium(sync_api, microphone_wav(ravdess_file(3, 3), tmp_path_factory.mktemp("mic"))) as running:
        yield running  # actor 03, happy


def test_microphone_stream_shows_a_prediction(server, browser, model):
    page = browser.new_page(viewport={"width": 1180, "height": 620})
    requests, problems = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.goto(server.url + "/")
    page.wait_for_selector("#live-bars .bar")
    assert page.locator("#live-bars .bar").count() == len(model.labels)

    page.click("#start")
    expect = sync_api.expect
    expect(page.locator("#status")).to_have_text(re.compile("^Listening"), timeout=10000)
    page.wait_for_selector("#segments .segment", timeout=20000)  # the clip's speech, then its silence
    label = page.locator("#segments .segment").first.get_attribute("data-label")
    assert label in model.labels
    assert page.locator("#current-label").inner_text().lower() in model.labels
    assert page.locator("#track .block").count() >= 1
    widths = page.eval_on_selector_all("#live-bars .bar-fill", "bars => bars.map(b => parseFloat(b.style.width) || 0)")
    assert 95 <= sum(widths) <= 105  # the live bars show a probability distribution

    page.set_input_files("#file", str(ravdess_file(1, 2)))  # the file upload, through POST /v1/predict
    page.wait_for_selector("#file-result:not([hidden])", timeout=10000)
    assert page.locator("#file-label").inner_text().lower() == model.predict(ravdess_file(1, 2)).label
    clip = ravdess_file(1, 2)
    assert page.locator("#file-name").inner_text() == f"{clip.name} · {sf.info(str(clip)).duration:.1f} s"
    assert page.locator("#file-segments .segment").count() == 0  # a short clip: one row for the whole

    if os.environ.get("EMOVOX_SCREENSHOT"):
        page.wait_for_timeout(1500)  # a few more estimates and segments for the picture
        page.screenshot(path=os.environ["EMOVOX_SCREENSHOT"], full_page=True)
    page.click("#start")
    expect(page.locator("#status")).to_have_text("Microphone off")
    assert not problems, problems
    assert all(url.startswith(server.url) or url.startswith("data:") for url in requests), requests
    page.close()
