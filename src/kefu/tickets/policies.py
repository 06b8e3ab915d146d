"""From the ``tickets:`` settings (pydantic, validated at start) to the pure SLA rules.

The domain takes no framework types, so the conversion happens once, here, at wiring.
"""

from __future__ import annotations

from kefu.domain.sla import BusinessHours, SlaPolicy, SlaRules
from kefu.tickets.settings import TicketSettings


def sla_rules(settings: TicketSettings) -> SlaRules:
    hours = settings.business_hours
    return SlaRules(
        BusinessHours.of(hours.timezone, hours.days, hours.start, hours.end, hours.holidays),
        {
            name: SlaPolicy(
                name,
                {str(priority): m for priority, m in policy.first_response_minutes.items()},
                {str(priority): m for priority, m in policy.resolution_minutes.items()},
                policy.business_hours,
                policy.warn_before_minutes,
            )
            for name, policy in settings.sla_policies.items()
        },
        settings.default_sla_policy,
    )
