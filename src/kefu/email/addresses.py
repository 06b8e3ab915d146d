"""Email addresses checked before they go anywhere near a header.

A visitor types their address into the offline form; an inbound mail's ``From`` is
whatever its sender wrote. Either is refused (``InvalidAddress``, a ``BadInput``) unless
it is one plain ``local@domain`` mailbox: no CR or LF (header injection), no second
address, no group, no comment, bounded lengths (RFC 5321: 64 local, 255 domain, 254
total). Display names are kept as text; the header writer encodes them, so they cannot
inject either, but CR/LF in them is refused too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.policy import default

from kefu.errors import BadInput

MAX_ADDRESS_CHARS = 254
MAX_LOCAL_CHARS = 64
MAX_NAME_CHARS = 200  # the columns' width
# dot-atom local part (RFC 5322 3.2.3) and a host name of letters, digits and hyphens
# (internationalised domains arrive as punycode from any sane client).
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidAddress(BadInput):
    code = "invalid_email"


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One checked address, with an optional display name."""

    address: str
    name: str | None = None

    def header(self) -> Address:
        """As an ``email`` header value (the policy encodes non-ASCII names)."""
        local, _, domain = self.address.rpartition("@")
        name = check_name(self.name) or ""  # one line, whatever the caller passed
        return Address(display_name=name, username=local, domain=domain)

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]


def check_address(text: str, *, what: str = "email") -> str:
    """``text`` as a plain address, lowercased domain; ``InvalidAddress`` otherwise."""
    if _CONTROL.search(text):
        raise InvalidAddress(f"{what} must not contain control characters or line breaks")
    value = text.strip()
    if len(value) > MAX_ADDRESS_CHARS:
        raise InvalidAddress(f"{what} is longer than {MAX_ADDRESS_CHARS} characters")
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise InvalidAddress(f"{what} is not an email address (name@example.com)")
    if len(local) > MAX_LOCAL_CHARS or not _LOCAL.match(local):
        raise InvalidAddress(f"{what} has an invalid part before the @")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidAddress(f"{what} has an invalid domain")
    return f"{local}@{domain.lower()}"


def check_name(text: str | None) -> str | None:
    """A display name on one line: whitespace runs (CR/LF included) become one space,
    other control characters go; it is text for a header object, never raw header."""
    if text is None:
        return None
    name = " ".join(_CONTROL.sub(" ", text).split())[:MAX_NAME_CHARS]
    return name or None


def parse_mailbox(text: str, *, what: str = "email") -> Mailbox:
    """``Name <addr>`` or ``addr``, exactly one mailbox; ``InvalidAddress`` otherwise."""
    if _CONTROL.search(text):
        raise InvalidAddress(f"{what} must not contain control characters or line breaks")
    try:
        header = default.header_factory("From", text)
        found = header.addresses
    except (ValueError, IndexError, TypeError):  # the header parser's ways of giving up
        found = ()
    if len(found) != 1 or len(header.groups) != 1 or header.groups[0].display_name:
        raise InvalidAddress(f"{what} must be one address, e.g. Support <help@example.com>")
    address = check_address(found[0].addr_spec, what=what)
    return Mailbox(address, check_name(found[0].display_name))
