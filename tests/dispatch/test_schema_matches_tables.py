"""The hand-written migrations and the Piccolo table classes describe the same columns."""

from __future__ import annotations

import pytest
from piccolo.table import Table

from dispatch.piccolo_app import APP_CONFIG
from tests.support import sql


@pytest.mark.parametrize("table", APP_CONFIG.table_classes, ids=lambda t: t._meta.tablename)
def test_table_columns_exist_with_matching_nullability(table: type[Table]) -> None:
    rows = sql(
        "SELECT column_name, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = $1",
        table._meta.tablename,
    )
    in_db = {r["column_name"]: r["is_nullable"] == "YES" for r in rows}
    assert in_db, f"table {table._meta.tablename} is missing"
    for column in table._meta.columns:
        name = column._meta.db_column_name
        assert name in in_db, f"{table._meta.tablename}.{name} missing in the database"
        if not column._meta.primary_key:
            assert in_db[name] == column._meta.null, f"{table._meta.tablename}.{name} nullability"
    declared = {c._meta.db_column_name for c in table._meta.columns}
    assert set(in_db) == declared, f"undeclared columns in {table._meta.tablename}"
