"""The schema. Alembic migrations in ``migrations/versions`` are the source of truth for
existing databases; this module mirrors the latest revision for queries and for the
"migrations are current" test.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only aliases the rowid (cheap, monotonic autoincrement) for exactly INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timestamps that come back timezone-aware (UTC) from every store.

    PostgreSQL keeps the zone; SQLite stores text without one, so naive values read from
    it are UTC by construction (kefu only ever writes UTC) and are labelled as such.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


Timestamp = UtcDateTime()

# The predicate of the partial index on agents' messages; queries meant to use it spell it
# as a literal too (see kefu.store.reports).
AGENT_MESSAGES = "sender_kind = 'agent'"

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("capacity", sa.Integer, nullable=True),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    # Bumped on disable, password change and logout: tokens carrying an older value die.
    sa.Column("token_version", sa.Integer, nullable=False, default=1),
    sa.Column("created_at", Timestamp, nullable=False),
    # Away: signed in, keeps their conversations, gets no new ones (set by the agent).
    sa.Column("away", sa.Boolean, nullable=False, server_default=sa.false()),
    # The console language the agent chose ("en", "zh-CN"); null: the browser's.
    sa.Column("language", sa.String(10), nullable=True),
)

visitors = sa.Table(
    "visitors",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("external_id", sa.String(200), nullable=True, index=True),
    sa.Column("identity_verified", sa.Boolean, nullable=False, default=False),
    sa.Column("page_url", sa.String(2000), nullable=True),
    sa.Column("referrer", sa.String(2000), nullable=True),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("user_agent", sa.String(500), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    # The site (config ``sites``) whose widget created it: decides the allowed origins.
    sa.Column("site_id", sa.String(40), nullable=True),
    # IANA zone and BCP 47 tag as the browser reports them, for the agent's "local time".
    sa.Column("timezone", sa.String(64), nullable=True),
    sa.Column("locale", sa.String(35), nullable=True),
)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("visitor_id", sa.String(40), sa.ForeignKey("visitors.id"), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("assignee_id", sa.String(40), sa.ForeignKey("agents.id"), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("closed_at", Timestamp, nullable=True),
    sa.Column("last_message_id", BigId, nullable=True),
    sa.Column("visitor_read_id", BigId, nullable=True),
    sa.Column("agent_read_id", BigId, nullable=True),
    # The visitor's satisfaction rating, given once after close.
    sa.Column("rating_score", sa.SmallInteger, nullable=True),
    sa.Column("rating_comment", sa.Text, nullable=True),
    sa.Column("rated_at", Timestamp, nullable=True),
    # The customer in the company's systems an agent linked this conversation to (the
    # 360's key) when the visitor's identity did not say; kefu's own link, not source data.
    sa.Column("customer_key", sa.String(200), nullable=True, index=True),
    sa.Index(None, "visitor_id", "status"),
    sa.Index(None, "status", "assignee_id"),
    # Reports: conversations opened / closed in a period.
    sa.Index(None, "created_at"),
    sa.Index(None, "closed_at"),
    # The list, newest activity first (a search walks it: kefu.store.conversation_search).
    sa.Index(None, "updated_at", "id"),
    # A search narrowed by status or assignee walks those, newest last message first
    # (kefu.store.search_walk; migration 0019).
    sa.Index(None, "status", "last_message_id"),
    sa.Index(None, "assignee_id", "last_message_id"),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(40), sa.ForeignKey("conversations.id"), nullable=False),
    sa.Column("sender_kind", sa.String(10), nullable=False),
    sa.Column("sender_id", sa.String(40), nullable=True),
    sa.Column("sender_name", sa.String(200), nullable=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("client_msg_id", sa.String(100), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    # A private note between agents: never sent or shown to the visitor.
    sa.Column("internal", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index(None, "conversation_id", "id"),
    # Reports: agents' messages in a period. Partial, so visitors', bots' and system
    # messages (most of the table) cost no index write on the chat's hot path.
    sa.Index(
        "ix_messages_agent_created_at",
        "created_at",
        "sender_id",
        postgresql_where=sa.text(AGENT_MESSAGES),
        sqlite_where=sa.text(AGENT_MESSAGES),
    ),
    # Idempotency: one sender's client_msg_id is stored once, whichever node sees it.
    sa.UniqueConstraint("sender_id", "client_msg_id"),
)

conversation_labels = sa.Table(
    "conversation_labels",
    metadata,
    # How a team sorts its chats ("refund", "billing"): set by agents, filtered and counted.
    sa.Column("conversation_id", sa.String(40), sa.ForeignKey("conversations.id"), nullable=False),
    sa.Column("label", sa.String(50), nullable=False),
    sa.PrimaryKeyConstraint("conversation_id", "label"),
    sa.Index(None, "label", "conversation_id"),
)

attachments = sa.Table(
    "attachments",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    # Content address: the file lives at attachments/<sha256[:2]>/<sha256> in the data dir.
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    # "visitor:ID" or "agent:ID": the uploader may always read it and alone may send it.
    sa.Column("uploader", sa.String(60), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    # Set once, when a message carries it: from then on its conversation's participants
    # may read it.
    sa.Column("conversation_id", sa.String(40), sa.ForeignKey("conversations.id"), nullable=True),
    sa.Column("message_id", BigId, nullable=True),
    # A visitor's address at upload (agents' uploads: NULL): the per-IP upload quota.
    sa.Column("uploader_ip", sa.String(64), nullable=True),
    # When a message about to carry it named it: the unsent-upload sweep spares it from
    # then on, so a send racing the sweep never loses its file (kefu.attachments.sweep).
    sa.Column("claimed_at", Timestamp, nullable=True),
    sa.Index(None, "message_id"),
    # The upload quotas count the last hour per uploader and per address.
    sa.Index(None, "uploader", "created_at"),
    sa.Index(None, "uploader_ip", "created_at"),
)

canned_replies = sa.Table(
    "canned_replies",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("shortcut", sa.String(64), nullable=False, unique=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

auto_replies = sa.Table(
    "auto_replies",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("keywords", sa.JSON, nullable=False),
    sa.Column("reply", sa.Text, nullable=False),
    sa.Column("position", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", Timestamp, nullable=False),
)

blacklist = sa.Table(
    "blacklist",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    # An address or a CIDR network; matching is done by ``ipaddress`` in the service.
    sa.Column("network", sa.String(64), nullable=False, unique=True),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
)

offline_messages = sa.Table(
    "offline_messages",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("visitor_id", sa.String(40), sa.ForeignKey("visitors.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    # Set when the ticket capability turns it into a ticket.
    sa.Column("ticket_id", sa.String(40), nullable=True),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("actor", sa.String(60), nullable=True),
    sa.Column("action", sa.String(60), nullable=False),
    sa.Column("target", sa.String(100), nullable=True),
    sa.Column("detail", sa.JSON, nullable=True),
)

settings = sa.Table(
    "settings",
    metadata,
    # Operator-editable values that outlive config reloads (welcome text, …): key -> JSON.
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

# ---- tickets, events, machine clients, webhooks -----------------------------------------

tickets = sa.Table(
    "tickets",
    metadata,
    # Sequential: agents and customers quote "ticket #1042" on the phone.
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # new open pending solved closed
    sa.Column("priority", sa.String(10), nullable=False),  # low normal high urgent
    sa.Column("customer_key", sa.String(200), nullable=True, index=True),
    sa.Column("assignee_id", sa.String(40), sa.ForeignKey("agents.id"), nullable=True),
    # A team queue ("managers", "vip") when no one person is assigned yet.
    sa.Column("queue", sa.String(40), nullable=True),
    sa.Column("conversation_id", sa.String(40), sa.ForeignKey("conversations.id"), nullable=True),
    # How it was created: console, api, conversation, offline, rule.
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("created_by", sa.String(60), nullable=True),  # principal key or rule name
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    # SLA: targets computed at creation (and on priority change) in business time.
    sa.Column("sla_policy", sa.String(40), nullable=True),
    sa.Column("first_response_due_at", Timestamp, nullable=True),
    sa.Column("resolution_due_at", Timestamp, nullable=True),
    sa.Column("first_responded_at", Timestamp, nullable=True),
    sa.Column("solved_at", Timestamp, nullable=True),
    # Set once when the warning / breach event is emitted, so each is emitted once.
    sa.Column("sla_warned_at", Timestamp, nullable=True),
    sa.Column("sla_breached_at", Timestamp, nullable=True),
    # The resolution clock pauses while the ticket is pending (kefu.domain.sla): since
    # when (null while it runs), and the minutes finished pauses moved the target out by.
    sa.Column("sla_paused_at", Timestamp, nullable=True),
    sa.Column("sla_paused_minutes", sa.Float, nullable=False, server_default=sa.text("0")),
    sa.Index(None, "status", "priority"),
    sa.Index(None, "assignee_id", "status"),
    # Reports: created, solved and SLA targets falling due in a period.
    sa.Index(None, "created_at"),
    sa.Index(None, "solved_at"),
    sa.Index(None, "first_response_due_at"),
    sa.Index(None, "resolution_due_at"),
)

ticket_comments = sa.Table(
    "ticket_comments",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", BigId, sa.ForeignKey("tickets.id"), nullable=False, index=True),
    sa.Column("author", sa.String(60), nullable=True),  # principal key; null for the system
    sa.Column("author_name", sa.String(200), nullable=True),
    sa.Column("body", sa.Text, nullable=False),
    # Internal notes are for agents only; public comments are what the customer is told.
    sa.Column("internal", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

ticket_history = sa.Table(
    "ticket_history",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", BigId, sa.ForeignKey("tickets.id"), nullable=False, index=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("actor", sa.String(60), nullable=True),
    # created, status, priority, assignee, queue, comment, sla.warning, sla.breach
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("detail", sa.JSON, nullable=True),
)

processed_events = sa.Table(
    "processed_events",
    metadata,
    # Effects of an event are stored in the same transaction as this row: an event
    # delivered again (at-least-once buses) finds it and changes nothing.
    sa.Column("consumer", sa.String(40), primary_key=True),
    sa.Column("event_id", sa.String(100), primary_key=True),
    sa.Column("processed_at", Timestamp, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    # Events written in the transaction that caused them, relayed to the bus afterwards
    # and deleted once the bus has them: a crash in between loses nothing.
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("event_id", sa.String(100), nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    # Events the store log gave up on, kept whole so an admin can read why, fix the
    # cause and replay them (or discard them); JetStream keeps its own in a stream.
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("subject", sa.String(200), nullable=False),  # kefu.events.<type>
    sa.Column("event_id", sa.String(100), nullable=True),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("dead_at", Timestamp, nullable=False),
    # Never reuse an id (SQLite reuses a deleted row's by default): an admin's "replay 7"
    # must not reach a later letter that took the number of a discarded one.
    sqlite_autoincrement=True,
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    # sha256 of the secret: the secret itself is shown once, at creation.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(60), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_used_at", Timestamp, nullable=True),
    sa.Column("revoked_at", Timestamp, nullable=True),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("endpoint", sa.String(40), nullable=False),  # name in config ``webhooks``
    sa.Column("event_id", sa.String(100), nullable=False),
    sa.Column("event_type", sa.String(200), nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # pending delivered failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", Timestamp, nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("delivered_at", Timestamp, nullable=True),
    sa.UniqueConstraint("endpoint", "event_id"),
    sa.Index(None, "status", "next_attempt_at"),
)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    # Run-time state of the endpoints configured under ``webhooks``.
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, default=0),
    sa.Column("disabled_at", Timestamp, nullable=True),
    sa.Column("disabled_reason", sa.String(500), nullable=True),
)

customer_routing = sa.Table(
    "customer_routing",
    metadata,
    # kefu's own routing decision about a customer (set by rules, e.g. customer.upgrade ->
    # vip): their chats are served first. A decision, not a copy of a department's data.
    sa.Column("customer_key", sa.String(200), primary_key=True),
    sa.Column("queue", sa.String(20), nullable=False),
    sa.Column("reason", sa.String(200), nullable=True),
    sa.Column("updated_at", Timestamp, nullable=False),
)

agent_presence = sa.Table(
    "agent_presence",
    metadata,
    # Which node holds an agent's sockets, renewed by that node's heartbeat: with several
    # nodes this is how node A knows that an agent connected to node B is online.
    sa.Column("agent_id", sa.String(40), primary_key=True),
    sa.Column("node_id", sa.String(120), primary_key=True, index=True),
    sa.Column("seen_at", Timestamp, nullable=False),
)

# ---- email (kefu.email) -----------------------------------------------------------------

email_threads = sa.Table(
    "email_threads",
    metadata,
    # A ticket answered by email: who it is mailed to, in which language, signed by whom.
    sa.Column("ticket_id", BigId, sa.ForeignKey("tickets.id"), primary_key=True),
    sa.Column("address", sa.String(254), nullable=False),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("locale", sa.String(20), nullable=True),  # the site's locale
    sa.Column("team", sa.String(200), nullable=True),  # the site's name, the signature
    sa.Column("created_at", Timestamp, nullable=False),
)

email_messages = sa.Table(
    "email_messages",
    metadata,
    # Every mail of a ticket's thread, both ways: threading finds tickets by message_id;
    # outgoing rows are the outbox (pending -> sent | failed), incoming ones (received)
    # make a mail posted twice a comment once.
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", BigId, sa.ForeignKey("tickets.id"), nullable=False),
    sa.Column("message_id", sa.String(255), nullable=False, unique=True),  # no <>
    sa.Column("direction", sa.String(3), nullable=False),  # in, out
    sa.Column("comment_id", BigId, nullable=True),
    sa.Column("status", sa.String(10), nullable=False),  # received pending sent failed
    sa.Column("recipient", sa.String(254), nullable=True),
    sa.Column("raw", sa.LargeBinary, nullable=True),  # the mail to send; dropped once sent
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", Timestamp, nullable=True),
    sa.Column("last_error", sa.String(300), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("sent_at", Timestamp, nullable=True),
    sa.Index(None, "status", "next_attempt_at"),
    sa.Index(None, "ticket_id", "id"),
)

ticket_attachments = sa.Table(
    "ticket_attachments",
    metadata,
    # Files that came with a ticket (an inbound mail's attachments), and the comment.
    # No foreign key to attachments: privacy retention deletes old unsent uploads by its
    # own query, and a row here must not make that fail (a gone file is skipped).
    sa.Column("attachment_id", sa.String(40), primary_key=True),
    sa.Column("ticket_id", BigId, sa.ForeignKey("tickets.id"), nullable=False, index=True),
    sa.Column("comment_id", BigId, nullable=True),
)

# ---- sagas ------------------------------------------------------------------------------

sagas = sa.Table(
    "sagas",
    metadata,
    # The saga log (kefu.sagas): one row per run of a configured saga, its steps below.
    sa.Column("id", sa.String(40), primary_key=True),  # saga_<hex>
    sa.Column("name", sa.String(40), nullable=False),  # the key under config ``sagas``
    sa.Column("status", sa.String(20), nullable=False),  # kefu.domain.saga.SagaStatus
    sa.Column("customer_key", sa.String(200), nullable=True, index=True),
    sa.Column("input", sa.JSON, nullable=False),
    # The caller's key: the same key again answers the same saga and starts nothing.
    sa.Column("idempotency_key", sa.String(200), nullable=True, unique=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_by", sa.String(60), nullable=True),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("finished_at", Timestamp, nullable=True),
    # The node working on it and until when; an active saga whose lease ran out (its node
    # died) is claimed by another node. Null on sagas nobody needs to work on.
    sa.Column("lease_owner", sa.String(120), nullable=True),
    sa.Column("lease_until", Timestamp, nullable=True),
    sa.Index(None, "status", "lease_until"),
    sa.Index(None, "started_at", "id"),
    sa.Index(None, "name", "started_at"),
)

saga_steps = sa.Table(
    "saga_steps",
    metadata,
    sa.Column("saga_id", sa.String(40), sa.ForeignKey("sagas.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # kefu.domain.saga.StepStatus
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("compensation_attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    # An attempt ended without a definite answer: compensated as if it had been applied.
    sa.Column("maybe_applied", sa.Boolean, nullable=False),
    sa.Column("started_at", Timestamp, nullable=True),
    sa.Column("finished_at", Timestamp, nullable=True),
    sa.Column("compensation_started_at", Timestamp, nullable=True),
    # What the action answered: later steps' templates read it (steps.<name>.<field>).
    sa.Column("result", sa.JSON, nullable=True),
    sa.PrimaryKeyConstraint("saga_id", "position"),
)
