"""Settings: a YAML file plus ``KEFU_*`` environment variables, validated once at start.

Environment wins over the file so one container image can run with a shared file and
per-node overrides (``KEFU_PORT``, ``KEFU_STORE``). Nested keys use ``__`` in the
environment: ``KEFU_CHAT__AGENT_CAPACITY=8``. A bad value stops the process with one
line naming the key (``ConfigError``), never a traceback.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from kefu.attachments.settings import AttachmentSettings
from kefu.cluster.settings import ClusterSettings
from kefu.email.settings import EmailSettings
from kefu.errors import ConfigError
from kefu.events.rules import RuleSettings, compile_rules
from kefu.events.settings import EventSettings
from kefu.privacy.settings import PrivacySettings
from kefu.sagas.settings import SagaEngineSettings, SagaSettings, check_sagas, saga_key
from kefu.tickets.settings import BusinessHours as OfficeHours
from kefu.tickets.settings import TicketSettings
from kefu.unify.settings import Customer360Settings, SourceSettings, check_sources
from kefu.webhooks.settings import WebhookEndpoint, check_endpoints
from kefu.yaml12 import load as load_yaml

DEFAULT_PORT = 8080
# More workers than cores only add contention; 64 covers the largest common machines,
# and each worker keeps its own PostgreSQL pool (docs/operations.md), so a typo such as
# 800 is refused instead of exhausting the database's max_connections.
MAX_WORKERS = 64
# An environment prefix no variable has: validating with it reads no environment.
NO_ENVIRONMENT = "KEFU_IGNORED_ENV_"


class AutoReply(BaseModel):
    """A bot answer sent when a visitor's message contains any of ``keywords``."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key fails at start

    keywords: list[str] = Field(min_length=1)
    reply: str = Field(min_length=1, max_length=4000)


class ChatSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key fails at start
    # Five parallel chats is what Zendesk and Intercom suggest as a sane default per agent.
    agent_capacity: int = Field(default=5, ge=1, le=10_000)
    # Unset: kefu's own text in each site's locale (kefu.texts); set: this text everywhere.
    welcome_message: str | None = None
    offline_message: str | None = None
    auto_replies: list[AutoReply] = Field(default_factory=list)
    # A chat message is prose; 10k characters is several pages and bounds storage per row.
    max_body_chars: int = Field(default=10_000, ge=1, le=1_000_000)
    # When live chat is open (unset: always). Outside them the widget offers the offline
    # form and says when it opens, as if nobody were online; agents online still chat.
    office_hours: OfficeHours | None = None


class WebSocketSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key fails at start
    # 128 KiB holds the largest legal message.send: 10k characters, even when a client
    # escapes each as a \uXXXX\uXXXX pair (12 bytes), plus the JSON around it. Checked
    # against chat.max_body_chars at start.
    max_frame_bytes: int = Field(default=128 * 1024, ge=1024)
    # Unsent bytes a socket may have buffered before it is judged a slow consumer and
    # closed: ~1,000 typical frames. A closed client reconnects and resumes, so nothing is
    # lost (docs/protocol.md); the bound keeps one stalled reader from holding memory.
    send_buffer_bytes: int = Field(default=256 * 1024, ge=4096)
    # Below typical 60 s proxy/NAT idle timeouts, with room for one lost ping.
    heartbeat_seconds: float = Field(default=25.0, gt=0)
    # Chat frames are ~200 bytes: deflate saves little and costs a zlib context per socket.
    permessage_deflate: bool = False
    # Per-socket frame budget (token bucket): far above human typing, far below a flood.
    frames_per_second: float = Field(default=30.0, gt=0)
    frame_burst: int = Field(default=60, ge=1)
    # Open sockets per visitor token or agent, per node: a browser tab holds one, and 32 is
    # more tabs than a shopper or an agent keeps open; a script with hundreds is refused.
    max_sockets_per_principal: int = Field(default=32, ge=1)
    # Visitor sockets per client address, per node: an office or a mobile carrier's NAT
    # puts many people behind one address, so this is generous; it stops one machine from
    # holding a node's memory (~14 KB a socket). Agents are not counted here.
    max_visitor_sockets_per_ip: int = Field(default=500, ge=1)


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key fails at start
    secret_key: str | None = Field(default=None, min_length=32)
    agent_token_hours: float = Field(default=12.0, gt=0)
    visitor_token_days: float = Field(default=30.0, gt=0)
    # Hex HMAC-SHA256(identity_secret, external_id) must accompany a trusted external_id.
    identity_secret: str | None = None
    login_per_ip_per_minute: int = Field(default=20, ge=1)
    login_failures_per_account: int = Field(default=5, ge=1)
    login_lockout_seconds: int = Field(default=300, ge=1)
    # Visitor sessions are created without credentials; this bounds what one address can mint.
    visitors_per_ip_per_minute: int = Field(default=60, ge=1)


# An origin as browsers send it: scheme, host, optional port; no path.
ORIGIN_PATTERN = r"^https?://[A-Za-z0-9.\-\[\]:]+$"


class SiteSettings(BaseModel):
    """A website that embeds the widget: which origins may talk to kefu as its visitors."""

    id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")
    name: str | None = None
    origins: list[str] = Field(default_factory=list)
    # Per-site HMAC secret for external_id; falls back to auth.identity_secret.
    identity_secret: str | None = None
    # The language of what kefu itself writes to this site's visitors (emails, …).
    locale: Literal["en", "zh-CN"] = "en"

    @field_validator("origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        cleaned = []
        for origin in value:
            if not re.match(ORIGIN_PATTERN, origin):
                raise ValueError(
                    f"{origin!r} is not an origin (scheme://host[:port], no path or slash)"
                )
            cleaned.append(origin.lower())
        return cleaned


class Settings(BaseSettings):
    """Everything a node needs to start; the defaults run with no server installed."""

    model_config = SettingsConfigDict(
        env_prefix="KEFU_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Path(".kefu")
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    grpc_port: int | None = Field(default=None, ge=0, le=65535)
    # Serving processes sharing the ports (SO_REUSEPORT), each a full node (kefu.workers).
    workers: int = Field(default=1, ge=1, le=MAX_WORKERS)
    store: str | None = None
    # PostgreSQL only: chat messages commit on this many connections side by side, each
    # conversation always on the same one (SQLite has a single writer). More than one
    # pays off only when each commit waits for a slow disk flush (docs/configuration.md).
    store_write_lanes: int = Field(default=1, ge=1, le=32)
    bus: str = "memory://"
    cache: str = "memory://"
    public_url: str | None = None
    # Reverse proxies (addresses or CIDRs) whose X-Forwarded-For is believed.
    trusted_proxies: list[str] = Field(default_factory=list)
    log_level: str = "info"
    chat: ChatSettings = Field(default_factory=ChatSettings)
    websocket: WebSocketSettings = Field(default_factory=WebSocketSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    sites: list[SiteSettings] = Field(default_factory=list)
    attachments: AttachmentSettings = Field(default_factory=AttachmentSettings)
    # Customer 360: the department systems to fetch from (docs/connectors.md).
    sources: dict[str, SourceSettings] = Field(default_factory=dict)
    customer360: Customer360Settings = Field(default_factory=Customer360Settings)
    # Tickets and SLAs; events and the rules acting on them; outgoing webhooks.
    tickets: TicketSettings = Field(default_factory=TicketSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    webhooks: dict[str, WebhookEndpoint] = Field(default_factory=dict)
    rules: list[RuleSettings] = Field(default_factory=list)
    # Several nodes: with ``bus: nats://`` live chat frames cross nodes (docs/scaling.md).
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    # Tickets answered by email, mail posted in (docs/email.md); unset: no email.
    email: EmailSettings | None = None
    # Operations across departments' systems, undone step by step on failure (docs/sagas.md).
    sagas: dict[str, SagaSettings] = Field(default_factory=dict)
    saga_engine: SagaEngineSettings = Field(default_factory=SagaEngineSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment over file (passed as init kwargs) over defaults.
        return env_settings, init_settings

    @field_validator("store")
    @classmethod
    def _store_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError("must be sqlite:///PATH or postgresql://…")
        return value

    @field_validator("bus")
    @classmethod
    def _bus_scheme(cls, value: str) -> str:
        if not value.startswith(("memory://", "nats://")):
            raise ValueError("must be memory:// or nats://…")
        return value

    @field_validator("cache")
    @classmethod
    def _cache_scheme(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://")):
            raise ValueError("must be memory:// or redis://…")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
        return value

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: dict[str, SourceSettings]) -> dict[str, SourceSettings]:
        return check_sources(value)

    @field_validator("webhooks")
    @classmethod
    def _webhooks(cls, value: dict[str, WebhookEndpoint]) -> dict[str, WebhookEndpoint]:
        return check_endpoints(value)

    @field_validator("sagas")
    @classmethod
    def _sagas(cls, value: dict[str, SagaSettings]) -> dict[str, SagaSettings]:
        return check_sagas(value)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be debug, info, warning or error")
        return value.lower()

    @model_validator(mode="after")
    def _frame_fits_body(self) -> Settings:
        # 12 bytes per character: an emoji escaped as a \uXXXX\uXXXX surrogate pair.
        needed = self.chat.max_body_chars * 12 + 1024
        if self.websocket.max_frame_bytes < needed:
            raise ValueError(
                f"websocket.max_frame_bytes must be at least {needed} to carry a message of "
                f"chat.max_body_chars={self.chat.max_body_chars} characters"
            )
        return self

    @model_validator(mode="after")
    def _unique_sites(self) -> Settings:
        seen: set[str] = set()
        for site in self.sites:
            if site.id in seen:
                raise ValueError(f"sites: the id {site.id!r} appears twice")
            seen.add(site.id)
        return self

    @model_validator(mode="after")
    def _rules_compile(self) -> Settings:
        try:
            compile_rules(self.rules, set(self.webhooks), set(self.sagas))
        except ValueError as exc:
            where, _, problem = str(exc).partition(": ")
            raise ConfigError(f"rules.{where}", problem) from None
        return self

    @model_validator(mode="after")
    def _workers_share_state(self) -> Settings:
        """Several workers are several nodes on one machine: they need what nodes need."""
        if self.workers == 1:
            return self
        many = f"{self.workers} workers"
        if self.store_url.startswith("sqlite"):
            raise ConfigError(
                "workers",
                f"{many} need store: postgresql://…; a SQLite file takes exactly one serving "
                "process (docs/operations.md)",
            )
        if self.bus.startswith("memory://"):
            raise ConfigError(
                "workers",
                f"{many} need bus: nats://…; with bus: memory:// live chat frames would not "
                "cross processes",
            )
        if self.port == 0 or self.grpc_port == 0:
            key = "port" if self.port == 0 else "grpc_port"
            raise ConfigError(
                key, f"must not be 0 with {many}: each worker would listen on a port of its own"
            )
        return self

    def site(self, site_id: str | None) -> SiteSettings | None:
        return next((s for s in self.sites if s.id == site_id), None)

    @property
    def store_url(self) -> str:
        return self.store or f"sqlite:///{self.data_dir / 'kefu.db'}"

    @property
    def effective_grpc_port(self) -> int:
        if self.grpc_port is not None:
            return self.grpc_port
        return 0 if self.port == 0 else self.port + 1  # a random HTTP port: a random one too


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read the file (if any), apply env and explicit overrides, or raise ``ConfigError``."""
    data: dict[str, Any] = {}
    path = config_file or _env_config_file()
    if path is not None:
        try:
            # YAML 1.2: a rule's ``on:`` is the text "on", not the boolean YAML 1.1 makes it.
            loaded = load_yaml(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError("config", f"cannot read {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or "syntax error"
            raise ConfigError("config", f"{path} is not valid YAML{where}: {problem}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError("config", f"{path} must hold a mapping of keys")
        data = loaded or {}
    explicit = {k: v for k, v in overrides.items() if v is not None}
    settings = _validated(data)
    if not explicit:
        return settings
    # Command-line flags beat the environment: merge what was written (file, then
    # environment, then flags) and validate that once more with the environment switched
    # off, so env cannot win again. The merge is of inputs, never of a dump of ``settings``:
    # a dump writes every default out as if the operator had, and checks that look at what
    # was written (``max_rows`` only on SQL sources) would refuse a valid file.
    merged = _merge(_merge(data, _environment()), explicit)
    return _validated(merged, _env_prefix=NO_ENVIRONMENT)


def restore_settings(snapshot: dict[str, Any]) -> Settings:
    """Settings another process validated, from ``settings.model_dump(mode="json")``.

    The environment is not read again: a worker process runs exactly what its parent
    checked at start, even if it is restarted after the file or environment changed.
    """
    return _validated(snapshot, _env_prefix=NO_ENVIRONMENT)


def snapshot_settings(settings: Settings) -> dict[str, Any]:
    """What ``restore_settings`` takes: the values that were written, as JSON.

    Only keys set by the file, the environment or a flag: defaults are filled in again on
    restore, and a default written out would count as written (see ``load_settings``).
    """
    return settings.model_dump(mode="json", exclude_unset=True, by_alias=True)


def _environment() -> dict[str, Any]:
    """The ``KEFU_*`` variables as the nested mapping ``Settings`` reads from them."""
    return EnvSettingsSource(Settings)()


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, mapping by mapping, as pydantic-settings layers its sources:
    a nested key replaces only itself; anything else (lists included) replaces whole."""
    merged = dict(base)
    for key, value in top.items():
        below = merged.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            merged[key] = _merge(below, value)
        else:
            merged[key] = value
    return merged


def _validated(data: dict[str, Any], **source_options: Any) -> Settings:
    try:
        return Settings(**data, **source_options)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"]
        key = saga_key(loc) if loc[:1] == ("sagas",) else ".".join(str(p) for p in loc)
        key = key or "config"
        message = " ".join(str(first["msg"]).split()).removeprefix("Value error, ")
        raise ConfigError(key, message) from None
    except SettingsError as exc:
        # e.g. KEFU_CHAT__AUTO_REPLIES holding malformed JSON
        raise ConfigError("environment", " ".join(str(exc).split())) from None


def _env_config_file() -> Path | None:
    value = os.environ.get("KEFU_CONFIG")
    return Path(value) if value else None
