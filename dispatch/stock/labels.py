"""Lot labels with QR codes: what a squad sticks on a pallet and scans on the tablet.

A label's QR holds one line of text, `DSLOT1|depot|item|lot|expiry` (each part
percent-encoded, expiry `-` when the lot keeps), so the tablet can pick the depot, item and
lot of an issue, receipt or count from a photo of it without a network. The prefix names
the format's version: a label printed today must still scan after the format grows.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

import msgspec
import segno

from dispatch.db import Context
from dispatch.stock.queries import list_stock
from dispatch.stock.schemas import LotStatus

__all__ = ["LABEL_PREFIX", "LotLabel", "label_text", "lot_labels"]

LABEL_PREFIX = "DSLOT1"
NO_EXPIRY = "-"


class LotLabel(msgspec.Struct):
    """One lot's label at a depot: the facts printed beside the code, and the code itself
    as inline SVG (drawn on the service: the page needs no QR library to print)."""

    depot: str
    item: str
    lot: str
    expires_on: date | None
    qty: int
    status: LotStatus
    text: str
    svg: str


def label_text(depot: str, item: str, lot: str, expires_on: date | None) -> str:
    """The line a lot's QR code holds.

    Examples
    --------
    >>> label_text("D110101001", "SANDBAG", "SB|24", None)
    'DSLOT1|D110101001|SANDBAG|SB%7C24|-'
    """
    expiry = expires_on.isoformat() if expires_on else NO_EXPIRY
    return "|".join([LABEL_PREFIX, *(quote(p, safe="") for p in (depot, item, lot, expiry))])


def _svg(text: str) -> str:
    # error level M survives a smudge or a fold; the quiet zone of 4 modules and a white
    # ground are what a camera needs to find the code on a grey pallet wrap
    code = segno.make(text, error="m", micro=False)
    return str(code.svg_inline(scale=4, border=4, light="#fff"))


async def lot_labels(ctx: Context, depot: str) -> list[LotLabel]:
    """A label for every lot the depot holds, in the order of its stock card; read in the
    caller's scope, as the depot's stock is."""
    lines = await list_stock(ctx, depot=depot)
    labels = []
    for line in lines:
        text = label_text(line.depot, line.item, line.lot, line.expires_on)
        labels.append(
            LotLabel(
                depot=line.depot,
                item=line.item,
                lot=line.lot,
                expires_on=line.expires_on,
                qty=line.qty,
                status=line.status,
                text=text,
                svg=_svg(text),
            )
        )
    return labels
