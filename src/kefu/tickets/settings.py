"""The ``tickets:`` section: SLA policies and the business hours they count in."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Priority = Literal["low", "normal", "high", "urgent"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WORKWEEK: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class BusinessHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = "UTC"
    days: list[Weekday] = Field(default_factory=lambda: list(WORKWEEK))
    start: str = "09:00"
    end: str = "18:00"
    holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
        return value

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not CLOCK.match(value):
            raise ValueError(f"{value!r} is not a time of day HH:MM")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> BusinessHours:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        if not self.days:
            raise ValueError("days must name at least one weekday")
        return self


def _minutes(urgent: int, high: int, normal: int, low: int) -> dict[Priority, int]:
    return {"urgent": urgent, "high": high, "normal": normal, "low": low}


class SlaPolicy(BaseModel):
    """Targets per priority, in minutes of business time (or wall time)."""

    model_config = ConfigDict(extra="forbid")

    first_response_minutes: dict[Priority, int] = Field(
        default_factory=lambda: _minutes(urgent=30, high=60, normal=240, low=480)
    )
    resolution_minutes: dict[Priority, int] = Field(
        default_factory=lambda: _minutes(urgent=240, high=480, normal=1440, low=2880)
    )
    # Count only business hours (tickets.business_hours); false counts every minute.
    business_hours: bool = True
    # A warning event (and a console highlight) this long before a target is missed.
    warn_before_minutes: int = Field(default=30, ge=0, le=10_000)


class TicketSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    sla_policies: dict[str, SlaPolicy] = Field(default_factory=lambda: {"default": SlaPolicy()})
    default_sla_policy: str | None = "default"
    # How often due dates are checked for warnings and breaches.
    sla_check_seconds: float = Field(default=30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _known_default(self) -> TicketSettings:
        if self.default_sla_policy is not None and self.default_sla_policy not in self.sla_policies:
            raise ValueError(
                f"default_sla_policy {self.default_sla_policy!r} is not in sla_policies"
            )
        return self
