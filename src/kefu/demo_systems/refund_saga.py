"""The demo's ``sagas:`` configuration: refund an order across four departments.

The same shape an operator writes for real systems (docs/sagas.md): refund the order in
the order system (undone by cancelling that refund), take back the loyalty points it
earned in the CRM (given back), file a note in the legacy call center over SOAP (removed),
and comment on the agent's ticket in kefu, or open one. Each compensation names the change
it undoes by the step's action key (``{step.action_key}``), so undoing a step that never
applied changes nothing. The CRM and call center are the 360's own ``sources:`` (their
connections shared); the order system's API has its own ``connection:``.
"""

from __future__ import annotations

from typing import Any, Final

from kefu.demo_systems.callcenter import CALLCENTER_NS, SOAP_ENV_NS
from kefu.demo_systems.callcenter_notes import ADD_NOTE_ACTION, NOTES_PATH, REMOVE_NOTE_ACTION

REFUND_SAGA: Final = "refund"

_ADD_NOTE = (
    f'<soap:Envelope xmlns:soap="{SOAP_ENV_NS}"><soap:Body>'
    f'<AddNote xmlns="{CALLCENTER_NS}">'
    "<CustomerRef>{steps.refund_order.customer_key}</CustomerRef>"
    "<Text>Refunded {steps.refund_order.amount} on order {input.order_id}: {input.reason}</Text>"
    "<IdempotencyKey>{idempotency_key}</IdempotencyKey>"
    "</AddNote></soap:Body></soap:Envelope>"
)
_REMOVE_NOTE = (
    f'<soap:Envelope xmlns:soap="{SOAP_ENV_NS}"><soap:Body>'
    f'<RemoveNote xmlns="{CALLCENTER_NS}">'
    "<AddNoteKey>{step.action_key}</AddNoteKey>"
    "<IdempotencyKey>{idempotency_key}</IdempotencyKey>"
    "</RemoveNote></soap:Body></soap:Envelope>"
)
_RETRY: Final = {
    "attempts": 5,
    "backoff_seconds": 0.2,
    "max_backoff_seconds": 5,
    "budget_seconds": 60,
}


def demo_sagas(
    orders_api_url: str, *, crm_source: str = "crm", callcenter_source: str = "callcenter"
) -> dict[str, Any]:
    """``sagas:`` with the refund saga, against the orders API at ``orders_api_url`` and
    the 360 sources named ``crm_source`` and ``callcenter_source``."""
    orders = {"base_url": orders_api_url}
    return {
        REFUND_SAGA: {
            "title": "Refund an order",
            "input": {
                "order_id": {"type": "string", "required": True, "max_length": 64},
                "amount": {"type": "number", "required": True, "minimum": 0.01},
                "reason": {"type": "string", "max_length": 500},
                "ticket_id": {"type": "string", "max_length": 32},
            },
            "steps": [
                {
                    "name": "refund_order",
                    "title": "Mark the order refunded",
                    "action": {
                        "kind": "rest",
                        "system": "orders",
                        "connection": orders,
                        "method": "POST",
                        "path": "/api/orders/{input.order_id}/refund",
                        "body": {"amount": "{input.amount}", "reason": "{input.reason}"},
                    },
                    "compensation": {
                        "kind": "rest",
                        "system": "orders",
                        "connection": orders,
                        "method": "POST",
                        "path": "/api/orders/{input.order_id}/refund/cancel",
                        "body": {"refund_key": "{step.action_key}"},
                    },
                    "timeout_seconds": 5,
                    "retry": _RETRY,
                },
                {
                    "name": "take_back_points",
                    "title": "Take back the loyalty points",
                    "action": {
                        "kind": "rest",
                        "source": crm_source,
                        "method": "POST",
                        "path": "/api/customers/{steps.refund_order.customer_key}/points/take-back",
                        "body": {"amount": "{input.amount}", "order_id": "{input.order_id}"},
                    },
                    "compensation": {
                        "kind": "rest",
                        "source": crm_source,
                        "method": "POST",
                        "path": "/api/customers/{steps.refund_order.customer_key}/points/give-back",
                        "body": {"take_back_key": "{step.action_key}"},
                    },
                    "timeout_seconds": 5,
                    "retry": _RETRY,
                },
                {
                    "name": "log_call_note",
                    "title": "Log the refund in the call center",
                    "action": {
                        "kind": "soap",
                        "source": callcenter_source,
                        "path": NOTES_PATH,
                        "soap_action": ADD_NOTE_ACTION,
                        "envelope": _ADD_NOTE,
                        "result": {"note_id": "NoteId"},
                    },
                    "compensation": {
                        "kind": "soap",
                        "source": callcenter_source,
                        "path": NOTES_PATH,
                        "soap_action": REMOVE_NOTE_ACTION,
                        "envelope": _REMOVE_NOTE,
                    },
                    "timeout_seconds": 5,
                    "retry": _RETRY,
                },
                {
                    "name": "comment_ticket",
                    "title": "Note the refund on the ticket",
                    "action": {
                        "kind": "kefu",
                        "op": "ticket_comment",
                        "ticket_id": "{input.ticket_id}",
                        "internal": True,
                        "body": (
                            "Refunded {steps.refund_order.amount} on order {input.order_id} "
                            "(reason: {input.reason}); "
                            "{steps.take_back_points.points_taken} loyalty points taken back; "
                            "call-center note {steps.log_call_note.note_id}."
                        ),
                        "create_if_missing": {
                            "subject": "Refund of order {input.order_id}",
                            "priority": "normal",
                        },
                    },
                    "timeout_seconds": 5,
                    "retry": _RETRY,
                },
            ],
        }
    }
