"""Every frame the server can send is one msgspec Struct, and docs/protocol.md documents it.

``kefu.chat.server_frames`` holds the frames as a tagged union; ``SERVER_FRAME_FIELDS`` is
derived from it. What is checked here, by reading the code rather than a list by hand:

- no module builds a frame as a dict any more (a dict literal whose ``"type"`` names a
  server frame): a frame is its Struct, so its schema is what is sent;
- every frame Struct is in the union, and every one is built somewhere (chat, tickets,
  events' notifications, …), so the registry has no stale entry;
- each registered frame has a ``### `type` `` heading under "Server → client frames" in
  docs/protocol.md whose text names every field.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from kefu.chat import server_frames
from kefu.tickets import live
from tests.support.source import forgotten_after_the_module

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "kefu"
PROTOCOL = ROOT / "docs" / "protocol.md"


@dataclass(frozen=True)
class Found:
    """A frame in the code: its type and where it is."""

    type: str
    where: str


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"``: frame types are sometimes named (``CREATED``)."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


@functools.cache
def _modules() -> tuple[tuple[Path, ast.Module], ...]:
    """kefu's source, parsed once for the module's tests (~300 files; nothing mutates the
    trees, the scans only walk them)."""
    return tuple(
        (path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted(SOURCE.rglob("*.py"))
    )


_forget_the_parsed_source = forgotten_after_the_module(_modules)


def dict_frames() -> list[Found]:
    """Dict literals whose ``"type"`` (a constant or a named one) is a server frame's."""
    found = []
    for path, tree in _modules():
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
            if frame_type in server_frames.SERVER_FRAME_FIELDS:
                found.append(Found(frame_type, f"{path.relative_to(ROOT)}:{node.lineno}"))
    return found


def built_frames() -> list[Found]:
    """Calls of a frame Struct (``ErrorFrame(...)``, ``server_frames.MessageNew(...)``)."""
    tags = {t.__name__: str(t.__struct_config__.tag) for t in server_frames.FRAME_TYPES}
    found = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in tags:
                found.append(Found(tags[name], f"{path.relative_to(ROOT)}:{node.lineno}"))
    return found


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


def test_no_frame_is_built_as_a_dict() -> None:
    problems = [f"{f.where}: {f.type!r} built as a dict" for f in dict_frames()]
    assert not problems, "build it as its kefu.chat.server_frames Struct:\n" + "\n".join(problems)


def test_every_frame_struct_is_in_the_union_once() -> None:
    def subclasses(cls: type) -> set[type]:
        found: set[type] = set()
        direct: list[type] = cls.__subclasses__()
        for sub in direct:
            found |= {sub, *subclasses(sub)}
        return found

    defined = subclasses(server_frames._Frame)
    assert defined == set(server_frames.FRAME_TYPES)
    tags = [t.__struct_config__.tag for t in server_frames.FRAME_TYPES]
    assert len(tags) == len(set(tags)) == len(server_frames.SERVER_FRAME_FIELDS)


def test_the_scan_finds_frames_in_every_capability() -> None:
    """A scan that found nothing would pass everything below."""
    where: dict[str, list[str]] = {}
    for found in built_frames():
        where.setdefault(found.type, []).append(found.where)

    assert any(w.startswith("src/kefu/chat/") for w in where["message.new"])
    assert any(w.startswith("src/kefu/rule_adapters.py:") for w in where["notification"])
    assert any(w.startswith("src/kefu/tickets/") for w in where["ticket.updated"])


def test_every_registered_frame_is_built_somewhere() -> None:
    stale = server_frames.SERVER_FRAME_FIELDS.keys() - {f.type for f in built_frames()}
    assert not stale, f"frame Structs no code builds: {sorted(stale)}"


def test_every_registered_frame_is_documented_with_its_fields() -> None:
    documented = documented_sections()
    problems = []
    for frame_type, fields in sorted(server_frames.SERVER_FRAME_FIELDS.items()):
        body = documented.get(frame_type)
        if body is None:
            problems.append(f"{frame_type}: no '### `{frame_type}`' under Server → client frames")
            continue
        for field in sorted(fields - {"type"}):
            if f"`{field}`" not in body and f'"{field}"' not in body:
                problems.append(f"{frame_type}: the field `{field}` is not described")
    stale = documented.keys() - server_frames.SERVER_FRAME_FIELDS.keys()
    problems += [f"{t}: documented, but the server sends no such frame" for t in sorted(stale)]
    assert not problems, "docs/protocol.md:\n" + "\n".join(problems)


def test_ticket_frame_schemas_and_the_registry_agree() -> None:
    """tickets.live keeps strict schemas of its frames; the registry must say the same."""
    for schema in (live.CreatedFrame, live.UpdatedFrame):
        tag = schema.__struct_config__.tag
        assert isinstance(tag, str)
        assert {"type", *schema.__struct_fields__} == server_frames.SERVER_FRAME_FIELDS[tag]
