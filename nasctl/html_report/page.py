"""Lay the view model out as one self-contained HTML page: inline CSS, inline JS, images as data URIs.

The static parts (header, best trials, proxy-task stages) are rendered here; the charts and the trials
table are drawn in the browser from the embedded JSON, which keeps 2,000 trials well under 2 MB.
"""
from __future__ import annotations

import json
from functools import lru_cache
from html import escape
from importlib import resources
from typing import Any


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return resources.files("nasctl.html_report").joinpath("assets", name).read_text(encoding="utf-8")


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _facts(pairs: dict[str, Any]) -> str:
    rows = "".join(f"<dt>{escape(str(k))}</dt><dd>{escape(_value(v))}</dd>" for k, v in pairs.items())
    return f'<dl class="facts">{rows}</dl>'


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def _header(model: dict[str, Any]) -> str:
    cost = model["cost"]
    observed = model["observedGeneration"]
    generation = escape(model["generation"])
    if observed == model["generation"]:
        generations = f"{generation} (observed)"
    else:
        seen = "never applied" if observed is None else f"apply last observed {escape(observed)}"
        generations = f'{generation} <span class="stale">{seen}: apply has not run this spec yet</span>'
    spend = "local backend: no charge"
    if cost["priceCatalog"]:
        spend = (f"{_money(cost['spentUsd'])} so far, {_money(cost['projectedUsd'])} projected "
                 f"({escape(cost['priceCatalog'])})")
    statuses = ", ".join(f'<a href="#trials" data-status="{escape(s)}">{n} {escape(s)}</a>'
                         for s, n in sorted(model["statuses"].items())) or "none yet"
    conditions = "".join(f"<li><b>{escape(c['type'])}</b> {escape(c['status'])}: {escape(c['reason'])}"
                         f"{' – ' + escape(c['message']) if c['message'] else ''}</li>" for c in model["conditions"])
    return (f'<header><h1>{escape(model["name"])} <span class="phase phase-{escape(model["phase"])}">'
            f'{escape(model["phase"])}</span></h1><div class="muted">generated {escape(model["generatedAt"])}</div>'
            f'<dl class="facts"><dt>generation</dt><dd>{generations}</dd><dt>trials</dt><dd>{statuses}</dd>'
            f'<dt>spend</dt><dd>{spend}</dd></dl>'
            f'{"<ul class=conditions>" + conditions + "</ul>" if conditions else ""}</header>')


def _scatter_section(model: dict[str, Any]) -> str:
    body = ('<div id="scatter-chart" class="charts"></div>' if model["scatter"]
            else '<p class="muted">The reward has no latency or memory term: no trade-off to show.</p>')
    return f'<section id="tradeoff"><h2>Accuracy vs cost, Pareto front</h2>{body}</section>'


def _card(best: dict[str, Any]) -> str:
    metrics = " · ".join(f"{k} {_value(v)}" for k, v in best["metrics"].items())
    lines = "".join(f"<li>{escape(line)}</li>" for line in best["lines"])
    return (f'<div class="card"><b>{escape(best["id"])}</b> <span class="muted">{escape(best["stage"])}</span> · '
            f'reward {escape(_value(best["reward"]))}<div class="muted">{escape(metrics)}</div><ol>{lines}</ol></div>')


def _best_section(model: dict[str, Any]) -> str:
    cards = "".join(_card(b) for b in model["best"]) or "<p class=muted>No succeeded trial yet.</p>"
    return f'<section id="best"><h2>Best trials</h2><div class="best">{cards}</div></section>'


def _table(name: str, rows: dict[str, dict[str, Any]]) -> str:
    columns = sorted({key for row in rows.values() for key in row})
    head = "".join(f"<th>{escape(c)}</th>" for c in [name, *columns])
    body = "".join(f"<tr><td>{escape(key)}</td>" + "".join(f"<td>{escape(_value(row.get(c)))}</td>" for c in columns)
                   + "</tr>" for key, row in rows.items())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _stages_section(model: dict[str, Any]) -> str:
    if not model["stages"]:
        return ""
    parts = []
    for stage in model["stages"]:
        images = "".join(f'<figure><img alt="{escape(i["name"])}" src="{i["src"]}"><figcaption>{escape(i["name"])}'
                         f"</figcaption></figure>" for i in stage["images"])
        tables = "".join(_table(name, rows) for name, rows in stage["tables"].items())
        phase = escape(stage["phase"] or "")
        phase = f' <span class="phase phase-{phase}">{phase}</span>' if phase else ""
        parts.append(f'<div class="stage" data-stage="{escape(stage["name"])}"><h3>{escape(stage["name"])}{phase}: '
                     f'<span class="verdict">{escape(stage["verdict"])}</span></h3>'
                     f'{_facts(stage["facts"])}{tables}{images}</div>')
    return f'<section id="proxy-task"><h2>Proxy-task design</h2>{"".join(parts)}</section>'


def _trials_section() -> str:
    return ('<section id="trials"><h2>Trials</h2><div class="controls">'
            '<input id="trial-filter" type="search" placeholder="filter: id, architecture, reason…">'
            '<label>status <select id="trial-status"><option value="">all</option></select></label>'
            '<span id="trial-count" class="muted"></span></div><div class="table-wrap">'
            '<table id="trials-table"><thead><tr></tr></thead><tbody></tbody></table></div></section>')


def _embedded_json(data: Any) -> str:
    """JSON safe inside <script>: no "</" can close the element early."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def render_page(model: dict[str, Any], refresh_seconds: float | None = None) -> str:
    """The whole page; with `refresh_seconds` the browser reloads it (for `--watch`)."""
    refresh = f'<meta http-equiv="refresh" content="{refresh_seconds:g}">' if refresh_seconds else ""
    data = {key: model[key] for key in ("trials", "curves", "scatter")}
    curves = ('<div id="curve-charts" class="charts"></div>' if model["curves"]
              else '<p class="muted">No trial has a reward yet.</p>')
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">{refresh}'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>nasctl · {escape(model["name"])}</title><style>{_asset("report.css")}</style></head><body>'
            f'{_header(model)}<section id="search-curves"><h2>Search curves</h2>{curves}</section>'
            f'{_scatter_section(model)}{_best_section(model)}{_stages_section(model)}{_trials_section()}'
            f'<div id="tooltip"></div><script type="application/json" id="report-data">{_embedded_json(data)}</script>'
            f'<script>{_asset("report.js")}</script></body></html>')
