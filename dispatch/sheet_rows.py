"""What every import of rows needs beside reading the sheet (`spreadsheets`): codes turned
into ids with one query per table, and a row's cells converted into a request body with
the bad cell named by its column. Imports then write each row through the same service
function an entry by hand goes through."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec


class Lookups:
    """Codes to ids, read once per import (the rows may name thousands)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.tables: dict[str, dict[str, int]] = {}

    async def id_of(self, table: str, code: str, column: str = "code") -> int | None:
        key = f"{table}.{column}"
        if key not in self.tables:
            rows = await self.conn.fetch(f"SELECT {column}::text AS code, id FROM {table}")
            self.tables[key] = {r["code"]: r["id"] for r in rows}
        return self.tables[key].get(code)

    def forget(self, table: str) -> None:
        for key in [k for k in self.tables if k.split(".")[0] == table]:
            self.tables.pop(key)


class BadCell(Exception):
    """A cell the row cannot be written with: its column and what is wrong."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


def convert_cells(body: dict[str, Any], kind: type[Any]) -> Any:
    """`body` (cells by field, empty ones left out) as `kind`, or the bad cell's column."""
    try:
        return msgspec.convert(
            {k: v for k, v in body.items() if v not in ("", None)}, kind, strict=False
        )
    except msgspec.ValidationError as exc:
        text = str(exc)
        if "$." in text:
            column = text.rsplit("$.", 1)[-1].rstrip("`")
        else:  # "Object missing required field `title`"
            column = text.split("`")[1] if text.count("`") >= 2 else "file"
        raise BadCell(column.split(".")[0].split("[")[0], text.split(" - at ")[0]) from exc
