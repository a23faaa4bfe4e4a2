"""Party branches and service records: the façade controllers, the CLI and tests call as
`service.x`.

ARCHITECTURE. Each concern lives in one module; this one only re-exports:

- `scope`: the one rule of whose branches a reader sees (the streets of a branch's members
  and of the households it assists).
- `registry`: branches (list, get, create, update) and their members by home community.
- `assistance`: pairings of branches with care households (结对帮扶) and their visits,
  household data masked and every read of it audited.
- `coverage`: households with and without an assisting branch, coverage per street.
- `activities`: community activities (clean-ups, waste-sorting duty, patrols) and who may
  read, create and organise them; `attendance`: sign-up within capacity, cancellation,
  check-in and check-out (the hours attended).
- `reports`: hours, people, visits, households reached and activities attended per person,
  community, street, branch or unit for a period; `sheets`: the same as CSV or XLSX.
- `imports`: branches, pairings and visits from a sheet, all rows or none.
- `synthetic`, `demo`: the district-scale synthetic branches and the months of activities
  `dispatch demo` seeds.
"""

from __future__ import annotations

from dispatch.branches.activities import (
    ActivityFilter,
    create_activity,
    get_activity,
    list_activities,
)
from dispatch.branches.assistance import (
    AssistanceFilter,
    add_visit,
    create_assistance,
    end_assistance,
    list_assistances,
    list_visits,
)
from dispatch.branches.attendance import (
    cancel_signup,
    check_in,
    check_out,
    list_signups,
    sign_up,
)
from dispatch.branches.coverage import CoverFilter, household_cover, street_coverage
from dispatch.branches.demo import (
    DemoActivities,
    DemoBranches,
    seed_demo_activities,
    seed_demo_branches,
)
from dispatch.branches.imports import import_sheet
from dispatch.branches.registry import (
    BranchFilter,
    branch_members,
    count_branches,
    create_branch,
    get_branch,
    list_branches,
    update_branch,
)
from dispatch.branches.reports import service_report
from dispatch.branches.sheets import export_report

__all__ = [
    "ActivityFilter",
    "AssistanceFilter",
    "BranchFilter",
    "CoverFilter",
    "DemoActivities",
    "DemoBranches",
    "add_visit",
    "branch_members",
    "cancel_signup",
    "check_in",
    "check_out",
    "count_branches",
    "create_activity",
    "create_assistance",
    "create_branch",
    "end_assistance",
    "export_report",
    "get_activity",
    "get_branch",
    "household_cover",
    "import_sheet",
    "list_activities",
    "list_assistances",
    "list_branches",
    "list_signups",
    "list_visits",
    "seed_demo_activities",
    "seed_demo_branches",
    "service_report",
    "sign_up",
    "street_coverage",
    "update_branch",
]
