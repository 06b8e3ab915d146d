"""Decide a file's type from its first bytes, never from its name or the client's
``Content-Type``: both are chosen by the sender, and a lie there (an HTML page named
``cat.png``) is how uploads become stored XSS. Pure functions, no I/O.
"""

from __future__ import annotations

# Images a browser may render inline without running anything. SVG is left out on
# purpose: it is XML that can carry script.
SAFE_INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

# Bytes of a text file inspected to call it text: enough to see binary, cheap to decode.
TEXT_PROBE_BYTES = 8192


def sniff(data: bytes) -> str | None:
    """The MIME type the content proves, or None when it is nothing we recognise."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    # Call recordings (department systems push them over gRPC). None is in the default
    # ``allowed_types``: an operator who wants them lists them.
    if len(data) >= 12 and data.startswith(b"RIFF") and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data.startswith(b"ID3") or _mp3_frame(data):
        return "audio/mpeg"
    if _is_text(data):
        return "text/plain"
    return None


def _mp3_frame(data: bytes) -> bool:
    """An MPEG audio layer III frame header: 11 sync bits, layer III, a valid bit rate
    and sample rate (stricter than the sync alone, which random bytes hit often)."""
    if len(data) < 4 or data[0] != 0xFF or data[1] & 0xE6 != 0xE2:
        return False
    return data[2] >> 4 not in (0x0, 0xF) and (data[2] >> 2) & 0x3 != 0x3


def _is_text(data: bytes) -> bool:
    """UTF-8 without NUL or other C0 controls (tabs and line breaks aside)."""
    probe = data[:TEXT_PROBE_BYTES]
    if not probe:
        return False
    try:
        text = probe.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the probe's end is still text; nothing else is.
        cut = len(data) > len(probe) and exc.reason == "unexpected end of data"
        if not cut:
            return False
        text = probe[: exc.start].decode("utf-8")
    return not any(ord(ch) < 32 and ch not in "\t\n\r\f" for ch in text)


def is_safe_inline(content_type: str) -> bool:
    return content_type in SAFE_INLINE_IMAGES


def clean_name(name: str | None, content_type: str) -> str:
    """A display name without paths or control characters; the type decides nothing."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>')
    base = base.strip().strip(".")[:200]
    return base or "file" + _DEFAULT_EXTENSIONS.get(content_type, "")


_DEFAULT_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
}
