"""12345 hotline tickets: the façade controllers, the CLI and tests call as `service.x`.

ARCHITECTURE. Each concern lives in one module; this one only re-exports:

- `matching`: the community an address names (pure).
- `deadlines`: the rules per urgency and category (illustrative defaults, set by
  commanders) and how a deadline is judged on the service's clock.
- `records`: the ticket row and view (phone masked), audit form, who may act (403 naming
  the rule), the locked row with version (412) and step (409) checks, trail and events.
- `tickets`: receiving a call (number, place, deadlines), lists and reads in scope.
- `duplicates`: repeated calls offered as duplicates of open tickets (a 48-hour window).
- `edits`: corrections, the community a person chooses, links, merging a repeated call,
  the audited reveal.
- `lifecycle`: assign, start, reply, rate, close, return.
- `actions`: a request or task prefilled from a ticket, linked, in one step.
- `sheets`: tickets imported from the 12345 platform's CSV/XLSX export, all rows or none.
- `figures`: 响应率、解决率、满意率 per street and community for a period, on the clock.
- `overdue`: tickets falling overdue, announced once per deadline, on each world's clock.

Personal data: the caller's phone is masked in every view, audit row and event; only
`reveal_caller` returns it whole, and each reveal is audited.
"""

from __future__ import annotations

from dispatch.hotline.actions import request_from_ticket, task_from_ticket
from dispatch.hotline.deadlines import list_rules, set_rule
from dispatch.hotline.duplicates import WINDOW as DUPLICATE_WINDOW
from dispatch.hotline.edits import link_ticket, merge_ticket, reveal_caller, update_ticket
from dispatch.hotline.figures import hotline_figures
from dispatch.hotline.lifecycle import (
    STEPS,
    assign_ticket,
    close_ticket,
    rate_ticket,
    reply_ticket,
    return_ticket,
    start_ticket,
)
from dispatch.hotline.overdue import sweep_overdue, watch
from dispatch.hotline.sheets import IMPORT_COLUMNS, import_tickets
from dispatch.hotline.tickets import (
    TicketFilter,
    create_ticket,
    get_ticket,
    list_tickets,
    ticket_steps,
)

__all__ = [
    "DUPLICATE_WINDOW",
    "IMPORT_COLUMNS",
    "STEPS",
    "TicketFilter",
    "assign_ticket",
    "close_ticket",
    "create_ticket",
    "get_ticket",
    "hotline_figures",
    "import_tickets",
    "link_ticket",
    "list_rules",
    "list_tickets",
    "merge_ticket",
    "rate_ticket",
    "reply_ticket",
    "request_from_ticket",
    "return_ticket",
    "reveal_caller",
    "set_rule",
    "start_ticket",
    "sweep_overdue",
    "task_from_ticket",
    "ticket_steps",
    "update_ticket",
    "watch",
]
