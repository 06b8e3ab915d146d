"""The running node's parts, as built by ``kefu.bootstrap``; entry points receive this."""

from __future__ import annotations

from dataclasses import dataclass

from kefu.attachments.service import AttachmentService
from kefu.auth.api_tokens import ApiTokens
from kefu.auth.origins import OriginPolicy
from kefu.auth.service import AuthService
from kefu.chat.blacklist import Blacklist
from kefu.chat.hub import Hub
from kefu.chat.service import ChatService
from kefu.config import Settings
from kefu.email.service import EmailService
from kefu.events.log import EventLog
from kefu.forwarded import ClientAddress
from kefu.ports import Cache, Clock, MessageAppender, PasswordHasher
from kefu.privacy.erasure import Eraser
from kefu.sagas.service import SagaService
from kefu.store.repositories import Repositories
from kefu.tickets.service import TicketService
from kefu.unify.service import Customer360
from kefu.webhooks.service import WebhookService


@dataclass(frozen=True, slots=True)
class Node:
    settings: Settings
    clock: Clock
    repos: Repositories
    writer: MessageAppender
    cache: Cache
    hub: Hub
    auth: AuthService
    chat: ChatService
    blacklist: Blacklist
    client_address: ClientAddress
    attachments: AttachmentService
    origins: OriginPolicy
    customers: Customer360
    tickets: TicketService
    webhooks: WebhookService
    events: EventLog
    api_tokens: ApiTokens
    eraser: Eraser
    passwords: PasswordHasher
    sagas: SagaService | None = None  # None only where a node is built by hand (tests)
    email: EmailService | None = None  # None: no ``email:`` configured
