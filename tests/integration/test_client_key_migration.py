"""Revision 0009_client_key keys the leads and aliases already stored by their client's
network, so the per-address cap counts them from the moment of the upgrade; on SQLite and on
PostgreSQL, and back down to 0008 without losing a row."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, table, text

from service.database import migrate
from service.database.schema import head
from service.leads import LeadStore
from service.leads.model import utcnow
from tests.migrations import alembic_to

# More leads than the migration keys in one batch.
MANY = 2100
ADDRESSES = {  # client_ip -> the key it must get (the default prefix, /64)
    "2001:db8:1:2:aaaa:bbbb:cccc:dddd": "2001:db8:1:2::/64",
    "2001:db8:1:3::1": "2001:db8:1:3::/64",
    "::ffff:203.0.113.9": "203.0.113.9",
    "198.51.100.7": "198.51.100.7",
}


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_database")
        return url
    return f"sqlite:///{tmp_path}/callgate.db"


def _lead(lead_id: str, ip: str | None) -> dict[str, object]:
    return {"id": lead_id, "ip": ip, "now": utcnow()}


def test_stored_leads_and_aliases_are_keyed_by_their_network(database_url: str) -> None:
    store = LeadStore(database_url)
    alembic_to(store, upgrade=True, revision="0008_lead_aliases")
    leads = [_lead(f"a{n:05d}", f"2001:db8:{n + 1:x}:5::1") for n in range(MANY)]
    leads += [_lead(f"b{n}", ip) for n, ip in enumerate(ADDRESSES)] + [_lead("c-none", None)]
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO leads (id, created_at, updated_at, phone, status, attempt_count, "
                "confirmed, agent_checks, client_ip) VALUES "
                "(:id, :now, :now, '+380671112233', 'queued', 0, true, 0, :ip)"
            ),
            leads,
        )
        conn.execute(
            text(
                "INSERT INTO attempts (lead_id, started_at, outcome) VALUES ('c-none', :now, 'x')"
            ),
            {"now": utcnow()},
        )
        conn.execute(
            text(
                "INSERT INTO lead_aliases (id, lead_id, client_ip, status, created_at) VALUES "
                "('alias-1', 'c-none', '2001:db8:1:2::77', 'queued', :now), "
                "('alias-2', 'c-none', NULL, 'queued', :now)"
            ),
            {"now": utcnow()},
        )

    migrate(store)

    with store.engine.connect() as conn:
        keys = dict(conn.execute(text("SELECT id, client_key FROM leads")).all())
        alias_keys = dict(conn.execute(text("SELECT id, client_key FROM lead_aliases")).all())
    assert len(keys) == MANY + len(ADDRESSES) + 1
    assert all(keys[f"a{n:05d}"] == f"2001:db8:{n + 1:x}:5::/64" for n in range(MANY))
    assert {ip: keys[f"b{n}"] for n, ip in enumerate(ADDRESSES)} == ADDRESSES
    assert keys["c-none"] is None
    assert alias_keys == {"alias-1": "2001:db8:1:2::/64", "alias-2": None}
    # The cap now counts a number asked for before the upgrade for another address of the /64.
    assert store.over_numbers_cap("2001:db8:1:2::5", "+380671119999", 1)
    assert not store.over_numbers_cap("2001:db8:1:4::5", "+380671119999", 1)

    alembic_to(store, upgrade=False, revision="0008_lead_aliases")
    with store.engine.connect() as conn:
        counts = [
            conn.execute(select(func.count()).select_from(table(name))).scalar_one()
            for name in ("leads", "lead_aliases", "attempts")
        ]
    assert counts == [MANY + len(ADDRESSES) + 1, 2, 1]  # nothing cascaded
    migrate(store)  # and up again
    with store.engine.connect() as conn:
        again = conn.execute(text("SELECT client_key FROM leads WHERE id = 'a00000'")).scalar()
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert (again, version) == ("2001:db8:1:5::/64", head())
    store.close()
