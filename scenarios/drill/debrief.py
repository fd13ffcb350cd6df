"""The debrief: what happened, what the trainee did and what it was worth, kept in a run directory.

A drill writes ``RUN/`` with ``drill.json`` (seed, speed, the recorded actions, the score and the
journal hash), ``scenario.toml`` (the scenario as run), ``journal.jsonl`` (the full journal),
``debrief.json`` and ``debrief.html`` (the price chart with faults, pages and actions marked, and
the three timelines side by side).  ``marketdrill debrief RUN`` reprints it; ``--verify`` replays
the recorded actions on the virtual clock and checks the journal hash and the score are the same.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from scenarios.drill.actions import Action
from scenarios.drill.live import Drill, replay_drill
from scenarios.spec import ScenarioError, parse_scenario
from sim.clock import NS_PER_S

FORMAT = "marketdrill-drill/1"


class DebriefError(ValueError):
    """A run directory that cannot be read: names the file and what is wrong."""


def debrief_data(drill: Drill) -> dict[str, Any]:
    """The debrief as JSON: scenario, score, and the faults, pages and actions in time order."""
    record, run = drill.record, drill.run_
    assert record is not None and run is not None
    start = run.start_ns
    faults = [{"t": (e.time_ns - start) / NS_PER_S, "text": e.text} for e in record.timeline
              if e.kind in ("inject", "change", "venue", "refused")]
    pages = [{"id": page_id, "t": (n.time_ns - start) / NS_PER_S, "name": a.name, "symptom": a.symptom,
              "causes": list(a.causes), "acked_by": drill.acks.get(page_id, (None, 0))[0],
              "acked_t": drill.acks[page_id][1] / NS_PER_S if page_id in drill.acks else None}
             for page_id, n in drill.pages() for a in (n.firing[0] if n.firing else n.alerts[0],)]
    actions = [{"t": (a.t_ns or 0) / NS_PER_S, "who": a.trainee, "text": a.describe(), "ok": a.ok,
                "result": a.result} for a in drill.actions]
    history = {symbol: [[ts / NS_PER_S, f, last] for ts, f, last in points] for symbol, points in drill.history.items()}
    return {"format": FORMAT, "scenario": drill.scenario.name, "summary": drill.scenario.summary, "seed": drill.seed,
            "length_s": (record.end_ns - start) / NS_PER_S, "journal_hash": record.journal_hash,
            "score": drill.score, "faults": faults, "pages": pages, "actions": actions, "history": history}


def write_run(drill: Drill, directory: str | Path) -> Path:
    """Write the run directory (see the module docstring); returns it."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    record = drill.record
    assert record is not None and record.journal is not None
    (out / "scenario.toml").write_text(drill.scenario.text, encoding="utf-8")
    record.journal.write(out / "journal.jsonl")
    meta = {"format": FORMAT, "scenario": drill.scenario.name, "source": drill.scenario.source, "seed": drill.seed,
            "speed": drill.speed, "latency_ns": drill.latency_ns, "journal_hash": record.journal_hash,
            "actions": [a.to_payload() for a in drill.actions], "score": drill.score}
    (out / "drill.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    data = debrief_data(drill)
    (out / "debrief.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (out / "debrief.html").write_text(render_html(data), encoding="utf-8")
    return out


def load_run(directory: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read ``drill.json`` and ``debrief.json`` of a run directory (DebriefError says what is missing)."""
    folder = Path(directory)
    if not folder.is_dir():
        raise DebriefError(f"{folder}: not a drill run directory (marketdrill drill writes one with --out)")
    out = []
    for name in ("drill.json", "debrief.json"):
        path = folder / name
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DebriefError(f"{path}: missing; is {folder} a drill run directory?") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise DebriefError(f"{path}: cannot read it: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DebriefError(f"{path}: not a {FORMAT} file")
        out.append(data)
    return out[0], out[1]


def verify_run(directory: str | Path) -> tuple[bool, str]:
    """Replay a run's recorded actions; (same hash and score?, a sentence)."""
    meta, _ = load_run(directory)
    folder = Path(directory)
    try:
        scenario = parse_scenario((folder / "scenario.toml").read_text(encoding="utf-8"),
                                  source=str(folder / "scenario.toml"))
    except (OSError, ScenarioError) as exc:
        raise DebriefError(str(exc)) from None
    actions = [Action.from_payload(a) for a in meta["actions"]]
    replayed = replay_drill(scenario, int(meta["seed"]), actions)
    assert replayed.record is not None
    same_hash = replayed.record.journal_hash == meta["journal_hash"]
    same_score = json.loads(json.dumps(replayed.score)) == meta["score"]
    if same_hash and same_score:
        return True, f"replayed {len(actions)} action(s): same journal hash {meta['journal_hash'][:16]} and same score"
    what = [w for w, same in (("journal hash", same_hash), ("score", same_score)) if not same]
    return False, f"replay differs in the {' and '.join(what)} (recorded {meta['journal_hash'][:16]}, " \
                  f"replayed {replayed.record.journal_hash[:16]})"


def format_text(data: dict[str, Any]) -> str:
    """The debrief for a terminal."""
    score = data.get("score") or {}
    lines = [f"Drill debrief: {data['scenario']} (seed {data['seed']}, {data['length_s']:.0f} s simulated)",
             f"  {data.get('summary', '')}", "", f"Verdict: {score.get('verdict', 'no score')}"]
    if score:
        lines += [
            f"  time to acknowledge:  {_secs(score.get('time_to_ack_s'))}",
            f"  time to mitigation:   {_secs(score.get('time_to_mitigation_s'))}"
            + (f"  ({score['mitigation']})" if score.get("mitigation") else ""),
            f"  damage:               P&L {score['damage']['pnl']:+,.2f}, max position {score['damage']['max_position']:,}, "
            f"{score['damage']['orders_sent']:,} orders at the venue",
            f"  nobody acting:        P&L {score['counterfactual']['pnl']:+,.2f}, max position "
            f"{score['counterfactual']['max_position']:,}, {score['counterfactual']['orders_sent']:,} orders",
            f"  harmful actions:      {', '.join(score['harmful_actions']) or 'none'}",
            f"  hints used:           {score['hints_used']}",
        ]
    lines += ["", "Timeline (F = fault/market, P = page, A = action):"]
    for t, tag, text in _merged(data):
        lines.append(f"  T+{t:7.1f}s  {tag}  {text}")
    lines.append(f"\njournal hash {data['journal_hash']}")
    return "\n".join(lines)


def _merged(data: dict[str, Any]) -> list[tuple[float, str, str]]:
    rows = [(f["t"], "F", f["text"]) for f in data["faults"]]
    rows += [(p["t"], "P", f"{p['name']}: {p['symptom']}" + (f" (acked by {p['acked_by']} at T+{p['acked_t']:.1f}s)"
                                                             if p.get("acked_by") else " (never acknowledged)"))
             for p in data["pages"]]
    rows += [(a["t"], "A", f"{a['text']} -> {'ok' if a['ok'] else 'refused'}: {a['result']}") for a in data["actions"]]
    return sorted(rows, key=lambda r: (r[0], "FPA".index(r[1])))


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def render_html(data: dict[str, Any]) -> str:
    """A self-contained HTML page: score card, price chart with markers, timelines side by side."""
    e = html.escape
    score = data.get("score") or {}
    chart = "".join(_chart(symbol, points, data) for symbol, points in data["history"].items())
    rows = []
    for t, tag, text in _merged(data):
        cells = ["", "", ""]
        cells["FPA".index(tag)] = e(text)
        rows.append(f"<tr><td class=t>T+{t:.1f}s</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    card = ""
    if score:
        card = (f"<div class=card><h2>{e(score.get('verdict', ''))}</h2><table>"
                f"<tr><th>Time to acknowledge</th><td>{_secs(score.get('time_to_ack_s'))}</td></tr>"
                f"<tr><th>Time to mitigation</th><td>{_secs(score.get('time_to_mitigation_s'))} "
                f"{e(score.get('mitigation') or '')}</td></tr>"
                f"<tr><th>Damage (this drill)</th><td>P&amp;L {score['damage']['pnl']:+,.2f}, max position "
                f"{score['damage']['max_position']:,}, {score['damage']['orders_sent']:,} orders</td></tr>"
                f"<tr><th>Nobody acting</th><td>P&amp;L {score['counterfactual']['pnl']:+,.2f}, max position "
                f"{score['counterfactual']['max_position']:,}, {score['counterfactual']['orders_sent']:,} orders</td></tr>"
                f"<tr><th>Damage avoided</th><td>P&amp;L {score['damage_avoided']['pnl']:+,.2f}, "
                f"{score['damage_avoided']['orders']:+,} orders</td></tr>"
                f"<tr><th>Harmful actions</th><td>{e(', '.join(score['harmful_actions']) or 'none')}</td></tr>"
                f"<tr><th>Hints used</th><td>{score['hints_used']}</td></tr></table></div>")
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>Debrief: {e(data['scenario'])}</title>
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#f7f8fa}}
h1{{font-size:20px;margin:0 0 4px}} .sub{{color:#5b6475;margin-bottom:16px}}
.card{{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:12px 16px;margin-bottom:16px}}
.card h2{{font-size:16px;margin:0 0 8px}} .card th{{text-align:left;padding-right:16px;color:#5b6475;font-weight:500}}
table.tl{{border-collapse:collapse;width:100%;background:#fff}} table.tl td,table.tl th{{border:1px solid #dde1e8;
padding:4px 6px;vertical-align:top}} table.tl th{{background:#eef1f5}} td.t{{white-space:nowrap;color:#5b6475}}
svg{{background:#fff;border:1px solid #dde1e8;border-radius:8px;margin-bottom:16px}}
.legend span{{margin-right:14px}}
</style></head><body>
<h1>Debrief: {e(data['scenario'])}</h1>
<div class=sub>{e(data.get('summary', ''))} &middot; seed {data['seed']} &middot; {data['length_s']:.0f} s simulated
&middot; journal {e(data['journal_hash'][:16])}</div>
{card}
<div class=legend><span style="color:#2a6fdb">&#9632; fundamental</span><span style="color:#e07a10">&#9632; last trade</span>
<span style="color:#7a3db8">| fault</span><span style="color:#d0312d">| page</span><span style="color:#1a8a4a">| action</span></div>
{chart}
<table class=tl><tr><th>time</th><th>faults and market</th><th>pages</th><th>trainee actions</th></tr>
{''.join(rows)}</table>
</body></html>
"""


def _chart(symbol: str, points: list[list[Any]], data: dict[str, Any]) -> str:
    """An inline SVG price chart: fundamental and last trade, with faults, pages and actions marked."""
    width, height, pad = 960, 260, 40
    values = [v for p in points for v in p[1:] if v is not None]
    if len(points) < 2 or not values:
        return ""
    t_max = max(data["length_s"], points[-1][0]) or 1.0
    low, high = min(values), max(values)
    span = (high - low) or 1.0

    def x(t: float) -> float:
        return pad + (width - 2 * pad) * t / t_max

    def y(v: float) -> float:
        return height - pad - (height - 2 * pad) * (v - low) / span

    def line(index: int, colour: str) -> str:
        coords = " ".join(f"{x(p[0]):.1f},{y(p[index]):.1f}" for p in points if p[index] is not None)
        return f'<polyline fill=none stroke="{colour}" stroke-width=1.5 points="{coords}"/>'

    marks = []
    for items, colour in ((data["faults"], "#7a3db8"), (data["pages"], "#d0312d"), (data["actions"], "#1a8a4a")):
        for item in items:
            marks.append(f'<line x1="{x(item["t"]):.1f}" x2="{x(item["t"]):.1f}" y1="{pad}" y2="{height - pad}" '
                         f'stroke="{colour}" stroke-dasharray="3,3"><title>T+{item["t"]:.1f}s</title></line>')
    return (f'<svg width="{width}" height="{height}" role=img aria-label="{html.escape(symbol)} price">'
            f'<text x="{pad}" y="20" font-size="13">{html.escape(symbol)}: {low:,.2f} to {high:,.2f}</text>'
            f'<text x="{pad}" y="{height - 12}" font-size="11" fill="#5b6475">T+0s</text>'
            f'<text x="{width - pad - 40}" y="{height - 12}" font-size="11" fill="#5b6475">T+{t_max:.0f}s</text>'
            + "".join(marks) + line(1, "#2a6fdb") + line(2, "#e07a10") + "</svg>")
