"""Assemble the report: compute each figure's data, draw it, write PNGs and one HTML file.

The HTML embeds every figure as a base64 PNG and has no script and no external resource,
so it opens anywhere (mail attachment, air-gapped cluster). Every value that comes from the
run (class names, grouping names, parameters, failure reasons) is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner._io import write_atomic
from tuner._run import REPORT_DIR, Run, load_run
from tuner.leaderboard import TrialRow, config_scores
from tuner.report import _compute, _draw, _figures

__all__ = ["FIGURES", "Figure", "ReportResult", "build_report"]


@dataclass(frozen=True)
class Figure:
    """One section of the report: a title, what it shows, and how to get and draw its data."""

    key: str
    title: str
    caption: str
    info: Callable[[Run], Any]
    draw: Callable[[Any], bytes]


FIGURES: tuple[Figure, ...] = (
    Figure(
        "unfrozen_blocks",
        "Accuracy against unfrozen blocks",
        "Validation accuracy (own labels) against how many pretrained blocks were unfrozen, one line per architecture "
        "and grouping: the best trial at each block count, every trial as a faint dot. The study ran one training per "
        "point of this figure by hand.",
        lambda run: _figures.get_blocks_info(run),
        _draw.draw_blocks,
    ),
    Figure(
        "learning_rate",
        "Learning rate against the objective",
        "Every scored trial; the learning rate on a log axis, coloured by optimizer.",
        _figures.get_lr_info,
        _draw.draw_lr,
    ),
    Figure(
        "learning_curves",
        "Learning curves",
        "The objective metric per epoch for every trial. A cross marks the last epoch of a trial ASHA stopped early "
        "because it trailed the others at the same epoch.",
        _figures.get_curves_info,
        _draw.draw_curves,
    ),
    Figure(
        "importances",
        "Parameter importances",
        "Optuna's fANOVA importance of each sampled parameter for the objective, over the finished trials "
        "(completed or stopped early). Importances sum to 1; they say what mattered in this search, not in general.",
        _figures.get_importance_info,
        _draw.draw_importance,
    ),
    Figure(
        "confusion",
        "Confusion matrix of the best trial",
        "Rows are true labels, columns predictions, each row normalised. Labels are reordered by clustering their "
        "mutual confusion, so classes the model cannot tell apart form blocks on the diagonal; "
        "<code>python -m tuner.groupings suggest</code> turns those blocks into a grouping.",
        _figures.get_confusion_info,
        _draw.draw_confusion,
    ),
    Figure(
        "groupings",
        "Accuracy against number of classes",
        "For each grouping searched, its best trial's accuracy on the common label space (comparable across "
        "groupings) and on its own labels (which merging classes raises by itself).",
        _figures.get_groupings_info,
        _draw.draw_groupings,
    ),
    Figure(
        "compute",
        "Compute spent, and what a hand-run sweep would cost",
        "Trial-epochs and device-hours this run spent in all and until it found its best, against a "
        "one-factor-at-a-time sweep of the same space at the full epoch budget, the way the study tuned by hand.",
        _compute.get_compute_info,
        _draw.draw_compute,
    ),
)


@dataclass
class ReportResult:
    """Where the report went and what it holds."""

    html: Path
    pngs: dict[str, Path] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.2e}"
        return f"{value:.4g}"
    try:
        import pandas as pd

        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def _table(df: Any) -> str:
    if df.empty:
        return "<p class='note'>The leaderboard has no trials.</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for _, row in df.iterrows():
        cls = html.escape(str(row.get("status", "")))
        cells = "".join(f"<td>{html.escape(_fmt(row[c]))}</td>" for c in df.columns)
        body.append(f"<tr class='{cls}'>{cells}</tr>")
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"


def _compute_text(info: _compute.ComputeInfo) -> str:
    if info.note:
        return ""
    unit = "GPU-hours" if info.gpu else "CPU trial-hours"
    parts = [
        f"This run spent {info.trial_epochs:,} trial-epochs in all"
        + (f" ({info.probe_trial_epochs:,} of them in the probe stage)" if info.probe_trial_epochs else "")
        + f", {info.device_hours:.3g} {unit} (each trial's set-up plus training time)."
    ]
    if info.best_trial is not None and info.epochs_to_best is not None:
        parts.append(
            f"It had found its best (trial {info.best_trial}, {info.best_value:.4f}) after {info.epochs_to_best:,} trial-epochs, "
            f"about {info.hours_to_best:.3g} {unit}: every epoch of any trial that ended no later than that trial's best epoch."
        )
    if info.grid_run:
        parts.append("This run is the space's exhaustive grid, so the figures above are the grid's own cost.")
    else:
        cont = f", continuous ones ({', '.join(info.continuous)}) at {info.continuous_levels} values each" if info.continuous else ""
        parts.append(
            f"What a person would otherwise run, the study's way: a one-factor-at-a-time sweep of this space, one full "
            f"training per value of each varying parameter and architecture{cont}: {info.sweep_runs:,} trainings, "
            f"{info.sweep_trial_epochs:,} trial-epochs, about {info.sweep_device_hours:.3g} {unit} at this run's measured speed. "
            f"How good that sweep's best would be is not known from this run."
        )
    return html.escape(" ".join(parts))


def _summary(run: Run) -> str:
    df = run.df
    counts = df.groupby(["stage", "status"]).size() if not df.empty else {}
    parts = [f"{n} {stage} {status.replace('_', ' ')}" for (stage, status), n in (counts.items() if len(df) else [])]
    best = run.best_row()
    meta = run.meta
    lines = [
        ("run", meta.name or run.path.name),
        ("dataset", f"{meta.dataset.root or '?'} ({len(run.class_names)} classes)"),
        ("space", meta.space.get("name", "?")),
        ("objective", f"{run.metric} ({run.mode})"),
        ("trials", ", ".join(parts) if parts else "none"),
        ("started / ended", f"{meta.started or '?'} / {meta.ended or 'not finished'}"),
    ]
    if best is not None:
        lines.append(
            (
                "best trial",
                f"{best.trial_id}: {best.architecture}, {run.metric} {best.objective:.4f}"
                + (f", grouping {best.param('grouping')}" if isinstance(best.param("grouping"), str) else "")
                + _trained_again(run, best),
            )
        )
    elif len(df):
        lines.append(("best trial", "none: every trial failed or none was scored; see the failure reasons below"))
    cells = [(k, html.escape(str(v))) for k, v in lines] + _tool_links(run, None if best is None else str(best.trial_id))
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in cells)
    return f"<table class='summary'>{rows}</table>"


def _trained_again(run: Run, best: TrialRow) -> str:
    """What the best trial's configuration scored over its trainings, if it had several."""
    score, trainings = config_scores(run.rows, mode=run.mode).get(best.trial_id, (0.0, 1))
    return f" (its configuration trained {trainings} times, with another seed each: mean {score:.4f})" if trainings > 1 else ""


def _tool_links(run: Run, best: str | None) -> list[tuple[str, str]]:
    """Where else the run can be looked at: its Optuna study, its MLflow runs (HTML cells)."""
    import json

    from tuner._run import MLFLOW_FILE, OPTUNA_DB

    out = []
    if (run.path / OPTUNA_DB).is_file():
        out.append(("Optuna study", f"<code>optuna-dashboard sqlite:///{html.escape(str(run.path / OPTUNA_DB))}</code>"))
    try:
        tracked = json.loads((run.path / MLFLOW_FILE).read_text())
    except (OSError, ValueError):
        return out
    uri, exp = str(tracked.get("uri", "")), str(tracked.get("experiment_id", ""))
    text = f"experiment {html.escape(str(tracked.get('experiment', '')))} (id {html.escape(exp)}) at {html.escape(uri)}"
    run_id = (tracked.get("runs") or {}).get(best) if best else None
    if uri.startswith(("http://", "https://")):
        base = uri.rstrip("/")
        text = f"<a href='{html.escape(f'{base}/#/experiments/{exp}')}'>{text}</a>"
        if run_id:
            text += f"; best trial: <a href='{html.escape(f'{base}/#/experiments/{exp}/runs/{run_id}')}'>run {html.escape(run_id)}</a>"
    elif run_id:
        text += f"; best trial: run {html.escape(run_id)} (<code>mlflow ui --backend-store-uri {html.escape(uri)}</code>)"
    out.append(("MLflow", text))
    return out


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:12px}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:right;white-space:nowrap}th{background:#f4f4f4}
table.summary th{text-align:left}table.summary td{text-align:left}
tr.failed td{color:#a00}tr.stopped_early td{color:#666}
.note{background:#fff7e0;border-left:4px solid #e0b000;padding:.5em 1em}
img{max-width:100%;height:auto}p.caption{color:#444;font-size:14px}
"""


def build_report(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, top: int = 20) -> ReportResult:
    """Write ``report.html`` and one PNG per figure for a run folder.

    Args:
        run_dir: The folder a search wrote (holds ``leaderboard.parquet``).
        out: Where to write (default ``RUN_DIR/report``).
        top: Rows of the leaderboard table.

    Raises:
        DataError: no such run folder, no leaderboard, or one written by a newer tuner.
    """
    t0 = time.perf_counter()
    run = load_run(run_dir)
    out_dir = Path(out) if out else run.path / REPORT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    result = ReportResult(html=out_dir / "report.html")
    sections = []
    for fig in FIGURES:
        info = fig.info(run)
        note = getattr(info, "note", None)
        body = ""
        has_data = not info.empty
        if has_data:
            png = fig.draw(info)
            path = out_dir / f"{fig.key}.png"
            write_atomic(path, png)
            result.pngs[fig.key] = path
            alt = html.escape(fig.title)
            body += f"<img id='fig-{fig.key}' alt='{alt}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
        if fig.key == "confusion" and not info.empty:
            pairs = info.most_confused()
            if pairs:
                items = "".join(f"<li>{html.escape(a)} &harr; {html.escape(b)}: {rate:.0%}</li>" for a, b, rate in pairs)
                body += f"<p>Most confused pairs of trial {html.escape(str(info.trial_id))} (mean of both directions):</p><ul>{items}</ul>"
        if fig.key == "compute":
            text = _compute_text(info)
            if text:
                body += f"<p>{text}</p>"
        if note:
            result.notes[fig.key] = note
            body += f"<p class='note'>{'Not drawn: ' if not has_data else 'Note: '}{html.escape(note)}</p>"
        sections.append(f"<section id='{fig.key}'><h2>{html.escape(fig.title)}</h2><p class='caption'>{fig.caption}</p>{body}</section>")
    table = _table(_figures.get_top_table(run, top))
    name = html.escape(str(run.meta.name or run.path.name))
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>tuner report: {name}</title><style>{_CSS}</style></head><body>"
        f"<h1>tuner report: {name}</h1>{_summary(run)}"
        f"<section id='leaderboard'><h2>Leaderboard (top {top})</h2>"
        f"<p class='caption'>Best {html.escape(run.metric)} first (a configuration trained more than once, with another seed "
        f"each, by its mean, its trials together: column <code>repeat</code>); failed trials last, with their reason.</p>{table}</section>"
        + "".join(sections)
        + f"<p class='caption'>Written by tuner from {html.escape(str(run.path))} on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.</p>"
        "</body></html>"
    )
    write_atomic(result.html, page)
    result.seconds = time.perf_counter() - t0
    return result
