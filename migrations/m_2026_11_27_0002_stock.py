"""Stock: catalogue, lots, balances, the append-only ledger, transfers, stocktakes, standards."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-11-27T00:00:02:000000"
VERSION = "1.38.0"
DESCRIPTION = "stock: items, lots, ledger, balances, transfers, stocktakes, reserve standards"

SQL = """
CREATE TABLE item (
    code varchar(20) PRIMARY KEY,
    name_zh varchar(50) NOT NULL,
    name_en varchar(80) NOT NULL,
    unit varchar(20) NOT NULL,
    category varchar(20) NOT NULL,
    shelf_life_days integer CHECK (shelf_life_days > 0),
    weight_kg double precision NOT NULL CHECK (weight_kg >= 0),
    volume_l double precision NOT NULL CHECK (volume_l >= 0)
);

CREATE TABLE lot (
    id bigserial PRIMARY KEY,
    item varchar(20) NOT NULL REFERENCES item(code),
    lot_number varchar(60) NOT NULL,
    expires_on date,
    created_at timestamptz NOT NULL,
    UNIQUE (item, lot_number)
);

CREATE TABLE stock_balance (
    id bigserial PRIMARY KEY,
    depot varchar(16) NOT NULL REFERENCES depot(code),
    item varchar(20) NOT NULL REFERENCES item(code),
    lot bigint NOT NULL REFERENCES lot(id),
    qty integer NOT NULL DEFAULT 0 CHECK (qty >= 0),
    UNIQUE (depot, lot)
);
CREATE INDEX stock_balance_depot_item ON stock_balance (depot, item);
CREATE INDEX stock_balance_item ON stock_balance (item);

CREATE TABLE reserve_standard (
    id bigserial PRIMARY KEY,
    depot varchar(16) NOT NULL REFERENCES depot(code),
    item varchar(20) NOT NULL REFERENCES item(code),
    minimum integer NOT NULL CHECK (minimum >= 0),
    source varchar(20) NOT NULL CHECK (source IN ('reference', 'edited')),
    updated_at timestamptz,
    UNIQUE (depot, item)
);

CREATE TABLE stock_transfer (
    id bigserial PRIMARY KEY,
    source varchar(16) NOT NULL REFERENCES depot(code),
    dest_depot varchar(16) REFERENCES depot(code),
    dest_community varchar(12) REFERENCES community(code),
    status varchar(12) NOT NULL
        CHECK (status IN ('planned', 'dispatched', 'received', 'cancelled')),
    incident_id bigint,
    task_id bigint,
    request_id bigint,
    note varchar(500),
    shortfall_reason varchar(500),
    cancel_reason varchar(500),
    created_at timestamptz NOT NULL,
    created_by varchar(64) NOT NULL,
    dispatched_at timestamptz,
    received_at timestamptz,
    cancelled_at timestamptz,
    CHECK ((dest_depot IS NULL) <> (dest_community IS NULL)),
    CHECK (dest_depot IS NULL OR dest_depot <> source)
);
CREATE INDEX stock_transfer_status ON stock_transfer (status);

CREATE TABLE stock_transfer_line (
    id bigserial PRIMARY KEY,
    transfer bigint NOT NULL REFERENCES stock_transfer(id),
    item varchar(20) NOT NULL REFERENCES item(code),
    lot bigint REFERENCES lot(id),
    qty integer NOT NULL CHECK (qty > 0)
);
CREATE INDEX stock_transfer_line_transfer ON stock_transfer_line (transfer);

CREATE TABLE stock_transfer_pick (
    id bigserial PRIMARY KEY,
    transfer bigint NOT NULL REFERENCES stock_transfer(id),
    line bigint NOT NULL REFERENCES stock_transfer_line(id),
    item varchar(20) NOT NULL REFERENCES item(code),
    lot bigint NOT NULL REFERENCES lot(id),
    qty_sent integer NOT NULL CHECK (qty_sent > 0),
    qty_received integer CHECK (qty_received >= 0 AND qty_received <= qty_sent)
);
CREATE INDEX stock_transfer_pick_transfer ON stock_transfer_pick (transfer);

CREATE TABLE stocktake (
    id bigserial PRIMARY KEY,
    depot varchar(16) NOT NULL REFERENCES depot(code),
    at timestamptz NOT NULL,
    actor varchar(64) NOT NULL,
    note varchar(500),
    sheet jsonb NOT NULL
);

CREATE TABLE stock_movement (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    kind varchar(20) NOT NULL CHECK (kind IN (
        'receipt', 'issue', 'transfer_out', 'transfer_in', 'adjustment', 'reversal')),
    depot varchar(16) NOT NULL REFERENCES depot(code),
    item varchar(20) NOT NULL REFERENCES item(code),
    lot bigint NOT NULL REFERENCES lot(id),
    qty integer NOT NULL CHECK (qty <> 0),
    reason varchar(20) CHECK (reason IN ('count', 'damaged', 'expired', 'lost', 'found')),
    community varchar(12) REFERENCES community(code),
    purpose varchar(500),
    incident_id bigint,
    task_id bigint,
    request_id bigint,
    transfer_id bigint REFERENCES stock_transfer(id),
    stocktake_id bigint REFERENCES stocktake(id),
    reverses bigint UNIQUE REFERENCES stock_movement(id),
    actor varchar(64) NOT NULL,
    actor_id integer,
    idempotency_key varchar(200),
    note varchar(500),
    CHECK ((kind = 'adjustment') = (reason IS NOT NULL)),
    CHECK ((kind = 'reversal') = (reverses IS NOT NULL)),
    CHECK (kind <> 'issue' OR (community IS NOT NULL AND qty < 0)),
    CHECK (kind <> 'receipt' OR qty > 0),
    CHECK (kind <> 'transfer_out' OR (qty < 0 AND transfer_id IS NOT NULL)),
    CHECK (kind <> 'transfer_in' OR (qty > 0 AND transfer_id IS NOT NULL))
);
CREATE INDEX stock_movement_line ON stock_movement (depot, item, id);
CREATE INDEX stock_movement_lot ON stock_movement (lot);
CREATE INDEX stock_movement_transfer ON stock_movement (transfer_id);

CREATE TRIGGER stock_movement_no_update BEFORE UPDATE OR DELETE ON stock_movement
    FOR EACH ROW EXECUTE FUNCTION refuse_rewrite();
CREATE TRIGGER stock_movement_no_truncate BEFORE TRUNCATE ON stock_movement
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_rewrite();
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
