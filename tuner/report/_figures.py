"""The data behind each figure of the report, computed from a run's files (no drawing here).

Each ``get_*_info`` function is pure over the leaderboard (and, for the confusion matrix, the
best checkpoint's ``confusion.npy``) and returns a small frozen dataclass that ``_draw`` turns
into a picture; tests check these. A figure that cannot be drawn for this run carries a
``note`` saying why instead of data (one trial, all failed, no grouping searched...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tuner._params import LOG_SCALE_PARAMS, param_names
from tuner._run import CONFUSION_FILE, Run, load_confusion
from tuner.errors import DataError
from tuner.leaderboard import TrialStatus

__all__ = [
    "top_columns",
    "BlocksInfo",
    "ConfusionInfo",
    "CurvesInfo",
    "GroupingsInfo",
    "ImportanceInfo",
    "LrInfo",
    "cluster_order",
    "get_blocks_info",
    "get_confusion_info",
    "get_curves_info",
    "get_groupings_info",
    "get_importance_info",
    "get_lr_info",
    "get_top_table",
    "histories",
]


def top_columns() -> tuple[str, ...]:
    """The top table's columns: every searchable parameter (registry order) among them."""
    return (
        "trial_id", "stage", "status", "architecture", "weights", *param_names(), "repeat", "n_classes",
        "objective", "val_accuracy", "val_accuracy_common", "test_accuracy", "balanced_accuracy",
        "macro_f1", "val_loss", "epochs_run", "best_epoch", "train_seconds", "setup_seconds", "images_per_second",
        "gpus", "failure_reason",
    )  # fmt: skip


def _sampled_params() -> tuple[str, ...]:
    """The parameters a search samples (leaderboard columns), for importances."""
    return ("architecture", *param_names())


def _ranked(run: Run):
    """Scored, non-failed rows of the search stage, best objective first.

    Probe trials are left out: they ran on the fine labels before the common label space
    existed, and that space was clustered from their own validation confusions, so their
    score on it would be circular (a probe at 1.00 beside search trials at 0.9).
    """
    from tuner.leaderboard import rank_rows

    df = run.df
    ok = df[(df["status"] != TrialStatus.FAILED) & df["objective"].notna() & (df["stage"] != "probe")]
    # The leaderboard's order (a configuration trained again ranks by its mean).
    order = {r.trial_id: i for i, r in enumerate(rank_rows(run.rows, mode=run.mode))}
    return ok.sort_values("trial_id", key=lambda ids: ids.map(order), kind="stable")


def get_top_table(run: Run, top: int = 20):
    """The leaderboard's ``top`` rows: scored search trials best first, then the rest.

    Failed and unscored trials follow the scored ones, so a run where every trial failed
    still shows its trials and their failure reasons.
    """
    import pandas as pd

    df = run.df
    ranked = _ranked(run)
    rest = df.drop(index=ranked.index)
    table = pd.concat([ranked, rest]).head(top)
    return table[[c for c in top_columns() if c in table.columns]].reset_index(drop=True)


def histories(run: Run) -> dict[str, list[dict[str, Any]]]:
    """Per-epoch results of every trial, by trial id (from the leaderboard's ``history``)."""
    out = {}
    for trial_id, text in zip(run.df["trial_id"], run.df["history"]):
        try:
            out[str(trial_id)] = json.loads(text) if isinstance(text, str) and text else []
        except ValueError:
            out[str(trial_id)] = []
    return out


@dataclass(frozen=True)
class BlocksInfo:
    """Accuracy against unfrozen blocks: per (architecture, label space) line, the best
    accuracy at each block count, plus every trial as a point."""

    metric: str
    lines: dict[tuple[str, str], tuple[list[int], list[float]]] = field(default_factory=dict)
    points: dict[tuple[str, str], tuple[list[int], list[float]]] = field(default_factory=dict)
    note: str | None = None

    @property
    def empty(self) -> bool:
        """Nothing to draw."""
        return not self.lines


def get_blocks_info(run: Run, metric: str = "val_accuracy") -> BlocksInfo:
    """The study's main figure: ``metric`` against ``unfrozen_blocks``."""
    kind = run.meta.kind or run.meta.space.get("kind")
    if kind == "scratch":
        return BlocksInfo(metric, note="scratch training has no blocks to unfreeze")
    df = _ranked(run)
    df = df[df["unfrozen_blocks"].notna() & df[metric].notna()]
    if df.empty:
        return BlocksInfo(metric, note="no scored fine-tuning trial")
    if df["unfrozen_blocks"].nunique() < 2:
        return BlocksInfo(metric, note=f"every scored trial unfroze {int(df['unfrozen_blocks'].iloc[0])} blocks; nothing to compare")
    lines, points = {}, {}
    for (arch, grouping), g in df.groupby([df["architecture"].astype(str), df["grouping"].fillna("none").astype(str)], sort=True):
        best = g.groupby(g["unfrozen_blocks"].astype(int))[metric].max().sort_index()
        lines[(arch, grouping)] = ([int(k) for k in best.index], [float(v) for v in best.to_numpy()])
        points[(arch, grouping)] = ([int(k) for k in g["unfrozen_blocks"]], [float(v) for v in g[metric]])
    return BlocksInfo(metric, lines, points)


@dataclass(frozen=True)
class LrInfo:
    """Learning rate against the objective, per optimizer."""

    metric: str
    by_optimizer: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    note: str | None = None

    @property
    def empty(self) -> bool:
        """Nothing to draw."""
        return not self.by_optimizer


def get_lr_info(run: Run) -> LrInfo:
    df = _ranked(run)
    df = df[df["lr"].notna() & (df["lr"] > 0)]
    if df.empty:
        return LrInfo(run.metric, note="no scored trial")
    out = {}
    for opt, g in df.groupby(df["optimizer"].fillna("?").astype(str), sort=True):
        out[opt] = ([float(x) for x in g["lr"]], [float(y) for y in g["objective"]])
    return LrInfo(run.metric, out)


@dataclass(frozen=True)
class Curve:
    trial_id: str
    status: str
    epochs: list[int]
    values: list[float]

    @property
    def asha_stopped(self) -> bool:
        return self.status == TrialStatus.STOPPED_EARLY


@dataclass(frozen=True)
class CurvesInfo:
    """Per-epoch ``metric`` of every trial; ``stops`` are the (epoch, value) where ASHA
    stopped a trial."""

    metric: str
    curves: list[Curve] = field(default_factory=list)
    note: str | None = None

    @property
    def empty(self) -> bool:
        """Nothing to draw."""
        return not self.curves

    @property
    def stops(self) -> list[tuple[int, float]]:
        return [(c.epochs[-1], c.values[-1]) for c in self.curves if c.asha_stopped and c.epochs]


def get_curves_info(run: Run) -> CurvesInfo:
    metric = run.metric
    curves = []
    hist = histories(run)
    for trial_id, status in zip(run.df["trial_id"], run.df["status"]):
        pairs = [(int(h["epoch"]), float(h[metric])) for h in hist.get(str(trial_id), []) if h.get("epoch") is not None and h.get(metric) is not None]
        if pairs:
            curves.append(Curve(str(trial_id), str(status), [p[0] for p in pairs], [p[1] for p in pairs]))
    if not curves:
        return CurvesInfo(metric, note="no trial reported an epoch")
    return CurvesInfo(metric, curves)


@dataclass(frozen=True)
class ImportanceInfo:
    """Optuna fANOVA importances of the sampled parameters for the objective."""

    importances: dict[str, float] = field(default_factory=dict)
    n_trials: int = 0
    note: str | None = None

    @property
    def empty(self) -> bool:
        """Nothing to draw."""
        return not self.importances


def _distribution(values, name: str):
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    numeric = all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values)
    if numeric:
        lo, hi = float(min(values)), float(max(values))
        return FloatDistribution(lo, hi, log=name in LOG_SCALE_PARAMS and lo > 0), float
    return CategoricalDistribution(sorted({str(v) for v in values})), str


def get_importance_info(run: Run, min_trials: int = 4, seed: int = 0) -> ImportanceInfo:
    """fANOVA importances over the finished trials (completed or stopped early, scored).

    Parameters that did not vary, or that not every trial has (``unfrozen_blocks`` when
    scratch and fine-tuning trials mix), are left out; the note says which.
    """
    df = _ranked(run)
    df = df[df["stage"] == "search"] if (df["stage"] == "search").sum() >= min_trials else df
    if len(df) < min_trials:
        return ImportanceInfo(n_trials=len(df), note=f"needs at least {min_trials} finished, scored trials; this run has {len(df)}")
    import optuna

    params, dists, skipped = [], {}, []
    for name in _sampled_params():
        if name not in df:
            continue
        col = df[name]
        if col.isna().any():
            if col.notna().any():
                skipped.append(name)
            continue
        values = list(col)
        if len({str(v) for v in values}) < 2:
            continue
        dists[name] = _distribution(values, name)
        params.append(name)
    if not params:
        return ImportanceInfo(n_trials=len(df), note="no sampled parameter varied across the finished trials")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="maximize" if run.mode == "max" else "minimize")
    trials = []
    for _, r in df.iterrows():
        p = {name: dists[name][1](r[name]) for name in params}
        trials.append(optuna.trial.create_trial(params=p, distributions={n: dists[n][0] for n in params}, value=float(r["objective"])))
    study.add_trials(trials)
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
    note = f"left out (not set in every trial): {', '.join(skipped)}" if skipped else None
    return ImportanceInfo({k: float(v) for k, v in importances.items()}, len(df), note)


@dataclass(frozen=True)
class ConfusionInfo:
    """The best trial's row-normalised confusion matrix, classes reordered by clustering."""

    trial_id: str | None = None
    labels: list[str] = field(default_factory=list)
    rates: np.ndarray | None = None  # rows: true label, columns: predicted, in ``labels`` order
    counts: np.ndarray | None = None
    order: list[int] = field(default_factory=list)  # original label index of each position
    note: str | None = None

    @property
    def empty(self) -> bool:
        """Nothing to draw."""
        return self.rates is None

    def most_confused(self, top: int = 8) -> list[tuple[str, str, float]]:
        """The ``top`` label pairs with the highest symmetric confusion rate (above zero)."""
        if self.rates is None:
            return []
        sym = (self.rates + self.rates.T) / 2.0
        i, j = np.triu_indices(len(self.labels), k=1)
        order = np.argsort(-sym[i, j], kind="stable")[:top]
        return [(self.labels[i[o]], self.labels[j[o]], float(sym[i[o], j[o]])) for o in order if sym[i[o], j[o]] > 0]


def cluster_order(confusion: np.ndarray) -> list[int]:
    """Label order that puts mutually confused labels next to each other.

    The leaves of :func:`tuner.groupings.confusion_tree`, the tree ``groupings suggest`` cuts,
    so confusable blocks sit on the diagonal and each suggested group is one block.
    """
    from scipy.cluster.hierarchy import leaves_list

    from tuner.groupings import confusion_tree

    n = confusion.shape[0]
    if n < 3:
        return list(range(n))
    return [int(i) for i in leaves_list(confusion_tree(confusion))]


def get_confusion_info(run: Run) -> ConfusionInfo:
    best = run.best_row(with_checkpoint=True)
    if best is None:
        return ConfusionInfo(note="no trial has a scored checkpoint")
    checkpoint = run.checkpoint(best)
    path = checkpoint / CONFUSION_FILE if checkpoint is not None else None
    if path is None or not path.is_file():
        return ConfusionInfo(trial_id=str(best.trial_id), note=f"trial {best.trial_id} has no {CONFUSION_FILE}")
    try:
        counts = load_confusion(path)
    except DataError as exc:
        return ConfusionInfo(trial_id=str(best.trial_id), note=str(exc))
    labels = run.label_names(best.param("grouping"))
    if counts.shape != (len(labels), len(labels)):
        return ConfusionInfo(trial_id=str(best.trial_id), note=f"confusion matrix {counts.shape} does not match {len(labels)} labels")
    order = cluster_order(counts)
    rows = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, rows, out=np.zeros(counts.shape, dtype=np.float64), where=rows > 0)
    idx = np.asarray(order)
    return ConfusionInfo(str(best.trial_id), [labels[i] for i in order], rates[np.ix_(idx, idx)], counts[np.ix_(idx, idx)], order)


@dataclass(frozen=True)
class GroupingsInfo:
    """Accuracy against number of classes: per grouping, its best trial on the common label
    space and on its own labels."""

    groupings: list[str] = field(default_factory=list)
    n_classes: list[int] = field(default_factory=list)
    best_common: list[float] = field(default_factory=list)
    best_own: list[float] = field(default_factory=list)
    note: str | None = None

    @property
    def empty(self) -> bool:
        """Nothing to draw."""
        return not self.groupings


def get_groupings_info(run: Run) -> GroupingsInfo:
    df = _ranked(run)
    df = df[df["stage"] == "search"]
    df = df[df["n_classes"].notna() & df["val_accuracy_common"].notna()]
    if df.empty:
        return GroupingsInfo(note="no scored search trial")
    grouping = df["grouping"].fillna("none").astype(str)
    if grouping.nunique() < 2:
        only = grouping.iloc[0]
        return GroupingsInfo(note=f"only one label space was searched ({'no grouping' if only == 'none' else only}); nothing to compare")
    out = GroupingsInfo()
    for name, g in df.groupby(grouping, sort=True):
        out.groupings.append(name)
        out.n_classes.append(int(g["n_classes"].iloc[0]))
        out.best_common.append(float(g["val_accuracy_common"].max()))
        out.best_own.append(float(g["val_accuracy"].max()) if g["val_accuracy"].notna().any() else float("nan"))
    order = np.argsort(out.n_classes, kind="stable")
    return GroupingsInfo(
        [out.groupings[i] for i in order], [out.n_classes[i] for i in order],
        [out.best_common[i] for i in order], [out.best_own[i] for i in order],
    )  # fmt: skip
