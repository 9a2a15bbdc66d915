"""Screenshots of a study's report.html and leaderboard.html at 1366 px, in headless Chromium.

    python docs/screenshots/take.py STUDY_DIR [OUT_DIR]

Needs Playwright and Debian's /usr/bin/chromium (the browser tests use the same pair).
Writes report-1366.png (the first screenful: the summary), report-1366-<section>.png for
the contents, the effect charts, the best-vs-last answer, the loss curves and the
spectrograms, and leaderboard-1366.png; prints, per page, how far it is wider than the
window, anything outside a scroll box that passes the window's edge, and each table's
width and right edge (tests/browser.py ``layout``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.browser import chromium_page, layout  # noqa: E402

SECTIONS = ("contents", "effects-at-a-glance", "are-best-val-checkpoints-better-than-last", "loss-curves", "spectrograms")


def main(study: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in ("report", "leaderboard"):
        with chromium_page() as page:
            page.goto((study / f"{name}.html").resolve().as_uri())
            page.wait_for_load_state("load")
            m = layout(page)
            widths = ", ".join(f"{t['table']} px (right edge {t['box_right']})" for t in m["tables"])
            print(f"{name}: {m['page']} px wider than the window; outside scroll boxes past the edge: {m['wide'] or 'none'}; "
                  f"tables: {widths}")
            page.screenshot(path=str(out / f"{name}-1366.png"))
            if name == "report":
                for section in SECTIONS:
                    if page.locator(f"#{section}").count():
                        page.locator(f"#{section}").scroll_into_view_if_needed()
                        page.evaluate(f"() => document.getElementById('{section}').scrollIntoView()")
                        page.screenshot(path=str(out / f"report-1366-{section}.png"))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).parent)
