"""The review page in a real headless Chromium, driven by the keyboard."""

from pathlib import Path

import pytest

from benchbox.review.server import serve
from benchbox.review.session import open_session
from benchbox.review.store import TagStore

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 30_000
# Record the playhead position every time play() is called, and count the calls.
PLAY_SPY = """
window.__plays = [];
const realPlay = HTMLMediaElement.prototype.play;
HTMLMediaElement.prototype.play = function () { window.__plays.push(this.currentTime); return realPlay.call(this); };
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]


@pytest.fixture
def browser_page():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        page.add_init_script(PLAY_SPY)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield page, errors
        browser.close()


def _wait_clip(page, number: int) -> None:
    page.wait_for_function(f"() => document.getElementById('title').textContent.startsWith('Clip {number}')")
    page.wait_for_function("() => document.getElementById('player').src.startsWith('blob:')")


def _wait_tagged(page, count: int) -> None:
    page.wait_for_function(f"() => document.getElementById('count').textContent.startsWith('{count} /')")


def test_keyboard_review_plays_tags_and_resumes(fake_run, browser_page):
    page, errors = browser_page
    session = open_session(fake_run, rater="alice", include_real=2, seed=9)
    server = serve(session)
    try:
        page.goto(server.url)
        _wait_clip(page, 1)
        text = page.content()
        assert "sashimi" not in text and "samples/" not in text  # blinded
        page.wait_for_function("() => document.getElementById('player').readyState >= 1")

        page.evaluate("() => { document.getElementById('player').currentTime = 0.2; }")
        page.keyboard.press("Space")
        page.keyboard.press("Space")
        plays = page.evaluate("() => window.__plays")
        assert len(plays) == 2 and plays == [0, 0]  # each play starts from the top

        page.keyboard.press("ArrowRight")  # no decision yet: stays on clip 1
        assert page.text_content("#title").startswith("Clip 1")
        page.keyboard.press("1")
        _wait_tagged(page, 1)
        _wait_clip(page, 2)
        page.keyboard.press("3")  # reason chip: silent
        page.keyboard.press("n")
        page.keyboard.type("only hiss")
        page.keyboard.press("Escape")
        page.keyboard.press("2")
        _wait_tagged(page, 2)
        _wait_clip(page, 3)
        page.keyboard.press("s")
        _wait_tagged(page, 3)
        _wait_clip(page, 4)

        page.reload()
        _wait_clip(page, 4)  # resumes at the first untagged clip
        page.keyboard.press("Backspace")
        _wait_clip(page, 3)
        assert page.text_content("#status") == "tagged skipped"
        page.keyboard.press("Backspace")
        _wait_clip(page, 2)
        assert page.input_value("#note") == "only hiss"
        assert page.eval_on_selector(".chip[data-reason='silent']", "b => b.classList.contains('on')")
        assert errors == []
    finally:
        server.stop()

    rows = TagStore(fake_run / "tags.sqlite", create=False).tags_frame().sort_values("position")
    assert rows["tag"].tolist() == ["useful", "not_useful", "skip"]
    assert rows["position"].tolist() == [0, 1, 2]
    assert rows["reasons"].tolist() == [[], ["silent"], []]
    assert rows["note"].tolist() == ["", "only hiss", ""]
    assert [session.store.opaque_id(s) for s in rows["sha256"]] == session.ids[:3]


def test_narrow_window_header_fits_and_spectrogram_has_axes(fake_run, browser_page):
    page, errors = browser_page
    server = serve(open_session(fake_run, rater="a-rater-with-a-long-name", seed=1))
    try:
        page.set_viewport_size({"width": 420, "height": 800})
        page.goto(server.url)
        _wait_clip(page, 1)
        page.wait_for_function("() => document.querySelectorAll('#taxis span').length > 1")
        header = page.evaluate("() => { const h = document.querySelector('header'); return [h.scrollWidth, h.clientWidth]; }")
        assert header[0] <= header[1] and page.evaluate("() => document.documentElement.scrollWidth") <= 420
        freqs = page.eval_on_selector_all("#faxis span", "s => s.map(e => e.textContent)")
        times = page.eval_on_selector_all("#taxis span", "s => s.map(e => e.textContent)")
        assert freqs[0] == "0 kHz" and freqs[-1] == "8 kHz" and times[0] == "0 s" and all(t.endswith(" s") for t in times)
        assert "dBFS" in page.inner_text(".legend") and errors == []
    finally:
        server.stop()
