"""The page and the API reference in headless Chromium at a phone's width (390x844) and a desktop's
(1280x800): nothing wider than the window even after 25 s of live listening, Start in view, an
upload shown as its timeline with a summary from the same rows, CSV and JSON downloads, and
``/docs`` rendered from ``/openapi.json`` by the package's own script.

Set ``EMOVOX_SCREENSHOTS=docs/img`` to save ``web.png`` (desktop) and ``web-phone.png`` there.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import needs_ravdess, ravdess_file
from testkit.browser import CHROMIUM, chromium, microphone_wav

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytest.importorskip("fastapi", reason="the server needs fastapi (pip install fastapi uvicorn python-multipart)")

from emovox.apps.server.app import create_app
from emovox.apps.server.common import ServerConfig
from testkit.server_thread import ServerThread

pytestmark = [needs_ravdess, pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM} "
                                                                              "(apt-get install chromium)")]
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 800}
LISTEN_S = 25
OVERFLOW = """() => {
  const wide = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > innerWidth + 1)
    .map((e) => e.id || e.className || e.tagName).slice(0, 8);
  return {scroll: document.documentElement.scrollWidth, inner: innerWidth, wide};
}"""


@pytest.fixture(scope="module")
def model(tiny_bundle):
    import emovox

    return emovox.load_model(tiny_bundle)


@pytest.fixture(scope="module")
def server(model):
    with ServerThread(create_app(model, ServerConfig(max_streams=4))) as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Chromium whose fake microphone loops a RAVDESS clip and a second of silence."""
    with chromium(sync_api, microphone_wav(ravdess_file(3, 3), tmp_path_factory.mktemp("mic"))) as running:
        yield running  # actor 03, happy


@pytest.fixture(scope="module")
def conversation(tmp_path_factory) -> Path:
    """15 s of three RAVDESS clips (calm, happy, fearful) with pauses: over segment_over, so a timeline."""
    parts = []
    for actor, emotion in ((1, 2), (3, 3), (2, 6)):
        clip, rate = sf.read(str(ravdess_file(actor, emotion)), dtype="float32")
        parts += [clip, np.zeros(int(1.5 * rate), np.float32)]
    path = tmp_path_factory.mktemp("upload") / "three voices.wav"
    sf.write(str(path), np.concatenate(parts), rate, subtype="PCM_16")
    return path


def open_page(browser, server, viewport: dict, path: str = "/"):
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    page = context.new_page()
    page.problems, page.requests = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.on("console", lambda msg: page.problems.append(msg.text) if msg.type == "error" else None)
    page.goto(server.url + path)
    return page


def assert_fits(page, when: str) -> None:
    fit = page.evaluate(OVERFLOW)
    assert fit["scroll"] <= fit["inner"], f"{when}: the page is {fit['scroll']} px wide in {fit['inner']} px: {fit}"


def assert_in_view(page, selector: str, viewport: dict) -> None:
    box = page.locator(selector).bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0, box
    assert box["x"] + box["width"] <= viewport["width"] and box["y"] + box["height"] <= viewport["height"], box


def test_page_fits_a_phone_and_a_desktop_while_listening_and_after_an_upload(server, browser, model, conversation):
    pages = {"phone": (open_page(browser, server, PHONE), PHONE), "desktop": (open_page(browser, server, DESKTOP), DESKTOP)}
    expect = sync_api.expect
    for name, (page, viewport) in pages.items():
        page.wait_for_selector("#live-bars .bar")
        assert_fits(page, f"{name}, loaded")
        assert_in_view(page, "#start", viewport)
        page.click("#start")
    for name, (page, _) in pages.items():
        expect(page.locator("#status")).to_have_text(re.compile("^Listening"), timeout=15000)
    for second in range(0, LISTEN_S, 5):  # both pages listen at once, for LISTEN_S seconds
        pages["desktop"][0].wait_for_timeout(5000)
        for name, (page, _) in pages.items():
            assert_fits(page, f"{name}, after {second + 5} s of listening")
    for name, (page, viewport) in pages.items():
        assert page.locator("#segments .segment").count() >= 2, name  # the looped clip, once per 4.5 s
        assert page.evaluate("document.getElementById('live-timeline').scrollWidth") <= \
            page.evaluate("document.getElementById('live-timeline').clientWidth")  # nor does its own box grow
        lefts = page.eval_on_selector_all("#track .block", "bs => bs.map(b => parseFloat(b.style.left))")
        assert lefts and all(0 <= left <= 100 for left in lefts), lefts
        assert_in_view(page, "#start", viewport)
        expect(page.locator("#start-text")).to_have_text("Stop")

    for name, (page, viewport) in pages.items():
        with page.expect_response(lambda r: r.url.endswith("/v1/predict")) as answer:
            page.set_input_files("#file", str(conversation))
        body = answer.value.json()
        page.wait_for_selector("#file-result:not([hidden])", timeout=20000)
        assert body["kind"] == "segment" and len(body["predictions"]) >= 2, body
        # the timeline: a block and a row per prediction, in order
        assert page.locator("#file-track .block").count() == len(body["predictions"])
        rows = page.locator("#file-rows tr")
        assert rows.count() == len(body["predictions"])
        assert [rows.nth(i).get_attribute("data-label") for i in range(rows.count())] == \
            [row["label"] for row in body["predictions"]]
        # the summary is the share of time per emotion, from the same rows: it cannot disagree with them
        legend = {li.get_attribute("data-label"): li.locator(".legend-value").inner_text()
                  for li in page.locator("#file-legend li").all()}
        assert legend == {label: f"{round(100 * s)}%" for label, s in body["share"].items() if s > 0}
        assert page.locator("#file-label").inner_text().lower() == max(body["share"], key=body["share"].get)
        assert f"{round(100 * body['share'][body['label']])}% of the speech" in page.locator("#file-summary").inner_text()
        assert page.locator("#file-name").inner_text() == f"three voices.wav · {body['duration_s']:.1f} s"
        assert_fits(page, f"{name}, with the file's result")

        with page.expect_download() as got:
            page.click("#download-csv")
        assert got.value.suggested_filename == "three voices.emotions.csv"
        table = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text())))
        assert [r["label"] for r in table] == [r["label"] for r in body["predictions"]]
        assert list(table[0])[:7] == ["file", "start_s", "end_s", "label", "confidence", "kind", "index"]
        assert {f"p_{label}" for label in model.labels} <= set(table[0])
        assert float(table[0]["start_s"]) == body["predictions"][0]["start_s"]
        with page.expect_download() as got:
            page.click("#download-json")
        assert json.loads(Path(got.value.path()).read_text()) == body

    shots = os.environ.get("EMOVOX_SCREENSHOTS")
    if shots:
        for name, file in (("desktop", "web.png"), ("phone", "web-phone.png")):
            page = pages[name][0]
            page.evaluate("window.scrollTo(0, 0); document.activeElement.blur()")
            page.mouse.move(0, 0)  # no hover highlight in the picture
            page.screenshot(path=str(Path(shots) / file), full_page=True)
    for name, (page, _) in pages.items():
        page.click("#start")
        expect(page.locator("#status")).to_have_text("Microphone off")
        assert not page.problems, (name, page.problems)
        assert all(url.startswith((server.url, "data:", "blob:")) for url in page.requests)
        page.context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_api_reference_is_served_by_the_package(server, browser, viewport):
    page = open_page(browser, server, viewport, "/docs")
    page.wait_for_selector("#operations .card")
    heads = page.eval_on_selector_all("#operations .op-head", "hs => hs.map(h => h.innerText.replace(/\\s+/g, ' '))")
    assert {"GET /healthz", "GET /v1/model", "POST /v1/predict"} <= set(heads), heads
    assert page.locator("#websocket").is_visible()
    assert page.locator("#schema-PredictResult").count() == 1 and page.locator("#schema-ErrorBody").count() == 1
    assert "multipart/form-data" in page.locator("#operations").inner_text()
    assert_fits(page, f"/docs at {viewport['width']} px")

    card = page.locator(".card", has=page.locator("h2", has_text="/v1/predict"))
    card.locator("input[type=file]").set_input_files(str(ravdess_file(1, 2)))
    card.locator("button", has_text="Try it").click()
    expect = sync_api.expect
    expect(card.locator(".try-status")).to_have_text(re.compile("^200 "), timeout=15000)
    assert json.loads(card.locator("pre").inner_text())["predictions"][0]["kind"] == "whole"
    assert_fits(page, f"/docs at {viewport['width']} px, with an answer")
    assert not page.problems, page.problems
    assert all(url.startswith((server.url, "data:")) for url in page.requests), page.requests
    page.context.close()
