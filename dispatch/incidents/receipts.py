"""What a delivery's outcome does to its request: fulfilled by what arrived, open again by
what will not arrive. Shared by single-line deliveries and the stops of a run."""

from __future__ import annotations

from dispatch.db import Command


async def fulfil_request(cmd: Command, request_id: int | None, delivered: int, sent: int) -> None:
    """The request is fulfilled by `delivered`; what was sent but did not arrive is no longer
    planned for it (it may be planned again)."""
    if request_id is None:
        return
    request = await cmd.connection.fetchrow(
        """
        UPDATE supply_request SET delivered_qty = delivered_qty + $2,
            planned_qty = planned_qty - $3,
            status = CASE WHEN delivered_qty + $2 >= quantity THEN 'fulfilled'
                          ELSE 'partially_fulfilled' END,
            fulfilled_at = CASE WHEN delivered_qty + $2 >= quantity THEN $4 ELSE fulfilled_at END
        WHERE id=$1 RETURNING *
        """,
        request_id,
        delivered,
        sent - delivered,
        cmd.now,
    )
    cmd.emit(
        "request.delivered",
        {"request": request["id"], "delivered": delivered, "status": request["status"]},
        street=request["street"],
        community=request["community"],
    )


async def reopen_request(cmd: Command, request_id: int | None, sent: int) -> None:
    """A delivery that will not arrive: what it carried is no longer planned for its request."""
    if request_id is None:
        return
    await cmd.connection.execute(
        "UPDATE supply_request SET planned_qty = greatest(planned_qty - $2, 0), status = CASE "
        "WHEN delivered_qty > 0 THEN 'partially_fulfilled' ELSE 'open' END WHERE id=$1",
        request_id,
        sent,
    )
