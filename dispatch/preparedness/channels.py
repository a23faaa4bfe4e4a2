"""The channels a call-out step travels by, behind one interface (`Channel.send`):

- `LinkChannel`: the recipient's one-time link (`links`), answerable without an account;
  it has no carrier of its own: it rides in the SMS and is handed out by
  `GET /api/callouts/{id}/link` to whoever passes it on (a phone call, a chat);
- `SmsChannel`: one outbox row per step (unique: a message is never written twice), posted
  later by the sender (`sms.send_pending`) — only when a gateway is configured, only in
  the real world (a drill never texts anybody), only to a recipient with a phone;
- `InAppChannel`: a `callout.sent` event on the live feed, addressed to the person the step
  reaches (they hear it whatever their scope) and shown to the call-out's street and
  community; the recipient answers through the API (`/api/callouts/{id}/acknowledge`).

Every channel's `send` runs inside the command that wrote the step, so a step is either
sent on all its channels or not written at all. Answers and delivery reports from any
channel go through the same guarded updates (`callouts.record_answer`, `record_delivery`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg

from dispatch.db import Command
from dispatch.preparedness import links
from dispatch.preparedness.schemas import HolderKind, Via
from dispatch.settings import get_settings
from dispatch.web.i18n import MESSAGES

SMS_MAX = 1000
_NOT_DIGIT = re.compile(r"\D")

CONTACT_SELECT = {
    HolderKind.PERSON: "SELECT id AS person_id, phone FROM person WHERE id=$1 AND active",
    HolderKind.TEAM: (
        "SELECT p.id AS person_id, p.phone FROM team t "
        "LEFT JOIN person p ON p.id = t.leader_id AND p.active WHERE t.id=$1"
    ),
    HolderKind.UNIT: "SELECT NULL::int AS person_id, contact_phone AS phone "
    "FROM partner_unit WHERE id=$1",
}
CONTACT_SELECT[HolderKind.STREET_SQUAD] = CONTACT_SELECT[HolderKind.TEAM]


@dataclass(frozen=True)
class Contact:
    """Whom a step reaches: the person (a team's leader; none for a partner unit, whose
    contact is not a person of ours) and the phone to text (digits only)."""

    person_id: int | None
    phone: str | None


@dataclass
class Step:
    """A call-out step being sent, with what its messages say."""

    row: asyncpg.Record
    contact: Contact
    incident_title: str
    community_name: str
    link: str | None = None
    went: list[Via] = field(default_factory=list)


def normalise_phone(raw: str | None) -> str | None:
    """Digits only, without China's +86: how the outbox stores a number and how a reply's
    sender is matched to it."""
    if not raw:
        return None
    digits = _NOT_DIGIT.sub("", raw)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if 5 <= len(digits) <= 20 else None


async def contact_of(conn: asyncpg.Connection, kind: HolderKind, ref: int) -> Contact:
    row = await conn.fetchrow(CONTACT_SELECT[kind], ref)
    if row is None:
        return Contact(None, None)
    return Contact(row["person_id"], normalise_phone(row["phone"]))


class Channel(Protocol):
    via: Via

    async def send(self, cmd: Command, step: Step) -> bool:
        """Put the step on its way by this channel, in the step's command; whether it went."""
        ...


class LinkChannel:
    via = Via.LINK

    async def send(self, cmd: Command, step: Step) -> bool:
        if cmd.ctx.exercise is not None:
            return False  # the page answers in the real world only
        token = links.sign(step.row["id"], links.expiry_of(step.row["sent_at"]))
        step.link = links.url_of(token)
        return True


def sms_text(step: Step) -> str:
    """The message, Chinese first, English second, naming the place (never its code)."""
    zh, en = MESSAGES["callout.sms"]
    values = {
        "incident": step.incident_title,
        "community": step.community_name,
        "role": step.row["role"],
        "minutes": step.row["ack_minutes"],
        "link": step.link or "",
    }
    text = zh.format(**values) + "\n" + en.format(**values)
    return text[:SMS_MAX]


class SmsChannel:
    via = Via.SMS

    async def send(self, cmd: Command, step: Step) -> bool:
        if not get_settings().sms_enabled or cmd.ctx.exercise is not None:
            return False
        if step.contact.phone is None:
            return False
        row = step.row
        written = await cmd.connection.fetchval(
            """
            INSERT INTO callout_sms (callout_id, street, community, phone, body, idem_key,
                next_attempt_at, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
            ON CONFLICT (callout_id) DO NOTHING RETURNING id
            """,
            row["id"],
            row["street"],
            row["community"],
            step.contact.phone,
            sms_text(step),
            str(uuid.uuid4()),
            cmd.now,
        )
        return written is not None


class InAppChannel:
    via = Via.APP

    async def send(self, cmd: Command, step: Step) -> bool:
        row = step.row
        cmd.emit(
            "callout.sent",
            {
                "callout": row["id"],
                "origin": row["origin_id"] or row["id"],
                "incident": row["incident"],
                "step": row["step"],
                "role": row["role"],
                "recipient_kind": row["recipient_kind"],
                "recipient_id": row["recipient_id"],
                "person": row["person_id"],
                "due_at": row["due_at"].isoformat(),
                "channels": [v.value for v in [*step.went, self.via]],
            },
            street=row["street"],
            community=row["community"],
            person=row["person_id"],
        )
        return True


# the link first (the SMS carries it), the live feed last (it says where the step went)
CHANNELS: tuple[Channel, ...] = (LinkChannel(), SmsChannel(), InAppChannel())


async def send_step(cmd: Command, row: asyncpg.Record, contact: Contact) -> list[Via]:
    """Send a step just written on every channel that can carry it; the channels it went by."""
    names = await cmd.connection.fetchrow(
        "SELECT i.title, c.name FROM incident i, community c WHERE i.id=$1 AND c.code=$2",
        row["incident"],
        row["community"],
    )
    step = Step(row, contact, names["title"] if names else "", names["name"] if names else "")
    for channel in CHANNELS:
        if await channel.send(cmd, step):
            step.went.append(channel.via)
    return step.went
