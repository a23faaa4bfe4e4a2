"""Domain errors and their problem-details form: clear 4xx, never a traceback to a client."""

from __future__ import annotations

import errno
import logging
import re
from typing import Any

import asyncpg
from asyncpg.exceptions._base import DataError as ClientDataError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

log = logging.getLogger("dispatch.errors")

PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    """A refusal the caller can act on; the status says which kind.

    `detail` is the English sentence for logs and API users; `code` (with `params`) is what
    a page renders in the user's language from `dispatch/web/messages/errors.yaml`
    (`error.<code>`, `{name}` placeholders filled from `params`). Each class has a generic
    code; a refusal a user will meet often names its own, with the names (not only the
    codes) of the places and items it is about.
    """

    status = 400
    title = "Bad request"
    code = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        code: str | None = None,
        params: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.code = code or type(self).code
        self.params = params or {}
        self.extra = extra

    def __reduce__(self) -> tuple[Any, ...]:
        """Whole across processes (an import is read in a worker process)."""
        return (_rebuilt, (type(self), self.detail, self.field, self.code, self.params, self.extra))

    def members(self) -> dict[str, Any]:
        """The problem body's members beyond the standard ones."""
        params = {"field": self.field, **self.params} if self.field else dict(self.params)
        return {"field": self.field, "code": self.code, "params": params, **self.extra}


def _rebuilt(
    kind: type[DomainError],
    detail: str,
    field: str | None,
    code: str,
    params: dict[str, Any],
    extra: dict[str, Any],
) -> DomainError:
    return kind(detail, field=field, code=code, params=params, **extra)


class BadRequest(DomainError):
    """A request the service cannot read as sent (a body too deep, a string for a number)."""

    status = 400
    title = "Invalid request"
    code = "invalid_request"


class InvalidInput(DomainError):
    status = 422
    title = "Invalid input"
    code = "invalid_input"


class Unauthorized(DomainError):
    status = 401
    title = "Not authenticated"
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    title = "Not found"
    code = "not_found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"
    code = "conflict"


class PreconditionFailed(DomainError):
    status = 412
    title = "Precondition failed"
    code = "stale_version"


class PayloadTooLarge(DomainError):
    status = 413
    title = "Payload too large"
    code = "payload_too_large"


class TooManyRequests(DomainError):
    status = 429
    title = "Too many requests"
    code = "too_many_requests"


RESERVED = frozenset({"type", "title", "status", "detail"})


def problem(
    status: int, title: str, detail: str, members: dict[str, Any] | None = None
) -> Response[dict[str, Any]]:
    """A problem-details response; extra members never overwrite the standard ones."""
    members = members or {}
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    body.update({k: v for k, v in members.items() if v is not None and k not in RESERVED})
    headers = {}
    if "retry_after" in members:
        headers["Retry-After"] = str(members["retry_after"])
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="dispatch"'
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


_FIELD_PATTERNS = (
    re.compile(r"at `\$\.([^`\[]+)"),  # msgspec: "Expected `int`, got `str` - at `$.quantity`"
    re.compile(r"required field `([^`]+)`"),
    re.compile(r"unknown field `([^`]+)`"),
)


def _field_of(error: dict[str, Any]) -> str | None:
    """The body field a validation error is about, else the parameter Litestar names."""
    message = str(error.get("message", ""))
    for pattern in _FIELD_PATTERNS:
        found = pattern.search(message)
        if found:
            return found.group(1)
    key = error.get("key")
    return str(key) if key and key != "data" else None


def domain_error_handler(_: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    return problem(exc.status, exc.title, exc.detail, exc.members())


def validation_error_handler(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors = [e for e in (exc.extra or []) if isinstance(e, dict)]
    fields = [f for f in (_field_of(e) for e in errors) if f]
    detail = "; ".join(str(e.get("message")) for e in errors) or str(exc.detail)
    listed = [{"field": _field_of(e), "message": str(e.get("message"))} for e in errors]
    field = fields[0] if fields else None
    members = {
        "field": field,
        "code": "invalid_request",
        "params": {"field": field} if field else {},
        "errors": listed or None,
    }
    return problem(400, "Invalid request", detail, members)


def http_error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    title = exc.__class__.__name__.replace("Exception", "") or "Error"
    return problem(exc.status_code, title, str(exc.detail), {"code": f"http.{exc.status_code}"})


def database_input_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Text PostgreSQL cannot store or a number out of a column's range: bad input the edge
    checks (dispatch/edge.py) let through, so a 400 and not a 500. The database's own words
    (`invalid input for query argument $7: …`, `value out of int32 range`) name its
    internals, so they go to the log only."""
    log.warning("refused input the database could not take: %s", str(exc).split("\n", 1)[0])
    if isinstance(
        exc,
        asyncpg.exceptions.CharacterNotInRepertoireError
        | asyncpg.exceptions.UntranslatableCharacterError,
    ):
        detail = "text may not contain NUL or untranslatable characters"
    else:
        detail = "a value of the request is out of the range the service can store"
    return problem(400, "Invalid request", detail, {"code": "invalid_request"})


def concurrent_change_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A transaction that met a concurrent one (a serialisation failure, a deadlock) was
    rolled back whole: nothing of the request was written, and sending it again is safe."""
    log.info("rolled back on a concurrent change: %s", str(exc).split("\n", 1)[0])
    response = problem(
        409,
        "Conflict",
        "another change to the same records was committed meanwhile; nothing of this "
        "request was written: send it again",
        {"retry": True, "code": "retry.concurrent_change", "retry_after": 1},
    )
    response.headers["Cache-Control"] = "no-store"  # never kept for an idempotency key
    return response


OUTAGE_RETRY_AFTER = 5  # seconds: about what a PostgreSQL restart or fail-over takes

# the database is down, restarting or unreachable: nothing of the request was written
_OUTAGES: tuple[type[Exception], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    # a connection lost mid-operation can leave asyncpg's protocol in a state it refuses
    # to leave ("cannot switch to state ..."): the connection is dropped from the pool
    asyncpg.exceptions.InternalClientError,
    # the server cannot do it now, whatever was asked: shutting down or cancelling
    # (57xxx), out of resources (53xxx), its files failing (58xxx); rolled back whole
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.PostgresSystemError,
    ConnectionError,
    TimeoutError,
)


_NETWORK_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT}
    | {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.ENOTCONN}
)


def is_outage(exc: BaseException) -> bool:
    """Whether an error means the database is not there (rather than a fault of ours).

    The error's causes count too: a rollback or a release that fails on the dead
    connection raises its own error while handling the outage, and an exception group
    holds whatever its tasks raised. Bounded, as a cause chain may loop."""
    seen: list[BaseException] = [exc]
    for error in seen:
        if len(seen) > 32:
            break
        if _is_outage_itself(error):
            return True
        if isinstance(error, BaseExceptionGroup):
            seen.extend(error.exceptions)
        seen.extend(e for e in (error.__cause__, error.__context__) if e is not None)
    return False


def _is_outage_itself(exc: BaseException) -> bool:
    if isinstance(exc, _OUTAGES):
        return True
    if not isinstance(exc, OSError):
        return False
    # asyncio says "Multiple exceptions" when every address of a host refused
    return exc.errno in _NETWORK_ERRNOS or str(exc).startswith("Multiple exceptions")


def outage_body() -> tuple[dict[str, Any], int]:
    """The problem body of a 503 for a database outage, and its Retry-After."""
    body = {
        "type": "about:blank",
        "title": "Service unavailable",
        "status": 503,
        "detail": "the database is not answering; nothing of this request was written: "
        "send it again shortly",
        "code": "unavailable.database",
        "params": {},
        "retry": True,
        "retry_after": OUTAGE_RETRY_AFTER,
    }
    return body, OUTAGE_RETRY_AFTER


def outage_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A database outage is a 503 the client retries after `Retry-After`, never a 500."""
    if not is_outage(exc):
        return unexpected_error_handler(request, exc)
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    body, _ = outage_body()
    members = {k: v for k, v in body.items() if k not in RESERVED}
    response = problem(503, body["title"], body["detail"], members)
    response.headers["Cache-Control"] = "no-store"
    return response


def duplicate_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A row the database already holds under a unique rule: the ledger's one row per
    keyed ordinal (a key reused after its record expired), or a race a service did not
    foresee. Nothing was written; the answer names no SQL."""
    constraint = getattr(exc, "constraint_name", None)
    log.warning("unique rule %s refused a write on %s", constraint, request.url.path)
    if constraint and "_once" in constraint:
        detail = "this Idempotency-Key was already used for stock movements; use a new key"
        members = {"field": "Idempotency-Key", "code": "idempotency.ledger_key_used"}
        return problem(409, "Conflict", detail, members)
    detail = "a record with the same identity already exists; nothing was written"
    return problem(409, "Conflict", detail, {"code": "conflict.duplicate"})


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Log the traceback for operators; the client only learns that it failed.

    An error raised while an outage was being handled (its cause is the outage) is the
    outage's 503, not a 500."""
    if is_outage(exc):
        return outage_handler(request, exc)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Internal error",
        "The server could not complete the request; it has been logged.",
        {"code": "internal_error"},
    )


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    asyncpg.exceptions.DataError: database_input_handler,  # PostgreSQL refused the value
    ClientDataError: database_input_handler,  # asyncpg could not encode it (out of range)
    # serialisation failures and deadlocks: rolled back, safe to send again
    asyncpg.exceptions.TransactionRollbackError: concurrent_change_handler,
    asyncpg.exceptions.UniqueViolationError: duplicate_handler,
    **{kind: outage_handler for kind in _OUTAGES},
    OSError: outage_handler,  # a refused or reset connection (not one from our files)
    Exception: unexpected_error_handler,
}
