"""Stock: the façade controllers, the CLI, replay, other services and tests call as `service.x`.

ARCHITECTURE. Each concern of stock lives in one module; this one only re-exports:

- `lookups`: the depot, item, community or lot a code names, a depot's policy target,
  the reader's scope, and the Beijing calendar of expiry.
- `ledger`: the only writer of balances and movements (`post`, `post_out`, `take_out`
  locking in (depot, item, lot) order), `Watch` of reserve standards crossed, and the
  movement view.
- `picking`: which lots a line takes (named, or by earliest expiry), read locked
  (`pick_all`) or plain for `take_out`'s checked statement.
- `shortages`: the refusal naming every line that cannot be had.
- `references`: what a command cites (incident, task, request...), checked before writing.
- `movements`: receive, issue, adjust, reverse and the stocktake; their common tail.
- `transfers`: the transfer state machine and the transfer reads in transfer scope.
- `queries`: lists, stock cards, totals, the street summary and the ledger's movements.
- `standards`: reserve standards and the alerts (below standard, near expiry, expired).
- `catalogue`: the catalogue loaded from reference CSVs and the demo stock.
- `labels`: lot labels with QR codes, to print and scan.
- `sheets`: receipts imported from a spreadsheet and CSV/XLSX exports.
"""

from __future__ import annotations

from dispatch.stock.catalogue import DEMO_SEED, catalogue_rows, load_catalogue, seed_demo_stock
from dispatch.stock.labels import LotLabel, lot_labels
from dispatch.stock.ledger import (
    MAX_KEY,
    Move,
    Watch,
    movement_view,
    movements_of,
    post,
    post_out,
    take_out,
)
from dispatch.stock.lookups import lot_status, near_expiry_days, read_street, today
from dispatch.stock.movements import adjust, get_stocktake, issue, receive, reverse, stocktake
from dispatch.stock.picking import pick_all
from dispatch.stock.queries import (
    list_items,
    list_lots,
    list_movements,
    list_stock,
    stock_card,
    stock_totals,
    summary,
)
from dispatch.stock.sheets import (
    XLSX_TYPE,
    Export,
    export_card,
    export_stock,
    export_summary,
    import_receipts,
    render,
)
from dispatch.stock.shortages import Shortage, shortage
from dispatch.stock.standards import alerts, list_standards, set_standard
from dispatch.stock.transfers import (
    cancel_transfer,
    create_transfer,
    dispatch_transfer,
    get_transfer,
    in_transit,
    list_transfers,
    receive_transfer,
)

__all__ = [
    "DEMO_SEED",
    "MAX_KEY",
    "XLSX_TYPE",
    "Export",
    "LotLabel",
    "Move",
    "Shortage",
    "Watch",
    "adjust",
    "alerts",
    "cancel_transfer",
    "catalogue_rows",
    "create_transfer",
    "dispatch_transfer",
    "export_card",
    "export_stock",
    "export_summary",
    "get_stocktake",
    "get_transfer",
    "import_receipts",
    "in_transit",
    "issue",
    "list_items",
    "list_lots",
    "list_movements",
    "list_standards",
    "list_stock",
    "list_transfers",
    "load_catalogue",
    "lot_labels",
    "lot_status",
    "movement_view",
    "movements_of",
    "near_expiry_days",
    "pick_all",
    "post",
    "post_out",
    "read_street",
    "receive",
    "receive_transfer",
    "render",
    "reverse",
    "seed_demo_stock",
    "set_standard",
    "shortage",
    "stock_card",
    "stock_totals",
    "stocktake",
    "summary",
    "take_out",
    "today",
]
