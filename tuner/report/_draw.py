"""Draw each figure's data (from ``_figures``) with matplotlib, to PNG bytes.

matplotlib is imported here only, when a report is drawn, with the non-interactive Agg
backend (no display is needed or touched).
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from tuner.leaderboard import TrialStatus
from tuner.report._compute import ComputeInfo
from tuner.report._figures import (
    BlocksInfo,
    ConfusionInfo,
    CurvesInfo,
    GroupingsInfo,
    ImportanceInfo,
    LrInfo,
)

__all__ = ["draw_blocks", "draw_compute", "draw_confusion", "draw_curves", "draw_groupings", "draw_importance", "draw_lr"]

_DPI = 110


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def _label(metric: str) -> str:
    return metric.replace("_", " ")


def draw_blocks(info: BlocksInfo) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (key, (ks, best)) in enumerate(sorted(info.lines.items())):
        color = colors[i % len(colors)]
        xs, ys = info.points[key]
        ax.scatter(xs, ys, s=12, alpha=0.35, color=color, linewidths=0)
        ax.plot(ks, best, marker="o", color=color, label=f"{key[0]} / {key[1]}")
    ax.set_xlabel("unfrozen blocks (0 = head only)")
    ax.set_ylabel(f"{_label(info.metric)} (best per block count)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(title="architecture / grouping", fontsize=8, loc="best")
    return _png(fig)


def draw_lr(info: LrInfo) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for opt, (lrs, ys) in sorted(info.by_optimizer.items()):
        ax.scatter(lrs, ys, s=18, alpha=0.7, label=opt)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel(_label(info.metric))
    ax.grid(alpha=0.3, which="both")
    ax.legend(title="optimizer", fontsize=8)
    return _png(fig)


def draw_curves(info: CurvesInfo) -> bytes:
    from matplotlib.collections import LineCollection

    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    styles = {
        TrialStatus.COMPLETED: ("tab:blue", 0.6),
        TrialStatus.STOPPED_EARLY: ("tab:gray", 0.45),
        TrialStatus.FAILED: ("tab:red", 0.5),
        TrialStatus.RUNNING: ("tab:green", 0.7),
        TrialStatus.INTERRUPTED: ("tab:orange", 0.6),
    }
    for status, (color, alpha) in styles.items():
        segs = [np.column_stack([c.epochs, c.values]) for c in info.curves if c.status == status and len(c.epochs) > 1]
        singles = [(c.epochs[0], c.values[0]) for c in info.curves if c.status == status and len(c.epochs) == 1]
        n = sum(1 for c in info.curves if c.status == status)
        if segs:
            # One collection per status: a thousand trials draw as fast as one.
            ax.add_collection(LineCollection(segs, colors=color, alpha=alpha, linewidths=1.0, label=f"{status} ({n})"))
        if singles:
            ax.scatter(*zip(*singles), s=8, color=color, alpha=alpha, label=None if segs else f"{status} ({n})")
    if info.stops:
        ax.scatter(*zip(*info.stops), marker="x", s=28, color="black", label=f"stopped by ASHA ({len(info.stops)})", zorder=3)
    ax.autoscale()
    ax.set_xlabel("epoch")
    ax.set_ylabel(_label(info.metric))
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def draw_importance(info: ImportanceInfo) -> bytes:
    plt = _plt()
    items = sorted(info.importances.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(items) + 1.2))
    ax.barh([k for k, _ in items], [v for _, v in items], color="tab:blue")
    for i, (_, v) in enumerate(items):
        ax.text(v, i, f" {v:.2f}", va="center", fontsize=8)
    ax.set_xlabel(f"fANOVA importance for the objective ({info.n_trials} finished trials)")
    ax.set_xlim(0, max(1e-9, max(v for _, v in items)) * 1.15)
    return _png(fig)


def draw_confusion(info: ConfusionInfo) -> bytes:
    plt = _plt()
    assert info.rates is not None, "draw only a confusion that has data"
    n = len(info.labels)
    side = min(14.0, max(4.5, 0.22 * n + 2.5))
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    im = ax.imshow(info.rates, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    fontsize = 8 if n <= 30 else max(3, int(240 / n))
    ax.set_xticks(range(n), info.labels, rotation=90, fontsize=fontsize)
    ax.set_yticks(range(n), info.labels, fontsize=fontsize)
    if n <= 15:
        for i in range(n):
            for j in range(n):
                v = info.rates[i, j]
                if v >= 0.005:
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class's validation images")
    return _png(fig)


def draw_groupings(info: GroupingsInfo) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(info.n_classes, info.best_common, marker="o", label="common label space (comparable)")
    ax.plot(info.n_classes, info.best_own, marker="s", linestyle="--", alpha=0.7, label="own labels (rewards merging)")
    for x, y, name in zip(info.n_classes, info.best_common, info.groupings):
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("number of classes after grouping")
    ax.set_ylabel("best validation accuracy")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def draw_compute(info: ComputeInfo) -> bytes:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    unit = "GPU-hours" if info.gpu else "CPU trial-hours"
    labels, epochs, hours, colors = [], [], [], []
    if info.epochs_to_best is not None:
        labels.append("to its best")
        epochs.append(info.epochs_to_best)
        hours.append(info.hours_to_best)
        colors.append("tab:green")
    labels.append("this run, all")
    epochs.append(info.trial_epochs)
    hours.append(info.device_hours)
    colors.append("tab:blue")
    if not info.grid_run and info.sweep_runs:
        labels.append("one-factor sweep")
        epochs.append(info.sweep_trial_epochs)
        hours.append(info.sweep_device_hours)
        colors.append("tab:gray")
    for ax, title, values in ((axes[0], "trial-epochs", epochs), (axes[1], unit, hours)):
        values = [v if math.isfinite(v) else 0.0 for v in values]
        bars = ax.bar(labels, values, color=colors)
        for b, v in zip(bars, values):
            ax.annotate(f"{v:,.3g}", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
    return _png(fig)
