"""What the Tickets pages' browser tests share: SLA policies with wall-clock targets, and
finding the page and a ticket's row."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

# Wall-clock targets, so the countdowns do not depend on the day the test runs: urgent is
# due at once (red), high within the hour (amber), normal in four hours (green).
TICKETS = {
    "sla_policies": {
        "default": {
            "business_hours": False,
            "first_response_minutes": {"urgent": 0, "high": 45, "normal": 240, "low": 480},
            "resolution_minutes": {"urgent": 120, "high": 480, "normal": 1440, "low": 2880},
        }
    }
}


def row(page: Page, ticket_id: str) -> Any:
    return page.locator(f'#tk-list .tk-row[data-id="{ticket_id}"]')


async def open_tickets(page: Page) -> None:
    await page.get_by_role("button", name="Tickets", exact=True).click()
    await expect(page.locator("#page-tickets")).to_be_visible()


# The complaint rule the console tests run: a high-priority ticket for a supervisor and a
# notification (the toast and the bell).
COMPLAINT_RULE: dict[str, Any] = {
    "name": "complaint-escalation",
    "on": "customer.complaint",
    "do": [
        {
            "create_ticket": {
                "subject": "Complaint: {data.summary}",
                "body": "{data.detail}",
                "priority": "high",
                "role": "supervisor",
            }
        },
        {
            "notify": {
                "role": "supervisor",
                "message": "Complaint from {customer.name} ({customer_key}): {data.summary}",
            }
        },
    ],
}
