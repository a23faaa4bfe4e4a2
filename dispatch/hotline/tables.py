"""12345 tickets as stored: the ticket, its steps, its links to requests and tasks, and the
deadline rules. The caller's phone is stored whole (the street must call back) and masked
in every view, audit row and event (see `tickets.mask_phone`)."""

from piccolo.columns import (
    BigInt,
    BigSerial,
    Boolean,
    Integer,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class HotlineDeadline(Table, tablename="hotline_deadline"):
    urgency = Varchar(length=10, primary_key=True)
    category = Varchar(length=24)
    response_minutes = Integer()
    resolution_minutes = Integer()
    illustrative = Boolean(default=True)
    updated_at = Timestamptz(null=True, default=None)
    updated_by = Varchar(length=64, null=True, default=None)


class HotlineTicket(Table, tablename="hotline_ticket"):
    id = BigSerial(primary_key=True)
    number = Varchar(length=32, unique=True)
    received_at = Timestamptz()
    caller_name = Varchar(length=60, null=True, default=None)
    caller_phone = Varchar(length=20, null=True, default=None)
    address = Varchar(length=200, null=True, default=None)
    community = Varchar(length=12, null=True, default=None)
    street = Varchar(length=9, null=True, default=None)
    place_source = Varchar(length=10, null=True, default=None)
    category = Varchar(length=24)
    urgency = Varchar(length=10)
    content = Varchar(length=2000)
    incident = BigInt(null=True, default=None)
    status = Varchar(length=12, default="received")
    version = Integer(default=1)
    response_due = Timestamptz()
    resolution_due = Timestamptz()
    assigned_at = Timestamptz(null=True, default=None)
    responded_at = Timestamptz(null=True, default=None)
    replied_at = Timestamptz(null=True, default=None)
    reply_channel = Varchar(length=10, null=True, default=None)
    reply_content = Varchar(length=2000, null=True, default=None)
    replied_by = Varchar(length=64, null=True, default=None)
    rating = Varchar(length=20, null=True, default=None)
    solved = Boolean(null=True, default=None)
    rated_at = Timestamptz(null=True, default=None)
    rated_by = Varchar(length=64, null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    returned_at = Timestamptz(null=True, default=None)
    return_reason = Varchar(length=500, null=True, default=None)
    response_overdue_at = Timestamptz(null=True, default=None)
    resolution_overdue_at = Timestamptz(null=True, default=None)
    response_nearly_due_at = Timestamptz(null=True, default=None)
    resolution_nearly_due_at = Timestamptz(null=True, default=None)
    reply_reminded_at = Timestamptz(null=True, default=None)
    merged_into = BigInt(null=True, default=None)
    merged_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    created_by = Varchar(length=64)
    updated_at = Timestamptz(null=True, default=None)


class HotlineTicketStep(Table, tablename="hotline_ticket_step"):
    id = BigSerial(primary_key=True)
    ticket = BigInt()
    at = Timestamptz()
    actor = Varchar(length=64)
    step = Varchar(length=12)
    from_status = Varchar(length=12, null=True, default=None)
    to_status = Varchar(length=12)
    street = Varchar(length=9, null=True, default=None)
    community = Varchar(length=12, null=True, default=None)
    note = Varchar(length=2000, null=True, default=None)


class HotlineTicketLink(Table, tablename="hotline_ticket_link"):
    ticket = BigInt(primary_key=True)
    kind = Varchar(length=8)
    target = BigInt()
    linked_at = Timestamptz()
    linked_by = Varchar(length=64)


HOTLINE_TABLES = [HotlineDeadline, HotlineTicket, HotlineTicketStep, HotlineTicketLink]
