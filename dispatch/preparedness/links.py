"""One-time links: a signed URL per call-out step that lets its recipient answer without an
account (a partner unit's contact, a resident deputy with no login).

The token is `<step id>.<expiry, unix seconds>.<signature>`, the signature an HMAC-SHA256
of both with the service's secret key (the key that signs the access tokens, under a
purpose prefix of its own so neither can pass for the other). It is kept short on purpose:
it travels in an SMS, where a JWT (what `dispatch/accounts/tokens.py` issues for logins)
would take a whole message by itself. Nothing is stored: the step's own state makes the
link single-use (the answer is the call-out's guarded update), and the expiry is judged
on the service clock like the call-out's own deadline.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dispatch.clock import local
from dispatch.errors import Forbidden
from dispatch.settings import get_settings

PURPOSE = b"dispatch-callout-link|"
SIGNATURE_BYTES = 18  # 144 bits, 24 characters of base64url
TOKEN = re.compile(r"^([1-9][0-9]{0,18})\.([0-9]{1,12})\.([A-Za-z0-9_-]{24})$")
PATH = "/ack/"  # the page (dispatch/preparedness/controllers.py `CalloutLinkPage`)


@dataclass(frozen=True)
class LinkClaims:
    callout: int
    expires_at: datetime


def _signature(secret: str, callout: int, expires: int) -> str:
    mac = hmac.new(secret.encode(), PURPOSE + f"{callout}|{expires}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:SIGNATURE_BYTES]).decode().rstrip("=")


def expiry_of(sent_at: datetime) -> datetime:
    """A step's link is good for `DISPATCH_CALLOUT_LINK_HOURS` after it was sent."""
    return sent_at + timedelta(hours=get_settings().callout_link_hours)


def sign(callout: int, expires_at: datetime, secret: str | None = None) -> str:
    expires = int(expires_at.timestamp())
    key = secret or get_settings().secret_key
    return f"{callout}.{expires}.{_signature(key, callout, expires)}"


def url_of(token: str) -> str:
    return f"{get_settings().public_url}{PATH}{token}"


def read(token: str, now: datetime, secret: str | None = None) -> LinkClaims:
    """The step a genuine, unexpired token names; 403 otherwise (forged or mistyped:
    `callout_link.invalid`; too old: `callout_link.expired`)."""
    found = TOKEN.match(token)
    key = secret or get_settings().secret_key
    if found is None or not hmac.compare_digest(
        found.group(3), _signature(key, int(found.group(1)), int(found.group(2)))
    ):
        raise Forbidden(
            "this call-out link is not genuine", field="token", code="callout_link.invalid"
        )
    expires_at = datetime.fromtimestamp(int(found.group(2)), UTC)
    if now >= expires_at:
        shown = local(expires_at)
        raise Forbidden(
            "this call-out link has expired",
            field="token",
            code="callout_link.expired",
            params={"expired_at": shown.strftime("%Y-%m-%d %H:%M") if shown else ""},
        )
    return LinkClaims(int(found.group(1)), expires_at)
