"""The pre-chat form's required fields, enforced by the server (issue 15): a site whose
admin requires a name and/or an email gets no chat from a visitor without them, whatever
client the visitor uses. The widget asks before the first message; another client (or a
visitor whose session began before the admin required them) is refused with
``prechat_required`` and nothing is stored: over REST when the visitor session is
created (``POST /api/v1/visitors``), over the WebSocket when a message would open a new
conversation. The email's form is checked where it arrives (``EmailStr``).

Both checks read the site's form through a node's copy at most a second old
(``Sites.prechat``): a fresh settings read would cost ~460 us of CPU, more than creating
the visitor (~170 us), and ~1.5 us through the copy (SQLite, load 16). A refusal is
confirmed with a fresh read, so a stale copy never refuses wrongly; a stricter form saved
on another node applies here within that second."""

from __future__ import annotations

from kefu.errors import KefuError

FIELDS = ("name", "email")


class PrechatRequired(KefuError):
    """422, like any input that breaks a declared rule (the site's form)."""

    code = "prechat_required"
    status = 422


def missing(required: dict[str, bool], name: str | None, email: str | None) -> list[str]:
    """The required fields (``{"name": True, ...}``) left empty; blank counts as empty."""
    given = {"name": name, "email": email}
    return [field for field in FIELDS if required.get(field) and not (given[field] or "").strip()]


def refusal(fields: list[str]) -> PrechatRequired:
    """The error for a visitor lacking ``fields`` (English, for developers: the widget
    shows its own sentence for the code)."""
    return PrechatRequired(
        f"this site's pre-chat form requires {' and '.join(fields)} before a chat starts",
    )
