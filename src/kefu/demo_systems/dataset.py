"""The deterministic demo dataset every simulated department system serves.

One seeded ``random.Random`` stream, no clock and no I/O: the same ``(customers, seed)``
always gives byte-identical data, so the demo, the tests and the benchmarks agree on what
"C1001" looks like, and a failing test can be reproduced anywhere. Customers are drawn one
after the other from that stream, so ``build_dataset(10)`` is exactly the first ten
customers of ``build_dataset(50)``.

The three systems deliberately know a customer by different keys, as real departments do:
the CRM and the order system by ``customer_key`` ("C1001"), the legacy call center only by
phone number. Times are relative to a fixed :data:`REFERENCE_TIME`, never ``now()``.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from kefu.demo_systems.dataset_zh import CHINESE, Words

DEFAULT_CUSTOMERS: Final = 50
DEFAULT_SEED: Final = 20260301
#: "Now" for the dataset: orders and calls happen before it. Fixed, for determinism.
REFERENCE_TIME: Final = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FIRST_CUSTOMER_NUMBER: Final = 1001
FIRST_ORDER_NUMBER: Final = 100231

TIERS: Final = ("vip", "gold", "standard")
ORDER_STATUSES: Final = ("pending", "paid", "shipped", "delivered", "cancelled", "refunded")
CALL_DIRECTIONS: Final = ("inbound", "outbound")
CALL_OUTCOMES: Final = ("resolved", "escalated", "callback_scheduled", "voicemail", "no_answer")
CHANNELS: Final = ("phone", "email", "chat", "wechat", "sms")

_CENT = Decimal("0.01")
_CNY_PER_USD = Decimal(7)


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One line of an order; ``unit_price`` is in the order's currency, 2 places."""

    sku: str
    name: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the order system stores it; ``total`` is the sum of its lines."""

    order_no: str
    customer_key: str
    status: str
    total: Decimal
    currency: str
    created_at: datetime
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True, slots=True)
class Call:
    """One call in the legacy call center, which files it under the phone number only.

    ``customer_key`` is here for tests and the demo's bookkeeping; the call center's API
    never exposes it.
    """

    call_id: str
    customer_key: str
    phone: str
    direction: str
    agent: str
    duration_seconds: int
    outcome: str
    notes: str
    started_at: datetime
    queue: str


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer as the marketing CRM knows them.

    ``loyalty_points`` and ``preferred_channel`` are extras the unified customer schema
    lacks, so the demo shows what happens to fields a department has and kefu does not.
    ``company`` is ``None`` for private customers.
    """

    customer_key: str
    name: str
    email: str
    phone: str
    tier: str
    company: str | None
    locale: str
    tags: tuple[str, ...]
    customer_since: datetime
    loyalty_points: int
    preferred_channel: str


@dataclass(frozen=True, slots=True)
class Dataset:
    """Customers with their orders and calls, plus read-only lookups the simulators use.

    Orders and calls are kept newest first, which is the order the systems answer in.
    """

    customers: tuple[Customer, ...]
    orders: tuple[Order, ...]
    calls: tuple[Call, ...]
    _by_key: Mapping[str, Customer] = field(init=False, repr=False, compare=False)
    _by_email: Mapping[str, Customer] = field(init=False, repr=False, compare=False)
    _by_phone: Mapping[str, Customer] = field(init=False, repr=False, compare=False)
    _orders_of: Mapping[str, tuple[Order, ...]] = field(init=False, repr=False, compare=False)
    _calls_of_phone: Mapping[str, tuple[Call, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Indexes built once: the simulators answer per request, benchmarks use many
        # customers, and a linear scan per request would measure the simulator, not kefu.
        orders: dict[str, list[Order]] = {}
        for order in self.orders:
            orders.setdefault(order.customer_key, []).append(order)
        calls: dict[str, list[Call]] = {}
        for call in self.calls:
            calls.setdefault(call.phone, []).append(call)
        indexes: dict[str, Mapping[str, object]] = {
            "_by_key": {c.customer_key: c for c in self.customers},
            "_by_email": {c.email.lower(): c for c in self.customers},
            "_by_phone": {c.phone: c for c in self.customers},
            "_orders_of": {
                k: tuple(sorted(v, key=lambda o: o.created_at, reverse=True))
                for k, v in orders.items()
            },
            "_calls_of_phone": {
                k: tuple(sorted(v, key=lambda c: c.started_at, reverse=True))
                for k, v in calls.items()
            },
        }
        for name, index in indexes.items():
            object.__setattr__(self, name, MappingProxyType(dict(index)))

    def customer(self, customer_key: str) -> Customer | None:
        """The customer with this key, or ``None``."""
        return self._by_key.get(customer_key)

    def customer_by_email(self, email: str) -> Customer | None:
        """Case-insensitive, as mail addresses are in practice."""
        return self._by_email.get(email.strip().lower())

    def customer_by_phone(self, phone: str) -> Customer | None:
        """Exact E.164 match after :func:`normalize_phone`."""
        return self._by_phone.get(normalize_phone(phone))

    def orders_of(self, customer_key: str) -> tuple[Order, ...]:
        """This customer's orders, newest first; empty when unknown."""
        return self._orders_of.get(customer_key, ())

    def calls_of_phone(self, phone: str) -> tuple[Call, ...]:
        """Calls filed under this phone number, newest first; empty when unknown."""
        return self._calls_of_phone.get(normalize_phone(phone), ())

    def calls_of(self, customer_key: str) -> tuple[Call, ...]:
        """This customer's calls (through their phone number), newest first."""
        found = self.customer(customer_key)
        return () if found is None else self.calls_of_phone(found.phone)


def normalize_phone(phone: str) -> str:
    """E.164 from what people (and URLs) send: digits only, with one leading ``+``.

    Spaces, dashes, dots and brackets are dropped, and a missing ``+`` is put back: an
    unencoded ``?phone=+8613800001001`` arrives as ``" 8613800001001"``.
    """
    digits = "".join(ch for ch in phone if ch in "0123456789")
    return f"+{digits}" if digits else ""


# --- the raw material ---------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_CHINESE_FAMILY = _words("Li Wang Zhang Liu Chen Yang Zhao Huang Zhou Wu Xu Sun Ma Zhu Hu Guo Luo")
_CHINESE_GIVEN = _words("Wei Fang Min Jing Lei Yang Jun Xiu Tao Na Hao Ying Mei Ping Xue Qiang Yan")
_WESTERN_GIVEN = _words("Emma Liam Olivia Noah Sophie Lucas Mia James Chloé Zoë Daniel Hannah Léa")
_WESTERN_FAMILY = _words("Johnson Smith Brown Miller Weber Fischer O'Brien Dubois Müller García")
_DOMAINS = ("example.com", "example.com", "example.org", "example.net")  # reserved for examples
# Western locales and how their (fictional-range) phone numbers are written.
_WESTERN_LOCALES = ("en-US", "en-US", "en-GB", "de-DE", "fr-FR")
_COMPANIES = (
    "Shanghai Lanting Trading Co.",
    "Hangzhou Jinyu Technology",
    "Northwind Traders",
    "Contoso Ltd.",
    "Fabrikam Inc.",
    "Blue Harbor Logistics",
    "Shenzhen Xinda Electronics",
    "Barnes & Noble Office Supply",
    "Chengdu Panda Foods",
    "Wide World Importers",
    "Beijing Yunfan Media",
)
_TAGS = _words(
    "newsletter wholesale early-adopter returns-risk b2b wechat-linked birthday-march"
    " prefers-english price-sensitive reviewer"
)
_CATALOG: tuple[tuple[str, str, Decimal], ...] = (  # sku, name, price in CNY
    ("KB-87-RGB", "Mechanical keyboard, 87 keys", Decimal("499.00")),
    ("MS-WL-02", "Wireless mouse", Decimal("129.00")),
    ("HP-NC-700", "Noise-cancelling headphones", Decimal("1299.00")),
    ("CB-USBC-2M", "USB-C cable 2 m", Decimal("39.90")),
    ("MN-27-4K", '27" 4K monitor', Decimal("2599.00")),
    ("DK-TB4", "Thunderbolt 4 dock", Decimal("1899.00")),
    ("LS-AL", "Aluminium laptop stand", Decimal("219.00")),
    ("WC-1080", "1080p webcam", Decimal("349.00")),
    ("SSD-1T", "Portable SSD 1 TB", Decimal("699.00")),
    ("PB-20K", "Power bank 20000 mAh", Decimal("199.00")),
)
_AGENTS = ("Wang Xiaoling", "Tom Becker", "Chen Yu", "Anna Kowalska", "Liu Jie", "Maria Rossi")
_QUEUES = ("orders", "billing", "technical", "returns")
# Notes as agents type them: ampersands, angle brackets, quotes and currency signs included,
# so every consumer has to escape properly.
_NOTES = (
    "Asked where order {order} is; gave the tracking number.",
    "Refund requested for {sku}: damaged on arrival & box crushed.",
    "Billing: invoice title and tax number updated.",
    "Price-match request (competitor < ours by ¥50); declined politely.",
    'Wants the "express" option on the next order.',
    "Password reset for the shop account; verified by SMS.",
    "Complained about delivery delay >3 days; offered a coupon.",
    "Upsell call: interested in {sku}, will decide next week.",
)


def build_dataset(
    customers: int = DEFAULT_CUSTOMERS, *, seed: int = DEFAULT_SEED, locale: str = "en"
) -> Dataset:
    """Build ``customers`` customers ("C1001", "C1002", ...) with their orders and calls.

    ``locale="zh-CN"``: the same data (the same draws) in a Chinese shop's words: names in
    characters, Chinese companies, products and call notes (``dataset_zh``).

    C1001 is always a rich one (Li Wei, vip, 4 orders, 3 calls) so the demo's first screen
    is full; everyone else gets 0-6 orders and 0-5 calls, some none at all, because empty
    sections are part of what the 360 has to show.
    """
    if customers < 1:
        raise ValueError("a dataset needs at least one customer")
    # Not for security: a seeded stream is the point (reproducible demo data).
    rng = random.Random(seed)  # noqa: S311
    words = CHINESE if locale == "zh-CN" else None
    people: list[Customer] = []
    orders: list[Order] = []
    calls: list[Call] = []
    emails: set[str] = set()
    next_order = FIRST_ORDER_NUMBER
    next_call = 1
    for index in range(customers):
        number = FIRST_CUSTOMER_NUMBER + index
        customer = _customer(rng, number, emails, rich=index == 0, words=words)
        people.append(customer)
        order_count = 4 if index == 0 else rng.choice((0, 1, 1, 2, 2, 3, 4, 5, 6))
        mine: list[Order] = []
        for number_in_turn in range(order_count):
            next_order += rng.randint(1, 9)  # other customers' orders in between
            recent = index == 0 and number_in_turn == 0  # C1001 has one still in flight
            mine.append(_order(rng, customer, f"SO-{next_order}", recent=recent, words=words))
        # A customer's own order numbers grow with time, as a real sequence would.
        numbers = sorted(o.order_no for o in mine)
        mine = [
            replace(o, order_no=n)
            for o, n in zip(sorted(mine, key=lambda o: o.created_at), numbers, strict=True)
        ]
        orders.extend(mine)
        call_count = 3 if index == 0 else rng.choice((0, 0, 1, 1, 2, 3, 4, 5))
        for _ in range(call_count):
            calls.append(_call(rng, customer, next_call, mine, words))
            next_call += 1
    return Dataset(customers=tuple(people), orders=tuple(orders), calls=tuple(calls))


def _in(words: Words | None, english: tuple[str, ...], local: str, value: str) -> str:
    """``value`` (drawn from ``english``) in the words' language: the same position."""
    return value if words is None else getattr(words, local)[english.index(value)]


def _customer(
    rng: random.Random, number: int, emails: set[str], *, rich: bool, words: Words | None
) -> Customer:
    chinese = rich or rng.random() < 0.6
    if chinese:
        family, given = (
            ("Li", "Wei") if rich else (rng.choice(_CHINESE_FAMILY), rng.choice(_CHINESE_GIVEN))
        )
        # Family name first: pinyin "Li Wei", or characters "李伟".
        name = " ".join((family, given))
        if words is not None:
            name = words.name_separator.join(
                (
                    _in(words, _CHINESE_FAMILY, "chinese_family", family),
                    _in(words, _CHINESE_GIVEN, "chinese_given", given),
                )
            )
        locale = "zh-CN"
        phone = f"+86138{number:08d}"
        local_part = f"{family}.{given}"
    else:
        given, family = rng.choice(_WESTERN_GIVEN), rng.choice(_WESTERN_FAMILY)
        name = f"{given} {family}"
        locale = rng.choice(_WESTERN_LOCALES)
        phone = _western_phone(locale, number)
        local_part = f"{given}.{family}"
    domain = "example.com" if rich else rng.choice(_DOMAINS)
    email = _unique_email(_ascii_slug(local_part), domain, emails)
    tier = "vip" if rich else rng.choices(TIERS, weights=(10, 25, 65))[0]
    company = _COMPANIES[0] if rich else (rng.choice(_COMPANIES) if rng.random() < 0.7 else None)
    if company is not None:
        company = _in(words, _COMPANIES, "companies", company)
    tags = (
        ("vip", "wholesale", "wechat-linked")
        if rich
        else tuple(sorted(rng.sample(_TAGS, rng.randint(0, 3))))
    )
    since = datetime(2016, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 10 * 365 * 86400))
    if rich:
        since = datetime(2019, 4, 12, 3, 27, 45, tzinfo=UTC)
    points_scale = {"vip": 20000, "gold": 6000, "standard": 1500}[tier]
    return Customer(
        customer_key=f"C{number}",
        name=name,
        email=email,
        phone=phone,
        tier=tier,
        company=company,
        locale=locale,
        tags=tags,
        customer_since=since,
        loyalty_points=18250 if rich else rng.randint(0, points_scale),
        preferred_channel="wechat" if rich else rng.choice(CHANNELS),
    )


def _western_phone(locale: str, number: int) -> str:
    """E.164 numbers in ranges set aside for fiction where the country has one."""
    if locale == "en-US":
        return f"+1415{5550000 + number:07d}"
    if locale == "en-GB":
        return f"+447700{900000 + number:06d}"
    if locale == "de-DE":
        return f"+49151{number:08d}"
    return f"+336{number:08d}"


def _ascii_slug(text: str) -> str:
    """'Chloé.O'Brien' -> 'chloe.obrien': what a mail provider would have accepted."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in plain.lower() if ch.isalnum() or ch == ".")


def _unique_email(local_part: str, domain: str, taken: set[str]) -> str:
    email = f"{local_part}@{domain}"
    suffix = 2
    while email in taken:
        email = f"{local_part}{suffix}@{domain}"
        suffix += 1
    taken.add(email)
    return email


def _order(
    rng: random.Random, customer: Customer, order_no: str, *, recent: bool, words: Words | None
) -> Order:
    oldest = max(customer.customer_since, REFERENCE_TIME - timedelta(days=730))
    span = 10 * 86400 if recent else int((REFERENCE_TIME - oldest).total_seconds())
    created = REFERENCE_TIME - timedelta(seconds=rng.randint(3600, max(span, 7200)))
    age_days = (REFERENCE_TIME - created).days
    # Recent orders are still moving; old ones have settled.
    if age_days < 3:
        status = rng.choice(("pending", "paid", "paid"))
    elif age_days < 14:
        status = rng.choice(("paid", "shipped", "shipped", "delivered"))
    else:
        status = rng.choices(("delivered", "cancelled", "refunded"), weights=(85, 8, 7))[0]
    currency = "CNY" if customer.locale == "zh-CN" else "USD"
    lines: list[OrderLine] = []
    for sku, name, cny in rng.sample(_CATALOG, rng.randint(1, 4)):
        price = cny if currency == "CNY" else (cny / _CNY_PER_USD).quantize(_CENT)
        name = words.product_names.get(sku, name) if words is not None else name
        lines.append(OrderLine(sku=sku, name=name, quantity=rng.randint(1, 3), unit_price=price))
    total = sum((line.unit_price * line.quantity for line in lines), Decimal(0)).quantize(_CENT)
    return Order(
        order_no=order_no,
        customer_key=customer.customer_key,
        status=status,
        total=total,
        currency=currency,
        created_at=created.replace(microsecond=0),
        lines=tuple(lines),
    )


def _call(
    rng: random.Random, customer: Customer, sequence: int, orders: list[Order], words: Words | None
) -> Call:
    started = REFERENCE_TIME - timedelta(seconds=rng.randint(600, 180 * 86400))
    direction = rng.choices(CALL_DIRECTIONS, weights=(7, 3))[0]
    if direction == "inbound":
        outcome = rng.choices(CALL_OUTCOMES[:3], weights=(70, 15, 15))[0]
    else:
        outcome = rng.choices(CALL_OUTCOMES, weights=(40, 5, 20, 20, 15))[0]
    unanswered = outcome in {"voicemail", "no_answer"}
    duration = rng.randint(0, 45) if unanswered else rng.randint(60, 1500)
    order = rng.choice(orders).order_no if orders else "an earlier order"
    if words is not None and not orders:
        order = "之前的订单"
    notes = "" if outcome == "no_answer" else _in(words, _NOTES, "notes", rng.choice(_NOTES))
    notes = notes.format(order=order, sku=rng.choice(_CATALOG)[0])
    queue = "vip" if customer.tier == "vip" else rng.choice(_QUEUES)
    return Call(
        call_id=f"CALL-{started:%Y%m%d}-{sequence:05d}",
        customer_key=customer.customer_key,
        phone=customer.phone,
        direction=direction,
        agent=_in(words, _AGENTS, "agents", rng.choice(_AGENTS)),
        duration_seconds=duration,
        outcome=outcome,
        notes=notes,
        started_at=started.replace(microsecond=0),
        queue=queue,
    )
