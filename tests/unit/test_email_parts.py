# The zh-CN texts are written with Chinese punctuation on purpose.
# ruff: noqa: RUF001
"""kefu.email's pure parts: addresses (no header injection), settings, the per-locale
mail (text + HTML, threading headers), HTML reduced to text, the new part of a reply,
and raw messages read or refused."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from kefu.config import load_settings, restore_settings, snapshot_settings
from kefu.email.addresses import InvalidAddress, Mailbox, check_address, parse_mailbox
from kefu.email.compose import MARKER, Outgoing, compose
from kefu.email.html_text import html_to_text
from kefu.email.parse import MalformedMail, parse
from kefu.email.reply import new_text
from kefu.email.settings import EmailSettings
from kefu.errors import ConfigError

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "vera@example.com\r\nBcc: all@example.com",
        "vera@example.com\nX-Evil: 1",
        "vera@exa\rmple.com",
        "no-at-sign",
        "@example.com",
        "vera@",
        "vera@localhost",
        "ve ra@example.com",
        "vera@exa_mple.com",
        "a" * 65 + "@example.com",
        "vera@" + "a" * 250 + ".com",
    ],
)
def test_bad_addresses_are_refused(text: str) -> None:
    with pytest.raises(InvalidAddress) as caught:
        check_address(text)
    assert caught.value.code == "invalid_email" and caught.value.status == 400


def test_a_good_address_keeps_its_local_part_and_lowers_its_domain() -> None:
    assert check_address(" Vera.Lin+shop@Example.COM ") == "Vera.Lin+shop@example.com"


@pytest.mark.parametrize(
    "text", ["a@b.test, c@d.test", "grp: a@b.test;", "Name <a@b.test>\r\nBcc: x@y.test", ""]
)
def test_a_mailbox_is_exactly_one_address(text: str) -> None:
    with pytest.raises(InvalidAddress):
        parse_mailbox(text)


def test_a_mailbox_keeps_its_display_name() -> None:
    assert parse_mailbox('"Lin, Vera" <vera@example.com>') == Mailbox(
        "vera@example.com", "Lin, Vera"
    )
    assert parse_mailbox("=?utf-8?b?546L5Lyf?= <wang@example.cn>").name == "王伟"


def test_settings_read_the_smtp_url() -> None:
    plain = EmailSettings.model_validate({"smtp_url": "smtp://mail.test", "from": "a@b.test"})
    assert (plain.server.port, plain.server.security) == (25, "plain")
    tls = EmailSettings.model_validate(
        {"smtp_url": "smtps://u%40x:p%3Aw@mail.test", "from": "Help <a@b.test>"}
    )
    assert (tls.server.port, tls.server.security) == (465, "tls")
    assert (tls.server.username, tls.server.password) == ("u@x", "p:w")
    keys = EmailSettings.model_validate(
        {
            "smtp_url": "smtp+starttls://mail.test:2525",
            "from": "a@b.test",
            "username": "svc",
            "password": "s3cret",
        }
    )
    assert (keys.server.port, keys.server.security, keys.server.username) == (
        2525,
        "starttls",
        "svc",
    )
    assert "s3cret" not in repr(keys)  # a secret, never printed


@pytest.mark.parametrize(
    ("email", "key"),
    [
        ({"smtp_url": "http://mail.test", "from": "a@b.test"}, "email.smtp_url"),
        ({"smtp_url": "smtp://mail.test/x", "from": "a@b.test"}, "email.smtp_url"),
        ({"smtp_url": "smtp://:25", "from": "a@b.test"}, "email.smtp_url"),
        ({"smtp_url": "smtp://mail.test", "from": "a@b.test\r\nBcc: x@y.test"}, "email.from"),
        ({"smtp_url": "smtp://mail.test", "from": "a@b.test, c@d.test"}, "email.from"),
        ({"smtp_url": "smtp://mail.test"}, "email.from"),
    ],
)
def test_bad_email_settings_stop_the_start_naming_the_key(
    email: dict[str, str], key: str, tmp_path: object
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, email=email)
    assert str(caught.value).startswith(key) or key in str(caught.value)


def test_the_password_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEFU_EMAIL__SMTP_URL", "smtp+starttls://mail.test")
    monkeypatch.setenv("KEFU_EMAIL__FROM", "Help <help@acme.test>")
    monkeypatch.setenv("KEFU_EMAIL__PASSWORD", "from-env")
    settings = load_settings(None)
    assert settings.email is not None
    assert settings.email.server.password == "from-env"
    assert settings.email.mailbox == Mailbox("help@acme.test", "Help")


def outgoing(**fields: object) -> Outgoing:
    values: dict[str, object] = {
        "ticket_id": 42,
        "subject": "Parcel\nlost",
        "body": "Hello <b>there</b>\n\nSecond & last",
        "agent": "Ann",
        "team": None,
        "locale": "en",
        "sender": Mailbox("help@acme.test", "Acme"),
        "recipient": Mailbox("vera@example.com", "Vera"),
        "message_id": "kefu.42.abc@acme.test",
        "thread": [],
    }
    values.update(fields)
    return Outgoing(**values)  # type: ignore[arg-type]


def test_a_mail_has_text_and_html_and_threads_under_the_ticket() -> None:
    thread = ["root@example.com", *[f"m{i}@acme.test" for i in range(15)]]
    message = compose(outgoing(thread=thread), NOW)
    assert message["Subject"] == "Re: Parcel lost [#42]"  # one line, tagged
    assert message["Message-ID"] == "<kefu.42.abc@acme.test>"
    assert message["In-Reply-To"] == "<m14@acme.test>"
    refs = str(message["References"]).split()
    assert refs[0] == "<root@example.com>" and refs[-1] == "<m14@acme.test>" and len(refs) == 11
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert text.get_content().startswith(MARKER)
    assert "Hello <b>there</b>" in text.get_content() and "-- Ann, Support" in text.get_content()
    assert "Hello &lt;b&gt;there&lt;/b&gt;" in html.get_content()
    assert "<b>" not in html.get_content()
    head = message.as_bytes(policy=SMTP).split(b"\r\n\r\n")[0].split(b"\r\n")
    assert [line for line in head if line.startswith(b"Subject:")] == [
        b"Subject: Re: Parcel lost [#42]"
    ]


def test_a_zh_cn_site_gets_chinese_texts_signed_with_its_name() -> None:
    message = compose(outgoing(locale="zh-CN", team="北风商城"), NOW)
    assert message["Subject"] == "回复：Parcel lost [#42]"
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    content = text.get_content()
    assert "Vera，您好：" in content and "-- Ann，北风商城" in content and "工单 #42" in content


def test_a_display_name_cannot_add_a_header() -> None:
    recipient = Mailbox("vera@example.com", "Vera\r\nBcc: all@example.com")
    raw = compose(outgoing(recipient=recipient), NOW).as_bytes(policy=SMTP)
    head = raw.split(b"\r\n\r\n")[0]
    assert b"\r\nBcc:" not in head and b'To: "Vera Bcc: all@example.com"' in head
    assert b"Hello Vera Bcc: all@example.com," in raw  # the greeting stays one line


def test_html_is_reduced_to_the_text_a_person_reads() -> None:
    markup = (
        "<html><head><title>t</title><style>p{color:red}</style></head><body>"
        "<p>Hi &amp; hello,</p><div>line<br>break</div><script>alert(1)</script>"
        "<ul><li>one</li><li>two</li></ul></body></html>"
    )
    assert html_to_text(markup) == "Hi & hello,\n\nline\nbreak\n\none\n\ntwo"


def test_a_reply_keeps_only_the_new_text() -> None:
    reply = (
        "Thanks, it came!\n\nOn Mon, 7 Dec 2026, Acme <help@acme.test> wrote:\n"
        "> ##- Reply to this email\n> old text\n"
    )
    assert new_text(reply) == "Thanks, it came!"
    assert new_text(f"收到了，谢谢\n\n{MARKER} 请保留 -##\n旧内容") == "收到了，谢谢"
    assert new_text("> only a quote") == "> only a quote"


def raw_mail(**headers: str) -> bytes:
    message = EmailMessage()
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("Body text")
    return message.as_bytes(policy=SMTP)


def test_a_raw_mail_is_read() -> None:
    mail = parse(
        raw_mail(
            From="Vera Lin <vera@Example.com>",
            To="help+42@acme.test",
            Subject="Re:  parcel\t[#42]",
            Message_ID="<abc@example.com>",
            In_Reply_To="<kefu.42.x@acme.test>",
            References="<root@example.com> <kefu.42.x@acme.test>",
            Auto_Submitted="auto-replied",
        )
    )
    assert mail.sender == Mailbox("vera@example.com", "Vera Lin")
    assert (mail.subject, mail.text, mail.message_id) == (
        "Re: parcel [#42]",
        "Body text",
        "abc@example.com",
    )
    assert mail.answers == ["root@example.com", "kefu.42.x@acme.test"]
    assert mail.recipients == ["help+42@acme.test"] and mail.auto_submitted


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \r\n",
        b"hello there, no headers",
        raw_mail(Subject="no sender"),
        raw_mail(From="not an address"),
        raw_mail(From="a@b.test, c@d.test"),
    ],
)
def test_what_is_not_a_usable_mail_is_refused(raw: bytes) -> None:
    with pytest.raises(MalformedMail) as caught:
        parse(raw)
    assert (caught.value.status, caught.value.code) == (400, "invalid_message")


def test_nul_characters_are_dropped_from_a_mail() -> None:
    raw = b"From: vera@example.com\r\nSubject: a\x00b\r\n\r\nhello\x00 world\r\n"
    mail = parse(raw)
    assert (mail.subject, mail.text) == ("ab", "hello world")


def test_workers_get_the_real_password() -> None:
    """kefu serve --workers hands each worker the settings as JSON: nothing masked."""
    settings = load_settings(
        None, email={"smtp_url": "smtp://mail.test", "from": "a@b.test", "password": "pw"}
    )
    restored = restore_settings(snapshot_settings(settings)).email
    assert restored is not None and restored.server.password == "pw"
    assert "pw" not in repr(settings.email)


def nested_mail(*images: bytes) -> bytes:
    """An HTML mail with pictures as Apple Mail and Outlook write it: multipart/mixed >
    multipart/alternative > (text/plain, multipart/related > (text/html, image/png...)),
    then an attached file and an attached mail (with a picture of its own)."""
    message = EmailMessage()
    message["From"] = "vera@example.com"
    message["Subject"] = "Photos inline"
    message.set_content("See the photos below.")
    cids = [f"<img{i}@example.com>" for i in range(len(images))]
    tags = "".join(f'<img src="cid:{cid[1:-1]}">' for cid in cids)
    message.add_alternative(f"<p>See the photos below.</p>{tags}", subtype="html")
    html = message.get_payload()[1]
    for index, (cid, image) in enumerate(zip(cids, images, strict=True)):
        name = f"inline{index}.png" if index else None  # Outlook often names none
        html.add_related(image, maintype="image", subtype="png", cid=cid, filename=name)
    message.add_attachment(
        b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice.pdf"
    )
    forwarded = EmailMessage()
    forwarded["From"] = "shop@example.com"
    forwarded.set_content("Your order")
    forwarded.add_attachment(
        b"\x89PNG forwarded", maintype="image", subtype="png", filename="inside.png"
    )
    message.add_attachment(forwarded)
    return message.as_bytes(policy=SMTP)


def test_inline_images_in_nested_parts_are_files() -> None:
    mail = parse(nested_mail(b"\x89PNG one", b"\x89PNG two"))
    assert mail.text == "See the photos below."
    # Both inline pictures, then the attached file; neither text rendering, nor what is
    # inside the attached mail (it is one attachment, not taken apart).
    assert [(f.name, f.data) for f in mail.files] == [
        (None, b"\x89PNG one"),
        ("inline1.png", b"\x89PNG two"),
        ("invoice.pdf", b"%PDF-1.4 invoice"),
    ]
    assert mail.dropped_files == 0


def test_a_nested_mail_keeps_to_the_file_count_limit() -> None:
    mail = parse(nested_mail(*[b"\x89PNG %d" % i for i in range(25)]))
    assert len(mail.files) == 20 and mail.dropped_files > 5
