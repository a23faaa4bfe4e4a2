"""The synthetic branches and activities (pure) at the district's scale and shape, and
`dispatch demo` reporting them from a fresh database of its own."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.branches import synthetic
from dispatch.clock import SHANGHAI
from dispatch.db import create_database, drop_database, with_database
from tests.support import run

TODAY = date(2026, 12, 4)


def _district(
    seed: int = 1, members: int = 3000, households: int = 2191
) -> tuple[list[synthetic.Unit], list[synthetic.Member], list[synthetic.Household]]:
    rng = random.Random(seed)
    communities = [
        (f"1101010{s:02d}{c:03d}", f"1101010{s:02d}") for s in range(17) for c in range(10)
    ]
    units = [synthetic.Unit(i, f"单位{i}", "municipal") for i in range(1, 106)]
    units += [synthetic.Unit(i, f"两新{i}", "two_new") for i in range(106, 131)]
    people = [synthetic.Member(i, *rng.choice(communities)) for i in range(1, members + 1)]
    homes = [synthetic.Household(i, *rng.choice(communities)) for i in range(1, households + 1)]
    return units, people, homes


def test_the_district_scale_and_shape() -> None:
    units, members, households = _district()
    plan, students = synthetic.generate(units, members, households, TODAY)
    kinds = [b.kind for b in plan.branches]
    assert kinds.count("employer") == 1012 and kinds.count("two_new") == 344
    assert len({b.name for b in plan.branches}) == len({b.code for b in plan.branches}) == 1356
    assert sorted(h for _, h, _, _ in plan.pairings) == [h.id for h in households]
    assert len(students) == 341
    assert all(b.members for b in plan.branches)
    assert sorted(m for b in plan.branches for m in b.members) == [m.id for m in members]
    assert all(b.unit_id is not None for b in plan.branches if b.kind == "employer")


def test_visits_are_by_the_branchs_members_and_tutoring_only_for_students() -> None:
    units, members, households = _district()
    plan, students = synthetic.generate(units, members, households, TODAY)
    assert plan.visits
    for visit in plan.visits:
        branch, household, starts, _ = plan.pairings[visit.household]
        assert set(visit.people) <= set(plan.branches[branch].members)
        assert starts <= visit.day <= TODAY
        assert visit.kind != "tutoring" or household in students


def test_a_household_is_paired_with_a_branch_with_a_member_in_its_community() -> None:
    units, members, households = _district()
    plan, _ = synthetic.generate(units, members, households, TODAY)
    lives = {m.id: m.community for m in members}
    where = {h.id: h.community for h in households}
    local = sum(
        1
        for b, h, _, _ in plan.pairings
        if where[h] in {lives[m] for m in plan.branches[b].members}
    )
    assert local == len(plan.pairings)  # every community here has members


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31), have=st.integers(0, 2500))
def test_the_same_seed_gives_the_same_plan_and_households_reach_the_count(
    seed: int, have: int
) -> None:
    units, members, households = _district(seed % 7, members=400, households=300)
    one = synthetic.generate(units, members, households, TODAY, seed)
    two = synthetic.generate(units, members, households, TODAY, seed)
    assert one == two
    places = [synthetic.Community("110101001001", "测试社区", "110101001")]
    added = synthetic.new_households(random.Random(seed), places, have, 0)
    assert len(added) == max(0, 2191 - have)
    assert all(str(h["phone"]).startswith("100") for h in added)


def test_activities_keep_capacity_and_only_those_over_have_attendance() -> None:
    """A quarter behind and two weeks ahead: sign-ups within capacity by the community's
    residents; attendance only for activities over, inside their hours (give or take the
    minutes people come early or leave late); the same for the same seed."""
    places = [synthetic.Community(f"11010100{c}001", f"社区{c}", f"11010100{c}") for c in range(3)]
    residents = {p.code: list(range(100 * n + 1, 100 * n + 31)) for n, p in enumerate(places)}
    now = datetime(2026, 12, 4, 15, 0, tzinfo=SHANGHAI)
    planned = synthetic.activities(places, residents, now)
    assert planned == synthetic.activities(places, residents, now)
    assert {a.kind for a in planned} == {"clean_up", "waste_sorting", "patrol"}
    assert min(a.starts for a in planned) >= now - timedelta(weeks=13, days=1)
    assert max(a.starts for a in planned) <= now + timedelta(days=15)
    for a in planned:
        assert 0 < a.signed_up <= a.capacity
        assert a.organiser in residents[a.community.code]
        assert {p.person for p in a.people} <= set(residents[a.community.code])
        for p in a.people:
            assert not (p.cancelled and p.checked_in)
            if a.ends > now:
                assert p.checked_in is None and not p.cancelled
            if p.checked_in:
                assert a.starts - timedelta(minutes=10) <= p.checked_in <= now
            if p.checked_out:
                assert p.checked_in is not None and p.checked_in < p.checked_out <= a.ends
    assert any(p.checked_in for a in planned for p in a.people)


def test_dispatch_demo_reports_the_branches_of_the_district(tmp_path: object) -> None:
    """The demo loader on a database of its own (it fills empty tables only), dropped after."""
    server = os.environ["DISPATCH_TEST_SERVER_URL"]
    name = f"branches_demo_{uuid.uuid4().hex[:8]}"
    url = run(create_database(server, name))
    env = {**os.environ, "DATABASE_URL": url, "DISPATCH_DATA_DIR": str(tmp_path)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "dispatch.cli", "demo", "--no-serve"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        run(drop_database(with_database(server, "postgres"), name))
    assert done.returncode == 0, done.stderr[-2000:]
    out = " ".join(done.stdout.split())
    assert (
        "branches 1356, assisted households 2191 (341 students), pairing coverage 100 % per street"
        in out
    )
    assert "hours per street" in out
    assert "community activities (synthetic):" in out
    line = out.split("activity hours per street, ")[1].split(" preparedness")[0]
    assert len(line.split(", ")) == 17  # every street, with its hours of the last 30 days
    assert all(float(part.rsplit(" ", 1)[1]) > 0 for part in line.split(": ", 1)[1].split(", "))
