"""Exactly once: an idempotency record is written in the request's own transaction.

A record exists only once its request has committed (with the answer beside it), so the
states and the lease of the three-transaction design go; a record left `running` by that
design never stored an answer and is forgotten. The ledger refuses a second row for the
same ordinal under the same key and user (old rows have no ordinal and stay as they are:
the ledger is never rewritten). Exercise sandboxes holding a copy of the ledger get the
same column and index.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-12-03T00:00:09:000000"
VERSION = "1.38.0"
DESCRIPTION = "exactly once: idempotency records in the request's transaction, ledger ordinals"

SQL = """
DELETE FROM idempotency_record WHERE state <> 'done';
ALTER TABLE idempotency_record DROP COLUMN state, DROP COLUMN lease_until;
ALTER TABLE idempotency_record ALTER COLUMN response_status SET NOT NULL;

ALTER TABLE stock_movement ADD COLUMN key_seq integer CHECK (key_seq > 0);
ALTER TABLE stock_movement ADD CONSTRAINT stock_movement_key_seq_needs_key
    CHECK (key_seq IS NULL OR idempotency_key IS NOT NULL);
CREATE UNIQUE INDEX stock_movement_once ON stock_movement (actor_id, idempotency_key, key_seq)
    WHERE key_seq IS NOT NULL;

DO $$
DECLARE sandbox text;
BEGIN
    FOR sandbox IN
        SELECT table_schema FROM information_schema.tables
        WHERE table_name = 'stock_movement' AND table_schema LIKE 'ex\\_%'
    LOOP
        EXECUTE format(
            'ALTER TABLE %I.stock_movement ADD COLUMN key_seq integer CHECK (key_seq > 0)',
            sandbox
        );
        EXECUTE format(
            'CREATE UNIQUE INDEX ON %I.stock_movement (actor_id, idempotency_key, key_seq) '
            'WHERE key_seq IS NOT NULL',
            sandbox
        );
    END LOOP;
END $$;
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
