"""The ``sources:`` configuration that wires the simulated department systems into the
customer 360 — the same shape an operator writes for the real ones (docs/connectors.md)."""

from __future__ import annotations

from typing import Any

CALL_HISTORY_BODY = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soap:Body>"
    '<GetCallHistory xmlns="urn:kefu-demo:callcenter"><Phone>{value}</Phone></GetCallHistory>'
    "</soap:Body>"
    "</soap:Envelope>"
)


def demo_sources(crm_url: str, callcenter_url: str, orders_url: str) -> dict[str, Any]:
    """CRM over REST, orders through SQL, call history over SOAP (keyed by the CRM's phone)."""
    return {
        "crm": {
            "connector": "rest",
            "connection": {"base_url": crm_url},
            "request": {"path": "/api/customers/{value}"},
            "map": {
                "customer": {
                    "name": "name",
                    "email": "email",
                    "phone": "phone",
                    "tier": "tier",
                    "company": "company",
                    "locale": "locale",
                    "tags": "tags",
                    "customer_since": "customer_since",
                }
            },
            "lookup": {
                "email": {
                    "request": {"path": "/api/customers", "params": {"email": "{value}"}},
                    "from": "items",
                    "key": "customer_id",
                    "name": "name",
                },
                "phone": {
                    "request": {"path": "/api/customers", "params": {"phone": "{value}"}},
                    "from": "items",
                    "key": "customer_id",
                    "name": "name",
                },
            },
            "ttl_seconds": 120,
        },
        "orders": {
            "connector": "sql",
            "connection": {"url": orders_url},
            "request": {
                "query": "SELECT order_no, status, total, currency, created_at "
                "FROM demo_orders WHERE customer_key = :value "
                "ORDER BY created_at DESC LIMIT 20"
            },
            "map": {
                "orders": {
                    "id": "order_no",
                    "status": "status",
                    "total": "total",
                    "currency": "currency",
                    "created_at": "created_at",
                }
            },
            "lookup": {
                "order": {
                    "request": {
                        "query": "SELECT customer_key FROM demo_orders WHERE order_no = :value"
                    },
                    "key": "customer_key",
                }
            },
            "ttl_seconds": 30,
        },
        "callcenter": {
            "connector": "xml",
            "connection": {"base_url": callcenter_url},
            "request": {
                "path": "/soap/CallHistory",
                "soap": True,
                "soap_action": "urn:kefu-demo:callcenter/GetCallHistory",
                "body": CALL_HISTORY_BODY,
            },
            "key": {"via": "crm", "field": "customer.phone"},
            "map": {
                "calls": {
                    "from": "Calls/Call",
                    "fields": {
                        "id": "@id",
                        "direction": "Direction",
                        "agent": "Agent",
                        "duration_seconds": "DurationSeconds",
                        "outcome": "Outcome",
                        "notes": "Notes",
                        "started_at": "StartedAt",
                    },
                }
            },
            "ttl_seconds": 60,
        },
    }
