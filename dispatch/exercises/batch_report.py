"""The HTML page of a batch of seeded runs: per figure, each policy's runs as a strip of
dots with the mean and its 95 % interval (inline SVG), and the paired difference with
its interval and the sign test's p-value. Self-contained, Chinese first with English,
like the single-run report (`dispatch.exercises.report`)."""

from __future__ import annotations

from html import escape
from typing import Any

from dispatch.exercises.report import COLORS, CSS, LABELS, show

__all__ = ["render_batch_html"]

STRIP_W, STRIP_ROW, STRIP_PAD = 360, 22, 12


def _round(value: float | None, digits: int = 3) -> str:
    return show(None if value is None else round(value, digits))


def _interval(entry: dict[str, Any]) -> str:
    if entry["mean"] is None:
        return "–"
    if entry["low"] is None:
        return f"{_round(entry['mean'])} (n={entry['n']})"
    return f"{_round(entry['mean'])} [{_round(entry['low'])}, {_round(entry['high'])}]"


def _strip(entry: dict[str, Any], policies: list[str]) -> str:
    """Each policy's values on one axis: a dot per run, a bar for the 95 % interval, a tick
    at the mean."""
    values = [v for p in policies for v in entry[p]["values"]]
    if not values:
        return ""
    bounds = [entry[p][k] for p in policies for k in ("low", "high") if entry[p][k] is not None]
    lo, hi = min(values + bounds), max(values + bounds)  # the intervals fit on the axis too
    span = (hi - lo) or 1.0

    def x(v: float) -> float:
        return STRIP_PAD + (v - lo) / span * (STRIP_W - 2 * STRIP_PAD)

    parts = []
    for row, policy in enumerate(policies):
        y, colour, own = STRIP_ROW * row + STRIP_ROW / 2, COLORS[row % len(COLORS)], entry[policy]
        parts += [
            f'<circle cx="{x(v):.1f}" cy="{y:.1f}" r="3" fill="{colour}" fill-opacity="0.45"/>'
            for v in own["values"]
        ]
        if own["low"] is not None:
            parts.append(
                f'<line x1="{x(own["low"]):.1f}" x2="{x(own["high"]):.1f}" y1="{y + 7:.1f}" '
                f'y2="{y + 7:.1f}" stroke="{colour}" stroke-width="2"/>'
            )
        if own["mean"] is not None:
            parts.append(
                f'<line x1="{x(own["mean"]):.1f}" x2="{x(own["mean"]):.1f}" y1="{y - 8:.1f}" '
                f'y2="{y + 9:.1f}" stroke="{colour}" stroke-width="2"/>'
            )
    height = STRIP_ROW * len(policies)
    label = f"{show(round(lo, 3))} … {show(round(hi, 3))}"
    return (
        f'<svg width="{STRIP_W}" height="{height + 14}" role="img" aria-label="{label}">'
        + "".join(parts)
        + f'<text x="{STRIP_PAD}" y="{height + 12}" font-size="10">{show(round(lo, 3))}</text>'
        + f'<text x="{STRIP_W - STRIP_PAD}" y="{height + 12}" font-size="10" '
        f'text-anchor="end">{show(round(hi, 3))}</text></svg>'
    )


def _row(name: str, entry: dict[str, Any], policies: list[str]) -> str:
    zh, en = LABELS.get(name, (name, name))
    cells = "".join(f"<td>{_interval(entry[p])}</td>" for p in policies)
    if "difference" in entry:
        diff = entry["difference"]
        p_value = "–" if diff["p_value"] is None else f"{diff['p_value']:.3g}"
        cells += (
            f"<td>{_interval(diff['difference'])}</td>"
            f"<td>{diff['above']} / {diff['below']} / {diff['ties']}</td><td>{p_value}</td>"
        )
    return (
        f"<tr><th>{escape(zh)}<br><small>{escape(en)}</small></th>{cells}"
        f"<td>{_strip(entry, policies)}</td></tr>"
    )


def render_batch_html(scenario: str, batch: dict[str, Any]) -> str:
    """The page for `batch.summary(...)` of one scenario."""
    policies: list[str] = batch["policies"]
    head = "".join(
        f'<th style="color:{COLORS[k % len(COLORS)]}">{escape(p)}<br>'
        "<small>均值 [95%区间] mean [95% CI]</small></th>"
        for k, p in enumerate(policies)
    )
    if len(policies) == 2:
        head += (
            f"<th>差值 {escape(policies[1])} − {escape(policies[0])}<br>"
            "<small>逐种子配对 paired by seed</small></th>"
            "<th>高/低/平<br><small>above / below / tied</small></th>"
            "<th>符号检验 p<br><small>sign test p</small></th>"
        )
    rows = "".join(
        _row(name, entry, policies)
        for name, entry in batch["figures"].items()
        if any(entry[p]["n"] for p in policies)
    )
    held = "".join(
        f"<li><code>{escape(bound)}</code>: "
        + "，".join(f"{escape(p)} {counts[p]}/{batch['runs']}" for p in policies)
        + "</li>"
        for bound, counts in batch.get("bounds_held", {}).items()
    )
    bounds = (
        f"<section><h2>预期界限 <small>expect bounds: in how many runs each held</small></h2>"
        f"<ul>{held}</ul></section>"
        if held
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>多次回放比较 · Batch of replays: {escape(scenario)}</title>
<style>{CSS}</style></head>
<body>
<header><h1>多次回放比较 · Batch of seeded replays</h1>
<p>{escape(scenario)} · {batch["runs"]} 次配对运行 paired runs · 种子 seeds
{batch["seeds"][0] if batch["seeds"] else "–"}–{batch["seeds"][-1] if batch["seeds"] else "–"}</p>
</header>
<main><section><h2>指标分布 <small>figures over the runs</small></h2>
<table><tr><th>指标 figure</th>{head}<th>分布 <small>each run a dot</small></th></tr>
{rows}</table>
<p><small>同一种子下两种策略面对同一组随机抽取（事件时间、数量、封路、未到岗人员），差值逐种子计算。
Both policies face the same draws for a seed (event times, quantities, closures, people who
do not come); differences are taken seed by seed.</small></p>
</section>{bounds}</main>
</body></html>
"""
