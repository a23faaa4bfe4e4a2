"""The pure rules of branches and reports, for any input: a branch's kind and its unit or
organisation, a report's period."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.branches.registry import check_kind
from dispatch.branches.reports import LONGEST, period_of
from dispatch.branches.schemas import BranchKind
from dispatch.errors import InvalidInput

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@given(
    kind=st.sampled_from(list(BranchKind)),
    unit=st.none() | st.integers(1, 10**6),
    organisation=st.none() | st.text(min_size=1, max_size=5),
)
def test_a_branch_names_its_unit_or_organisation(
    kind: BranchKind, unit: int | None, organisation: str | None
) -> None:
    allowed = unit is not None or (kind is BranchKind.TWO_NEW and organisation is not None)
    if allowed:
        check_kind(kind, unit, organisation)
    else:
        with pytest.raises(InvalidInput):
            check_kind(kind, unit, organisation)


@given(first=st.none() | days, last=st.none() | days, today=days)
def test_a_period_is_in_order_and_bounded(
    first: date | None, last: date | None, today: date
) -> None:
    end = last or today
    start = first or end - timedelta(days=29)
    if start > end or (end - start).days >= LONGEST:
        with pytest.raises(InvalidInput):
            period_of(first, last, today)
        return
    period = period_of(first, last, today)
    assert (period.first, period.last) == (start, end)
    assert period.starts < period.ends
    assert (period.ends - period.starts).days == (end - start).days + 1
