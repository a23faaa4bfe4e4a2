"""Bodies of the people API. Phones and addresses in views are always masked."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

import msgspec

from dispatch.accounts.schemas import CommunityCode, StreetCode
from dispatch.fields import Latitude, Longitude, Note, SkillCode

Code = Annotated[str, msgspec.Meta(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_\-]+$")]
Phone = Annotated[str, msgspec.Meta(pattern=r"^1\d{10}$", description="11-digit mobile number")]
PersonName = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
Address = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Id = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
Skills = Annotated[list[SkillCode], msgspec.Meta(max_length=20)]


class UnitKind(StrEnum):
    CENTRAL_MINISTRY = "central_ministry"
    MUNICIPAL = "municipal"
    STATE_ENTERPRISE = "state_enterprise"
    TWO_NEW = "two_new"


class PersonKind(StrEnum):
    PARTY_MEMBER = "party_member"  # 在职党员, registered in their home community
    SQUAD_MEMBER = "squad_member"  # street emergency squad
    UNIT_MEMBER = "unit_member"  # partner-unit team member
    COMMUNITY_WORKER = "community_worker"


class Availability(StrEnum):
    ANY = "any"
    WEEKDAYS = "weekdays"
    WEEKENDS = "weekends"
    EVENINGS = "evenings"
    ON_CALL = "on_call"


class TeamKind(StrEnum):
    STREET_SQUAD = "street_squad"
    UNIT_TEAM = "unit_team"
    COMMUNITY_TEAM = "community_team"


class PairingStatus(StrEnum):
    """What is stored; the shown status also says `pending` and `expired` from the dates."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class EffectiveStatus(StrEnum):
    ACTIVE = "active"
    PENDING = "pending"  # before valid_from
    EXPIRED = "expired"  # after valid_until: stops counting
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class CareKind(StrEnum):
    LOW_INCOME = "low_income"  # 低保家庭
    STUDENT = "student"  # 困难学生
    ELDERLY_ALONE = "elderly_alone"  # 独居老人


class CareNeed(StrEnum):
    MEDICATION = "medication"
    MOBILITY = "mobility"
    MEALS = "meals"
    HEATING = "heating"
    TUTORING = "tutoring"
    DAILY_CHECK = "daily_check"
    HEARING = "hearing"
    OXYGEN = "oxygen"


# --- skills ------------------------------------------------------------------------------


class SkillView(msgspec.Struct):
    code: str
    name: str
    builtin: bool


class SkillCreate(msgspec.Struct, forbid_unknown_fields=True):
    code: SkillCode
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]


# --- partner units and pairings ----------------------------------------------------------


class UnitView(msgspec.Struct):
    id: int
    code: str
    name: str
    kind: UnitKind
    contact_name: str | None
    contact_phone: str | None  # masked
    pairings_counting: int
    communities: list[str]


class UnitCreate(msgspec.Struct, forbid_unknown_fields=True):
    code: Code
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    kind: UnitKind
    contact_name: PersonName | None = None
    contact_phone: Phone | None = None


class PairingView(msgspec.Struct):
    id: int
    unit_id: int
    unit_code: str
    unit_name: str
    unit_kind: UnitKind
    community: str
    community_name: str
    street: str
    signed_on: date
    valid_from: date
    valid_until: date
    pledged_people: int
    pledged_skills: list[str]
    status: PairingStatus
    effective_status: EffectiveStatus
    counts: bool  # only an agreement in force counts towards a community's support
    note: str | None


class PairingCreate(msgspec.Struct, forbid_unknown_fields=True):
    unit_id: Id
    community: CommunityCode
    signed_on: date
    valid_from: date
    valid_until: date
    pledged_people: Annotated[int, msgspec.Meta(ge=0, le=10000)] = 0
    pledged_skills: Skills = []
    note: Note | None = None


class PairingStatusChange(msgspec.Struct, forbid_unknown_fields=True):
    status: PairingStatus
    note: Note | None = None


class CommunityPairings(msgspec.Struct):
    community: str
    name: str
    street: str
    counting: int  # agreements in force today
    not_counting: int  # expired, pending, suspended or terminated
    pledged_people: int
    units: list[str]


# --- people ------------------------------------------------------------------------------


class PersonView(msgspec.Struct):
    id: int
    code: str
    name: str
    kind: PersonKind
    phone: str | None  # masked, e.g. 100****1234
    address: str | None  # masked
    street: str
    community: str | None
    party_branch: str | None
    unit_id: int | None
    skills: list[str]
    availability: Availability
    active: bool
    on_duty: bool


class PersonCreate(msgspec.Struct, forbid_unknown_fields=True):
    code: Code
    name: PersonName
    kind: PersonKind
    phone: Phone | None = None
    address: Address | None = None
    community: CommunityCode | None = None
    street: StreetCode | None = None  # taken from the community when one is given
    party_branch: Annotated[str, msgspec.Meta(min_length=1, max_length=120)] | None = None
    unit_id: Id | None = None
    skills: Skills = []
    availability: Availability = Availability.ANY


class PersonUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Fields left out (or null) stay as they are; an empty phone or address clears it."""

    name: PersonName | None = None
    phone: Annotated[str, msgspec.Meta(pattern=r"^(1\d{10})?$")] | None = None
    address: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    community: CommunityCode | None = None
    party_branch: Annotated[str, msgspec.Meta(min_length=1, max_length=120)] | None = None
    skills: Skills | None = None
    availability: Availability | None = None
    active: bool | None = None


class Revealed(msgspec.Struct):
    """The unmasked contact of one person or household; every reveal is audited."""

    id: int
    name: str
    phone: str | None
    address: str | None


# --- teams -------------------------------------------------------------------------------


class TeamMemberView(msgspec.Struct):
    id: int
    name: str
    kind: PersonKind
    skills: list[str]


class TeamView(msgspec.Struct):
    id: int
    name: str
    kind: TeamKind
    street: str | None
    community: str | None
    unit_id: int | None
    leader_id: int | None
    size: int
    members: list[TeamMemberView]


class TeamCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    kind: TeamKind
    street: StreetCode | None = None
    community: CommunityCode | None = None
    unit_id: Id | None = None
    leader_id: Id | None = None
    member_ids: Annotated[list[Id], msgspec.Meta(max_length=500)] = []


class TeamMembers(msgspec.Struct, forbid_unknown_fields=True):
    member_ids: Annotated[list[Id], msgspec.Meta(max_length=500)]
    leader_id: Id | None = None


# --- duty --------------------------------------------------------------------------------


class ShiftPerson(msgspec.Struct):
    id: int
    name: str


class ShiftView(msgspec.Struct):
    id: int
    community: str
    street: str
    starts_at: datetime
    ends_at: datetime
    note: str | None
    people: list[ShiftPerson]


class ShiftCreate(msgspec.Struct, forbid_unknown_fields=True):
    community: CommunityCode
    starts_at: datetime
    ends_at: datetime
    person_ids: Annotated[list[Id], msgspec.Meta(max_length=500)] = []
    note: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class CheckInRequest(msgspec.Struct, forbid_unknown_fields=True):
    person_id: Id
    community: CommunityCode | None = None  # default: the person's home community
    lat: Latitude | None = None
    lon: Longitude | None = None


class CheckOutRequest(msgspec.Struct, forbid_unknown_fields=True):
    person_id: Id


class CheckInView(msgspec.Struct):
    id: int
    person_id: int
    person_name: str
    community: str
    street: str
    checked_in_at: datetime
    checked_out_at: datetime | None
    lat: float | None
    lon: float | None
    hours: float


class CommunityOnDuty(msgspec.Struct):
    community: str
    name: str
    street: str
    on_duty: int
    skills: dict[str, int]


class StreetOnDuty(msgspec.Struct):
    street: str
    name: str
    communities: int
    on_duty: int
    skills: dict[str, int]


class OnDutyPerson(msgspec.Struct):
    person_id: int
    name: str
    kind: PersonKind
    skills: list[str]
    community: str
    checked_in_at: datetime
    hours_today: float


# --- care households ---------------------------------------------------------------------


class CareHouseholdView(msgspec.Struct):
    id: int
    code: str
    kind: CareKind
    community: str
    street: str
    head_name: str
    phone: str | None  # masked
    address: str | None  # masked
    members: int
    needs: list[str]
    paired_branch: str | None
    note: str | None


class CareHouseholdCreate(msgspec.Struct, forbid_unknown_fields=True):
    code: Code
    kind: CareKind
    community: CommunityCode
    head_name: PersonName
    phone: Phone | None = None
    address: Address | None = None
    members: Annotated[int, msgspec.Meta(ge=1, le=20)] = 1
    needs: Annotated[list[CareNeed], msgspec.Meta(max_length=8)] = []
    paired_branch: Annotated[str, msgspec.Meta(min_length=1, max_length=120)] | None = None
    note: Note | None = None


# --- matching ----------------------------------------------------------------------------


class SuggestRequest(msgspec.Struct, forbid_unknown_fields=True):
    community: CommunityCode
    people: Annotated[int, msgspec.Meta(ge=1, le=200)]
    skills: Skills = []
    duration_h: Annotated[float, msgspec.Meta(gt=0, le=12)] = 2.0
    on_duty_only: bool = True  # False: also people not checked in, placed at home
    max_travel_min: Annotated[float, msgspec.Meta(gt=0, le=600)] | None = None


class Suggestion(msgspec.Struct):
    person_id: int
    name: str
    kind: PersonKind
    community: str | None
    skills: list[str]
    hours_today: float
    travel_min: float
    preferred: str  # paired | resident | assisting (its branch assists the household) | other
    explanation: str


class Shortfall(msgspec.Struct):
    missing: int
    reason: str  # no_skill | over_hours | unreachable | all_assigned
    explanation: str


class SuggestResponse(msgspec.Struct):
    community: str
    wanted: int
    staffed: int
    considered: int
    suggestions: list[Suggestion]
    short: list[Shortfall]


# --- spreadsheets and the synthetic district ---------------------------------------------


class ImportKind(StrEnum):
    PEOPLE = "people"
    UNITS = "partner-units"
    PAIRINGS = "pairings"


class ExportKind(StrEnum):
    PEOPLE = "people"
    UNITS = "partner-units"
    PAIRINGS = "pairings"
    CARE_HOUSEHOLDS = "care-households"


class ImportReport(msgspec.Struct):
    what: ImportKind
    rows: int
    created: int
    updated: int
    dry_run: bool


class SyntheticReport(msgspec.Struct):
    loaded: bool
    units: int
    pairings: int
    people: int
    squads: int
    care_households: int
    checked_in: int
