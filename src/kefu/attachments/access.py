"""Who may read an attachment: its uploader (to preview before sending), and once a
message carries it, whoever may read that conversation. Everyone else is told it does
not exist, so ids of others' files reveal nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from kefu.auth.principal import Principal
from kefu.domain.models import Attachment
from kefu.errors import KefuError, NotFound

# ``ChatService.accessible``: raises unless the caller may read that conversation.
Accessible = Callable[[Principal, str], Awaitable[object]]


async def check_access(accessible: Accessible, caller: Principal, attachment: Attachment) -> None:
    if attachment.uploader == caller.key:
        return
    if attachment.conversation_id is None:
        raise NotFound("no such attachment", code="attachment_not_found")
    try:
        await accessible(caller, attachment.conversation_id)
    except KefuError:
        raise NotFound("no such attachment", code="attachment_not_found") from None
