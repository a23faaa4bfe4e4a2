"""People: the commands and queries controllers, the CLI, replay and other services call as
`service.x`. A façade: the code lives in modules of one concern each.

ARCHITECTURE (dispatch/people/):
- `lookups`: masking of phones and addresses, the Beijing day, the community lookup with
  its scope target, the scope a list is limited to, the hours-today query;
- `skills`: the skill list and its check;
- `partners`: partner units and their pairing agreements (what counts today);
- `registry`: people, their homes, kinds and skills; the audited reveal;
- `teams`: street squads, unit and community teams, their members, who may enlist whom;
- `duty`: rosters, check-in and check-out, who is on duty where;
- `care`: care households, every read audited;
- `matching`: people as the assignment rules see them, suggestions for needs
  (`geo.assignment`), the road network in force with its router;
- `sheets`: spreadsheet import (all rows or none) and masked export;
- `synthetic` (pure rows from a seed) and `demo` (writes them once);
- `eligibility`: the rules of who may be placed on a task (pure);
- `schemas`, `tables`, `controllers`: bodies, tables, HTTP.

Personal data: phones and addresses are masked in every view, audit row and event; only
`reveal_person` and `reveal_care_household` return them whole, and each reveal is audited.
"""

from __future__ import annotations

from dispatch.people.care import (
    create_care_household,
    get_care_household,
    list_care_households,
    reveal_care_household,
)
from dispatch.people.demo import load_synthetic, people_tables_empty
from dispatch.people.duty import (
    check_in,
    check_out,
    create_shift,
    list_shifts,
    on_duty_by_community,
    on_duty_by_street,
    on_duty_people,
)
from dispatch.people.lookups import mask_address, mask_phone
from dispatch.people.matching import load_workers, roads, suggest_for_needs, suggest_people
from dispatch.people.partners import (
    change_pairing_status,
    create_pairing,
    create_unit,
    effective_status,
    get_pairing,
    get_unit,
    list_pairings,
    list_units,
    pairings_by_community,
)
from dispatch.people.registry import (
    PeopleFilter,
    create_person,
    get_person,
    list_people,
    reveal_person,
    update_person,
)
from dispatch.people.sheets import Export, export_table, import_table
from dispatch.people.skills import create_skill, list_skills
from dispatch.people.teams import (
    check_enlistable,
    create_team,
    get_team,
    list_teams,
    set_team_members,
)

__all__ = [
    "Export",
    "PeopleFilter",
    "change_pairing_status",
    "check_enlistable",
    "check_in",
    "check_out",
    "create_care_household",
    "create_pairing",
    "create_person",
    "create_shift",
    "create_skill",
    "create_team",
    "create_unit",
    "effective_status",
    "export_table",
    "get_care_household",
    "get_pairing",
    "get_person",
    "get_team",
    "get_unit",
    "import_table",
    "list_care_households",
    "list_pairings",
    "list_people",
    "list_shifts",
    "list_skills",
    "list_teams",
    "list_units",
    "load_synthetic",
    "load_workers",
    "mask_address",
    "mask_phone",
    "on_duty_by_community",
    "on_duty_by_street",
    "on_duty_people",
    "pairings_by_community",
    "people_tables_empty",
    "reveal_care_household",
    "reveal_person",
    "roads",
    "set_team_members",
    "suggest_for_needs",
    "suggest_people",
    "update_person",
]
