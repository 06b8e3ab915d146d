"""Pure parts behind the web surface: type sniffing, names, origins."""

from __future__ import annotations

import pytest

from kefu.attachments.sniff import clean_name, is_safe_inline, sniff
from kefu.auth.origins import OriginPolicy, origin_of
from kefu.auth.principal import Principal
from kefu.auth.tokens import PrincipalKind
from kefu.config import load_settings


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(20), "image/png"),
        (b"\xff\xd8\xff\xe0" + bytes(20), "image/jpeg"),
        (b"GIF89a" + bytes(20), "image/gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.7\n", "application/pdf"),
        ("héllo wörld\n\ttab".encode(), "text/plain"),
        ("é".encode() * 5000, "text/plain"),  # a character cut by the probe is still text
        (b"<html><script>alert(1)</script>", "text/plain"),  # served as text, never HTML
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"OggS\x00\x02" + bytes(20), "audio/ogg"),
        (b"ID3\x04\x00" + bytes(20), "audio/mpeg"),
        (b"\xff\xfb\x90\x64" + bytes(20), "audio/mpeg"),  # a bare MPEG-1 layer III frame
        (b"\xff\xfb\xf0\x64" + bytes(20), None),  # bit rate index 15: not a frame
        (b"MZ\x90\x00", None),
        (b"hello\x00world", None),
        (b"\xff\xfe\xfd", None),
        (b"", None),
    ],
)
def test_sniff(data: bytes, expected: str | None) -> None:
    assert sniff(data) == expected


def test_only_raster_images_are_inline() -> None:
    assert is_safe_inline("image/png") and is_safe_inline("image/webp")
    assert not is_safe_inline("image/svg+xml") and not is_safe_inline("text/plain")


def test_clean_name_strips_paths_and_controls() -> None:
    assert clean_name("../../etc/passwd", "text/plain") == "passwd"
    assert clean_name("C:\\Users\\x\\photo.png", "image/png") == "photo.png"
    assert clean_name('a"<b>\n.png', "image/png") == "ab.png"
    assert clean_name("", "application/pdf") == "file.pdf"
    assert clean_name(None, "image/png") == "file.png"


def test_origin_of() -> None:
    assert origin_of("https://Chat.Example.com/path?q") == "https://chat.example.com"
    assert origin_of("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert origin_of("ftp://x") is None and origin_of("nonsense") is None


def test_origin_policy() -> None:
    settings = load_settings(
        None,
        public_url="https://chat.example.com/",
        sites=[{"id": "shop", "origins": ["https://Shop.example"]}],
    )
    policy = OriginPolicy(settings)
    agent = Principal(PrincipalKind.AGENT, "a", "A")
    visitor = Principal(PrincipalKind.VISITOR, "v", None, site_id="shop")
    orphan = Principal(PrincipalKind.VISITOR, "w", None)
    assert policy.socket_allows(agent, None, "kefu:8080")
    assert policy.socket_allows(agent, "https://chat.example.com", "10.0.0.5:8080")
    assert policy.socket_allows(agent, "http://kefu:8080", "kefu:8080")
    assert not policy.socket_allows(agent, "https://shop.example", "kefu:8080")
    assert policy.socket_allows(visitor, "https://shop.example", "kefu:8080")
    assert not policy.socket_allows(visitor, "https://evil.example", "kefu:8080")
    assert not policy.socket_allows(orphan, "https://shop.example", "kefu:8080")
    assert policy.cors_allows("https://SHOP.example") and not policy.cors_allows("https://x.y")
