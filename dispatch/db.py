"""The database: which PostgreSQL (given or embedded), the engine, and the command transaction.

Every change to the world runs inside `command(ctx)`: one transaction, on the clock
the context carries, with its audit rows written inside and its events published
only after commit.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import re
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from litestar.di import NamedDependency
from piccolo.engine.postgres import PostgresEngine

from dispatch.accounts.policy import SYSTEM
from dispatch.audit import AuditRow, audit_row, write_audits
from dispatch.clock import Clock, WallClock

if TYPE_CHECKING:
    from piccolo.apps.migrations.auto.migration_manager import MigrationManager

    from dispatch.accounts.policy import Actor

log = logging.getLogger("dispatch.db")
T = TypeVar("T")

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def embedded_url(data_dir: Path, database: str = "dispatch") -> str:
    """Start (or reuse) the embedded PostgreSQL in the data folder; a newcomer installs nothing."""
    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR (a container, a CI runner) pgserver's lock folder falls
        # back to /tmp/runtime-UID, which is what we want; the warning would only alarm
        # a newcomer on the first screen of `make demo`.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver  # imported late: only needed without DATABASE_URL

    pg_dir = data_dir / "pg"
    pg_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(pg_dir), cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return with_database(str(server.get_uri()), database)


def embedded_running(data_dir: Path) -> bool:
    """Whether the embedded PostgreSQL of this data folder is running (any process's)."""
    pid_file = data_dir / "pg" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # running as another user (pgserver's, when we are root)
        return True
    return True


def stop_embedded(data_dir: Path) -> bool:
    """Stop the embedded PostgreSQL of this data folder; False if it was not running."""
    if not embedded_running(data_dir):
        return False
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from pgserver import _commands  # only with the embedded database

    pg_ctl = vars(_commands)["pg_ctl"]  # made at import, one function per binary
    user = "pgserver" if os.geteuid() == 0 else None  # pgserver's user when we are root
    pg_ctl(["-m", "fast", "-w", "stop"], pgdata=data_dir / "pg", user=user)
    return True


def with_database(url: str, database: str) -> str:
    """The same server, another database (tests get a fresh one each run)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    return database_url or embedded_url(data_dir)


def make_engine(url: str) -> PostgresEngine:
    return PostgresEngine(config={"dsn": url})


async def create_database(url: str, name: str, *, drop_first: bool = False) -> str:
    """Create a database on the server `url` names; used by tests and benchmarks."""
    if not SCHEMA_NAME.match(name):
        raise ValueError(f"bad database name {name!r}")
    conn = await asyncpg.connect(dsn=with_database(url, "postgres"))
    try:
        if drop_first:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # same connection
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(url, name)


async def drop_database(url: str, name: str) -> None:
    """Drop a database on the server `url` names, even with connections open to it."""
    if not SCHEMA_NAME.match(name):
        raise ValueError(f"bad database name {name!r}")
    conn = await asyncpg.connect(dsn=with_database(url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def keep_session(connection: asyncpg.Connection) -> None:
    """A pool's reset on release, without asyncpg's reset query (one round trip per
    connection use fewer: two per request). asyncpg still rolls back a transaction left
    open; nothing else needs undoing, because the service changes no session state: its
    settings are `SET LOCAL` inside transactions, it LISTENs on no pooled connection, and
    the one session advisory lock (the demo drill's) is unlocked by the code that took it."""


ConnectionHook = Callable[[asyncpg.Connection], Awaitable[None]]


async def start_pool(*, min_size: int, max_size: int, init: ConnectionHook | None = None) -> None:
    """The engine's connection pool, released without the reset query (`keep_session`).
    `init` runs on each new connection (a benchmark's query logger)."""
    await engine().start_connection_pool(
        min_size=min_size, max_size=max_size, reset=keep_session, init=init
    )


POOL_CLOSE_S = 10.0  # how long a closing pool waits for connections still out


async def close_pool() -> None:
    """Close the engine's pool on the way out of a process. A task cancelled inside a
    statement (a live play stopped from a server) can leave its connection unreleased,
    and asyncpg's close would wait for it for ever: after POOL_CLOSE_S what is still out is
    terminated, said in the log, and the process ends."""
    db = engine()
    pool = db.pool
    if pool is None:
        return
    try:
        await asyncio.wait_for(pool.close(), POOL_CLOSE_S)
    except TimeoutError:
        log.warning("connection pool: connections still out after %.0f s, terminated", POOL_CLOSE_S)
        pool.terminate()
    db.pool = None


def engine() -> PostgresEngine:
    from piccolo.engine import engine_finder

    found = engine_finder()
    if not isinstance(found, PostgresEngine):
        raise RuntimeError("dispatch needs a PostgreSQL engine in piccolo_conf")
    return found


Publisher = Callable[[list["Event"]], Awaitable[None]]


async def _no_publisher(events: list[Event]) -> None:
    """Outside the server (CLI), nobody listens; events still go to the log."""
    for event in events:
        log.debug("event %s %s", event.kind, event.data)


_publisher: Publisher = _no_publisher


def set_publisher(publisher: Publisher | None) -> None:
    global _publisher
    _publisher = publisher or _no_publisher


@dataclass(frozen=True)
class Event:
    """A domain event announced after commit: the live feed's unit."""

    kind: str
    data: dict[str, Any]
    at: datetime
    street: str | None = None
    community: str | None = None
    exercise: str | None = None
    person: int | None = None  # addressed to this person too, wherever their scope is


class Context:
    """Who acts, on which clock, and in which world (real, or an exercise sandbox).

    A plain class, not a dataclass, so the web layer passes it through untouched.
    """

    __slots__ = ("actor", "clock", "durable", "exercise", "plans_run")

    def __init__(
        self,
        actor: Actor,
        clock: Clock,
        exercise: str | None = None,
        *,
        durable: bool = True,
        plans_run: bool = False,
    ) -> None:
        self.actor = actor
        self.clock = clock
        self.exercise = exercise
        # False only for a sandbox thrown away after a replay: its commits need not wait
        # for the disk (a crash loses at most the last moments of a run that is rerun)
        self.durable = durable or exercise is None
        # whether an incident declared here starts community plans: always in the real
        # world; in a sandbox only for a replay whose scenario turns `preparedness` on
        self.plans_run = plans_run or exercise is None

    def now(self) -> datetime:
        return self.clock.now()


# how controllers ask for the request's context (provided by the app as "ctx")
Ctx: TypeAlias = NamedDependency[Context]


@dataclass
class Command:
    """The open transaction of one command: collects audit rows' writes and events."""

    ctx: Context
    connection: asyncpg.Connection
    events: list[Event] = field(default_factory=list)
    unit: Unit | None = None  # the request's unit of work, when it carries a key
    keyed: int = 0

    @property
    def now(self) -> datetime:
        return self.ctx.now()

    def next_keyed(self) -> int:
        """The ordinal of the next ledger row this request writes under its key: a second
        run of the same keyed request would write the same ordinals, which the ledger's
        unique index refuses."""
        holder = self.unit or self
        holder.keyed += 1
        return holder.keyed

    def key_seqs(self, n: int) -> range:
        """The ordinals the next `n` keyed rows would take, taken only by `keep_keyed` (a
        statement that may write nothing asks first and keeps them once it has written)."""
        holder = self.unit or self
        return range(holder.keyed + 1, holder.keyed + n + 1)

    def keep_keyed(self, n: int) -> None:
        (self.unit or self).keyed += n

    def emit(
        self,
        kind: str,
        data: dict[str, Any],
        *,
        street: str | None = None,
        community: str | None = None,
        person: int | None = None,
    ) -> None:
        """An event for after commit; `person`: the person it is addressed to (a call-out's
        recipient), who hears it even outside the place's scope."""
        self.events.append(
            Event(kind, data, self.now, street, community, self.ctx.exercise, person)
        )

    async def audit(
        self,
        action: str,
        entity: str,
        entity_id: str | int | None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        """The command's audit row: written now, or, inside a request's unit of work, in
        the one statement that stores the request's answer (one round trip fewer while the
        command may hold hot rows)."""
        row = audit_row(self, action, entity, entity_id, before, after)
        if self.unit is not None:
            self.unit.audits.append(row)
        else:
            await write_audits(self.connection, [row])

    @property
    def careful(self) -> bool:
        """The request runs again because a choice made on a plain read no longer held
        under the lock: this time lock first (see `Replan`)."""
        return self.unit is not None and self.unit.careful

    def at_end(self, write: Callable[[asyncpg.Connection], Awaitable[None]]) -> bool:
        """Hold `write` back to the end of the request's unit of work, just before its
        commit, so the hot rows it takes are held for one statement and the commit only;
        False outside a unit (the caller writes now). Anything the request does next in
        the database runs the held writes first, so it reads what they wrote."""
        if self.unit is None or self.unit.careful:
            return False
        self.unit.last.append(write)
        return True


class Replan(Exception):
    """A write held back to the end of a request (`Command.at_end`) found that the choice
    it was made on no longer holds (the stock changed between the read and the lock): it
    wrote nothing, and the request runs again, carefully (locking before it chooses).
    Nothing has been answered yet, so the client never sees the first try."""


async def _enter_world(
    connection: asyncpg.Connection,
    exercise: str | None,
    *,
    read_only: bool = False,
    durable: bool = True,
) -> None:
    """Point the transaction at its world, in one round trip with what else it sets: read
    only (a query), and commits that do not wait for the disk (a throwaway sandbox's)."""
    settings = ["SET TRANSACTION READ ONLY"] if read_only else []
    if exercise is not None:
        if not SCHEMA_NAME.match(exercise):
            raise ValueError(f"bad exercise schema {exercise!r}")
        settings.append(f"SET LOCAL search_path TO {exercise}, public")
        if not durable:
            settings.append("SET LOCAL synchronous_commit TO off")
    if settings:
        await connection.execute("; ".join(settings))


@dataclass
class Unit:
    """The one transaction of a request that must be exactly once (it carries an
    Idempotency-Key): the key's record and every command of the request commit together.

    Commands inside it share its connection; their events wait for its commit. `world` is
    the world the search path currently points at (a request may manage exercises in the
    real world while naming one).
    """

    connection: asyncpg.Connection
    events: list[Event] = field(default_factory=list)
    world: str | None = None
    keyed: int = 0
    after: list[Callable[[], None]] = field(default_factory=list)
    failed: bool = False  # a command of the request raised: its writes may be half done
    audits: list[AuditRow] = field(default_factory=list)  # written with the answer
    last: list[Callable[[asyncpg.Connection], Awaitable[None]]] = field(default_factory=list)
    careful: bool = False  # a second run after a `Replan`: lock before choosing
    replan: bool = False  # a held-back write raised `Replan`: the request runs again

    async def flush(self) -> None:
        """Write what waits for the end (audit rows, held-back writes) now: before the
        request reads or writes anything else, or changes world."""
        await write_audits(self.connection, self.audits)
        self.audits.clear()
        await self.run_last()

    async def run_last(self) -> None:
        writes, self.last = self.last, []
        try:
            for write in writes:
                await write(self.connection)
        except Replan:
            self.replan = True
            raise

    async def enter(self, exercise: str | None) -> None:
        if self.last:
            await self.flush()
        if exercise == self.world:
            return
        if self.audits:
            await self.flush()
        if exercise is None:
            await self.connection.execute("SET LOCAL search_path TO public")
        else:
            await _enter_world(self.connection, exercise)
        self.world = exercise


_current_command: ContextVar[Command | None] = ContextVar("current_command", default=None)
_current_unit: ContextVar[Unit | None] = ContextVar("current_unit", default=None)


@asynccontextmanager
async def unit_of_work(*, snapshot: bool = False) -> AsyncIterator[Unit]:
    """Open the request's transaction; its events are published once it has committed.

    `snapshot`: every read sees one moment (REPEATABLE READ), for a request that copies the
    world (creating an exercise). Leaving the block by an exception rolls everything back.
    """
    async with engine().transaction() as txn:
        connection: asyncpg.Connection = txn.connection
        if snapshot:
            await connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        unit = Unit(connection)
        token = _current_unit.set(unit)
        try:
            yield unit
        finally:
            _current_unit.reset(token)
    if unit.events:
        await _publisher(unit.events)
    for start in unit.after:
        detached().run(start)


def after_commit(start: Callable[[], None]) -> None:
    """Run `start` (which starts background work, e.g. a play) once what the request wrote
    is committed and visible to others; at once outside a request's unit of work, whose
    commands have committed by the time they return."""
    unit = _current_unit.get()
    if unit is None:
        detached().run(start)
    else:
        unit.after.append(start)


def detached() -> contextvars.Context:
    """A context for a background task (a play) started by a request: it must open its own
    transactions, never join the request's, which ends long before the task does."""
    context = contextvars.copy_context()
    context.run(_forget_transactions)
    return context


def _forget_transactions() -> None:
    _current_command.set(None)
    _current_unit.set(None)
    engine().current_transaction.set(None)


@asynccontextmanager
async def command(ctx: Context) -> AsyncIterator[Command]:
    """One command: one transaction; events are published only once it has committed.

    A command issued inside another (plan approval creating transfers and tasks) joins the
    outer one: same transaction, its audit rows and events go with the outer command's.
    Inside a request's unit of work the command runs on the unit's transaction and its
    events wait for the unit's commit.
    """
    outer = _current_command.get()
    if outer is not None:
        yield outer
        return
    unit = _current_unit.get()
    if unit is not None:
        async with _in_unit(unit, ctx) as cmd:
            yield cmd
        return
    async with engine().transaction() as txn:
        connection: asyncpg.Connection = txn.connection
        await _enter_world(connection, ctx.exercise, durable=ctx.durable)
        cmd = Command(ctx, connection)
        token = _current_command.set(cmd)
        try:
            yield cmd
        finally:
            _current_command.reset(token)
    if cmd.events:
        await _publisher(cmd.events)


@asynccontextmanager
async def _in_unit(unit: Unit, ctx: Context) -> AsyncIterator[Command]:
    """A command on the unit's connection. No savepoint of its own (two round trips while
    it may hold hot rows): a command that fails marks the unit failed, and the unit then
    keeps nothing of the request, whatever the handler answers."""
    await unit.enter(ctx.exercise)
    cmd = Command(ctx, unit.connection, unit.events, unit=unit)  # a held-back write may emit
    token = _current_command.set(cmd)
    try:
        yield cmd
    except BaseException:
        unit.failed = True
        raise
    finally:
        _current_command.reset(token)


@asynccontextmanager
async def query(ctx: Context) -> AsyncIterator[asyncpg.Connection]:
    """A read in the caller's world; read-only so a query can never change anything."""
    db = engine()
    outer = db.current_transaction.get()
    if outer is not None:  # a read inside a command sees the command's own writes
        unit = _current_unit.get()
        if unit is not None and _current_command.get() is None:
            await unit.enter(ctx.exercise)
        yield outer.connection
        return
    async with db.transaction() as txn:
        connection: asyncpg.Connection = txn.connection
        await _enter_world(connection, ctx.exercise, read_only=True)
        yield connection


async def fetch_row(sql: str, *args: Any) -> asyncpg.Record | None:
    """One read outside any command (the actor behind a token, each request): a single
    round trip on a pooled connection, without the BEGIN and COMMIT of a transaction."""
    db = engine()
    current = db.current_transaction.get()
    if current is not None:
        return await current.connection.fetchrow(sql, *args)
    if db.pool is not None:
        return await db.pool.fetchrow(sql, *args)
    async with db.transaction() as txn:
        row: asyncpg.Record | None = await txn.connection.fetchrow(sql, *args)
    return row


async def execute_script(sql: str) -> None:
    """Run several statements (a migration) on the current transaction's connection."""
    db = engine()
    current = db.current_transaction.get()
    if current is not None:
        await current.connection.execute(sql)
        return
    async with db.transaction() as txn:
        await txn.connection.execute(sql)


def sql_migration(migration_id: str, description: str, sql: str) -> MigrationManager:
    """A migration of hand-written SQL: every migration of the app is one, so the SQL
    (checks, triggers, partial indexes) is what the database gets, word for word."""
    from piccolo.apps.migrations.auto.migration_manager import MigrationManager

    manager = MigrationManager(
        migration_id=migration_id, app_name="dispatch", description=description
    )

    async def run() -> None:
        await execute_script(sql)

    manager.add_raw(run)
    return manager


def system_context() -> Context:
    """The context of the built-in system actor on the wall clock (CLI, loaders, tests)."""
    return Context(actor=SYSTEM, clock=WallClock())


async def migrate_database() -> None:
    """Apply every migration not yet applied; raise if any fails."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    # imported here: the Piccolo configuration imports every table, whose modules import db
    import dispatch.piccolo_conf  # noqa: F401  (resolves the database first)

    result = await run_forwards("all")
    if not result.success:
        raise RuntimeError(f"migration failed: {result.message}")


def view_of(struct: type[T], row: Mapping[str, Any], **overrides: Any) -> T:
    """A response Struct from a row: same-named columns, times shown in Beijing time."""
    from dispatch.clock import local

    values: dict[str, Any] = {}
    for name in struct.__struct_fields__:  # type: ignore[attr-defined]
        value = overrides[name] if name in overrides else row[name]
        values[name] = local(value) if isinstance(value, datetime) else value
    return struct(**values)
