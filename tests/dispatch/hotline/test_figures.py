"""The three rates per street against a hand count, on a fixed clock: 30 tickets received
at one moment (20 in 东华门, 10 in 景山), taken up, replied and rated at set minutes."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from dispatch.accounts.policy import Role
from dispatch.clock import FixedClock
from dispatch.db import Context
from dispatch.hotline import service
from dispatch.hotline.schemas import (
    Category,
    FiguresReport,
    Rating,
    ReplyChannel,
    TicketAssign,
    TicketCreate,
    TicketRate,
    TicketReply,
    TicketStep,
    Urgency,
)
from tests.dispatch.hotline.helpers import HOME, HOME_COMMUNITY, OTHER, phone
from tests.support import client, create_user, run, system_context

T0 = datetime(2033, 3, 1, 2, 0, tzinfo=UTC)  # apart from every other test's tickets
S, B, D = Rating.SATISFIED, Rating.BASICALLY_SATISFIED, Rating.DISSATISFIED
PERIOD = {"received_from": T0.isoformat(), "received_to": (T0 + timedelta(minutes=1)).isoformat()}


def _ticket(ctx: Context, street: str, community: str | None) -> int:
    body = TicketCreate(
        category=Category.OTHER,
        urgency=Urgency.URGENT,  # 2 h to respond, 24 h to resolve
        content="排水不畅",
        caller_phone=phone(),
        street=street,
        received_at=T0,
    )
    made = run(service.create_ticket(ctx, body))
    where = TicketAssign(version=1, street=street, community=community)
    return run(service.assign_ticket(ctx, made.id, where)).id


def _version(ctx: Context, ticket: int) -> int:
    return run(service.get_ticket(ctx, ticket)).version


def _start(ctx: Context, tickets: list[int]) -> None:
    for t in tickets:
        run(service.start_ticket(ctx, t, TicketStep(version=_version(ctx, t))))


def _reply(ctx: Context, tickets: list[int]) -> None:
    for t in tickets:
        body = TicketReply(version=_version(ctx, t), channel=ReplyChannel.PHONE, content="已处理")
        run(service.reply_ticket(ctx, t, body))


def _rate(ctx: Context, verdicts: list[tuple[int, Rating, bool]]) -> None:
    for t, rating, solved in verdicts:
        body = TicketRate(version=_version(ctx, t), rating=rating, solved=solved)
        run(service.rate_ticket(ctx, t, body))


@pytest.fixture(scope="module")
def report() -> FiguresReport:
    clock = FixedClock(T0)
    ctx = Context(actor=system_context().actor, clock=clock)
    home = [_ticket(ctx, HOME, HOME_COMMUNITY if i < 10 else None) for i in range(20)]
    other = [_ticket(ctx, OTHER, None) for _ in range(10)]
    clock.advance(timedelta(minutes=60))
    _start(ctx, home[:10] + other[:7])  # in time
    clock.advance(timedelta(minutes=120))  # T0 + 3 h
    _start(ctx, home[10:15])  # late; home[15:] and other[7:] never taken up
    clock.advance(timedelta(minutes=20))  # T0 + 200 min
    _reply(ctx, home[:12] + other[:5])
    clock.advance(timedelta(minutes=10))  # T0 + 210 min: the figures are judged now
    verdicts = [(t, S, True) for t in home[:6]] + [(t, B, True) for t in home[6:8]]
    verdicts += [(home[8], D, False), (home[9], D, True)]
    verdicts += [(t, S, True) for t in other[:3]] + [(other[3], D, False)]
    _rate(ctx, verdicts)
    return run(service.hotline_figures(ctx, T0, T0 + timedelta(minutes=1)))


def test_the_rates_per_street_match_a_hand_count(report: FiguresReport) -> None:
    by = {s.code: s.figures for s in report.streets}
    home, other = by[HOME], by[OTHER]
    assert (home.tickets, home.responded_in_time, home.response_decided) == (20, 10, 20)
    assert (home.response_rate, home.resolution_rate, home.satisfaction_rate) == (0.5, 0.9, 0.8)
    assert (home.rated, home.solved, home.satisfied, home.overdue_now) == (10, 9, 8, 5)
    assert (home.median_response_minutes, home.median_resolution_minutes) == (60.0, 200.0)
    assert (other.tickets, other.response_rate, other.resolution_rate) == (10, 0.7, 0.75)
    assert (other.satisfaction_rate, other.overdue_now) == (0.75, 3)
    whole = report.district
    assert (whole.tickets, whole.responded_in_time, whole.rated, whole.solved) == (30, 17, 14, 12)
    assert (whole.response_rate, whole.resolution_rate) == (0.5667, 0.8571)
    assert (whole.satisfaction_rate, whole.overdue_now) == (0.7857, 8)
    community = next(c for c in report.communities if c.code == HOME_COMMUNITY)
    assert (community.name, community.figures.tickets, community.figures.response_rate) == (
        "多福巷社区",
        10,
        1.0,
    )
    print(
        f"\n东华门 响应率 {home.response_rate} 解决率 {home.resolution_rate} 满意率 "
        f"{home.satisfaction_rate}; district {whole.response_rate}/{whole.resolution_rate}/"
        f"{whole.satisfaction_rate}"
    )


def test_a_street_leader_gets_their_street_only(server: str, report: FiguresReport) -> None:
    leader = create_user(Role.STREET_LEADER, street=OTHER)
    period = {
        "received_from": T0.isoformat(),
        "received_to": (T0 + timedelta(minutes=1)).isoformat(),
    }
    with client(server, leader) as http:
        answer = http.get("/api/hotline/figures", params=period)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [s["code"] for s in body["streets"]] == [OTHER]
    assert body["district"]["tickets"] == 10  # their street's, not the district's


def test_the_figures_export_as_csv_and_xlsx(server: str, report: FiguresReport) -> None:
    commander = create_user(Role.COMMANDER)
    period = {
        "received_from": T0.isoformat(),
        "received_to": (T0 + timedelta(minutes=1)).isoformat(),
    }
    with client(server, commander) as http:
        sheet = http.get("/api/hotline/figures/csv", params=period)
        book = http.get("/api/hotline/figures/xlsx", params=period)
    assert sheet.status_code == 200 and book.status_code == 200, sheet.text
    rows = list(csv.DictReader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    home = next(r for r in rows if r["code"] == HOME)
    # the server judges on its own (wall) clock, years before T0: the 5 never taken up
    # are not yet past due there, so only the 15 responded count (10 in time)
    assert (home["name"], home["tickets"], home["response_rate"]) == ("东华门街道", "20", "0.6667")
    assert (home["response_decided"], home["overdue_now"]) == ("15", "0")
    assert rows[0]["level"] == "全区" and rows[0]["satisfaction_rate"] == "0.7857"
    cells = list(load_workbook(io.BytesIO(book.content)).active.iter_rows(values_only=True))
    assert len(cells) == len(rows) + 1 and cells[1][3] == 30
