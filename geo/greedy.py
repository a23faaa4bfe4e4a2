"""Greedy filling: the manual practice both baselines follow (a demand from its nearest
depots with stock, a need from its nearest eligible people), kept in one place so the
two baselines cannot drift apart."""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping

__all__ = ["fill"]


def fill(
    j: int,
    want: int,
    pool: Iterable[int],
    left: MutableMapping[int, int] | list[int],
    out: list[tuple[int, int, int]],
) -> int:
    """Serve ``want`` units of need ``j`` from the sources of ``pool`` in their order,
    each giving what it has ``left``; append ``(source, j, units)`` to ``out`` and return
    what is still wanted.

    Examples
    --------
    >>> out: list[tuple[int, int, int]] = []
    >>> left = [2, 5, 1]
    >>> fill(0, 4, [2, 0, 1], left, out)
    0
    >>> out, left
    ([(2, 0, 1), (0, 0, 2), (1, 0, 1)], [0, 4, 0])
    """
    for i in pool:
        if want <= 0:
            break
        take = min(want, left[i])
        left[i] -= take
        want -= take
        out.append((i, j, take))
    return want
