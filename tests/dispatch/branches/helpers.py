"""Rows the branch tests make: free Party members, care households with synthetic phones,
branches and pairings through the API."""

from __future__ import annotations

import random
from typing import Any

import httpx

from tests.support import sql, unique

HOME = "110101001"  # 东华门街道
OTHER = "110101002"  # 景山街道


def free_members(street: str, count: int) -> list[int]:
    """Active Party members of the street in no branch yet."""
    rows = sql(
        """
        SELECT p.id FROM person p WHERE p.kind = 'party_member' AND p.active AND p.street = $1
          AND NOT EXISTS (SELECT 1 FROM branch_member m WHERE m.person_id = p.id)
        ORDER BY p.id LIMIT $2
        """,
        street,
        count,
    )
    assert len(rows) == count, f"not enough free Party members in {street}"
    return [int(r["id"]) for r in rows]


def community_of(street: str) -> str:
    return str(sql("SELECT min(code) AS c FROM community WHERE street=$1", street)[0]["c"])


def phone() -> str:
    return "100" + "".join(random.choice("0123456789") for _ in range(8))


def household(street: str, *, student: bool = False, kind: str = "low_income") -> tuple[int, str]:
    """A care household of the street; returns its id and its (whole) phone."""
    number = phone()
    row = sql(
        """
        INSERT INTO care_household (code, kind, community, street, head_name, phone, address,
                                    has_student, created_at)
        VALUES ($1, $2, $3, $4, '测试户主', $5, '东华门社区3号楼2单元501', $6, now()) RETURNING id
        """,
        unique("H")[:20],
        kind,
        community_of(street),
        street,
        number,
        student,
    )
    return int(row[0]["id"]), number


def branch_body(members: list[int], **extra: Any) -> dict[str, Any]:
    return {
        "code": unique("B")[:20],
        "name": unique("测试党支部"),
        "kind": "two_new",
        "organisation": "测试科技有限公司",
        "members": members,
        **extra,
    }


def make_branch(http: httpx.Client, members: list[int], **extra: Any) -> dict[str, Any]:
    response = http.post("/api/branches", json=branch_body(members, **extra))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def pair(http: httpx.Client, branch: int, household_id: int, starts: str = "2024-01-01") -> int:
    response = http.post(
        "/api/assistance",
        json={"branch_id": branch, "household_id": household_id, "starts_on": starts},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])
