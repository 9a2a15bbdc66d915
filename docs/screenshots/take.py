"""Screenshots of a study's report.html and leaderboard.html at 1366 px, in headless Chromium.

    python docs/screenshots/take.py STUDY_DIR [OUT_DIR]

Needs Playwright and Debian's /usr/bin/chromium (the browser tests use the same pair).
Writes report.png and leaderboard.png (the first screenful and the whole page) and prints how
far each page is wider than the window (0 = it fits).
"""

from __future__ import annotations

import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
WINDOW = {"width": 1366, "height": 768}


def main(study: Path, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        for name in ("report", "leaderboard"):
            page = browser.new_page(viewport=WINDOW)
            page.goto((study / f"{name}.html").resolve().as_uri())
            page.wait_for_load_state("load")
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            page.screenshot(path=str(out / f"{name}-1366.png"))
            page.screenshot(path=str(out / f"{name}-1366-full.png"), full_page=True)
            print(f"{name}: {overflow} px wider than the window")
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).parent)
