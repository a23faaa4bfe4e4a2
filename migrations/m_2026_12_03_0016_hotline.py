"""12345 hotline tickets (接诉即办): the ticket with its caller, place, category, urgency and
deadlines, its steps from receipt to close, its links to requests and tasks, and the
deadline rules per urgency and category (illustrative defaults, said so by `illustrative`)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-12-03T00:00:16:000000"
VERSION = "1.38.0"
DESCRIPTION = "hotline: 12345 tickets, their steps and links, deadline rules"

# A ticket's deadlines are fixed when it is received (the rules in force then, from its
# received_at), so a later change of the rules never moves a deadline already running; a
# change of its category or urgency computes them again from the same received_at.
# The street and community are those it is dispatched to (null: the district holds it).
# A repeated call merged into an open ticket keeps its row and number (`merged_into`).
SQL = """
CREATE TABLE hotline_deadline (
    urgency varchar(10) NOT NULL CHECK (urgency IN ('critical', 'urgent', 'normal')),
    category varchar(24) NOT NULL CHECK (category IN ('emergency_supplies',
        'evacuation_safety', 'utilities', 'care_household', 'road', 'other')),
    response_minutes integer NOT NULL CHECK (response_minutes BETWEEN 1 AND 43200),
    resolution_minutes integer NOT NULL CHECK (resolution_minutes BETWEEN 1 AND 525600),
    illustrative boolean NOT NULL DEFAULT true,
    updated_at timestamptz,
    updated_by varchar(64),
    PRIMARY KEY (urgency, category),
    CHECK (resolution_minutes >= response_minutes)
);
INSERT INTO hotline_deadline (urgency, category, response_minutes, resolution_minutes)
SELECT u.urgency, c.category,
    CASE WHEN c.category IN ('emergency_supplies', 'evacuation_safety')
         THEN u.fast_response ELSE u.response END,
    CASE WHEN c.category IN ('emergency_supplies', 'evacuation_safety')
         THEN u.fast_resolution ELSE u.resolution END
FROM (VALUES ('critical', 15, 120, 30, 240),
             ('urgent', 60, 480, 120, 1440),
             ('normal', 240, 1440, 1440, 10080))
     AS u(urgency, fast_response, fast_resolution, response, resolution)
CROSS JOIN (VALUES ('emergency_supplies'), ('evacuation_safety'), ('utilities'),
                   ('care_household'), ('road'), ('other')) AS c(category);

CREATE TABLE hotline_ticket (
    id bigserial PRIMARY KEY,
    number varchar(32) NOT NULL UNIQUE CHECK (number ~ '^[A-Za-z0-9-]{4,32}$'),
    received_at timestamptz NOT NULL,
    caller_name varchar(60),
    caller_phone varchar(20),
    address varchar(200),
    community varchar(12) REFERENCES community(code),
    street varchar(9) REFERENCES street(code),
    place_source varchar(10) CHECK (place_source IN ('given', 'address', 'person')),
    category varchar(24) NOT NULL,
    urgency varchar(10) NOT NULL,
    content varchar(2000) NOT NULL,
    incident bigint REFERENCES incident(id),
    status varchar(12) NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'assigned',
        'in_progress', 'replied', 'closed', 'returned', 'merged')),
    version integer NOT NULL DEFAULT 1,
    response_due timestamptz NOT NULL,
    resolution_due timestamptz NOT NULL,
    assigned_at timestamptz,
    responded_at timestamptz,
    replied_at timestamptz,
    reply_channel varchar(10) CHECK (reply_channel IN ('phone', 'sms', 'visit', 'other')),
    reply_content varchar(2000),
    replied_by varchar(64),
    rating varchar(20) CHECK (rating IN ('satisfied', 'basically_satisfied', 'dissatisfied')),
    solved boolean,
    rated_at timestamptz,
    rated_by varchar(64),
    closed_at timestamptz,
    returned_at timestamptz,
    return_reason varchar(500),
    response_overdue_at timestamptz,
    resolution_overdue_at timestamptz,
    reply_reminded_at timestamptz,
    merged_into bigint REFERENCES hotline_ticket(id),
    merged_at timestamptz,
    created_at timestamptz NOT NULL,
    created_by varchar(64) NOT NULL,
    updated_at timestamptz,
    CHECK (community IS NULL OR street IS NOT NULL),
    CHECK (status <> 'returned' OR return_reason IS NOT NULL),
    CHECK (replied_at IS NULL OR (reply_channel IS NOT NULL AND reply_content IS NOT NULL)),
    CHECK ((rating IS NULL) = (rated_at IS NULL)),
    CHECK (status <> 'closed' OR rating IS NOT NULL),
    CHECK ((status = 'merged') = (merged_into IS NOT NULL)),
    CHECK ((merged_into IS NULL) = (merged_at IS NULL)),
    CHECK (merged_into IS NULL OR merged_into <> id)
);
CREATE INDEX hotline_ticket_street ON hotline_ticket (street, status);
CREATE INDEX hotline_ticket_community ON hotline_ticket (community, status);
CREATE INDEX hotline_ticket_received ON hotline_ticket (received_at);
CREATE INDEX hotline_ticket_open_due ON hotline_ticket (response_due, resolution_due)
    WHERE status NOT IN ('closed', 'returned');
-- repeated calls: the same phone, or the same address and category, within a window
CREATE INDEX hotline_ticket_phone ON hotline_ticket (caller_phone, received_at)
    WHERE status NOT IN ('closed', 'merged');
CREATE INDEX hotline_ticket_address ON hotline_ticket (address, category, received_at)
    WHERE status NOT IN ('closed', 'merged');
CREATE INDEX hotline_ticket_merged ON hotline_ticket (merged_into) WHERE merged_into IS NOT NULL;

CREATE TABLE hotline_ticket_step (
    id bigserial PRIMARY KEY,
    ticket bigint NOT NULL REFERENCES hotline_ticket(id),
    at timestamptz NOT NULL,
    actor varchar(64) NOT NULL,
    step varchar(12) NOT NULL,
    from_status varchar(12),
    to_status varchar(12) NOT NULL,
    street varchar(9),
    community varchar(12),
    note varchar(2000)
);
CREATE INDEX hotline_ticket_step_ticket ON hotline_ticket_step (ticket, id);

CREATE TABLE hotline_ticket_link (
    ticket bigint NOT NULL REFERENCES hotline_ticket(id),
    kind varchar(8) NOT NULL CHECK (kind IN ('request', 'task')),
    target bigint NOT NULL,
    linked_at timestamptz NOT NULL,
    linked_by varchar(64) NOT NULL,
    PRIMARY KEY (ticket, kind, target)
);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
