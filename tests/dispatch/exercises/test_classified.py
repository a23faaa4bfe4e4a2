"""Every table of `public` is classified for the sandboxes: shared by every world (not
copied), copied empty (the real world's work in progress, audit trail, tracks) or copied
with its rows (the world trainees work with). A new table without a decision fails here,
so a drill never silently reads or copies what it should not."""

from __future__ import annotations

from dispatch.exercises.sandbox import COPIED, COPIED_EMPTY, NOT_COPIED
from tests.support import sql


def test_every_table_is_classified_once() -> None:
    tables = {
        r["tablename"] for r in sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    assert tables - (NOT_COPIED | COPIED_EMPTY | COPIED) == set(), "classify the new tables"
    assert not (NOT_COPIED & COPIED_EMPTY) and not (NOT_COPIED & COPIED)
    assert not (COPIED_EMPTY & COPIED)
    assert (NOT_COPIED | COPIED_EMPTY | COPIED) - tables == set(), "a classified table is gone"
