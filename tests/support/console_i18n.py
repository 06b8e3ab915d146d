"""What the console's language tests share: the words a part of the page shows (text nodes
and the attributes people read or hear), which of them are still English, and the data
that is nobody's translation to make (names, notes and ids from department systems).

A text counts as English when it holds a Latin word of two letters or more that is neither
allowed (product names, codes such as SLA) nor part of a data string given by the test."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from playwright.async_api import Page

# Product names, codes and units a Chinese support team reads as they are.
ALLOWED_WORDS = frozenset({"kefu", "SLA", "CSAT", "API", "ID", "IP", "VIP", "JSON", "UTC", "CNY"})

# The shown text nodes of `root` (and its shown descendants' placeholder, title, aria-label,
# alt): what a sighted agent reads, or a screen reader says.
_SHOWN_TEXT = """(selector) => {
  const out = [];
  const shown = (el) => el && el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
  for (const root of document.querySelectorAll(selector)) {
    if (!shown(root)) continue;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent.trim();
      const parent = node.parentElement;
      if (text && shown(parent) && !parent.closest("svg, style, script")) out.push(text);
      if (text && parent.closest("svg") && parent.tagName !== "title") out.push(text); // charts
    }
    const labelled = root.querySelectorAll("[placeholder], [title], [aria-label], [alt]");
    for (const el of [root, ...labelled]) {
      if (!shown(el)) continue;
      for (const name of ["placeholder", "title", "aria-label", "alt"]) {
        const value = el.getAttribute(name);
        if (value) out.push(value);
      }
    }
    for (const title of root.querySelectorAll("svg title")) out.push(title.textContent);
    for (const el of root.querySelectorAll("*")) { // words a stylesheet adds (content: "…")
      if (!shown(el)) continue;
      for (const pseudo of ["::before", "::after"]) {
        const content = getComputedStyle(el, pseudo).content;
        if (content && content.startsWith('"')) out.push(content.slice(1, -1));
      }
    }
  }
  return out;
}"""

# Fields of a 360 answer, a saga or a ticket that carry data, not kefu's words. Status-like
# codes (order status, call outcome, tier, saga and step status) are left out on purpose:
# the console translates those.
DATA_KEYS = frozenset(
    {
        "name", "email", "phone", "company", "tags", "notes", "agent", "id", "key",
        "customer_key", "locale", "subject", "body", "error", "order_id", "reason", "queue",
    }
)  # fmt: skip


def data_strings(value: Any, keys: frozenset[str] = DATA_KEYS) -> set[str]:
    """Every string under one of ``keys`` anywhere in ``value`` (lists and dicts walked)."""
    found: set[str] = set()

    def walk(node: Any, key: str | None) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif isinstance(node, str) and key in keys and node:
            found.add(node)

    walk(value, None)
    return found


async def english_in(page: Page, selector: str, data: Iterable[str] = ()) -> list[str]:
    """The texts shown under ``selector`` that still hold an English word, once the data
    strings are taken out (longest first, so a name inside a note goes with the note)."""
    texts: list[str] = await page.evaluate(_SHOWN_TEXT, selector)
    strip = sorted({d for d in data if d}, key=len, reverse=True)
    english = []
    for text in texts:
        rest = text
        for item in strip:
            rest = rest.replace(item, " ")
        if set(re.findall(r"[A-Za-z]{2,}", rest)) - ALLOWED_WORDS:
            english.append(text)
    return english


async def no_english(page: Page, selector: str, data: set[str]) -> None:
    """No English word left under ``selector`` but the test's own data."""
    left = await english_in(page, selector, data)
    assert left == [], f"English left under {selector}: {left}"


async def no_overflow(page: Page) -> None:
    """Nothing wider than the window: no sideways scroll."""
    width = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert width[0] <= width[1], width
