"""Whose customer a conversation is: the one definition every reader of it uses.

An agent's manual link (``conversations.customer_key``) wins; without one it is the
visitor's external_id if the site *signed* it (``identity_verified``). An unsigned
external_id is whatever the browser claimed, so it names nobody: a visitor must not reach
another customer's 360 view or jump the VIP lane by typing their id.

It is a SQL expression, not a Python function over fetched rows, because the VIP lane is
decided inside the store on several nodes (``shared_assignment``) and on one node from
the same rows (``routing``, ``summaries``): one expression keeps the console's "customer"
and the queue's "customer" from ever disagreeing. Every query using it must join
``visitors`` to ``conversations`` (``WITH_VISITOR``).
"""

from __future__ import annotations

import sqlalchemy as sa

from kefu.store.tables import conversations, visitors

WITH_VISITOR = conversations.join(visitors, visitors.c.id == conversations.c.visitor_id)

CONVERSATION_CUSTOMER = sa.func.coalesce(
    conversations.c.customer_key,
    sa.case((visitors.c.identity_verified.is_(True), visitors.c.external_id), else_=None),
)
