"""People as stored: skills, partner units and pairings, people, teams, duty, care households.

Phone numbers and addresses are stored in full (the work needs them) and masked in every
response; see `service.mask_phone` and `service.mask_address`.
"""

from piccolo.columns import (
    Array,
    BigSerial,
    Boolean,
    Date,
    DoublePrecision,
    Integer,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class Skill(Table, tablename="skill"):
    code = Varchar(length=40, primary_key=True)
    name = Varchar(length=80)
    builtin = Boolean(default=False)
    created_at = Timestamptz()


class PartnerUnit(Table, tablename="partner_unit"):
    id = Serial(primary_key=True)
    code = Varchar(length=20, unique=True)
    name = Varchar(length=120, unique=True)
    kind = Varchar(length=20)
    contact_name = Varchar(length=50, null=True, default=None)
    contact_phone = Varchar(length=20, null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz(null=True, default=None)


class Pairing(Table, tablename="pairing"):
    id = Serial(primary_key=True)
    unit_id = Integer()
    community = Varchar(length=12)
    street = Varchar(length=9)
    signed_on = Date()
    valid_from = Date()
    valid_until = Date()
    pledged_people = Integer(default=0)
    pledged_skills = Array(base_column=Varchar(length=40))
    status = Varchar(length=12, default="active")
    note = Varchar(length=500, null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz(null=True, default=None)


class Person(Table, tablename="person"):
    id = Serial(primary_key=True)
    code = Varchar(length=20, unique=True)
    name = Varchar(length=50)
    kind = Varchar(length=20)
    phone = Varchar(length=20, null=True, default=None)
    address = Varchar(length=200, null=True, default=None)
    street = Varchar(length=9)
    community = Varchar(length=12, null=True, default=None)
    party_branch = Varchar(length=120, null=True, default=None)
    unit_id = Integer(null=True, default=None)
    skills = Array(base_column=Varchar(length=40))
    availability = Varchar(length=20, default="any")
    active = Boolean(default=True)
    created_at = Timestamptz()
    updated_at = Timestamptz(null=True, default=None)


class Team(Table, tablename="team"):
    id = Serial(primary_key=True)
    name = Varchar(length=80)
    kind = Varchar(length=20)
    street = Varchar(length=9, null=True, default=None)
    community = Varchar(length=12, null=True, default=None)
    unit_id = Integer(null=True, default=None)
    leader_id = Integer(null=True, default=None)
    created_at = Timestamptz()


class TeamMember(Table, tablename="team_member"):
    id = Serial(primary_key=True)
    team_id = Integer()
    person_id = Integer()
    joined_at = Timestamptz()


class DutyShift(Table, tablename="duty_shift"):
    id = Serial(primary_key=True)
    community = Varchar(length=12)
    street = Varchar(length=9)
    starts_at = Timestamptz()
    ends_at = Timestamptz()
    note = Varchar(length=200, null=True, default=None)
    created_at = Timestamptz()


class DutyShiftPerson(Table, tablename="duty_shift_person"):
    id = Serial(primary_key=True)
    shift_id = Integer()
    person_id = Integer()


class CheckIn(Table, tablename="check_in"):
    id = BigSerial(primary_key=True)
    person_id = Integer()
    community = Varchar(length=12)
    street = Varchar(length=9)
    checked_in_at = Timestamptz()
    checked_out_at = Timestamptz(null=True, default=None)
    lat = DoublePrecision(null=True, default=None)
    lon = DoublePrecision(null=True, default=None)


class CareHousehold(Table, tablename="care_household"):
    id = Serial(primary_key=True)
    code = Varchar(length=20, unique=True)
    kind = Varchar(length=20)
    community = Varchar(length=12)
    street = Varchar(length=9)
    head_name = Varchar(length=50)
    phone = Varchar(length=20, null=True, default=None)
    address = Varchar(length=200, null=True, default=None)
    members = Integer(default=1)
    needs = Array(base_column=Varchar(length=40))
    paired_branch = Varchar(length=120, null=True, default=None)
    note = Varchar(length=500, null=True, default=None)
    has_student = Boolean(default=False)  # a student in hardship lives here (结对帮扶)
    created_at = Timestamptz()
    updated_at = Timestamptz(null=True, default=None)


PEOPLE_TABLES: list[type[Table]] = [
    Skill,
    PartnerUnit,
    Pairing,
    Person,
    Team,
    TeamMember,
    DutyShift,
    DutyShiftPerson,
    CheckIn,
    CareHousehold,
]
