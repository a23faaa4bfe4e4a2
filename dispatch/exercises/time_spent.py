"""Where a replay's time goes (`dispatch bench replay`): its database statements by kind,
counted and timed by asyncpg's query logger on every pooled connection.

The replay is one coroutine after another on one event loop, so the seconds a statement
waits for its answer are seconds of the replay's wall time: what is neither planning nor
statements is Python (the services, the agenda, the routing outside plans).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import asyncpg
from asyncpg.connection import LoggedQuery

__all__ = ["KINDS", "StatementClock", "kind_of"]

# in the order the bench prints them
KINDS = ("commit", "transaction", "read", "write")
_TRANSACTION = ("BEGIN", "SET", "SAVEPOINT", "RELEASE", "ROLLBACK", "START")
_WRITES = ("INSERT", "UPDATE", "DELETE")


def kind_of(query: str) -> str:
    """`commit`; `transaction` (BEGIN, SET LOCAL, savepoints, rollbacks); `write` (any
    statement that inserts, updates or deletes, CTEs included); else `read`.

    Examples
    --------
    >>> kind_of("COMMIT;"), kind_of("SET LOCAL search_path TO ex_1, public")
    ('commit', 'transaction')
    >>> kind_of("WITH taken AS (UPDATE stock_balance SET qty = qty - 1) SELECT 1")
    'write'
    """
    words = query.split(None, 1)
    head = words[0].upper().rstrip(";") if words else ""
    if head == "COMMIT":
        return "commit"
    if head in _TRANSACTION:
        return "transaction"
    if head in _WRITES or (head == "WITH" and any(w in query.upper() for w in _WRITES)):
        return "write"
    return "read"


@dataclass
class StatementClock:
    """Statements and their seconds by kind, over every connection it is attached to."""

    count: Counter[str] = field(default_factory=Counter)
    seconds: Counter[str] = field(default_factory=Counter)

    async def attach(self, connection: asyncpg.Connection) -> None:
        """A pool's `init`: log this connection's statements here."""
        connection.add_query_logger(self.log)

    def log(self, record: LoggedQuery) -> None:
        kind = kind_of(record.query)
        self.count[kind] += 1
        self.seconds[kind] += record.elapsed

    @property
    def total_seconds(self) -> float:
        return float(sum(self.seconds.values()))

    def line(self) -> str:
        """One line for the bench: statements in all, then each kind's count and seconds."""
        parts = [
            f"{kind} {self.count[kind]:,} in {self.seconds[kind]:.1f} s"
            for kind in KINDS
            if self.count[kind]
        ]
        total = sum(self.count.values())
        return f"statements {total:,} in {self.total_seconds:.1f} s: " + ", ".join(parts)
