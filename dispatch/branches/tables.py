"""Party branches as stored: the branch, its members, the households it assists and the
visits its people make; community activities and who signed up for and attended them.

A person is in at most one branch (unique `person_id`); a household has at most one
assistance in force (`ends_on` empty), so coverage never counts a household twice.
"""

from piccolo.columns import (
    BigInt,
    BigSerial,
    Date,
    DoublePrecision,
    Integer,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class PartyBranch(Table, tablename="party_branch"):
    id = Serial(primary_key=True)
    code = Varchar(length=20, unique=True)
    name = Varchar(length=120, unique=True)
    kind = Varchar(length=10)
    unit_id = Integer(null=True, default=None)
    organisation = Varchar(length=120, null=True, default=None)
    secretary_id = Integer(null=True, default=None)
    source = Varchar(length=10)
    created_at = Timestamptz()
    updated_at = Timestamptz(null=True, default=None)


class BranchMember(Table, tablename="branch_member"):
    id = Serial(primary_key=True)
    branch_id = Integer()
    person_id = Integer()
    joined_at = Timestamptz()


class Assistance(Table, tablename="assistance"):
    id = Serial(primary_key=True)
    branch_id = Integer()
    household_id = Integer()
    starts_on = Date()
    ends_on = Date(null=True, default=None)
    pledge = Varchar(length=500, null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz(null=True, default=None)


class AssistanceVisit(Table, tablename="assistance_visit"):
    id = BigSerial(primary_key=True)
    assistance_id = Integer()
    visited_on = Date()
    kind = Varchar(length=10)
    hours = DoublePrecision()
    note = Varchar(length=500, null=True, default=None)
    created_at = Timestamptz()


class VisitPerson(Table, tablename="visit_person"):
    visit_id = BigInt(primary_key=True)
    person_id = Integer()


class Activity(Table, tablename="activity"):
    """Ordinary community service: `signed_up` counts the sign-ups in force, within
    `capacity` (the database's CHECK)."""

    id = Serial(primary_key=True)
    community = Varchar(length=12)
    street = Varchar(length=9)
    title = Varchar(length=120)
    kind = Varchar(length=15)
    starts_at = Timestamptz()
    ends_at = Timestamptz()
    place = Varchar(length=200)
    capacity = Integer()
    signed_up = Integer(default=0)
    organiser_id = Integer()
    note = Varchar(length=500, null=True, default=None)
    source = Varchar(length=10)
    created_by = Varchar(length=100)
    created_at = Timestamptz()


class ActivitySignup(Table, tablename="activity_signup"):
    """One row per person and activity (unique): the sign-up, its cancellation, and the
    person's check-in and check-out."""

    id = BigSerial(primary_key=True)
    activity_id = Integer()
    person_id = Integer()
    signed_up_at = Timestamptz()
    signed_up_by = Varchar(length=100)
    cancelled_at = Timestamptz(null=True, default=None)
    checked_in_at = Timestamptz(null=True, default=None)
    checked_in_by = Varchar(length=100, null=True, default=None)
    checked_out_at = Timestamptz(null=True, default=None)
    checked_out_by = Varchar(length=100, null=True, default=None)


BRANCH_TABLES: list[type[Table]] = [
    PartyBranch,
    BranchMember,
    Assistance,
    AssistanceVisit,
    VisitPerson,
    Activity,
    ActivitySignup,
]
