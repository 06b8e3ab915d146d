"""Every frame the server can send is in one registry and documented in docs/protocol.md.

The frames are found in the code, not listed by hand: every dict literal with a constant
``"type"`` in a module that encodes frames (one that uses ``kefu.chat.frames``) is a
server frame, wherever it lives (chat, tickets, events' notifications, …). Each must be
in ``frames.SERVER_FRAME_FIELDS`` with the keys it is built with, and each registered
frame must have a ``### `type` `` heading under "Server → client frames" in
docs/protocol.md whose text names every field.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from kefu.chat import frames
from kefu.tickets import live

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "kefu"
PROTOCOL = ROOT / "docs" / "protocol.md"


@dataclass(frozen=True)
class Built:
    """A frame literal in the code: its type, the keys written in it, and where."""

    type: str
    keys: frozenset[str]
    where: str


def _encodes_frames(tree: ast.Module, path: Path) -> bool:
    if path == SOURCE / "chat" / "frames.py":
        return True
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("kefu.chat", "kefu.chat.frames"):
            return True
    return False


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"``: frame types are sometimes named (``CREATED``)."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def built_frames() -> list[Built]:
    built = []
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if not _encodes_frames(tree, path):
            continue
        names = _constants(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Dict):
                continue
            keys = {
                k.value: v
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant)
            }
            value = keys.get("type")
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                frame_type = value.value
            elif isinstance(value, ast.Name) and value.id in names:
                frame_type = names[value.id]
            else:
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            built.append(Built(frame_type, frozenset(map(str, keys)), where))
    return built


def documented_sections() -> dict[str, str]:
    """``type`` -> the text under its heading in "Server → client frames"."""
    text = PROTOCOL.read_text(encoding="utf-8")
    section = text.split("## Server → client frames", 1)[1].split("\n## ", 1)[0]
    documented: dict[str, str] = {}
    for part in section.split("\n### ")[1:]:
        heading, _, body = part.partition("\n")
        for name in re.findall(r"`([^`]+)`", heading):
            documented[name] = body
    return documented


def test_the_scan_finds_frames_in_every_capability() -> None:
    """A scan that found nothing would pass everything below."""
    where = {b.type: b.where for b in built_frames()}

    assert where["message.new"].startswith("src/kefu/chat/frames.py")
    assert where["notification"].startswith("src/kefu/events/")
    assert where["ticket.updated"].startswith("src/kefu/tickets/")


def test_every_frame_the_code_builds_is_registered_with_its_keys() -> None:
    problems = []
    for built in built_frames():
        registered = frames.SERVER_FRAME_FIELDS.get(built.type)
        if registered is None:
            problems.append(f"{built.where}: {built.type!r} is not in SERVER_FRAME_FIELDS")
        elif not built.keys <= registered:
            extra = sorted(built.keys - registered)
            problems.append(f"{built.where}: {built.type!r} has {extra}, not in its registry entry")
    stale = frames.SERVER_FRAME_FIELDS.keys() - {b.type for b in built_frames()}
    problems += [f"SERVER_FRAME_FIELDS[{t!r}]: no code builds it" for t in sorted(stale)]
    assert not problems, "chat/frames.py SERVER_FRAME_FIELDS:\n" + "\n".join(problems)


def test_every_registered_frame_is_documented_with_its_fields() -> None:
    documented = documented_sections()
    problems = []
    for frame_type, fields in sorted(frames.SERVER_FRAME_FIELDS.items()):
        body = documented.get(frame_type)
        if body is None:
            problems.append(f"{frame_type}: no '### `{frame_type}`' under Server → client frames")
            continue
        for field in sorted(fields - {"type"}):
            if f"`{field}`" not in body and f'"{field}"' not in body:
                problems.append(f"{frame_type}: the field `{field}` is not described")
    stale = documented.keys() - frames.SERVER_FRAME_FIELDS.keys()
    problems += [f"{t}: documented, but the server sends no such frame" for t in sorted(stale)]
    assert not problems, "docs/protocol.md:\n" + "\n".join(problems)


def test_ticket_frame_schemas_and_the_registry_agree() -> None:
    """tickets.live keeps strict schemas of its frames; the registry must say the same."""
    for schema in (live.CreatedFrame, live.UpdatedFrame):
        tag = schema.__struct_config__.tag
        assert isinstance(tag, str)
        assert {"type", *schema.__struct_fields__} == frames.SERVER_FRAME_FIELDS[tag]
