"""Incidents: declare and run them; requests from communities; closures and outages; tasks
with a state machine and versions so two tablets never silently overwrite each other.

ARCHITECTURE. This module is the façade controllers, the CLI, planning and the replay call as
`service.x`; each concern lives in one module, lower ones first (a module imports only those
above it in this list):

- `records`: the rows every part reads (incident and its view, communities, scope, a task's
  target, whether an incident still takes work, the road network or none);
- `positions`: GPS fixes of a task en route, its track;
- `run_records`: a run task's vehicle and stops as read (with every task view);
- `tasks`: the task state machine, versions, progress trail, creating and reading tasks;
- `receipts`: what a delivery's outcome does to its request;
- `runs`: run tasks, one per vehicle run of an approved plan: stops, crew, vehicle out and
  back, receipts per stop;
- `deliveries`: delivery tasks of approved transfers: receive on completion, stock back on
  failure or cancellation;
- `assignment`: putting people on a task by the eligibility rules, suggestions;
- `closures`: roads closed and reopened (deliveries in transit rerouted), depots out;
- `requests`: supply requests from communities;
- `standdown`: the work still open when an incident stands down or closes;
- `summary`: the after-action summary;
- `incidents`: declare, respond, stand down, close; list and read incidents.

The road network in force (state, routers, reroutes) is `dispatch.roads`; incidents never
import planning (planning imports incidents, to create delivery tasks).
"""

from __future__ import annotations

from dispatch.incidents.assignment import assign_task, suggest_for_task
from dispatch.incidents.closures import (
    close_road,
    depot_back,
    depot_out,
    list_closures,
    list_outages,
    reopen_road,
    reroute_in_transit,
)
from dispatch.incidents.deliveries import (
    cancel_task,
    complete_task,
    create_delivery_task,
    fail_task,
)
from dispatch.incidents.incidents import (
    NEXT_STATUS,
    advance_incident,
    declare_incident,
    get_incident,
    list_incidents,
    raise_level,
)
from dispatch.incidents.positions import report_position
from dispatch.incidents.records import ACTIVE_INCIDENT
from dispatch.incidents.requests import cancel_request, create_request, get_request, list_requests
from dispatch.incidents.runs import RunStop, complete_stop, create_run_task
from dispatch.incidents.standdown import settle_open_work
from dispatch.incidents.summary import incident_summary, percentile, summary
from dispatch.incidents.tasks import (
    IN_PROGRESS,
    TASK_ACTIVE,
    TRANSITIONS,
    create_door_checks,
    create_task,
    get_task,
    list_tasks,
    note_task,
    step_task,
    task_history,
    task_track,
)

__all__ = [
    "ACTIVE_INCIDENT",
    "IN_PROGRESS",
    "NEXT_STATUS",
    "TASK_ACTIVE",
    "TRANSITIONS",
    "RunStop",
    "advance_incident",
    "assign_task",
    "cancel_request",
    "cancel_task",
    "close_road",
    "complete_stop",
    "complete_task",
    "create_delivery_task",
    "create_door_checks",
    "create_request",
    "create_run_task",
    "create_task",
    "declare_incident",
    "depot_back",
    "depot_out",
    "fail_task",
    "get_incident",
    "get_request",
    "get_task",
    "incident_summary",
    "list_closures",
    "list_incidents",
    "list_outages",
    "list_requests",
    "list_tasks",
    "note_task",
    "percentile",
    "raise_level",
    "reopen_road",
    "report_position",
    "reroute_in_transit",
    "settle_open_work",
    "step_task",
    "suggest_for_task",
    "summary",
    "task_history",
    "task_track",
]
