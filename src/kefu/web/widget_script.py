"""``/widget.js`` as browsers load it: ``static/widget.js`` with its two catalogs
(``static/widget_texts.json``, en and zh-CN) spliced in where it says ``kefu:texts``.

Why spliced by the server: a shop adds ONE script tag, so the catalogs must arrive in the
same response; kept in a file of their own, the translations are edited (and their keys
checked, tests/unit/test_widget_catalogs.py) without scrolling through the widget's code.
The result is built once per change of either file (their mtimes), with a content ETag so
a revalidating browser gets a 304, and gzipped once (a shop page loads ~16 KB, not ~51).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
SCRIPT = STATIC_DIR / "widget.js"
CATALOGS = STATIC_DIR / "widget_texts.json"
# Where the catalogs go: the script's own placeholder keeps it valid JavaScript unbuilt.
MARKER = "/* kefu:texts */ { en: {} }"


@dataclass(frozen=True, slots=True)
class WidgetScript:
    body: bytes
    etag: str
    gzipped: bytes  # the same body, for browsers that accept gzip (all of them)
    gzip_etag: str  # a different representation, so a different validator


_built: dict[tuple[int, int], WidgetScript] = {}


def widget_script() -> WidgetScript:
    """The script with its catalogs, rebuilt when either file changed on disk."""
    key = (SCRIPT.stat().st_mtime_ns, CATALOGS.stat().st_mtime_ns)
    found = _built.get(key)
    if found is None:
        found = build(SCRIPT.read_text(encoding="utf-8"), CATALOGS.read_text(encoding="utf-8"))
        _built.clear()
        _built[key] = found
    return found


def build(script: str, catalogs: str) -> WidgetScript:
    if script.count(MARKER) != 1:
        raise ValueError(f"widget.js must hold {MARKER!r} exactly once")
    texts = json.dumps(json.loads(catalogs), ensure_ascii=False, separators=(",", ":"))
    # "</" cannot end a script element, and U+2028/2029 are fine in JSON but not in old JS.
    texts = texts.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    body = script.replace(MARKER, texts).encode("utf-8")
    digest = hashlib.sha256(body).hexdigest()[:32]
    # mtime=0: the same bytes on every node and restart.
    return WidgetScript(body, f'"{digest}"', gzip.compress(body, 9, mtime=0), f'"{digest}-gz"')
