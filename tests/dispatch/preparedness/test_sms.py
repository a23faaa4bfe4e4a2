"""The SMS path against a local gateway: a call-out's message is sent once with its
idempotency key; a reply `1` acknowledges, `2` declines (and the deputy is texted); an
unknown reply is kept and shown without acting; a gateway that is down is retried with
exponential backoff and no message is lost or doubled (answers lost, concurrent senders);
the webhook takes only the gateway's token; phones are masked on the board."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dispatch.accounts.policy import SYSTEM, Role
from dispatch.clock import FixedClock
from dispatch.db import Context
from dispatch.incidents.schemas import IncidentCreate, IncidentType, Level
from dispatch.incidents.service import declare_incident
from dispatch.preparedness.schemas import (
    HazardSpec,
    Holder,
    HolderKind,
    PlanCreate,
    RoleSpec,
)
from dispatch.preparedness.service import approve_plan, create_plan, send_sms
from dispatch.preparedness.sms import SendReport, SmsGateway
from dispatch.settings import get_settings
from tests.dispatch.people.seed import ensure_district
from tests.dispatch.preparedness.gateway import (
    TOKEN,
    Gateway,
    reply,
    running_gateway,
    webhook,
)
from tests.dispatch.preparedness.helpers import (
    community_of,
    no_paired_units_called,
    people_of,
    plans_made_here,
)
from tests.support import client, create_user, free_port, run, running_server, sql

STREET = "110101006"
SECOND = timedelta(seconds=1)


@pytest.fixture(scope="module", autouse=True)
def _plans_superseded_after() -> Iterator[None]:
    yield from plans_made_here()


@pytest.fixture(scope="module", autouse=True)
def _roles_only() -> Iterator[None]:
    yield from no_paired_units_called(STREET)


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    with running_gateway() as running:
        yield running


@pytest.fixture(scope="module")
def sms_env(gateway: Gateway) -> Iterator[dict[str, str]]:
    """This process and the server both configured with the local gateway."""
    env = {"DISPATCH_SMS_GATEWAY_URL": gateway.url, "DISPATCH_SMS_GATEWAY_TOKEN": TOKEN}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        yield env
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def sms_server(sms_env: dict[str, str]) -> Iterator[str]:
    with running_server(sms_env) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def people() -> Iterator[int]:
    """Fresh people for each test's plan, so a reply's phone names one test's call-out."""
    ensure_district()
    return iter(people_of(STREET, 20))


@pytest.fixture(autouse=True)
def _gateway_up(gateway: Gateway) -> Iterator[None]:
    gateway.mode = "up"
    yield
    gateway.mode = "up"


def _plan(community: str, people: Iterator[int], roles: int = 1) -> list[tuple[int, int]]:
    """An approved rainstorm plan of `roles` roles, each a person with a person deputy."""
    ctx = Context(SYSTEM, FixedClock(datetime.now(UTC)))
    pairs = [(next(people), next(people)) for _ in range(roles)]
    specs = [
        RoleSpec(f"岗位{i}", Holder(HolderKind.PERSON, h), Holder(HolderKind.PERSON, d))
        for i, (h, d) in enumerate(pairs, 1)
    ]
    hazards = [HazardSpec(IncidentType.RAINSTORM, Level.IV)]
    body = PlanCreate(community, "短信测试预案", hazards, specs)
    run(approve_plan(ctx, run(create_plan(ctx, body)).id))
    return pairs


def _declare(community: str, at: datetime) -> int:
    body = IncidentCreate(IncidentType.RAINSTORM, Level.III, "暴雨积水（短信测试）", [community])
    return run(declare_incident(Context(SYSTEM, FixedClock(at)), body)).id


def _send(gateway: Gateway, at: datetime, url: str | None = None) -> SendReport:
    adapter = SmsGateway(url or gateway.url, TOKEN, timeout=5)
    return run(send_sms(Context(SYSTEM, FixedClock(at)), adapter))


def _drain(gateway: Gateway) -> None:
    """Send what earlier tests left pending, so a test's own messages are the only due ones."""
    _send(gateway, datetime.now(UTC) + timedelta(days=1))


def _outbox(incident: int) -> list[dict[str, Any]]:
    return sql(
        "SELECT s.*, c.person_id, c.step FROM callout_sms s JOIN plan_callout c "
        "ON c.id = s.callout_id WHERE c.incident=$1 ORDER BY s.id",
        incident,
    )


def _phone(person: int) -> str:
    return str(sql("SELECT phone FROM person WHERE id=$1", person)[0]["phone"])


def _step(callout: int) -> dict[str, Any]:
    return sql("SELECT * FROM plan_callout WHERE id=$1", callout)[0]


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


def test_a_message_is_sent_once_and_a_reply_of_1_acknowledges(
    gateway: Gateway, sms_server: str, people: Iterator[int], commander: str
) -> None:
    community = community_of(STREET, 0)
    [(holder, _)] = _plan(community, people)
    now = datetime.now(UTC)
    incident = _declare(community, now)
    [message] = _outbox(incident)
    assert (message["status"], message["person_id"], message["phone"]) == (
        "pending",
        holder,
        _phone(holder),
    )
    assert _send(gateway, now + SECOND).sent >= 1
    [sent] = gateway.to(_phone(holder))
    name = sql("SELECT name FROM community WHERE code=$1", community)[0]["name"]
    assert name in sent["text"] and "/ack/" in sent["text"] and sent["reference"]
    assert [p.key for p in gateway.posts if p.to == _phone(holder)] == [message["idem_key"]]
    assert _outbox(incident)[0]["status"] == "sent"

    answered = reply(sms_server, f"r-{uuid.uuid4().hex}", "+86 " + _phone(holder), "1 15")
    assert answered.status_code == 200, answered.text
    assert answered.json()["outcome"] == "acknowledged"
    step = _step(message["callout_id"])
    assert (step["state"], step["eta_minutes"], step["answered_via"]) == ("acknowledged", 15, "sms")
    with client(sms_server, commander) as http:
        board = http.get("/api/callouts", params={"incident": incident}).json()
    [shown] = [c for c in board if c["id"] == message["callout_id"]]
    assert shown["sms"]["status"] == "sent" and "****" in shown["sms"]["phone"]
    assert shown["answered_via"] == "sms" and shown["replies"][0]["outcome"] == "acknowledged"


def test_an_unknown_reply_is_kept_and_shown_and_a_replay_adds_nothing(
    gateway: Gateway, sms_server: str, people: Iterator[int], commander: str
) -> None:
    community = community_of(STREET, 1)
    [(holder, deputy)] = _plan(community, people)
    now = datetime.now(UTC)
    incident = _declare(community, now)
    _send(gateway, now + SECOND)
    [message] = _outbox(incident)
    phone = _phone(holder)
    odd = f"收到，我的电话 {phone}，稍后到"
    reply_id = f"r-{uuid.uuid4().hex}"
    for _ in range(2):  # the gateway replays its webhook
        kept = reply(sms_server, reply_id, phone, odd)
        assert kept.status_code == 200 and kept.json()["outcome"] == "unknown", kept.text
    assert kept.json()["replayed"] is True
    assert _step(message["callout_id"])["state"] == "sent"
    assert len(sql("SELECT 1 FROM callout_reply WHERE gateway_id=$1", reply_id)) == 1
    with client(sms_server, commander) as http:
        [shown] = [
            c
            for c in http.get("/api/callouts", params={"incident": incident}).json()
            if c["id"] == message["callout_id"]
        ]
    assert [r["outcome"] for r in shown["replies"]] == ["unknown"]
    assert shown["replies"][0]["text"].startswith("收到，我的电话 ")
    assert phone not in shown["replies"][0]["text"] and "****" in shown["replies"][0]["text"]

    declined = reply(sms_server, f"r-{uuid.uuid4().hex}", phone, "２ 在医院值班")
    assert declined.json()["outcome"] == "declined"
    step = _step(message["callout_id"])
    assert (step["state"], step["reason"]) == ("declined", "在医院值班")
    deputy_sms = [m for m in _outbox(incident) if m["step"] == 1]
    assert [m["person_id"] for m in deputy_sms] == [deputy] and deputy_sms[0]["status"] == "pending"
    late = reply(sms_server, f"r-{uuid.uuid4().hex}", phone, "1")
    assert (late.json()["outcome"], late.json()["callout"]) == ("late", step["id"])
    assert _step(message["callout_id"])["state"] == "declined"


def test_a_gateway_that_is_down_is_retried_with_backoff_and_sends_once(
    gateway: Gateway, people: Iterator[int], sms_env: dict[str, str]
) -> None:
    _drain(gateway)
    community = community_of(STREET, 2)
    [(holder, _)] = _plan(community, people)
    t = datetime.now(UTC)
    incident = _declare(community, t)
    key = _outbox(incident)[0]["idem_key"]

    def tries() -> list[int]:
        return [p.answered for p in gateway.posts if p.key == key]

    unreachable = f"http://127.0.0.1:{free_port()}/send"
    assert _send(gateway, t, url=unreachable).retried == 1  # nobody listens
    assert _outbox(incident)[0]["last_error"] == "ConnectError"
    gateway.mode = "down"
    assert _send(gateway, t + 14 * SECOND).retried == 0  # not due before 15 s
    assert tries() == []
    assert _send(gateway, t + 15 * SECOND).retried == 1
    row = _outbox(incident)[0]
    assert (row["attempts"], row["next_attempt_at"]) == (2, t + 45 * SECOND)
    assert _send(gateway, t + 44 * SECOND).retried == 0
    gateway.mode = "lose_answer"  # it takes the message, the answer never arrives
    _send(gateway, t + 45 * SECOND)
    row = _outbox(incident)[0]
    assert (row["status"], row["attempts"]) == ("pending", 3)
    assert row["next_attempt_at"] == t + 45 * SECOND + timedelta(minutes=1)
    gateway.mode = "up"
    _send(gateway, t + 105 * SECOND)
    row = _outbox(incident)[0]
    assert (row["status"], row["attempts"]) == ("sent", 4)
    assert row["gateway_id"] == gateway.messages[key]["id"]  # the one it kept at the lost answer
    assert tries() == [503, 500, 200]
    assert len([m for m in gateway.messages.values() if m["reference"] == key]) == 1
    assert len(gateway.to(_phone(holder))) == 1


def test_concurrent_senders_post_each_message_once(
    gateway: Gateway, people: Iterator[int], sms_env: dict[str, str]
) -> None:
    _drain(gateway)
    community = community_of(STREET, 3)
    _plan(community, people, roles=3)
    t = datetime.now(UTC)
    incidents = [_declare(community, t) for _ in range(2)]
    keys = {m["idem_key"] for i in incidents for m in _outbox(i)}
    assert len(keys) == 6

    async def together() -> list[SendReport]:
        ctx = Context(SYSTEM, FixedClock(t + SECOND))
        adapter = SmsGateway(gateway.url, TOKEN, timeout=5)
        return list(await asyncio.gather(*(send_sms(ctx, adapter) for _ in range(3))))

    reports = run(together())
    assert sum(r.sent for r in reports) >= 6
    posted = [p.key for p in gateway.posts if p.key in keys]
    assert sorted(posted) == sorted(keys)  # every message posted, none twice
    assert {m["status"] for i in incidents for m in _outbox(i)} == {"sent"}


def test_a_refused_message_is_kept_as_failed(
    gateway: Gateway, people: Iterator[int], sms_env: dict[str, str]
) -> None:
    _drain(gateway)
    community = community_of(STREET, 4)
    _plan(community, people)
    t = datetime.now(UTC)
    incident = _declare(community, t)
    gateway.mode = "refuse"
    assert _send(gateway, t + SECOND).failed == 1
    row = _outbox(incident)[0]
    assert (row["status"], row["last_error"]) == ("failed", "HTTP 400")
    gateway.mode = "up"
    _send(gateway, t + timedelta(hours=1))
    assert _outbox(incident)[0]["status"] == "failed"  # never posted again


def test_a_delivery_report_marks_the_step_delivered_once(
    gateway: Gateway, sms_server: str, people: Iterator[int]
) -> None:
    community = community_of(STREET, 5)
    _plan(community, people)
    t = datetime.now(UTC)
    incident = _declare(community, t)
    _send(gateway, t + SECOND)
    [message] = _outbox(incident)
    body = {"kind": "delivery", "id": f"d-{uuid.uuid4().hex}", "reference": message["idem_key"]}
    for _ in range(2):
        assert webhook(sms_server, body).status_code == 200
    step = _step(message["callout_id"])
    assert (step["state"], step["delivered_via"]) == ("delivered", "sms")
    assert _outbox(incident)[0]["delivered_at"] is not None


def test_the_webhook_takes_only_the_gateways_token_and_names_bad_fields(
    sms_server: str,
) -> None:
    before = sql("SELECT count(*) AS n FROM callout_reply")[0]["n"]
    body = {"kind": "reply", "id": f"r-{uuid.uuid4().hex}", "phone": "10000000000", "text": "1"}
    for token, code in ((None, "sms.token"), ("wrong", "sms.token")):
        refused = webhook(sms_server, body, token=token)
        assert refused.status_code == 403 and refused.json()["code"] == code, refused.text
    with running_server({"DISPATCH_SMS_GATEWAY_TOKEN": ""}) as plain:
        unset = webhook(plain, body)  # a server without a gateway takes nothing
    assert unset.status_code == 403 and unset.json()["code"] == "sms.disabled"
    missing = webhook(sms_server, {"kind": "reply", "id": "r-x", "phone": "10000000000"})
    assert missing.status_code == 422 and missing.json()["field"] == "text"
    wrong = webhook(sms_server, {**body, "kind": "fax"})
    assert wrong.status_code == 400 and wrong.json()["field"] == "kind"
    assert sql("SELECT count(*) AS n FROM callout_reply")[0]["n"] == before
    unmatched = reply(sms_server, f"r-{uuid.uuid4().hex}", "10000000009", "1")
    assert unmatched.json() == {
        "kind": "reply",
        "callout": None,
        "outcome": "unmatched",
        "replayed": False,
    }


def test_the_server_sends_from_its_own_loop(gateway: Gateway, people: Iterator[int]) -> None:
    """The background watch of a server with a gateway posts what is due, by itself."""
    community = community_of(STREET, 6)
    [(holder, _)] = _plan(community, people)
    env = {
        "DISPATCH_SMS_GATEWAY_URL": gateway.url,
        "DISPATCH_SMS_GATEWAY_TOKEN": TOKEN,
        "DISPATCH_CALLOUT_WATCH_SECONDS": "0.2",
    }
    incident = _declare(community, datetime.now(UTC))
    with running_server(env):
        deadline = time.monotonic() + 60
        while not gateway.to(_phone(holder)) and time.monotonic() < deadline:
            time.sleep(0.2)
    assert len(gateway.to(_phone(holder))) == 1
    assert _outbox(incident)[0]["status"] == "sent"
