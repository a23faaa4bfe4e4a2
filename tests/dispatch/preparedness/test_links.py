"""The one-time link: a signed URL per call-out step opens a minimal page (Chinese, or
English on request) that answers without an account, once; a second use, a forged link and
an expired one are refused with their reasons; a decline by link calls the deputy at once;
the link's token never reaches the server's log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.accounts.policy import SYSTEM, Role
from dispatch.clock import FixedClock
from dispatch.db import Context
from dispatch.errors import Forbidden
from dispatch.incidents.schemas import IncidentCreate, IncidentType, Level
from dispatch.incidents.service import declare_incident
from dispatch.preparedness import links
from dispatch.preparedness.schemas import HazardSpec, Holder, HolderKind, PlanCreate, RoleSpec
from dispatch.preparedness.service import approve_plan, create_plan
from tests.dispatch.people.seed import ensure_district
from tests.dispatch.preparedness.helpers import (
    community_of,
    no_paired_units_called,
    people_of,
    plans_made_here,
)
from tests.support import SERVER_LOGS, client, create_user, run, sql

STREET = "110101007"
TITLE = "暴雨积水（链接测试）"


@pytest.fixture(scope="module", autouse=True)
def _plans_superseded_after() -> Iterator[None]:
    yield from plans_made_here()


@pytest.fixture(scope="module", autouse=True)
def _roles_only() -> Iterator[None]:
    yield from no_paired_units_called(STREET)


@pytest.fixture(scope="module")
def people() -> Iterator[int]:
    ensure_district()
    return iter(people_of(STREET, 12))


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


def _called_out(offset: int, people: Iterator[int]) -> dict[str, Any]:
    """A community's plan with one role, and an incident there: its first step."""
    community = community_of(STREET, offset)
    holder, deputy = next(people), next(people)
    ctx = Context(SYSTEM, FixedClock(datetime.now(UTC)))
    role = RoleSpec(
        "物资保障组", Holder(HolderKind.PERSON, holder), Holder(HolderKind.PERSON, deputy)
    )
    hazards = [HazardSpec(IncidentType.RAINSTORM, Level.IV)]
    body = PlanCreate(community, "链接测试预案", hazards, [role])
    run(approve_plan(ctx, run(create_plan(ctx, body)).id))
    made = IncidentCreate(IncidentType.RAINSTORM, Level.III, TITLE, [community])
    incident = run(declare_incident(ctx, made)).id
    row = sql("SELECT * FROM plan_callout WHERE incident=$1", incident)[0]
    return {"row": row, "community": community, "deputy": deputy, "incident": incident}


def _path(server: str, commander: str, callout: int) -> str:
    with client(server, commander) as http:
        link = http.get(f"/api/callouts/{callout}/link")
    assert link.status_code == 200, link.text
    return urlsplit(link.json()["url"]).path


def _state(callout: int) -> dict[str, Any]:
    return sql("SELECT * FROM plan_callout WHERE id=$1", callout)[0]


def test_a_link_opens_the_page_and_acknowledges_once(
    server: str, commander: str, people: Iterator[int]
) -> None:
    made = _called_out(0, people)
    callout = made["row"]["id"]
    path = _path(server, commander, callout)
    assert path.startswith("/ack/")
    page = httpx.get(server + path)  # no account, no token
    assert page.status_code == 200, page.text
    name = sql("SELECT name FROM community WHERE code=$1", made["community"])[0]["name"]
    for shown in (TITLE, name, "物资保障组", "已送达，待答复", "我到场", "我不能到场"):
        assert shown in page.text
    assert page.headers["cache-control"] == "no-store"
    assert (_state(callout)["state"], _state(callout)["delivered_via"]) == ("delivered", "link")

    done = httpx.post(server + path, data={"answer": "coming", "eta_minutes": "12"})
    assert done.status_code == 200 and "约 12 分钟后到达" in done.text
    step = _state(callout)
    assert (step["state"], step["eta_minutes"], step["answered_via"], step["answered_by"]) == (
        "acknowledged",
        12,
        "link",
        "link",
    )
    again = httpx.post(server + path, data={"answer": "cannot", "reason": "改主意了"})
    assert again.status_code == 409 and "已有答复" in again.text and "已确认到场" in again.text
    assert _state(callout)["state"] == "acknowledged"
    audits = sql(
        "SELECT actor FROM audit_entry WHERE action='callouts.answer' AND entity_id=$1",
        str(callout),
    )
    assert [a["actor"] for a in audits] == ["link"]
    token = path.removeprefix("/ack/")
    assert not [p for p in SERVER_LOGS if p.exists() and token in p.read_text()]


def test_a_forged_or_expired_link_is_refused(
    server: str, commander: str, people: Iterator[int]
) -> None:
    made = _called_out(1, people)
    callout = made["row"]["id"]
    token = _path(server, commander, callout).removeprefix("/ack/")
    ident, expires, signature = token.split(".")
    forged = [
        f"{ident}.{expires}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{int(ident) + 1}.{expires}.{signature}",  # another step, the same signature
        f"{ident}.{int(expires) + 3600}.{signature}",  # a longer life
        "not-a-token",
    ]
    for bad in forged:
        for answer in (httpx.get(f"{server}/ack/{bad}"), httpx.post(f"{server}/ack/{bad}")):
            assert answer.status_code == 403 and "此召集链接无效" in answer.text, bad
    old = links.sign(callout, datetime.now(UTC) - timedelta(minutes=1))
    expired = httpx.post(f"{server}/ack/{old}", data={"answer": "coming", "eta_minutes": "5"})
    assert expired.status_code == 403 and "已于" in expired.text and "过期" in expired.text
    assert _state(callout)["state"] == "sent"  # nothing opened it, nothing answered it


def test_a_decline_by_link_calls_the_deputy_and_bad_fields_are_named(
    server: str, commander: str, people: Iterator[int]
) -> None:
    made = _called_out(2, people)
    callout = made["row"]["id"]
    path = _path(server, commander, callout)
    for form in ({"answer": "coming", "eta_minutes": "abc"}, {"answer": "maybe"}):
        wrong = httpx.post(server + path + "?lang=en", data=form)
        assert wrong.status_code == 422, wrong.text
        assert "I am coming" in wrong.text  # the step is shown again, in English
    assert _state(callout)["state"] in ("sent", "delivered")
    declined = httpx.post(server + path, data={"answer": "cannot", "reason": ""})
    assert declined.status_code == 200 and "已通知下一位联系人" in declined.text
    step = _state(callout)
    assert step["state"] == "declined" and step["reason"].startswith("通过链接答复")
    deputy = sql("SELECT person_id, step FROM plan_callout WHERE escalated_from=$1", callout)
    assert deputy == [{"person_id": made["deputy"], "step": 1}]


def test_only_someone_who_may_answer_gets_the_link(server: str, people: Iterator[int]) -> None:
    made = _called_out(3, people)
    other = create_user(Role.STREET_LEADER, street="110101008")
    viewer = create_user(Role.VIEWER)
    for user in (other, viewer):
        with client(server, user) as http:
            refused = http.get(f"/api/callouts/{made['row']['id']}/link")
        assert refused.status_code == 403, refused.text


@given(st.integers(min_value=1, max_value=2**40), st.integers(min_value=0, max_value=40))
def test_a_token_changed_anywhere_is_not_genuine(callout: int, where: int) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    token = links.sign(callout, now + timedelta(hours=1), secret="k" * 40)
    assert links.read(token, now, secret="k" * 40).callout == callout
    i = where % len(token)
    changed = token[:i] + ("0" if token[i] != "0" else "1") + token[i + 1 :]
    with pytest.raises(Forbidden) as refused:
        links.read(changed, now, secret="k" * 40)
    assert refused.value.code == "callout_link.invalid"
    with pytest.raises(Forbidden):
        links.read(token, now, secret="another-key" * 4)
