"""Tokens and phone numbers never reach a log: every handler of the server's logs
redacts tokens and masks phones.

The live feed takes its token as `?access_token=` (an EventSource cannot send headers), so
uvicorn's access log would write it whole (and a call-out's one-time link, `/ack/<token>`,
its token in the path); an `Authorization` header, or a token quoted in
an error, is redacted the same way. A mobile number in a request's address (a search for a
person or a caller by phone) is masked as everywhere else (`138****5678`). The filter sits
on the handlers (uvicorn's own and the root's, which Litestar's and ours go through), so a
record from any logger is cleaned.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"
_PATTERNS = (
    re.compile(r"(access_token|refresh_token)=[^&\s\"']*", re.IGNORECASE),
    re.compile(r"(authorization[\"']?\s*[:=,]\s*[\"']?)(bearer\s+)?[^\s\"',)]+", re.IGNORECASE),
    re.compile(r"(bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
    re.compile(r"()eyJ[A-Za-z0-9_-]{8,}(\.[A-Za-z0-9_-]*){0,2}"),  # a JWT however it came
    re.compile(r"(/ack/)[0-9]+\.[0-9]+\.[A-Za-z0-9_-]+"),  # a call-out's one-time link
)
# an 11-digit mainland mobile number standing alone (not part of a longer number)
_PHONE = re.compile(r"(?<!\d)(1\d{2})\d{4}(\d{4})(?!\d)")
LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "litestar")


def redact(text: str) -> str:
    """The text with every token replaced by `[redacted]` and every phone masked.

    Examples
    --------
    >>> redact("GET /api/people?q=13812345678&limit=5")
    'GET /api/people?q=138****5678&limit=5'
    """
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _PATTERNS[2].sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _PATTERNS[3].sub(REDACTED, text)
    text = _PATTERNS[4].sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _PHONE.sub(r"\1****\2", text)


def _clean(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    """Rewrites a record's message and arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        return True


def install_redaction() -> None:
    """Put the filter on every handler of the server's loggers (once each); called when the
    app is built, after uvicorn and Litestar have set up their handlers."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            if not any(isinstance(f, RedactTokens) for f in handler.filters):
                handler.addFilter(RedactTokens())
