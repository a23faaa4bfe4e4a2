"""Call-outs that escalate and travel: each plan-role call-out becomes a chain of steps
(the holder, the deputy, the street squad leader), one row per recipient, each with the
moment it falls due on the service clock; a step escalates once (`escalated_at`, guarded,
and `escalated_from` unique). A recipient's state gains `delivered`. Roles may set their
own limit (`plan_role.ack_minutes`, default 10 minutes).

The SMS channel's outbox (`callout_sms`: one message per step, with the idempotency key
the gateway sees on every retry) and the replies that came in (`callout_reply`: one per
gateway reply id, understood or not). Existing exercise sandboxes lose the two old checks
of `plan_callout` that knew no `delivered` and get the rest like public (empty tables)."""

import asyncpg
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import engine
from dispatch.exercises.catch_up import catch_up_in_migration
from dispatch.exercises.sandbox import quote_ident
from dispatch.exercises.schemas import SCHEMA_PREFIX

ID = "2026-12-04T00:00:23:000000"
VERSION = "1.38.0"
DESCRIPTION = "call-out channels: escalation steps, SMS outbox and replies, delivered state"

# the two checks that knew only sent/acknowledged/declined/no_answer (their names as
# PostgreSQL gave them in 0021)
OLD_CHECKS = ("plan_callout_check", "plan_callout_state_check")


def _one_of(column: str, *values: str) -> str:
    """`column IN (...)` as PostgreSQL prints it back (`= ANY (ARRAY['a'::text, ...])`): a
    sandbox's catch-up re-creates the check from that text, and gets the same one."""
    listed = ", ".join(f"'{value}'::text" for value in values)
    return f"(({column})::text = ANY (ARRAY[{listed}]))"


OPEN = _one_of("state", "sent", "delivered")
SQL = f"""
ALTER TABLE plan_role ADD COLUMN ack_minutes integer CHECK (ack_minutes BETWEEN 1 AND 1440);

ALTER TABLE plan_callout
    DROP CONSTRAINT plan_callout_check,
    DROP CONSTRAINT plan_callout_state_check,
    ADD COLUMN plan_role_id integer REFERENCES plan_role(id),
    ADD COLUMN step smallint NOT NULL DEFAULT 0 CHECK (step BETWEEN 0 AND 2),
    ADD COLUMN escalated_from bigint REFERENCES plan_callout(id),
    ADD COLUMN origin_id bigint REFERENCES plan_callout(id),
    ADD COLUMN person_id integer REFERENCES person(id),
    ADD COLUMN ack_minutes integer NOT NULL DEFAULT 10 CHECK (ack_minutes BETWEEN 1 AND 1440),
    ADD COLUMN due_at timestamptz,
    ADD COLUMN delivered_at timestamptz,
    ADD COLUMN delivered_via varchar(8) CHECK ({_one_of("delivered_via", "app", "sms", "link")}),
    ADD COLUMN answered_via varchar(8)
        CHECK ({_one_of("answered_via", "app", "sms", "link", "sweep")}),
    ADD COLUMN escalated_at timestamptz,
    ADD CONSTRAINT plan_callout_state_known CHECK (
        {_one_of("state", "sent", "delivered", "acknowledged", "declined", "no_answer")}
    ),
    ADD CONSTRAINT plan_callout_answered_when_final CHECK ({OPEN} = (answered_at IS NULL)),
    ADD CONSTRAINT plan_callout_delivered_when
        CHECK (((state)::text <> 'delivered'::text) OR (delivered_at IS NOT NULL)),
    ADD CONSTRAINT plan_callout_escalates_once UNIQUE (escalated_from),
    ADD CONSTRAINT plan_callout_chain CHECK (
        (step = 0) = (escalated_from IS NULL) AND (escalated_from IS NULL) = (origin_id IS NULL)
    ),
    ADD CONSTRAINT plan_callout_escalated_when_unanswered CHECK (
        (escalated_at IS NULL) OR {_one_of("state", "declined", "no_answer")}
    );

-- the call-outs made before: their role, the person they reach, due 10 minutes after
UPDATE plan_callout c SET plan_role_id = (
    SELECT min(r.id) FROM plan_activation a JOIN plan_role r ON r.plan_id = a.plan_id
    WHERE a.id = c.activation_id AND r.role = c.role
      AND r.holder_kind = c.recipient_kind AND r.holder_id = c.recipient_id);
UPDATE plan_callout SET person_id = recipient_id
    WHERE recipient_kind = 'person' AND recipient_id IN (SELECT id FROM person);
UPDATE plan_callout c SET person_id = t.leader_id FROM team t
    WHERE c.recipient_kind IN ('team', 'street_squad') AND t.id = c.recipient_id;
UPDATE plan_callout SET due_at = sent_at + make_interval(mins => ack_minutes);
ALTER TABLE plan_callout ALTER COLUMN due_at SET NOT NULL;

CREATE INDEX plan_callout_open_due ON plan_callout (due_at)
    WHERE escalated_at IS NULL AND state <> 'acknowledged';
CREATE INDEX plan_callout_person ON plan_callout (person_id) WHERE person_id IS NOT NULL;

-- one SMS per call-out step (so a message is never written twice), posted with its own
-- idempotency key on every try (so the gateway never sends it twice)
CREATE TABLE callout_sms (
    id bigserial PRIMARY KEY,
    callout_id bigint NOT NULL UNIQUE REFERENCES plan_callout(id),
    street varchar(9) NOT NULL REFERENCES street(code),
    community varchar(12) NOT NULL REFERENCES community(code),
    phone varchar(20) NOT NULL CHECK (phone ~ '^[0-9]{{5,20}}$'),
    body varchar(1000) NOT NULL,
    idem_key varchar(36) NOT NULL UNIQUE,
    status varchar(8) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL,
    last_error varchar(300),
    gateway_id varchar(100),
    created_at timestamptz NOT NULL,
    sent_at timestamptz,
    delivered_at timestamptz,
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX callout_sms_due ON callout_sms (next_attempt_at) WHERE status = 'pending';
CREATE INDEX callout_sms_phone ON callout_sms (phone, id);

-- what recipients answered by SMS, once per gateway reply id (a replayed webhook adds
-- nothing), kept whether or not it was understood
CREATE TABLE callout_reply (
    id bigserial PRIMARY KEY,
    gateway_id varchar(100) NOT NULL UNIQUE,
    callout_id bigint REFERENCES plan_callout(id),
    sms_id bigint REFERENCES callout_sms(id),
    phone varchar(20) NOT NULL,
    text varchar(500) NOT NULL,
    outcome varchar(12) NOT NULL
        CHECK (outcome IN ('acknowledged', 'declined', 'unknown', 'late', 'unmatched')),
    received_at timestamptz NOT NULL,
    CHECK ((outcome = 'unmatched') = (callout_id IS NULL))
);
CREATE INDEX callout_reply_callout ON callout_reply (callout_id);
"""


async def _sandboxes_forget_old_checks(conn: asyncpg.Connection) -> None:
    """A sandbox copied before keeps 0021's checks by their names; catch-up only adds, so
    they are dropped here, and catch-up then adds the new ones by theirs."""
    schemas = await conn.fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 ORDER BY nspname",
        SCHEMA_PREFIX.replace("_", "\\_") + "%",
    )
    drops = ", ".join(f"DROP CONSTRAINT IF EXISTS {name}" for name in OLD_CHECKS)
    for row in schemas:
        table = f"{quote_ident(row['nspname'])}.plan_callout"
        if await conn.fetchval("SELECT to_regclass($1)", table) is not None:
            await conn.execute(f"ALTER TABLE {table} {drops}")


async def _on_migration_transaction() -> None:
    """Public's change and the sandboxes' in one transaction: a failure leaves both."""
    current = engine().current_transaction.get()
    if current is not None:
        await current.connection.execute(SQL)
        await _sandboxes_forget_old_checks(current.connection)
        return
    async with engine().transaction() as txn:
        await txn.connection.execute(SQL)
        await _sandboxes_forget_old_checks(txn.connection)


async def _apply() -> None:
    await _on_migration_transaction()
    await catch_up_in_migration()


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="dispatch", description=DESCRIPTION)
    manager.add_raw(_apply)
    return manager
