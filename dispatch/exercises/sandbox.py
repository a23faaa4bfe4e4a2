"""The sandbox world of an exercise: the copy of `public`'s operational tables into the
schema `ex_<id>` (own sequences, foreign keys, append-only triggers and views), people's
data pseudonymised in the copy, the real world's work in progress left out (a drill starts
clean: no real incidents, requests, plans, tasks or deliveries; stock in transit back at its
depot), and the drop of the schema.

Everything here runs on the caller's transaction; which exercise owns which schema, and
who may ask for a copy, is the service's concern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import asyncpg

from dispatch.db import Command
from dispatch.exercises.schemas import SCHEMA_PREFIX

# shared by every world: who may log in (and their refresh tokens), throttling, idempotency
# keys, exercises, their plays and batches, migrations
NOT_COPIED = frozenset(
    {
        "app_user",
        "login_failure",
        "refresh_token",
        "idempotency_record",
        "exercise",
        "exercise_play",
        "exercise_batch",
        "migration",
    }
)
# the real world's work in progress: a drill starts clean of it (its incidents, requests,
# plans, tasks and deliveries are the scenario's and the trainees'); what it keeps is the
# world they work with: stock, people, places, pairings, duty, roads (and the fleet); the
# real 12345 tickets name real callers, so a drill's calls are its own
REAL_WORK = frozenset(
    {
        "incident",
        "incident_community",
        "supply_request",
        "plan",
        "plan_line",
        "task",
        "task_assignee",
        "task_progress",
        "stock_transfer",
        "stock_transfer_line",
        "stock_transfer_pick",
        "depot_outage",
        "road_closure",
        "hotline_ticket",
        "hotline_ticket_step",
        "hotline_ticket_link",
        "plan_activation",  # community plans started by real incidents, and their call-outs
        "plan_callout",
        "task_stop",  # the stops of real delivery runs (their tasks are not copied)
        "callout_sms",  # real messages to real phones: a drill never sends or reads them
        "callout_reply",
    }
)
# copied empty: a drill's audit trail and vehicle tracks are its own (the real ones name
# real people's actions and where real crews drove), and the real work in progress
COPIED_EMPTY = frozenset({"audit_entry", "task_position"}) | REAL_WORK
# copied with their rows: the world trainees work with — places and roads, stock, people
# (pseudonymised), partner units and pairings, duty, the fleet, Party branches with their
# households and visits, community activities with their sign-ups and attendance (service
# records, like visits), preparedness plans and shelters. Every table of `public` is in one
# of NOT_COPIED, COPIED_EMPTY and COPIED (tests/dispatch/exercises/test_classified.py)
COPIED = frozenset(
    {
        "district",
        "street",
        "community",
        "depot",
        "road_network",
        "road_node",
        "road_edge",
        "item",
        "lot",
        "stock_balance",
        "stock_movement",
        "stocktake",
        "reserve_standard",
        "skill",
        "partner_unit",
        "pairing",
        "person",
        "team",
        "team_member",
        "duty_shift",
        "duty_shift_person",
        "check_in",
        "care_household",
        "vehicle",
        "vehicle_crew",
        "party_branch",
        "branch_member",
        "assistance",
        "assistance_visit",
        "visit_person",
        "activity",
        "activity_signup",
        "hotline_deadline",
        "community_plan",
        "plan_hazard",
        "plan_role",
        "plan_shelter",
        "plan_task",
        "plan_assembly_point",
        "plan_pledge",
        "shelter",
        "shelter_registration",
    }
)

# stock the real world has on its way (transfers dispatched, not received) is back at its
# source depot in the copy, by a reversal of each transfer_out: the copy's ledger still sums
# to its balances, and says why ($1: the note)
IN_TRANSIT_BACK = """
WITH sent AS (
    SELECT m.id, m.depot, m.item, m.lot, m.qty FROM stock_movement m
    JOIN public.stock_transfer t ON t.id = m.transfer_id
    WHERE m.kind = 'transfer_out' AND t.status = 'dispatched'
      AND NOT EXISTS (SELECT 1 FROM stock_movement r WHERE r.reverses = m.id)
), back AS (
    INSERT INTO stock_movement (at, kind, depot, item, lot, qty, reverses, actor, note)
    SELECT now(), 'reversal', depot, item, lot, -qty, id, 'system', $1 FROM sent
    RETURNING depot, lot, qty
)
UPDATE stock_balance b SET qty = b.qty + x.qty
FROM (SELECT depot, lot, sum(qty) AS qty FROM back GROUP BY depot, lot) x
WHERE b.depot = x.depot AND b.lot = x.lot
"""
IN_TRANSIT_NOTE = (
    "演练开始时在途的物资已退回原库 / in transit when the drill began: back at its depot"
)
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# people data in the copy: deterministic stand-ins (phones start with 100: no real number does)
PSEUDONYMISE = {
    "person": """
        UPDATE person SET name = '演练人员' || lpad(id::text, 4, '0'),
            phone = CASE WHEN phone IS NULL THEN NULL ELSE '1000' || lpad(id::text, 7, '0') END,
            address = NULL
    """,
    "care_household": """
        UPDATE care_household SET head_name = '演练住户' || lpad(id::text, 4, '0'),
            phone = CASE WHEN phone IS NULL THEN NULL ELSE '1001' || lpad(id::text, 7, '0') END,
            address = NULL
    """,
    "partner_unit": """
        UPDATE partner_unit SET
            contact_name = CASE WHEN contact_name IS NULL THEN NULL
                                ELSE '联系人' || lpad(id::text, 4, '0') END,
            contact_phone = CASE WHEN contact_phone IS NULL THEN NULL
                                 ELSE '1002' || lpad(id::text, 7, '0') END
    """,
}


def quote_ident(name: str) -> str:
    """An identifier from the catalogue, quoted unless plainly safe."""
    if _IDENT.match(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _check_schema(schema: str) -> None:
    """Only an exercise's schema is ever created or dropped here."""
    if not _IDENT.match(schema) or not schema.startswith(SCHEMA_PREFIX):
        raise ValueError(f"bad exercise schema {schema!r}")


@dataclass
class _Catalogue:
    """What of `public` the copy recreates, read while only public is visible."""

    tables: list[str]
    serials: list[asyncpg.Record]
    foreign_keys: list[asyncpg.Record]
    triggers: list[asyncpg.Record]
    views: list[asyncpg.Record]


async def _read_catalogue(conn: asyncpg.Connection) -> _Catalogue:
    # read definitions while only public is visible: their names come out unqualified
    await conn.execute("SET LOCAL search_path TO public")
    tables = [
        r["tablename"]
        for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        if r["tablename"] not in NOT_COPIED
    ]
    serials = await conn.fetch(
        """
        SELECT r.relname AS tbl, a.attname AS col, a.attidentity::text <> '' AS identity
        FROM pg_attribute a
        JOIN pg_class r ON r.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE n.nspname = 'public' AND r.relkind = 'r' AND a.attnum > 0
          AND NOT a.attisdropped
          AND pg_get_serial_sequence(r.oid::regclass::text, a.attname) IS NOT NULL
        ORDER BY 1, 2
        """
    )
    foreign_keys = await conn.fetch(
        """
        SELECT r.relname AS tbl, c.conname AS name, pg_get_constraintdef(c.oid) AS definition
        FROM pg_constraint c
        JOIN pg_class r ON r.oid = c.conrelid
        JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE n.nspname = 'public' AND c.contype = 'f'
        ORDER BY 1, 2
        """
    )
    triggers = await conn.fetch(
        """
        SELECT r.relname AS tbl, pg_get_triggerdef(t.oid) AS definition
        FROM pg_trigger t
        JOIN pg_class r ON r.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE n.nspname = 'public' AND NOT t.tgisinternal
        ORDER BY 1, t.tgname
        """
    )
    views = await conn.fetch(
        """
        SELECT c.relname AS name, c.relkind AS kind, pg_get_viewdef(c.oid) AS definition
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')
        ORDER BY c.oid
        """
    )
    return _Catalogue(tables, list(serials), list(foreign_keys), list(triggers), list(views))


async def _copy_tables(conn: asyncpg.Connection, s: str, tables: list[str]) -> dict[str, int]:
    """Each table created like public's and filled (but the ones copied empty)."""
    rows: dict[str, int] = {}
    for table in tables:
        t = quote_ident(table)
        await conn.execute(f"CREATE TABLE {s}.{t} (LIKE public.{t} INCLUDING ALL)")
        if table in COPIED_EMPTY:
            rows[table] = 0
            continue
        status = await conn.execute(
            f"INSERT INTO {s}.{t} OVERRIDING SYSTEM VALUE SELECT * FROM public.{t}"
        )
        rows[table] = int(status.split()[-1])
    return rows


async def _own_sequences(
    conn: asyncpg.Connection, s: str, serials: list[asyncpg.Record], copied: set[str]
) -> None:
    """The copy's serial and identity columns count on from the copied rows, on their own."""
    for row in serials:
        if row["tbl"] not in copied:
            continue
        t, c = quote_ident(row["tbl"]), quote_ident(row["col"])
        if not row["identity"]:
            # serial: the copied default still names public's sequence; give the copy its own
            sequence = quote_ident(f"{row['tbl']}_{row['col']}_seq"[:63])
            await conn.execute(f"CREATE SEQUENCE {s}.{sequence} OWNED BY {s}.{t}.{c}")
            await conn.execute(
                f"ALTER TABLE {s}.{t} ALTER COLUMN {c} "
                f"SET DEFAULT nextval('{s}.{sequence}'::regclass)"
            )
        own = await conn.fetchval("SELECT pg_get_serial_sequence($1, $2)", f"{s}.{t}", row["col"])
        await conn.execute(
            f"SELECT setval($1::regclass, coalesce((SELECT max({c}) FROM {s}.{t}), 0) + 1, false)",
            own,
        )


async def _copy_rules(
    conn: asyncpg.Connection, s: str, catalogue: _Catalogue, copied: set[str]
) -> None:
    """Foreign keys, triggers and views of the copied tables, on the copy (the caller has
    put the copy first on the search_path)."""
    for row in catalogue.foreign_keys:
        if row["tbl"] in copied:
            await conn.execute(
                f"ALTER TABLE {quote_ident(row['tbl'])} ADD CONSTRAINT {quote_ident(row['name'])} "
                f"{row['definition']} NOT VALID"
            )
    for row in catalogue.triggers:
        if row["tbl"] in copied:
            # pg_get_triggerdef names its table with the schema whatever the search_path
            on = f" ON public.{quote_ident(row['tbl'])} "
            if row["definition"].count(on) != 1:
                raise RuntimeError(f"cannot copy trigger: {row['definition']}")
            await conn.execute(row["definition"].replace(on, f" ON {s}.{quote_ident(row['tbl'])} "))
    for row in catalogue.views:  # a view left in public would read the real tables
        kind = "MATERIALIZED VIEW" if row["kind"] in (b"m", "m") else "VIEW"
        await conn.execute(f"CREATE {kind} {s}.{quote_ident(row['name'])} AS {row['definition']}")


async def pseudonymise(conn: asyncpg.Connection, copied: set[str]) -> None:
    """People's names, phones and addresses in the copy become stand-ins (the copy must
    be first on the search_path)."""
    for table, statement in PSEUDONYMISE.items():
        if table in copied:
            await conn.execute(statement)


async def copy_world(conn: asyncpg.Connection, schema: str) -> dict[str, int]:
    """Create `schema` holding a copy of the operational tables; returns rows per table.

    Runs on the caller's transaction, which should be REPEATABLE READ so that every table
    is copied from one snapshot (the copied foreign keys then hold without re-checking).
    """
    _check_schema(schema)
    saved = await conn.fetchval("SELECT current_setting('search_path')")
    catalogue = await _read_catalogue(conn)
    copied = set(catalogue.tables)
    s = quote_ident(schema)
    await conn.execute(f"CREATE SCHEMA {s}")
    rows = await _copy_tables(conn, s, catalogue.tables)
    await _own_sequences(conn, s, catalogue.serials, copied)
    await conn.execute(f"SET LOCAL search_path TO {s}, public")
    await _copy_rules(conn, s, catalogue, copied)
    await pseudonymise(conn, copied)
    if {"stock_movement", "stock_balance"} <= copied:
        await conn.execute(IN_TRANSIT_BACK, IN_TRANSIT_NOTE)
    if "vehicle" in copied:  # out on a real run: at its depot in the drill
        await conn.execute("UPDATE vehicle SET status = 'available' WHERE status = 'out'")
    await conn.execute("SELECT set_config('search_path', $1, true)", saved)
    return rows


async def drop_world(conn: asyncpg.Connection, schema: str) -> None:
    """The exercise's schema and everything in it, gone."""
    _check_schema(schema)
    await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")


async def one_snapshot(cmd: Command) -> None:
    """The copy reads every table at one moment: the transaction's first statement, unless
    the request's unit of work began as one snapshot already (the route's `snapshot` opt)."""
    if cmd.unit is not None:
        isolation = await cmd.connection.fetchval("SELECT current_setting('transaction_isolation')")
        if isolation != "repeatable read":
            raise RuntimeError("a keyed request copying the world needs opt={'snapshot': True}")
        return
    await cmd.connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
