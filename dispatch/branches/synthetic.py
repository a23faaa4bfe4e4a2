"""The synthetic branches of the demo at Dongcheng's real scale, from a fixed seed: 1,012
employer branches (机关企事业单位在职党支部) and 344 of two-new organisations, the district's
2,191 low-income households (341 with a student) each paired with a branch, a few months
of visits, and a few months of community activities with their attendance (`activities`).

Pure: it takes what the people registry holds (units, Party members, households) and returns
plain rows; `demo` writes them. Members are the synthetic Party members, in consecutive runs
by home community, so a branch's people mostly live together and a household is paired with
a branch that has a member in its community where there is one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from dispatch.clock import SHANGHAI
from dispatch.people.synthetic import FIRMS, GIVEN, SURNAMES, TRADES, TWO_NEW

SEED = 20261204
EMPLOYER_BRANCHES = 1012
TWO_NEW_BRANCHES = 344
LOW_INCOME = 2191
STUDENTS = 341
VISIT_DAYS = 120  # visits over the last four months
PLEDGES = (
    "每月走访一次，节日送温暖",
    "每季度上门一次，协助解决生活困难",
    "定期走访，帮助申请救助政策",
    "每月电话问候，每季度上门走访",
)
STUDENT_PLEDGE = "每周学业辅导一次，开学季资助学习用品"
VISIT_KINDS = (("visit", 50), ("supplies", 25), ("repair", 10), ("other", 15))
NOTE = "示意数据，非真实记录 / illustrative, not a real record"


@dataclass(frozen=True)
class Unit:
    id: int
    name: str
    kind: str


@dataclass(frozen=True)
class Member:
    id: int
    community: str
    street: str


@dataclass(frozen=True)
class Household:
    id: int
    community: str
    street: str


@dataclass(frozen=True)
class Community:
    code: str
    name: str
    street: str


@dataclass
class Branch:
    index: int
    code: str
    name: str
    kind: str
    unit_id: int | None
    organisation: str | None
    members: list[int] = field(default_factory=list)


@dataclass
class Visit:
    household: int  # index into the pairings
    day: date
    kind: str
    hours: float
    people: list[int]


@dataclass
class Plan:
    branches: list[Branch] = field(default_factory=list)
    pairings: list[tuple[int, int, date, str]] = field(default_factory=list)  # branch, hh, ...
    visits: list[Visit] = field(default_factory=list)


def new_households(
    rng: random.Random, communities: list[Community], have: int, serial: int
) -> list[dict[str, object]]:
    """Synthetic low-income households to reach the district's 2,191 (none if there are)."""
    rows: list[dict[str, object]] = []
    for n in range(max(0, LOW_INCOME - have)):
        place = communities[rng.randrange(len(communities))]
        building, room = rng.randint(1, 30), rng.randint(1, 16) * 100 + rng.randint(1, 4)
        given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        rows.append(
            {
                "code": f"HB{serial + n + 1:05d}",
                "kind": "low_income",
                "community": place.code,
                "street": place.street,
                "head_name": rng.choice(SURNAMES) + given,
                "phone": "100" + "".join(rng.choice("0123456789") for _ in range(8)),
                "address": f"{place.name}{building}号楼{rng.randint(1, 6)}单元{room}",
                "members": rng.randint(1, 5),
                "needs": sorted(set(rng.sample(["livelihood", "medical", "supplies"], 2))),
                "paired_branch": None,
            }
        )
    return rows


def _branch_names(rng: random.Random, employers: list[Unit], two_new: list[Unit]) -> Plan:
    plan = Plan()
    counts: dict[int, int] = {}
    for k in range(EMPLOYER_BRANCHES):
        unit = employers[k % len(employers)]
        counts[unit.id] = counts.get(unit.id, 0) + 1
        name = f"{unit.name}第{counts[unit.id]}党支部"
        plan.branches.append(Branch(k, f"B{k + 1:05d}", name, "employer", unit.id, None))
    seen = {b.name for b in plan.branches}
    for k in range(TWO_NEW_BRANCHES):
        own = two_new[k] if k < len(two_new) else None
        organisation = own.name if own else _organisation(rng, seen)
        name = f"{organisation}党支部"
        seen.add(name)
        index = EMPLOYER_BRANCHES + k
        unit_id = own.id if own else None
        plan.branches.append(
            Branch(index, f"B{index + 1:05d}", name, "two_new", unit_id, organisation)
        )
    return plan


def _organisation(rng: random.Random, seen: set[str]) -> str:
    while True:
        name = rng.choice(TWO_NEW).format(rng.choice(FIRMS) + rng.choice(TRADES))
        name = f"{name}{rng.randint(1, 99)}号" if f"{name}党支部" in seen else name
        if f"{name}党支部" not in seen:
            return name


def _members(plan: Plan, members: list[Member]) -> dict[str, list[int]]:
    """Consecutive runs of Party members (by community) per branch; returns community ->
    the branches (indexes) with a member living there."""
    ordered = sorted(members, key=lambda m: (m.community, m.id))
    count = len(plan.branches)
    local: dict[str, list[int]] = {}
    for i, member in enumerate(ordered):
        branch = plan.branches[i * count // len(ordered)] if ordered else None
        if branch is None:
            continue
        branch.members.append(member.id)
        at = local.setdefault(member.community, [])
        if not at or at[-1] != branch.index:
            at.append(branch.index)
    return local


def _pair(
    rng: random.Random,
    plan: Plan,
    households: list[Household],
    today: date,
    local: dict[str, list[int]],
    students: set[int],
) -> None:
    """Each household with a branch that has a member in its community (in turn), else with
    the next branch of the district in turn."""
    turn: dict[str, int] = {}
    spare = 0
    for h in households:
        near = local.get(h.community)
        if near:
            branch = near[turn.get(h.community, 0) % len(near)]
            turn[h.community] = turn.get(h.community, 0) + 1
        else:
            branch, spare = spare % len(plan.branches), spare + 1
        pledge = STUDENT_PLEDGE if h.id in students else rng.choice(PLEDGES)
        starts = today - timedelta(days=rng.randint(VISIT_DAYS + 30, 900))
        plan.pairings.append((branch, h.id, starts, pledge))


def _visits(rng: random.Random, plan: Plan, today: date, students: set[int]) -> None:
    kinds, weights = [k for k, _ in VISIT_KINDS], [w for _, w in VISIT_KINDS]
    for n, (branch, household, _, _) in enumerate(plan.pairings):
        people = plan.branches[branch].members
        if not people:
            continue
        for _ in range(rng.randint(1, 4)):
            kind = rng.choices(kinds, weights)[0]
            if household in students and rng.random() < 0.5:
                kind = "tutoring"
            went = rng.sample(people, min(len(people), rng.randint(1, 2)))
            day = today - timedelta(days=rng.randint(0, VISIT_DAYS))
            hours = rng.choice((1.0, 1.5, 2.0, 2.5, 3.0))
            plan.visits.append(Visit(n, day, kind, hours, sorted(went)))


def generate(
    units: list[Unit],
    members: list[Member],
    households: list[Household],
    today: date,
    seed: int = SEED,
) -> tuple[Plan, set[int]]:
    """The plan and the households (ids) with a student; the same for the same inputs."""
    rng = random.Random(seed)
    employers = [u for u in units if u.kind != "two_new"]
    plan = _branch_names(rng, employers, [u for u in units if u.kind == "two_new"])
    local = _members(plan, members)
    ordered = sorted(households, key=lambda h: h.id)
    students = set(rng.sample([h.id for h in ordered], min(STUDENTS, len(ordered))))
    _pair(rng, plan, ordered, today, local, students)
    _visits(rng, plan, today, students)
    return plan, students


# --- community activities -------------------------------------------------------------

ACTIVITY_WEEKS = 13  # a quarter of activities behind today
AHEAD_DAYS = 14  # and two weeks of them to come
# kind -> (every how many weeks, weekday (Monday 0), starts, hours, capacity, title, place)
ACTIVITY_KINDS: dict[str, tuple[int, int, time, float, int, str, str]] = {
    "clean_up": (1, 5, time(9, 0), 2.5, 20, "{}周末卫生大扫除", "{}居委会门前集合"),
    "waste_sorting": (2, 1, time(19, 0), 2.0, 6, "{}垃圾分类桶前值守", "{}垃圾分类投放点"),
    "patrol": (4, 4, time(20, 0), 2.0, 8, "{}夜间治安巡逻", "{}警务室门前集合"),
}


@dataclass
class Attendee:
    person: int
    cancelled: bool = False
    checked_in: datetime | None = None
    checked_out: datetime | None = None


@dataclass
class PlannedActivity:
    community: Community
    kind: str
    title: str
    place: str
    starts: datetime
    ends: datetime
    capacity: int
    organiser: int
    people: list[Attendee] = field(default_factory=list)

    @property
    def signed_up(self) -> int:
        return sum(1 for a in self.people if not a.cancelled)


def _days_of(kind: str, today: date) -> list[date]:
    """The days an activity of `kind` falls on, from ACTIVITY_WEEKS back to AHEAD_DAYS on."""
    every, weekday = ACTIVITY_KINDS[kind][0], ACTIVITY_KINDS[kind][1]
    first = today - timedelta(weeks=ACTIVITY_WEEKS)
    first += timedelta(days=(weekday - first.weekday()) % 7)
    days = []
    while first <= today + timedelta(days=AHEAD_DAYS):
        days.append(first)
        first += timedelta(weeks=every)
    return days


def _attend(rng: random.Random, activity: PlannedActivity, pool: list[int], now: datetime) -> None:
    """Sign-ups within capacity; for an activity over, most came and left near its times
    (a few were never checked out: they count to its end), a few cancelled."""
    wanted = rng.randint(max(1, activity.capacity // 4), activity.capacity)
    for person in rng.sample(pool, min(len(pool), wanted)):
        attendee = Attendee(person)
        if activity.ends <= now and rng.random() < 0.05:
            attendee.cancelled = True
        elif activity.ends <= now and rng.random() < 0.9:
            attendee.checked_in = activity.starts + timedelta(minutes=rng.randint(-10, 15))
            if rng.random() < 0.9:
                attendee.checked_out = activity.ends - timedelta(minutes=rng.randint(0, 20))
        activity.people.append(attendee)


def activities(
    communities: list[Community],
    residents: dict[str, list[int]],
    now: datetime,
    seed: int = SEED,
) -> list[PlannedActivity]:
    """Every community with residents holds a weekly clean-up, waste-sorting duty every other
    week and a patrol every four, each organised by a resident in turn; the same for the
    same inputs."""
    rng = random.Random(seed + 2)
    today = now.astimezone(SHANGHAI).date()
    planned: list[PlannedActivity] = []
    for place in communities:
        pool = residents.get(place.code, [])
        if not pool:
            continue
        for kind, (_, _, starts, hours, capacity, title, where) in ACTIVITY_KINDS.items():
            for n, day in enumerate(_days_of(kind, today)):
                begin = datetime.combine(day, starts, tzinfo=SHANGHAI)
                activity = PlannedActivity(
                    place,
                    kind,
                    title.format(place.name),
                    where.format(place.name),
                    begin,
                    begin + timedelta(hours=hours),
                    capacity,
                    pool[n % len(pool)],
                )
                _attend(rng, activity, pool, now)
                planned.append(activity)
    return planned
