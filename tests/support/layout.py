"""Geometry checks for the browser tests: nothing cut, nothing overlapping, nothing off
screen. Measured in the page (getBoundingClientRect), so they hold for any font."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

SIZES = [(1280, 800), (1366, 768), (375, 812)]

_BOXES = """(selectors) => selectors.map((s) => {
  const node = document.querySelector(s);
  if (!node) return null;
  const r = node.getBoundingClientRect();
  const shown = r.width > 0 && r.height > 0 && getComputedStyle(node).visibility !== 'hidden';
  return shown ? {s, left: r.left, right: r.right, top: r.top, bottom: r.bottom} : null;
})"""


async def boxes(page: Page, *selectors: str) -> list[dict[str, Any]]:
    """The shown elements' boxes (hidden or missing ones left out)."""
    found = await page.evaluate(_BOXES, list(selectors))
    return [b for b in found if b is not None]


def overlapping(found: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs of boxes that overlap (touching edges do not count)."""
    pairs = []
    for i, a in enumerate(found):
        for b in found[i + 1 :]:
            if (
                a["left"] < b["right"] - 0.5
                and b["left"] < a["right"] - 0.5
                and a["top"] < b["bottom"] - 0.5
                and b["top"] < a["bottom"] - 0.5
            ):
                pairs.append((a["s"], b["s"]))
    return pairs


async def off_screen(page: Page, selector: str) -> list[str]:
    """Shown elements matching ``selector`` that are not wholly inside the viewport."""
    found: list[str] = await page.evaluate(
        """(s) => [...document.querySelectorAll(s)].filter((n) => {
          const r = n.getBoundingClientRect();
          if (!(r.width > 0 && r.height > 0)) return false;
          return r.left < -0.5 || r.top < -0.5
            || r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5;
        }).map((n) => n.id || n.getAttribute('aria-label') || n.textContent.trim().slice(0, 40))""",
        selector,
    )
    return found


async def cut(page: Page, selector: str) -> list[str]:
    """Shown elements whose text does not fit (an ellipsis or a clipped overflow)."""
    found: list[str] = await page.evaluate(
        """(s) => [...document.querySelectorAll(s)].filter((n) => n.offsetWidth > 0
             && n.scrollWidth > n.clientWidth + 1).map((n) => n.textContent.trim().slice(0, 60))""",
        selector,
    )
    return found
