"""One object holding every repository over one database, handed to the services."""

from __future__ import annotations

from dataclasses import dataclass

from kefu.store.agents import AgentRepository
from kefu.store.api_tokens import ApiTokenRepository
from kefu.store.attachments import AttachmentRepository
from kefu.store.audit import AuditLog
from kefu.store.auto_replies import AutoReplyRepository
from kefu.store.blacklist import BlacklistRepository
from kefu.store.canned import CannedReplyRepository
from kefu.store.conversations import ConversationRepository
from kefu.store.database import Database
from kefu.store.labels import LabelRepository
from kefu.store.messages import MessageReader
from kefu.store.offline import OfflineMessageRepository
from kefu.store.reports import ReportRepository
from kefu.store.routing import CustomerRoutingRepository
from kefu.store.settings import SettingsRepository
from kefu.store.summaries import ConversationSummaries
from kefu.store.tickets import TicketRepository
from kefu.store.visitors import VisitorRepository


@dataclass(frozen=True, slots=True)
class Repositories:
    db: Database
    agents: AgentRepository
    visitors: VisitorRepository
    conversations: ConversationRepository
    messages: MessageReader
    canned: CannedReplyRepository
    auto_replies: AutoReplyRepository
    blacklist: BlacklistRepository
    offline: OfflineMessageRepository
    audit: AuditLog
    settings: SettingsRepository
    summaries: ConversationSummaries
    labels: LabelRepository
    attachments: AttachmentRepository
    routing: CustomerRoutingRepository
    api_tokens: ApiTokenRepository
    tickets: TicketRepository
    reports: ReportRepository

    @classmethod
    def over(cls, db: Database) -> Repositories:
        return cls(
            db=db,
            agents=AgentRepository(db),
            visitors=VisitorRepository(db),
            conversations=ConversationRepository(db),
            messages=MessageReader(db),
            canned=CannedReplyRepository(db),
            auto_replies=AutoReplyRepository(db),
            blacklist=BlacklistRepository(db),
            offline=OfflineMessageRepository(db),
            audit=AuditLog(db),
            settings=SettingsRepository(db),
            summaries=ConversationSummaries(db),
            labels=LabelRepository(db),
            attachments=AttachmentRepository(db),
            routing=CustomerRoutingRepository(db),
            api_tokens=ApiTokenRepository(db),
            tickets=TicketRepository(db),
            reports=ReportRepository(db),
        )
