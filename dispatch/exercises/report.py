"""The HTML report of a replay: one self-contained page (inline CSS, SVG and a few lines of
JS; no external resource of any kind, no tile server), Chinese first with English.

It shows the figures (and the `expect` bounds), the unmet requests with their reasons, a
timeline, and a map of the district drawn from the reference data: the boundary
(`boundary.geojson`), depots, communities and every delivery's route as a polyline.
"""

from __future__ import annotations

import csv
import json
import math
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any

from dispatch.exercises.replay import figure, shown_figures
from dispatch.settings import get_settings

WIDTH, HEIGHT, PAD = 760, 820, 16

# how each report figure (scenario.FIGURES) is named on the page: (zh-CN, English)
LABELS: dict[str, tuple[str, str]] = {
    "requests": ("请求数", "requests"),
    "requested_units": ("请求数量", "requested units"),
    "delivered_units": ("送达数量", "delivered units"),
    "fill_rate": ("满足率", "fill rate"),
    "fill_rate_by_priority.critical": ("满足率·紧急", "fill rate, critical"),
    "fill_rate_by_priority.high": ("满足率·高", "fill rate, high"),
    "fill_rate_by_priority.normal": ("满足率·一般", "fill rate, normal"),
    "unmet": ("未满足请求", "unmet requests"),
    "first_delivery_minutes": ("首次送达（分钟）", "first delivery (min)"),
    "delivery_minutes.p50": ("送达用时中位数", "delivery p50 (min)"),
    "delivery_minutes.p90": ("送达用时P90", "delivery p90 (min)"),
    "delivery_minutes.max": ("送达用时最大", "delivery max (min)"),
    "delivery_minutes.mean": ("每单位平均用时", "mean per unit (min)"),
    "deliveries": ("配送次数", "deliveries"),
    "vehicles_used": ("出车数", "vehicles used"),
    "trips": ("车次", "trips"),
    "vehicle_km": ("行驶里程（公里）", "vehicle km"),
    "utilisation": ("装载率", "utilisation (load per capacity)"),
    "waiting_minutes": ("等车分钟", "minutes loads waited for a vehicle"),
    "tasks": ("人员任务", "people tasks"),
    "tasks_staffed": ("已派人任务", "tasks staffed"),
    "people_hours": ("人员工时", "people-hours"),
    "plans": ("调度方案数", "plans computed"),
    "hotline.tickets": ("12345工单数", "12345 tickets"),
    "hotline.response_rate": ("响应率", "response rate"),
    "hotline.resolution_rate": ("解决率", "resolution rate"),
    "hotline.satisfaction_rate": ("满意率", "satisfaction rate"),
    "hotline.overdue_now": ("结束时超期工单", "tickets overdue at the end"),
    "wall_seconds": ("运行秒数", "wall seconds"),
    # only in a report whose scenario turns `preparedness` on
    "plans_activated": ("启动预案数", "plans activated"),
    "callouts.sent": ("召集通知数", "call-outs sent"),
    "callouts.acknowledged": ("确认到场", "acknowledged (coming)"),
    "callouts.declined": ("无法到场", "declined"),
    "callouts.no_answer": ("未应答", "no answer"),
    "callout_ack_minutes.p50": ("确认用时中位数（分钟）", "acknowledged p50 (min)"),
    "callout_ack_minutes.p90": ("确认用时P90（分钟）", "acknowledged p90 (min)"),
    "escalations": ("逐级升级呼叫数", "escalations"),
    "households_sheltered": ("安置户数", "households sheltered"),
    "people_sheltered": ("安置人数", "people sheltered"),
    "shelter_peak_occupancy.overall": ("安置点峰值人数", "shelters' peak occupancy"),
}
REASONS = {
    "no_stock": "无可用库存 · no stock",
    "unreachable": "道路不通 · unreachable",
    "held_by_reserve_floor": "受储备底线限制 · held by the reserve floor",
    "late": "无法按时送达 · late",
    "incident stood down": "事件已解除 · incident stood down",
    "still in transit when the scenario ended": "情景结束时仍在途 · still in transit at the end",
    "not planned before the scenario ended": "情景结束前未排入方案 · not planned before the end",
    "plan awaiting approval when the scenario ended": "方案待批准 · plan awaiting approval",
}
KINDS = {
    "scenario": "情景 · scenario",
    "stock": "初始库存 · world stock",
    "world": "初始世界 · world",
    "check_in": "人员到岗 · on duty",
    "check_out": "人员离岗 · off duty",
    "team": "共建单位队伍 · team on call",
    "incident": "宣布事件 · incident",
    "request": "物资请求 · request",
    "task": "人员任务 · task",
    "staffed": "已派人 · staffed",
    "unstaffed": "暂无人员 · not staffed",
    "task_done": "任务完成 · task done",
    "plan": "计算方案 · plan",
    "approve": "批准方案 · approved",
    "depart": "出发 · departs",
    "arrive": "送达 · delivered",
    "reroute": "改道 · rerouted",
    "failed": "配送失败 · failed",
    "fleet": "情景车辆 · the scenario's fleet",
    "run": "车辆出车 · vehicle run",
    "wait": "等待空闲车辆 · waits for a vehicle",
    "run_done": "末站送达 · last stop done",
    "vehicle_back": "车辆回到储备点 · vehicle back",
    "close_road": "封路 · road closed",
    "open_road": "道路恢复 · road open",
    "depot_out": "储备点停用 · depot out",
    "depot_back": "储备点恢复 · depot back",
    "receive": "物资入库 · stock received",
    "stand_down": "解除响应 · stand down",
    "refused": "被拒绝 · refused",
    "call": "12345来电 · hotline call",
    "ticket": "工单办理 · ticket step",
    "activated": "启动应急预案 · plan activated",
    "no_plan": "社区无对应预案 · no plan answers",
    "callout": "召集通知 · call-out sent",
    "callout_answer": "召集应答 · call-out answered",
    "intake": "安置登记 · sheltered",
    "unsheltered": "未能安置 · not sheltered",
}
COLORS = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700")


def _reference_dir() -> Path:
    return get_settings().reference_dir


@lru_cache(maxsize=1)
def _places() -> dict[str, Any]:
    folder = _reference_dir()
    with (folder / "depots.csv").open(encoding="utf-8") as f:
        depots = list(csv.DictReader(f))
    with (folder / "communities.csv").open(encoding="utf-8") as f:
        communities = list(csv.DictReader(f))
    boundary = json.loads((folder / "boundary.geojson").read_text(encoding="utf-8"))
    rings: list[list[list[float]]] = []
    for feature in boundary.get("features", []):
        geometry = feature["geometry"]
        polygons = (
            [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        )
        for polygon in polygons:
            rings.append(polygon[0])
    return {"depots": depots, "communities": communities, "rings": rings}


class _Projection:
    """Longitude/latitude to SVG pixels (equirectangular at the district's latitude)."""

    def __init__(self, rings: list[list[list[float]]]) -> None:
        lons = [p[0] for ring in rings for p in ring]
        lats = [p[1] for ring in rings for p in ring]
        self.west, self.east = min(lons), max(lons)
        self.south, self.north = min(lats), max(lats)
        self.k = math.cos(math.radians((self.south + self.north) / 2))
        span_x = (self.east - self.west) * self.k
        span_y = self.north - self.south
        self.scale = min((WIDTH - 2 * PAD) / span_x, (HEIGHT - 2 * PAD) / span_y)
        # the drawing's own size: Dongcheng is tall and narrow
        self.width = round(span_x * self.scale + 2 * PAD)
        self.height = round(span_y * self.scale + 2 * PAD)

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        x = PAD + (lon - self.west) * self.k * self.scale
        y = PAD + (self.north - lat) * self.scale
        return round(x, 1), round(y, 1)


def _points(project: _Projection, coordinates: list[list[float]]) -> str:
    return " ".join(f"{x},{y}" for x, y in (project(c[0], c[1]) for c in coordinates))


def show(value: Any) -> str:
    """A figure as the report and the CLI print it (`8`, `0.962`, `–` for none)."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _clock(report: dict[str, Any], minutes: float) -> str:
    from datetime import datetime, timedelta

    start = datetime.fromisoformat(report["start"])
    moment = start + timedelta(minutes=minutes)
    return f"{moment:%H:%M}" + (f" (+{int(minutes // 1440)}d)" if minutes >= 1440 else "")


def _map(reports: list[dict[str, Any]]) -> str:
    places = _places()
    project = _Projection(places["rings"])
    touched = {u["community"] for r in reports for u in r["unmet"]}
    served = {d["community"] for r in reports for d in r["routes"]}
    out_depots = {t["data"][0] for r in reports for t in r["timeline"] if t["kind"] == "depot_out"}
    parts = [
        f'<svg viewBox="0 0 {project.width} {project.height}" class="map" role="img" '
        'aria-label="东城区地图 · map of Dongcheng">'
    ]
    for ring in places["rings"]:
        parts.append(f'<polygon class="boundary" points="{_points(project, ring)}"/>')
    for c in places["communities"]:
        x, y = project(float(c["lon"]), float(c["lat"]))
        cls = "unmet" if c["code"] in touched else "served" if c["code"] in served else "comm"
        parts.append(
            f'<circle class="{cls}" cx="{x}" cy="{y}" r="{4 if cls != "comm" else 2.2}">'
            f"<title>{escape(c['name'])} {c['code']}</title></circle>"
        )
    for k, report in enumerate(reports):
        color = COLORS[k % len(COLORS)]
        for d in report["routes"]:
            if len(d["coordinates"]) < 2:
                continue
            dash = ' stroke-dasharray="5 3"' if d["rerouted"] else ""
            stroke = "#cf222e" if d["failed"] else color
            title = (
                f"#{d['number']} {d['quantity']} {d['item']} {d['depot']} → {d['community']}"
                + (" · 改道 rerouted" if d["rerouted"] else "")
                + (f" · 失败 {d['failed']}" if d["failed"] else "")
            )
            parts.append(
                f'<polyline class="route p{k}" points="{_points(project, d["coordinates"])}" '
                f'stroke="{stroke}"{dash}><title>{escape(title)}</title></polyline>'
            )
    for depot in places["depots"]:
        x, y = project(float(depot["lon"]), float(depot["lat"]))
        out = depot["code"] in out_depots
        size = 7 if depot["kind"] == "district_reserve" else 5
        parts.append(
            f'<rect class="depot{" out" if out else ""}" x="{x - size}" y="{y - size}" '
            f'width="{2 * size}" height="{2 * size}"><title>{escape(depot["name"])} '
            f"{depot['code']}{' · 停用 out' if out else ''}</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _describe(kind: str, data: list[Any]) -> str:
    def j(values: Any) -> str:
        return escape(json.dumps(values, ensure_ascii=False))

    if kind == "request" and len(data) >= 6:
        n, _, community, item, qty, priority = data[:6]
        return f"#{n} {escape(str(community))} {qty} × {escape(item)} ({escape(priority)})"
    if kind == "depart" and len(data) >= 7:
        n, _, depot, community, item, qty, eta = data[:7]
        where = f"{escape(depot)} → {escape(community)}"
        return f"#{n} {qty} × {escape(item)} {where}, 预计 ETA +{eta}m"
    if kind == "plan" and len(data) >= 4:
        lines, unmet = len(data[2]), len(data[3])
        return f"{escape(str(data[0]))} 方案 plan {data[1]}: {lines} 条 lines, {unmet} 未满足 unmet"
    return j(data)


def _timeline(report: dict[str, Any]) -> str:
    rows = []
    for entry in report["timeline"]:
        kind = entry["kind"]
        rows.append(
            f'<tr class="k-{escape(kind)}"><td>{_clock(report, entry["minutes"])}</td>'
            f"<td>{escape(KINDS.get(kind, kind))}</td>"
            f"<td>{_describe(kind, entry['data'])}</td></tr>"
        )
    return (
        '<table class="timeline"><thead><tr><th>时间 time</th><th>事项 what</th>'
        "<th>内容 detail</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _progress_chart(reports: list[dict[str, Any]]) -> str:
    """Delivered units over the scenario's time, one line per policy."""
    w, h, pad = 720, 180, 30
    duration = max(r["duration_minutes"] for r in reports) or 1.0
    top = max(max(r["requested_units"], 1) for r in reports)
    parts = [f'<svg viewBox="0 0 {w} {h}" class="chart">']
    parts.append(
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - 5}" y2="{h - pad}" class="axis"/>'
        f'<line x1="{pad}" y1="5" x2="{pad}" y2="{h - pad}" class="axis"/>'
        f'<text x="{pad}" y="{h - 8}">0</text><text x="{w - 60}" y="{h - 8}">'
        f"{show(round(duration / 60, 1))} h</text>"
        f'<text x="2" y="14">{top}</text>'
    )
    for k, report in enumerate(reports):
        total, points = 0, [(pad, h - pad)]
        for d in sorted(
            (d for d in report["routes"] if d["arrived_minutes"] is not None),
            key=lambda d: d["arrived_minutes"],
        ):
            x = pad + (w - pad - 5) * d["arrived_minutes"] / duration
            points.append((round(x, 1), points[-1][1]))
            total += d["delivered"] or 0
            points.append((round(x, 1), round(h - pad - (h - pad - 5) * total / top, 1)))
        points.append((w - 5, points[-1][1]))
        line = " ".join(f"{x},{y}" for x, y in points)
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="{COLORS[k % len(COLORS)]}" '
            'stroke-width="2"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _figures(reports: list[dict[str, Any]]) -> str:
    head = "".join(
        f'<th style="color:{COLORS[k % len(COLORS)]}">{escape(r["policy"])}</th>'
        for k, r in enumerate(reports)
    )
    rows = []
    for name in shown_figures(reports):
        zh, en = LABELS[name]
        cells = "".join(f"<td>{show(figure(r, name))}</td>" for r in reports)
        rows.append(f"<tr><th>{zh} <small>{en}</small></th>{cells}</tr>")
    cells = "".join(f"<td><code>{r['history_sha256'][:16]}…</code></td>" for r in reports)
    rows.append(f"<tr><th>历史哈希 <small>history_sha256</small></th>{cells}</tr>")
    return (
        f'<table class="figures"><thead><tr><th></th>{head}</tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
    )


def _expect(reports: list[dict[str, Any]]) -> str:
    rows = []
    for r in reports:
        for b in r.get("expect", []):
            mark = "✔ 达到 met" if b["ok"] else "✘ 未达到 failed"
            rows.append(
                f'<tr class="{"ok" if b["ok"] else "bad"}"><td>{escape(r["policy"])}</td>'
                f"<td><code>{escape(b['bound'])}</code></td><td>{show(b['actual'])}</td>"
                f"<td>{mark}</td></tr>"
            )
    if not rows:
        return "<p>无 · none</p>"
    return (
        '<table class="expect"><thead><tr><th>策略 policy</th><th>界限 bound</th>'
        "<th>实际 actual</th><th>结果 result</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _unmet(reports: list[dict[str, Any]]) -> str:
    rows = []
    for r in reports:
        for u in r["unmet"]:
            rows.append(
                f"<tr><td>{escape(r['policy'])}</td><td>#{u['request']}</td>"
                f"<td>{escape(u['community_name'])} <small>{u['community']}</small></td>"
                f"<td>{escape(u['item'])}</td><td>{escape(u['priority'])}</td>"
                f"<td>{u['quantity']}</td>"
                f"<td>{escape(REASONS.get(u['reason'], u['reason']))}</td></tr>"
            )
    if not rows:
        return "<p>全部满足 · every request was met</p>"
    return (
        '<table class="unmet"><thead><tr><th>策略 policy</th><th>请求 request</th>'
        "<th>社区 community</th><th>物资 item</th><th>优先级 priority</th>"
        "<th>未满足 short</th><th>原因 reason</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _rate(value: Any) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _hotline(reports: list[dict[str, Any]]) -> str:
    """The calls' figures per street (响应率、解决率、满意率), for each policy."""
    rows = []
    for r in reports:
        hotline = r.get("hotline") or {}
        for s in hotline.get("streets", []):
            rows.append(
                f"<tr><td>{escape(r['policy'])}</td><td>{escape(s['name'])}</td>"
                f"<td>{s['tickets']}</td><td>{_rate(s['response_rate'])}</td>"
                f"<td>{_rate(s['resolution_rate'])}</td><td>{_rate(s['satisfaction_rate'])}</td>"
                f"<td>{s['overdue_now']}</td></tr>"
            )
    if not rows:
        return "<p>无来电 · no calls</p>"
    return (
        '<table class="hotline"><thead><tr><th>策略 policy</th><th>街道 street</th>'
        "<th>工单 tickets</th><th>响应率 response</th><th>解决率 resolution</th>"
        "<th>满意率 satisfaction</th><th>超期 overdue</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _plans(reports: list[dict[str, Any]]) -> str:
    """Community plans (only in reports whose scenario runs them): call-outs by how they
    stood at the end, and each shelter's peak occupancy, for each policy."""
    names = {c["code"]: c["name"] for c in _places()["communities"]}
    rows = []
    for r in reports:
        callouts = r["callouts"]
        peaks = r["shelter_peak_occupancy"]
        shelters = "、".join(
            f"{escape(name)} {people}" for name, people in peaks["shelters"].items()
        )
        missing = "、".join(escape(names.get(c, c)) for c in r.get("communities_without_plan", []))
        rows.append(
            f"<tr><td>{escape(r['policy'])}</td><td>{r['plans_activated']}</td>"
            f"<td>{callouts['sent']}</td><td>{callouts['acknowledged']}</td>"
            f"<td>{callouts['declined']}</td><td>{callouts['no_answer']}</td>"
            f"<td>{shelters or '–'}</td><td>{peaks['overall']}</td><td>{missing or '–'}</td></tr>"
        )
    return (
        '<table class="plans"><thead><tr><th>策略 policy</th><th>启动预案 plans</th>'
        "<th>召集 sent</th><th>确认 acknowledged</th><th>无法到场 declined</th>"
        "<th>未应答 no answer</th><th>各安置点峰值 peak per shelter</th>"
        "<th>合计峰值 overall peak</th><th>无预案社区 no plan</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


CSS = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:0;
color:#1f2328;background:#f6f8fa}
header{background:#0d1117;color:#fff;padding:14px 22px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c9d1d9;font-size:13px}
main{display:grid;grid-template-columns:minmax(340px,1fr) minmax(300px,480px);gap:18px;
padding:18px}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;
margin-bottom:16px}
h2{font-size:16px;margin:0 0 8px}small{color:#656d76;font-weight:normal}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #eaeef2;padding:3px 6px;text-align:left;vertical-align:top}
.figures td{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td{color:#cf222e}tr.ok td{color:#1a7f37}
.timeline{font-size:12px}.timeline td:first-child{white-space:nowrap;color:#656d76}
.timeline-box{max-height:520px;overflow:auto}
tr.k-refused td,tr.k-failed td{color:#cf222e}tr.k-arrive td{color:#1a7f37}
.map{width:100%;max-height:860px;height:auto;background:#fbfdff}
.boundary{fill:#eef4fb;stroke:#57606a;stroke-width:1.5}
.comm{fill:#8c959f}.served{fill:#1a7f37}.unmet{fill:#cf222e}
.route{fill:none;stroke-width:2.2;opacity:.8}
.depot{fill:#fff;stroke:#0969da;stroke-width:2}.depot.out{fill:#cf222e;stroke:#82071e}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.chart{width:100%;height:auto}.chart text{font-size:11px;fill:#656d76}
.axis{stroke:#8c959f}
button{font:inherit;font-size:12px;margin-right:6px}
"""

JS = """
document.querySelectorAll('button[data-policy]').forEach(function(b){
  b.addEventListener('click',function(){
    var k=b.getAttribute('data-policy');
    document.querySelectorAll('.route').forEach(function(r){
      r.style.display=(k==='all'||r.classList.contains('p'+k))?'':'none';});
  });
});
"""


def render_html(reports: list[dict[str, Any]]) -> str:
    """The page for one report, or several (the same scenario under different policies)."""
    first = reports[0]
    buttons = "".join(
        f'<button data-policy="{k}" style="color:{COLORS[k % len(COLORS)]}">'
        f"{escape(r['policy'])}</button>"
        for k, r in enumerate(reports)
    )
    if len(reports) > 1:
        buttons += '<button data-policy="all">全部 all</button>'
    plans = ""
    if all("callouts" in r for r in reports):
        plans = (
            "<section><h2>社区应急预案 <small>community plans: call-outs and shelters</small>"
            f"</h2>{_plans(reports)}</section>\n"
        )
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>情景回放报告 · Replay report: {escape(first["scenario"])}</title>
<style>{CSS}</style></head>
<body>
<header><h1>情景回放报告 · Replay report</h1>
<p>{escape(first["scenario"])} · 文件 file {escape(first.get("file", ""))} · 种子 seed
{first["seed"]} · 开始 start {escape(first["start"])} · 时长 duration
{show(round(first["duration_minutes"] / 60, 2))} h</p></header>
<main>
<div>
<section><h2>指标 <small>figures</small></h2>{_figures(reports)}</section>
<section><h2>预期界限 <small>expect bounds</small></h2>{_expect(reports)}</section>
<section><h2>未满足的请求及原因 <small>unmet requests and why</small></h2>
{_unmet(reports)}</section>
<section><h2>12345 接诉即办 <small>hotline calls per street (rates at the end)</small></h2>
{_hotline(reports)}</section>
{plans}<section><h2>累计送达 <small>delivered units over time</small></h2>
{_progress_chart(reports)}</section>
<section><h2>时间线 <small>timeline ({escape(first["policy"])})</small></h2>
<div class="timeline-box">{_timeline(first)}</div></section>
<section><h2>说明 <small>about</small></h2><p>{escape(first.get("description", ""))}</p></section>
</div>
<div>
<section><h2>东城区地图 <small>map of the district: boundary, depots, communities,
routes taken</small></h2>
<div class="legend"><span>□ 储备点 depot</span><span style="color:#cf222e">■ 停用 out</span>
<span style="color:#1a7f37">● 已送达社区 served</span>
<span style="color:#cf222e">● 有未满足 unmet</span><span>- - 改道 rerouted</span></div>
<div>{buttons}</div>
{_map(reports)}
<p><small>道路为合成路网 · the road network is synthetic (see geo/README.md)</small></p>
</section>
</div>
</main>
<script>{JS}</script>
</body></html>
"""
