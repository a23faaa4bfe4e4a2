"""Preparedness as stored: shelters and their register, community plans with their parts,
and activations. The SQL (checks, the one-approved-plan index) is in migration 0021."""

from piccolo.columns import (
    Array,
    BigInt,
    BigSerial,
    Boolean,
    DoublePrecision,
    Integer,
    Serial,
    SmallInt,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class Shelter(Table, tablename="shelter"):
    id = Serial(primary_key=True)
    code = Varchar(length=20, unique=True)
    name = Varchar(length=80)
    community = Varchar(length=12)
    street = Varchar(length=9)
    lat = DoublePrecision()
    lon = DoublePrecision()
    capacity = Integer()
    occupancy = Integer(default=0)
    heating = Boolean(default=False)
    accessible = Boolean(default=False)
    medical = Boolean(default=False)
    status = Varchar(length=8, default="ready")
    source = Varchar(length=10)
    created_at = Timestamptz()
    updated_at = Timestamptz(null=True, default=None)


class ShelterRegistration(Table, tablename="shelter_registration"):
    id = BigSerial(primary_key=True)
    shelter_id = Integer()
    household_id = Integer(null=True, default=None)
    people = Integer()
    needs = Varchar(length=300, null=True, default=None)
    registered_at = Timestamptz()
    registered_by = Varchar(length=50)
    left_at = Timestamptz(null=True, default=None)


class CommunityPlan(Table, tablename="community_plan"):
    id = Serial(primary_key=True)
    community = Varchar(length=12)
    street = Varchar(length=9)
    version = Integer()
    title = Varchar(length=200)
    status = Varchar(length=12)
    source = Varchar(length=10)
    created_at = Timestamptz()
    created_by = Varchar(length=50)
    approved_at = Timestamptz(null=True, default=None)
    approved_by = Varchar(length=50, null=True, default=None)
    superseded_at = Timestamptz(null=True, default=None)


class PlanHazard(Table, tablename="plan_hazard"):
    id = Serial(primary_key=True)
    plan_id = Integer()
    type = Varchar(length=20)
    min_level = Varchar(length=3)


class PlanRole(Table, tablename="plan_role"):
    id = Serial(primary_key=True)
    plan_id = Integer()
    seq = Integer()
    role = Varchar(length=60)
    holder_kind = Varchar(length=12)
    holder_id = Integer()
    deputy_kind = Varchar(length=12)
    deputy_id = Integer()
    ack_minutes = Integer(null=True, default=None)  # None: the default limit (10 minutes)


class PlanShelter(Table, tablename="plan_shelter"):
    id = Serial(primary_key=True)
    plan_id = Integer()
    shelter_id = Integer()


class PlanTask(Table, tablename="plan_task"):
    id = Serial(primary_key=True)
    plan_id = Integer()
    seq = Integer()
    kind = Varchar(length=20)
    people = Integer()
    skills = Array(base_column=Varchar(length=40))
    minutes = Integer()
    note = Varchar(length=500, null=True, default=None)


class PlanAssemblyPoint(Table, tablename="plan_assembly_point"):
    id = Serial(primary_key=True)
    plan_id = Integer()
    seq = Integer()
    name = Varchar(length=80)
    lat = DoublePrecision()
    lon = DoublePrecision()
    note = Varchar(length=500, null=True, default=None)


class PlanPledge(Table, tablename="plan_pledge"):
    id = Serial(primary_key=True)
    plan_id = Integer()
    seq = Integer()
    unit_id = Integer()
    item = Varchar(length=20)
    quantity = Integer()


class PlanActivation(Table, tablename="plan_activation"):
    id = BigSerial(primary_key=True)
    plan_id = Integer()
    incident = BigInt()
    community = Varchar(length=12)
    street = Varchar(length=9)
    tasks = Array(base_column=BigInt())
    shelters = Array(base_column=Integer())
    activated_at = Timestamptz()
    activated_by = Varchar(length=50)


class PlanCallout(Table, tablename="plan_callout"):
    """One recipient of a role's call-out: step 0 the holder, 1 the deputy, 2 the street
    squad leader (migration 0023 has the checks and the escalate-once constraint)."""

    id = BigSerial(primary_key=True)
    activation_id = BigInt()
    incident = BigInt()
    community = Varchar(length=12)
    street = Varchar(length=9)
    role = Varchar(length=60)
    recipient_kind = Varchar(length=12)
    recipient_id = Integer()
    state = Varchar(length=14, default="sent")
    eta_minutes = Integer(null=True, default=None)
    reason = Varchar(length=300, null=True, default=None)
    sent_at = Timestamptz()
    answered_at = Timestamptz(null=True, default=None)
    answered_by = Varchar(length=50, null=True, default=None)
    plan_role_id = Integer(null=True, default=None)
    step = SmallInt(default=0)
    escalated_from = BigInt(null=True, default=None)
    origin_id = BigInt(null=True, default=None)
    person_id = Integer(null=True, default=None)  # the person it reaches (a team's leader)
    ack_minutes = Integer(default=10)
    due_at = Timestamptz()
    delivered_at = Timestamptz(null=True, default=None)
    delivered_via = Varchar(length=8, null=True, default=None)
    answered_via = Varchar(length=8, null=True, default=None)
    escalated_at = Timestamptz(null=True, default=None)


class CalloutSms(Table, tablename="callout_sms"):
    """The SMS outbox: one message per call-out step, sent with its idempotency key."""

    id = BigSerial(primary_key=True)
    callout_id = BigInt(unique=True)
    street = Varchar(length=9)
    community = Varchar(length=12)
    phone = Varchar(length=20)
    body = Varchar(length=1000)
    idem_key = Varchar(length=36, unique=True)
    status = Varchar(length=8, default="pending")
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz()
    last_error = Varchar(length=300, null=True, default=None)
    gateway_id = Varchar(length=100, null=True, default=None)
    created_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)
    delivered_at = Timestamptz(null=True, default=None)


class CalloutReply(Table, tablename="callout_reply"):
    """An SMS reply as it came, once per gateway reply id, understood or not."""

    id = BigSerial(primary_key=True)
    gateway_id = Varchar(length=100, unique=True)
    callout_id = BigInt(null=True, default=None)
    sms_id = BigInt(null=True, default=None)
    phone = Varchar(length=20)
    text = Varchar(length=500)
    outcome = Varchar(length=12)
    received_at = Timestamptz()


PREPAREDNESS_TABLES = [
    Shelter,
    ShelterRegistration,
    CommunityPlan,
    PlanHazard,
    PlanRole,
    PlanShelter,
    PlanTask,
    PlanAssemblyPoint,
    PlanPledge,
    PlanActivation,
    PlanCallout,
    CalloutSms,
    CalloutReply,
]
