"""Tickets for tests: a synthetic caller (phones start with 100, so the run-wide leak scan
catches any whole one in a response) and a ticket made through the API."""

from __future__ import annotations

import random
from typing import Any

import httpx

URL = "/api/hotline/tickets"
HOME = "110101001"  # 东华门街道
HOME_COMMUNITY = "110101001001"  # 多福巷社区
OTHER = "110101002"  # 景山街道


def phone() -> str:
    return f"100{random.randrange(10**8):08d}"


def make(http: httpx.Client, **body: Any) -> dict[str, Any]:
    given = {
        "category": "emergency_supplies",
        "urgency": "urgent",
        "content": "家中老人需要饮用水",
        "caller_name": "张先生",
        "caller_phone": phone(),
        "address": "东华门街道多福巷社区 5号",
        **body,
    }
    response = http.post(URL, json=given)
    assert response.status_code == 201, response.text
    return dict(response.json())


def step(
    http: httpx.Client, ticket: dict[str, Any], name: str, status: int = 200, **body: Any
) -> dict[str, Any]:
    response = http.post(
        f"{URL}/{ticket['id']}/{name}", json={"version": ticket["version"], **body}
    )
    assert response.status_code == status, response.text
    return dict(response.json())
