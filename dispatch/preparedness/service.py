"""Preparedness: the façade controllers, the CLI, incidents and tests call as `service.x`.

ARCHITECTURE. Each concern lives in one module; this one only re-exports:

- `shelters`: the shelters (安置点) register, intake and discharge with occupancy decided by
  the database (never over capacity), the nearest open shelter with room.
- `shelter_needs`: a shelter's needs by per-person norms for its occupancy, turned into
  supply requests delivered at the shelter (asking twice asks for nothing more).
- `references`: what a plan refers to (holders, shelters, skills), checked before writing.
- `plans`: community emergency plans (应急工作预案), versioned, drafted and approved.
- `plan_views`: plans as read, every part of many plans at once, holders by name.
- `plan_sheets`: plans to and from a CSV/XLSX sheet, one row per part, all rows or none.
- `coverage`: communities with an approved plan, per hazard and per street.
- `activation`: an incident declared where a plan answers it starts the plan (tasks,
  shelters, one activation record) inside the declaring command.
- `callouts`: one call-out per plan role and per paired unit on activation, one row per
  recipient ("step"), delivered and answered once each by guarded updates; the board's views.
- `channels`: the channels a step travels by, behind one interface: in-app (live feed),
  SMS (outbox), the one-time link (`links`).
- `escalation`: the sweep on the service clock — unanswered in time, a call-out goes to
  the deputy, then to the street squad leader, exactly once; the app's watch loop.
- `answering`: answers through the API and through the one-time link; `page` its page.
- `sms`: the gateway adapter, the outbox's sender (retry with backoff, idempotency key per
  message) and the gateway's webhook (replies, delivery reports).
- `demo`: the illustrative plans and shelters `dispatch demo` seeds.
"""

from __future__ import annotations

from dispatch.preparedness.activation import activate_plans, answers, list_activations
from dispatch.preparedness.answering import (
    answer_by_link,
    answer_callout,
    callout_link,
    check_link,
    mark_delivered,
    open_link,
)
from dispatch.preparedness.callouts import get_callout, list_callouts, my_callouts
from dispatch.preparedness.coverage import coverage
from dispatch.preparedness.demo import DEMO_SEED, DemoReport, seed_demo_preparedness
from dispatch.preparedness.escalation import SweepReport, sweep
from dispatch.preparedness.plan_sheets import export_plans, import_plans
from dispatch.preparedness.plans import approve_plan, create_plan, get_plan, list_plans
from dispatch.preparedness.shelter_needs import request_needs, shelter_needs
from dispatch.preparedness.shelters import (
    create_shelter,
    discharge,
    get_shelter,
    intake,
    list_registrations,
    list_shelters,
    nearest_with_room,
    update_shelter,
)
from dispatch.preparedness.sms import inbound as sms_inbound
from dispatch.preparedness.sms import send_pending as send_sms

__all__ = [
    "DEMO_SEED",
    "DemoReport",
    "SweepReport",
    "activate_plans",
    "answer_by_link",
    "answer_callout",
    "answers",
    "approve_plan",
    "callout_link",
    "check_link",
    "coverage",
    "create_plan",
    "create_shelter",
    "discharge",
    "export_plans",
    "get_callout",
    "get_plan",
    "get_shelter",
    "import_plans",
    "intake",
    "list_activations",
    "list_callouts",
    "list_plans",
    "list_registrations",
    "list_shelters",
    "mark_delivered",
    "my_callouts",
    "nearest_with_room",
    "open_link",
    "request_needs",
    "seed_demo_preparedness",
    "send_sms",
    "shelter_needs",
    "sms_inbound",
    "sweep",
    "update_shelter",
]
