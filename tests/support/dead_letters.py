"""A real fault for dead-letter tests: a trigger in the store refuses one customer's
tickets ("the CRM sync is down"); dropping it "fixes" the cause. The complaint rule whose
ticket it refuses."""

from __future__ import annotations

from typing import Any

from tests.support.kefu import Kefu

BROKEN = "C-broken"
RULE: dict[str, Any] = {
    "name": "complaint-escalation",
    "on": "customer.complaint",
    "do": [{"create_ticket": {"subject": "Complaint: {data.summary}", "priority": "high"}}],
}
REFUSE = {
    "sqlite": [
        f"CREATE TRIGGER crm_down BEFORE INSERT ON tickets WHEN NEW.customer_key = '{BROKEN}'"
        " BEGIN SELECT RAISE(ABORT, 'crm sync down'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION crm_down() RETURNS trigger AS $$ BEGIN"
        f" IF NEW.customer_key = '{BROKEN}' THEN RAISE EXCEPTION 'crm sync down'; END IF;"
        " RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER crm_down BEFORE INSERT ON tickets FOR EACH ROW EXECUTE FUNCTION crm_down()",
    ],
}
ACCEPT = {
    "sqlite": ["DROP TRIGGER crm_down"],
    "postgresql": ["DROP TRIGGER crm_down ON tickets", "DROP FUNCTION crm_down()"],
}


async def run_sql(kefu: Kefu, statements: list[str]) -> None:
    db = kefu.node.repos.db
    async with db.begin() as conn:
        for statement in statements:
            await conn.exec_driver_sql(statement)
