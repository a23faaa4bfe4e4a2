"""A plan's explanations reach the pages as messages: each line and each unmet entry carries
a `code` of the message table and `params` that fill it, with the depots, items and
communities named, so the Chinese sentence shows names, never codes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dispatch.accounts.policy import Role
from dispatch.web.i18n import Language, messages_for
from tests.dispatch.incidents.helpers import community_of, incident, request, stock
from tests.support import client, create_user, sql

CODE = re.compile(r"\b(D1101\d+|1101\d{4,}|[A-Z][A-Z_]{3,})\b")  # depot, community, item codes


def _said(explained: dict[str, Any], language: Language) -> str:
    template = messages_for(language)[explained["code"]]  # KeyError: a code without a message
    text = re.sub(r"\{(\w+)\}", lambda m: str(explained["params"][m.group(1)]), template)
    assert "{" not in text, text
    return text


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


def test_plan_lines_and_unmet_lines_say_names_in_chinese(server: str, commander: str) -> None:
    home = community_of("110101001")
    item = str(sql("SELECT code FROM item WHERE code = 'WATER'")[0]["code"])
    stock("D110101000", item, 50)
    made = incident([home])
    request(made, home, item, 30)
    request(made, home, "PUMP", 100_000)  # more than the district holds: unmet, with why
    with client(server, commander) as http:
        plan = http.post(f"/api/incidents/{made}/plans", json={})
        assert plan.status_code == 201, plan.text
        view = plan.json()
    explained = [line["explained"] for line in view["lines"]] + view["unmet"]
    assert view["lines"] and view["unmet"]
    for entry in explained:
        zh = _said(entry, "zh")
        assert not CODE.search(zh), zh  # names, not codes
        assert re.search(r"[\u4e00-\u9fff]", zh)
        assert _said(entry, "en")
    first = view["lines"][0]["explained"]
    assert first["code"].startswith("plan.transfer.")
    assert (
        first["params"]["depot_name"]
        == sql("SELECT name FROM depot WHERE code=$1", view["lines"][0]["depot"])[0]["name"]
    )
    assert {u["code"] for u in view["unmet"]} <= {
        f"plan.unmet.{t}" for t in ("none_held", "unreachable", "late", "floor", "taken")
    }
