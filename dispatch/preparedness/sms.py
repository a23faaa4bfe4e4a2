"""SMS through an HTTP gateway: the sender of the outbox, and the webhook's replies.

Sending. `send_pending` takes one due message at a time `FOR UPDATE SKIP LOCKED`, posts it
and records the outcome in that same transaction, so two senders (two workers, two
rounds) never post one message at once. Each post carries the message's idempotency key
(`Idempotency-Key` header and `reference`): if the process dies after the gateway took a
message and before the commit, the message is posted again with the same key and the
gateway keeps one. A gateway that is down (no connection, 408/425/429, 5xx) is tried
again after an exponential backoff (`backoff`), with the round stopping at the first such
failure; a message the gateway refuses for good (any other 4xx) is `failed`, kept and
shown, never dropped. Only the real world sends: a drill writes no outbox rows.

Receiving. The gateway posts replies and delivery reports to `POST
/api/callouts/sms/inbound` with its token (`X-Gateway-Token`). A reply is kept once per
gateway reply id (a replayed webhook does nothing again): `1` (optionally with minutes:
`1 20`) acknowledges, `2` (optionally with a reason) declines and escalates at once,
anything else is kept as `unknown` and shown on the call-out without acting, an answer
to a step no longer open is kept as `late`.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

import asyncpg
import httpx

from dispatch.accounts.policy import Actor, Role
from dispatch.clock import Clock
from dispatch.db import Command, Context, command
from dispatch.errors import Forbidden, InvalidInput
from dispatch.preparedness.callouts import OPEN, event_target, record_answer, record_delivery
from dispatch.preparedness.channels import normalise_phone
from dispatch.preparedness.escalation import escalate
from dispatch.preparedness.schemas import (
    CalloutState,
    InboundKind,
    InboundResult,
    ReplyOutcome,
    SmsInbound,
    Via,
)
from dispatch.settings import Settings, get_settings
from dispatch.web.i18n import MESSAGES

SMS_ACTOR = Actor(user_id=None, username="sms", role=Role.VOLUNTEER)  # a recipient, by SMS
TOKEN_HEADER = "X-Gateway-Token"
BACKOFF_FIRST = timedelta(seconds=15)
BACKOFF_MOST = timedelta(minutes=15)
RETRY_STATUSES = frozenset({408, 425, 429})
_ACK = re.compile(r"^1(?:[\s,，:：]+(\d{1,4}))?\s*(?:分钟|分|min|mins|minutes)?$", re.IGNORECASE)
_DECLINE = re.compile(r"^2(?:[\s,，:：]+(.*))?$", re.DOTALL)


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: 15 s, 30 s, 1 min, ... at most 15 min."""
    if attempts < 1:
        return timedelta(0)
    return min(BACKOFF_FIRST * 2 ** min(attempts - 1, 20), BACKOFF_MOST)


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # the gateway is down or busy: try again later
    REFUSED = "refused"  # the gateway will never take this message


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    gateway_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class SmsGateway:
    """The gateway adapter: where to post and with which token."""

    url: str
    token: str
    timeout: float = 10.0

    async def post(self, http: httpx.AsyncClient, message: asyncpg.Record) -> Answer:
        key = message["idem_key"]
        try:
            response = await http.post(
                self.url,
                json={"to": message["phone"], "text": message["body"], "reference": key},
                headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": key},
            )
        except httpx.HTTPError as exc:  # no connection, a timeout: the gateway is down
            return Answer(Outcome.RETRY, error=f"{type(exc).__name__}")
        status = response.status_code
        if status < 300 or status == 409:  # 409: it has this key already
            return Answer(Outcome.SENT, gateway_id=_gateway_id(response))
        if status >= 500 or status in RETRY_STATUSES:
            return Answer(Outcome.RETRY, error=f"HTTP {status}")
        return Answer(Outcome.REFUSED, error=f"HTTP {status}")


def _gateway_id(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    ident = body.get("id") if isinstance(body, dict) else None
    return str(ident)[:100] if ident is not None else None


def gateway_of(settings: Settings) -> SmsGateway | None:
    if not settings.sms_enabled or not settings.sms_gateway_url or not settings.sms_gateway_token:
        return None
    return SmsGateway(settings.sms_gateway_url, settings.sms_gateway_token)


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


CLAIM = """
    SELECT * FROM callout_sms WHERE status = 'pending' AND next_attempt_at <= $1
    ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED
"""


async def _record(cmd: Command, message: asyncpg.Record, answer: Answer) -> None:
    conn, now = cmd.connection, cmd.now
    tries = message["attempts"] + 1
    place = {"street": message["street"], "community": message["community"]}
    data = {"callout": message["callout_id"], "sms": message["id"], "attempts": tries}
    if answer.outcome is Outcome.SENT:
        await conn.execute(
            "UPDATE callout_sms SET status='sent', sent_at=$2, attempts=$3, gateway_id=$4, "
            "last_error=NULL WHERE id=$1",
            message["id"],
            now,
            tries,
            answer.gateway_id,
        )
        cmd.emit("callout.sms_sent", data, **place)
    elif answer.outcome is Outcome.RETRY:
        later = now + backoff(tries)
        await conn.execute(
            "UPDATE callout_sms SET attempts=$2, next_attempt_at=$3, last_error=$4 WHERE id=$1",
            message["id"],
            tries,
            later,
            answer.error,
        )
        cmd.emit("callout.sms_retry", {**data, "next_attempt_at": later.isoformat()}, **place)
    else:
        await conn.execute(
            "UPDATE callout_sms SET status='failed', attempts=$2, last_error=$3 WHERE id=$1",
            message["id"],
            tries,
            answer.error,
        )
        cmd.emit("callout.sms_failed", {**data, "error": answer.error}, **place)


async def send_pending(ctx: Context, gateway: SmsGateway, limit: int = 100) -> SendReport:
    """Post the messages due on `ctx`'s clock, one transaction each; stop at the first
    sign the gateway is down (the rest wait for their next round)."""
    if ctx.exercise is not None:
        raise ValueError("a drill sends no SMS")
    report = SendReport()
    async with httpx.AsyncClient(timeout=gateway.timeout) as http:
        for _ in range(limit):
            async with command(ctx) as cmd:
                message = await cmd.connection.fetchrow(CLAIM, cmd.now)
                if message is None:
                    return report
                answer = await gateway.post(http, message)
                await _record(cmd, message, answer)
            if answer.outcome is Outcome.SENT:
                report.sent += 1
            elif answer.outcome is Outcome.REFUSED:
                report.failed += 1
            else:
                report.retried += 1
                return report
    return report


@dataclass(frozen=True)
class Parsed:
    state: CalloutState
    eta_minutes: int | None = None
    reason: str | None = None


def parse_reply(text: str) -> Parsed | None:
    """`1` / `1 20` (coming, in 20 minutes), `2` / `2 <reason>` (cannot come); full-width
    digits and spaces count; anything else is not understood (None)."""
    clean = unicodedata.normalize("NFKC", text).strip()
    ack = _ACK.match(clean)
    if ack:
        minutes = int(ack.group(1)) if ack.group(1) else None
        return (
            None
            if minutes is not None and minutes > 1440
            else Parsed(CalloutState.ACKNOWLEDGED, minutes)
        )
    decline = _DECLINE.match(clean)
    if decline:
        reason = (decline.group(1) or "").strip() or " / ".join(MESSAGES["callout.sms_declined"])
        return Parsed(CalloutState.DECLINED, reason=reason[:300])
    return None


def check_gateway_token(given: str | None) -> None:
    """The webhook is the gateway's alone: its token, compared in constant time."""
    expected = get_settings().sms_gateway_token
    if not expected:
        raise Forbidden("no SMS gateway is configured", code="sms.disabled")
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden("the SMS gateway token is wrong", field=TOKEN_HEADER, code="sms.token")


def _required(value: str | None, name: str) -> str:
    if value is None or not value.strip():
        raise InvalidInput(
            f"a reply needs its {name}",
            field=name,
            code="sms.field_missing",
            params={"field": name},
        )
    return value


async def _message_for(
    conn: asyncpg.Connection, data: SmsInbound, phone: str
) -> asyncpg.Record | None:
    """The message a reply answers: the one it names, else the latest to that phone whose
    step is still open, else the latest to that phone."""
    if data.reference:
        return await conn.fetchrow("SELECT * FROM callout_sms WHERE idem_key=$1", data.reference)
    return await conn.fetchrow(
        f"""
        SELECT s.* FROM callout_sms s JOIN plan_callout c ON c.id = s.callout_id
        WHERE s.phone = $1 ORDER BY (c.state IN {OPEN}) DESC, s.id DESC LIMIT 1
        """,
        phone,
    )


def _outcome(step: asyncpg.Record | None, parsed: Parsed | None) -> ReplyOutcome:
    if step is None:
        return ReplyOutcome.UNMATCHED
    if parsed is None:
        return ReplyOutcome.UNKNOWN
    if step["state"] not in ("sent", "delivered"):
        return ReplyOutcome.LATE
    return ReplyOutcome(parsed.state.value)


async def _reply(cmd: Command, data: SmsInbound) -> InboundResult:
    """Keep the reply once (its gateway id is unique: a replay finds it and does nothing),
    then act on it if it was understood and its step still open. The step is locked
    before it is judged, so a replay sent at the same moment waits and then finds it."""
    conn = cmd.connection
    text = _required(data.text, "text")
    phone = normalise_phone(_required(data.phone, "phone")) or ""
    message = await _message_for(conn, data, phone)
    step = None
    if message is not None:
        step = await conn.fetchrow(
            "SELECT * FROM plan_callout WHERE id=$1 FOR UPDATE", message["callout_id"]
        )
    parsed = parse_reply(text)
    outcome = _outcome(step, parsed)
    kept = await conn.fetchval(
        "INSERT INTO callout_reply (gateway_id, callout_id, sms_id, phone, text, outcome, "
        "received_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (gateway_id) DO NOTHING RETURNING id",
        data.id,
        None if step is None else step["id"],
        None if message is None else message["id"],
        phone,
        text,
        outcome.value,
        cmd.now,
    )
    if kept is None:
        return await _replayed(conn, data)
    if step is not None and parsed is not None and outcome.value == parsed.state.value:
        await record_answer(cmd, step, parsed.state, Via.SMS, parsed.eta_minutes, parsed.reason)
        if parsed.state is CalloutState.DECLINED:
            await escalate(cmd, only=step["id"])
    elif step is not None:
        cmd.emit(
            "callout.reply",
            {
                "callout": step["id"],
                "incident": step["incident"],
                "reply": kept,
                "outcome": outcome.value,
            },
            **event_target(step),
        )
    return InboundResult(InboundKind.REPLY, None if step is None else step["id"], outcome, False)


async def _replayed(conn: asyncpg.Connection, data: SmsInbound) -> InboundResult:
    row = await conn.fetchrow(
        "SELECT callout_id, outcome FROM callout_reply WHERE gateway_id=$1", data.id
    )
    outcome = ReplyOutcome(row["outcome"]) if row else None
    return InboundResult(InboundKind.REPLY, row["callout_id"] if row else None, outcome, True)


async def _delivery(cmd: Command, data: SmsInbound) -> InboundResult:
    """A delivery report: the step becomes `delivered` (once), or the log says it was not."""
    conn = cmd.connection
    reference = _required(data.reference, "reference")
    message = await conn.fetchrow("SELECT * FROM callout_sms WHERE idem_key=$1", reference)
    if message is None:
        return InboundResult(InboundKind.DELIVERY, None, None, False)
    step = await conn.fetchrow(
        "SELECT * FROM plan_callout WHERE id=$1 FOR UPDATE", message["callout_id"]
    )
    if data.delivered:
        await conn.execute(
            "UPDATE callout_sms SET delivered_at=coalesce(delivered_at, $2) WHERE id=$1",
            message["id"],
            cmd.now,
        )
        await record_delivery(cmd, step, Via.SMS)
    else:
        await conn.execute(
            "UPDATE callout_sms SET last_error='not delivered' WHERE id=$1", message["id"]
        )
        cmd.emit(
            "callout.sms_failed",
            {"callout": step["id"], "sms": message["id"], "error": "not delivered"},
            street=message["street"],
            community=message["community"],
        )
    return InboundResult(InboundKind.DELIVERY, step["id"], None, False)


async def inbound(clock: Clock, token: str | None, data: SmsInbound) -> InboundResult:
    """What the gateway posted, handled once, in the real world, as the recipient, on the
    service's clock."""
    check_gateway_token(token)
    async with command(Context(SMS_ACTOR, clock)) as cmd:
        if data.kind is InboundKind.DELIVERY:
            return await _delivery(cmd, data)
        return await _reply(cmd, data)
