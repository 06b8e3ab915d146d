"""A ticket's files in the console's ticket view: a customer mails in with a picture and a
PDF (POST /api/v1/email/inbound, a real MIME message), and the agent sees both on the
ticket with name, type and size, downloads the PDF through its signed link, and opens the
picture in the lightbox; at 1280x800 and 375x812. Screenshots go to
``test-artifacts/console-ticket-files-*.png`` (gitignored)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from kefu.config import Settings
from kefu.domain.roles import Role
from tests.support.browser import ARTIFACTS, Opener, sign_in
from tests.support.console_tickets import open_tickets, row
from tests.support.images import png
from tests.support.kefu import Kefu
from tests.support.smtp import SmtpServer, smtp_server

PICTURE = png(64, 48, (30, 120, 200))
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def settings(settings_factory: Callable[..., Settings], smtp: SmtpServer) -> Settings:
    return settings_factory(email={"smtp_url": smtp.url, "from": "Acme <help@acme.test>"})


async def mail_in(kefu: Kefu) -> str:
    """Vera mails in with two files; the ticket her mail became."""
    admin = await kefu.add_agent("Root", Role.ADMIN)
    status, created = await kefu.post(
        "/api/v1/api-tokens", admin["token"], {"name": "mailgate", "scopes": ["email:write"]}
    )
    assert status == 201, created
    message = EmailMessage()
    message["From"] = "Vera Lin <vera@example.com>"
    message["To"] = "help@acme.test"
    message["Subject"] = "Broken zip on my jacket"
    message["Message-ID"] = make_msgid(domain="example.com")
    message.set_content("The zip broke on day two. Photo and invoice attached.")
    message.add_attachment(PICTURE, maintype="image", subtype="png", filename="zip-photo.png")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="invoice.pdf")
    headers = {"Content-Type": "message/rfc822", "Authorization": f"Bearer {created['token']}"}
    async with kefu.http.post(
        kefu.url("/api/v1/email/inbound"), data=message.as_bytes(policy=SMTP), headers=headers
    ) as resp:
        body = await resp.json()
        assert resp.status == 202 and body["status"] == "created", body
    return str(body["ticket_id"])


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.mouse.move(0, 0)
    await page.screenshot(path=str(ARTIFACTS / f"console-ticket-files-{name}.png"))


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (375, 812)])
async def test_the_ticket_view_shows_the_mailed_files(
    kefu: Kefu, browser: Opener, tmp_path: Path, width: int, height: int
) -> None:
    ticket_id = await mail_in(kefu)
    ann = await kefu.add_agent("Ann Lee")
    page = await browser(width, height)
    await sign_in(page, kefu, ann["email"])
    await open_tickets(page)
    await row(page, ticket_id).click()
    view = page.locator("#tk-view")
    await expect(view.locator("#tk-subject")).to_have_text("Broken zip on my jacket")

    files = view.get_by_role("region", name="Files")
    items = files.get_by_role("listitem")
    await expect(items).to_have_count(2)
    picture, invoice = items.nth(0), items.nth(1)
    await expect(picture.locator(".tk-file-name")).to_have_text("zip-photo.png")
    await expect(picture.locator(".tk-file-meta")).to_have_text("image/png · 1 KB")
    await expect(invoice.locator(".tk-file-name")).to_have_text("invoice.pdf")
    await expect(invoice.locator(".tk-file-meta")).to_have_text("application/pdf · 1 KB")
    await expect(invoice.locator(".tk-file-icon")).to_have_text("PDF")
    # The thumbnail loaded through its signed link (no token in the URL).
    thumb = picture.locator(".tk-file-thumb img")
    await expect(thumb).to_have_js_property("complete", True)
    assert await thumb.evaluate("img => img.naturalWidth") == 64
    href = await invoice.get_by_role("link", name="Download invoice.pdf").get_attribute("href")
    assert href and "sig=" in href and "token" not in href
    # Nothing overflows the page sideways, on a phone too.
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    await view.get_by_role("region", name="Files").scroll_into_view_if_needed()
    await shot(page, f"{width}")

    # The PDF downloads under its name, byte for byte.
    async with page.expect_download() as waiting:
        await invoice.get_by_role("link", name="Download invoice.pdf").click()
    download = await waiting.value
    assert download.suggested_filename == "invoice.pdf"
    saved = tmp_path / "invoice.pdf"
    await download.save_as(saved)
    assert saved.read_bytes() == PDF

    # The picture opens in the lightbox, captioned with its name; Esc closes it.
    await picture.get_by_role("link", name="View zip-photo.png").click()
    lightbox = page.locator("#lightbox")
    await expect(lightbox).to_be_visible()
    await expect(lightbox.locator("figcaption")).to_have_text("zip-photo.png")
    await expect(lightbox.locator("img")).to_have_js_property("complete", True)
    assert await lightbox.locator("img").evaluate("img => img.naturalWidth") == 64
    await shot(page, f"{width}-lightbox")
    await page.keyboard.press("Escape")
    await expect(lightbox).to_be_hidden()
