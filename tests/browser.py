"""Headless Chromium (Debian's /usr/bin/chromium) through Playwright, for page tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 30_000
DESKTOP = {"width": 1366, "height": 768}

# Markdown that a renderer would have consumed: fences, emphasis, table rules, image syntax.
MARKDOWN_MARKERS = ("```", "**", "|---", "| ---", "![", "](")


@contextlib.contextmanager
def chromium_page(viewport: dict | None = None) -> Iterator:
    """A page in a fresh headless Chromium; page errors are collected in ``page.errors``."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=viewport or DESKTOP)
            page.set_default_timeout(WAIT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.errors = errors
            yield page
        finally:
            browser.close()


def overflow_px(page) -> int:
    """How far the page is wider than its window (0 = it fits, no horizontal scroll)."""
    return int(page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth"))


def leftover_markdown(text: str) -> list[str]:
    """Lines of rendered text that still show Markdown syntax (markers above, or '- '/'# ' openers)."""
    bad = []
    for line in text.splitlines():
        s = line.strip()
        if any(m in s for m in MARKDOWN_MARKERS) or s.startswith(("- ", "# ", "## ", "### ")) or s.count("`") >= 2:
            bad.append(s)
    return bad


# Elements that may be wider than the window: inside a horizontal scroll container.
_LAYOUT_JS = """(sel) => {
  const scrollers = [...document.querySelectorAll(sel)];
  const inside = e => scrollers.some(s => s !== e && s.contains(e));
  const wide = [...document.body.querySelectorAll('*')].filter(e => !inside(e))
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
    .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''));
  const tables = [...document.querySelectorAll('table')].map(t => {
    const box = t.closest(sel) || t;
    return {table: Math.round(t.getBoundingClientRect().width), box_right: Math.round(box.getBoundingClientRect().right),
            scrolls: box !== t && box.scrollWidth > box.clientWidth};
  });
  return {wide, tables, page: document.documentElement.scrollWidth - window.innerWidth};
}"""
SCROLLERS = ".scroll, .board"


def layout(page) -> dict:
    """Measured at the page's window: ``wide`` (elements outside any scroll container that pass
    the window's right edge), ``tables`` (each table's width, its container's right edge, and
    whether it scrolls inside that container) and ``page`` (overflow_px)."""
    return page.evaluate(_LAYOUT_JS, SCROLLERS)
