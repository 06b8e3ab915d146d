"""Request and response bodies of the REST API; limits here are the input contract."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from kefu.api.customer_keys import CustomerKey
from kefu.chat.server_frames import (
    LinkSigner,
    attachment_payload,
    message_payload,
    summary_payload,
)
from kefu.domain.ids import format_message_id
from kefu.domain.models import (
    Agent,
    Attachment,
    ConversationRecord,
    ConversationSummary,
    Message,
    Visitor,
)
from kefu.domain.roles import Role
from kefu.timefmt import iso

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Url = Annotated[str, StringConstraints(max_length=2000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Fields that refuse U+0000 themselves with an error of their own (a ``CustomerKey``:
    # bad_customer_key; a list of Strict models: each item): the body-wide check skips them.
    NUL_CHECKED_BY_FIELD: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        """PostgreSQL text cannot hold U+0000; refuse it here rather than fail in the store."""
        checked = data
        if isinstance(data, dict) and cls.NUL_CHECKED_BY_FIELD:
            checked = {k: v for k, v in data.items() if k not in cls.NUL_CHECKED_BY_FIELD}
        if _has_nul(checked):
            raise ValueError("text must not contain the NUL character (U+0000)")
        return data


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


class LoginRequest(Strict):
    email: Annotated[str, StringConstraints(min_length=3, max_length=320)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


# The console's languages (src/kefu/web/console/locales/).
ConsoleLanguage = Literal["en", "zh-CN"]


class AgentOut(BaseModel):
    id: str
    name: str
    email: str
    role: Role
    capacity: int | None = None
    disabled: bool = False
    away: bool = False
    # The console language the agent chose; null: the console follows the browser.
    language: ConsoleLanguage | None = None

    @classmethod
    def of(cls, agent: Agent) -> AgentOut:
        return cls(
            id=agent.id,
            name=agent.name,
            email=agent.email,
            role=agent.role,
            capacity=agent.capacity,
            disabled=agent.disabled,
            away=agent.away,
            language=agent.language,  # stored only from ConsoleLanguage
        )


class LoginResponse(BaseModel):
    token: str
    agent: AgentOut


class VisitorRequest(Strict):
    NUL_CHECKED_BY_FIELD = frozenset({"external_id"})
    name: ShortText | None = None
    email: EmailStr | None = None
    external_id: CustomerKey | None = None  # the customer's key in the company's systems
    page_url: Url | None = None
    referrer: Url | None = None
    signature: Annotated[str, StringConstraints(max_length=128)] | None = None
    # The widget's data-kefu-site: which configured site this visitor belongs to.
    site: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    # What the browser reports (Intl): for the agent's "visitor's local time".
    timezone: (
        Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9_+\-/]+$")] | None
    ) = None
    locale: Annotated[str, StringConstraints(max_length=35, pattern=r"^[A-Za-z0-9\-]+$")] | None = (
        None
    )


class VisitorOut(BaseModel):
    id: str
    name: str | None
    email: str | None
    external_id: str | None
    identity_verified: bool
    site_id: str | None
    page_url: str | None
    referrer: str | None
    ip: str | None
    user_agent: str | None
    timezone: str | None
    locale: str | None
    created_at: str

    @classmethod
    def of(cls, visitor: Visitor) -> VisitorOut:
        return cls(
            id=visitor.id,
            name=visitor.name,
            email=visitor.email,
            external_id=visitor.external_id,
            identity_verified=visitor.identity_verified,
            site_id=visitor.site_id,
            page_url=visitor.page_url,
            referrer=visitor.referrer,
            ip=visitor.ip,
            user_agent=visitor.user_agent,
            timezone=visitor.timezone,
            locale=visitor.locale,
            created_at=iso(visitor.created_at),
        )


class RatingRequest(Strict):
    score: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class RatingOut(BaseModel):
    score: int
    comment: str | None
    created_at: str


class AttachmentOut(BaseModel):
    id: str
    name: str
    content_type: str
    size: int
    url: str
    # A short-lived link signed for this one file (no token in it): what browsers open.
    download_url: str | None = None

    @classmethod
    def of(cls, attachment: Attachment, links: LinkSigner | None = None) -> AttachmentOut:
        return cls.model_validate(attachment_payload(attachment, links))


class AttachmentLinkOut(BaseModel):
    download_url: str


class VisitorResponse(BaseModel):
    visitor_id: str
    token: str


class ConversationOut(BaseModel):
    id: str
    visitor_id: str
    status: Literal["waiting", "assigned", "closed"]
    assignee_id: str | None
    created_at: str
    updated_at: str
    closed_at: str | None
    last_message_id: str | None
    # The visitor's satisfaction rating, once given (POST …/rating).
    rating: RatingOut | None = None

    @classmethod
    def of(cls, record: ConversationRecord) -> ConversationOut:
        return cls(
            id=record.id,
            visitor_id=record.visitor_id,
            status=record.status.value,
            assignee_id=record.assignee_id,
            created_at=iso(record.created_at),
            updated_at=iso(record.updated_at),
            closed_at=iso(record.closed_at) if record.closed_at else None,
            last_message_id=(
                format_message_id(record.last_message_id) if record.last_message_id else None
            ),
            rating=(
                RatingOut(
                    score=record.rating.score,
                    comment=record.rating.comment,
                    created_at=iso(record.rating.created_at),
                )
                if record.rating
                else None
            ),
        )


class VisitorSummaryOut(BaseModel):
    name: str | None
    email: str | None


class ConversationSummaryOut(ConversationOut):
    """A conversation as the console's list shows it (optional fields beyond the contract)."""

    visitor: VisitorSummaryOut
    unread: int
    visitor_read_id: str | None
    agent_read_id: str | None
    last_message: MessageOut | None
    customer_key: str | None = None
    customer_linked: bool = False
    labels: list[str] = Field(default_factory=list)
    title: str = ""  # the visitor's name, else the customer's key, else "Visitor xxxx"

    @classmethod
    def of_summary(cls, summary: ConversationSummary) -> ConversationSummaryOut:
        return cls.model_validate(summary_payload(summary))


class VisitorConversationOut(ConversationOut):
    """A conversation as its own visitor reads it: an allow-list of visitor-facing fields.

    Labels, the linked customer key (a key into the company's systems) and the console's
    unread count are the team's: only fields declared here leave, whatever the summary
    holds, so a field added to the console's view later stays agent-only by default.
    """

    visitor: VisitorSummaryOut
    visitor_read_id: str | None
    agent_read_id: str | None
    last_message: MessageOut | None

    @classmethod
    def of_summary(cls, summary: ConversationSummary) -> VisitorConversationOut:
        return cls.model_validate(summary_payload(summary))  # undeclared fields dropped


class ConversationPage(BaseModel):
    items: list[ConversationSummaryOut]
    next: str | None


class SenderOut(BaseModel):
    kind: str
    id: str | None
    name: str | None


class MessageOut(BaseModel):
    id: str
    conversation_id: str
    sender: SenderOut
    body: str
    created_at: str
    attachments: list[AttachmentOut] = Field(default_factory=list)
    internal: bool = False  # a private note (only agents ever read one)

    @classmethod
    def of(cls, message: Message, links: LinkSigner | None = None) -> MessageOut:
        return cls.model_validate(message_payload(message, links))


class MessagePage(BaseModel):
    items: list[MessageOut]
    next: str | None


class TransferRequest(Strict):
    agent_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]


class AgentCreate(Strict):
    email: EmailStr
    password: Annotated[str, StringConstraints(min_length=8, max_length=1000)]
    name: ShortText
    role: Role = Role.AGENT
    capacity: Annotated[int, Field(ge=1, le=10_000)] | None = None


class AgentPatch(Strict):
    name: ShortText | None = None
    role: Role | None = None
    capacity: Annotated[int, Field(ge=1, le=10_000)] | None = None
    disabled: bool | None = None
    away: bool | None = None
    password: Annotated[str, StringConstraints(min_length=8, max_length=1000)] | None = None


class MePatch(Strict):
    """What agents change about themselves: away (no new conversations) or back, and the
    console language (``null``: follow the browser). At least one of them."""

    away: bool = False
    language: ConsoleLanguage | None = None

    @model_validator(mode="after")
    def _something(self) -> MePatch:
        if not self.model_fields_set:
            raise ValueError("send away, language or both")
        return self


class CannedCreate(Strict):
    shortcut: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    ]
    title: ShortText
    body: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class CannedPatch(Strict):
    shortcut: (
        Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
        | None
    ) = None
    title: ShortText | None = None
    body: Annotated[str, StringConstraints(min_length=1, max_length=10_000)] | None = None


class CannedOut(BaseModel):
    id: str
    shortcut: str
    title: str
    body: str


class AutoReplyCreate(Strict):
    keywords: Annotated[list[ShortText], Field(min_length=1, max_length=50)]
    reply: Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class AutoReplyPatch(Strict):
    keywords: Annotated[list[ShortText], Field(min_length=1, max_length=50)] | None = None
    reply: Annotated[str, StringConstraints(min_length=1, max_length=4000)] | None = None


class AutoReplyOut(BaseModel):
    id: str
    keywords: list[str]
    reply: str


class BlacklistCreate(Strict):
    network: Annotated[str, StringConstraints(min_length=2, max_length=64)]
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class BlacklistOut(BaseModel):
    id: str
    network: str
    reason: str | None
    created_at: str


class OfflineMessageCreate(Strict):
    name: ShortText | None = None
    email: EmailStr
    body: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class OfflineMessageOut(BaseModel):
    id: str
    visitor_id: str
    name: str | None
    email: str | None
    body: str
    created_at: str
    ticket_id: str | None


class Status(BaseModel):
    status: str
