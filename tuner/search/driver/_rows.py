"""Leaderboard rows from a run directory's trial files (pure functions over what Tune wrote).

Each Tune trial folder holds ``params.json`` (the sampled config), ``result.json`` (one JSON
line per reported epoch) and, for a failed trial, ``failure.json`` or Tune's ``error.txt``.
Rows come only from those files, so they can be rebuilt after a crash or on a copied run.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tuner._params import param_names
from tuner._run import ERROR_FILE, FAILURE_FILE, PARAMS_FILE, RESULT_FILE, TRACKED_FILE, journal_path
from tuner.leaderboard import REPEAT, EpochMetrics, TrialRow, TrialStatus, rank_rows
from tuner.search.plan._contracts import EpochReport

__all__ = ["STAGES", "collect_rows", "read_trial", "trial_row"]

STAGES = ("probe", "search")
_EPOCH_KEYS = tuple(EpochMetrics.model_fields)  # (``model_fields`` is a property, slow in a loop)
INTERRUPTED = "the driver stopped before Tune recorded this trial, so the resumed search did not continue it; its epochs are kept"
#: A trial running when the user stopped the search (Ctrl+C): ``--resume`` continues it.
STOPPED = "the search was stopped while this trial ran; --resume continues it from its last checkpoint"


def _json_lines(path: Path) -> list[dict[str, Any]]:
    """The epoch reports in a ``result.json`` or journal, each checked (``EpochReport``) and
    reduced to the report's own fields; a line cut by a crash, or not a report, is skipped."""
    from pydantic import ValidationError

    out = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                out.append(EpochReport.from_result(json.loads(line)).result())
            except (ValueError, ValidationError, AttributeError, TypeError):
                continue
    return out


def merge_epochs(*sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One report per epoch, in epoch order; a later source (and a later line) wins.

    Tune's ``result.json`` restarts when a trial is restored, and a worker restarted from a
    checkpoint repeats the epochs after it; the journal keeps everything, newest last. A
    ``replayed`` report only fills gaps.
    """
    by_epoch: dict[int, dict[str, Any]] = {}
    for source in sources:
        for r in source:
            try:
                epoch = int(r["epoch"])
            except (KeyError, TypeError, ValueError):
                continue
            # A replay (a restored run that had already ended says its last epoch again) only
            # fills in what the original report lacks.
            if r.get("replayed") and epoch in by_epoch:
                r = {**r, **by_epoch[epoch], "finished": bool(r.get("finished") or by_epoch[epoch].get("finished"))}
            by_epoch[epoch] = r
    return [by_epoch[e] for e in sorted(by_epoch)]


def read_trial(trial_dir: Path, journal: Path | None = None) -> dict[str, Any] | None:
    """``{"params", "results", "failure"}`` of one Tune trial folder, or ``None`` if it is not one.

    ``journal``: the trial's report journal (``RUN_DIR/epochs/<stage>/<id>.jsonl``), merged
    with Tune's ``result.json``.
    """
    params_file = trial_dir / PARAMS_FILE
    if not params_file.is_file():
        return None
    try:
        params = json.loads(params_file.read_text())
    except ValueError:
        return None
    results = _json_lines(trial_dir / RESULT_FILE)
    if journal is not None:
        results = merge_epochs(results, _json_lines(journal))
    failure, fatal = None, False
    if (trial_dir / FAILURE_FILE).is_file():
        try:
            record = json.loads((trial_dir / FAILURE_FILE).read_text())
            failure, fatal = str(record.get("reason") or "failed"), bool(record.get("fatal"))
        except (ValueError, AttributeError):
            failure = "failed"
    elif (trial_dir / ERROR_FILE).is_file():
        lines = [ln for ln in (trial_dir / ERROR_FILE).read_text().splitlines() if ln.strip()]
        failure = "error: " + (lines[-1][:300] if lines else "unknown")
    return {"params": params, "results": results, "failure": failure, "fatal": fatal}


def _finite(x: Any) -> float | None:
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _checkpoint_exists(path: str | None, root: str | None) -> bool:
    if not path:
        return False
    if root is None or not os.path.isabs(root):
        return True  # on object storage: Train only reports checkpoints it uploaded
    full = Path(path) if os.path.isabs(path) else Path(root) / path
    return full.is_dir()


def _relative(path: str | None, root: str) -> str | None:
    """``path`` relative to the run's storage root (the run folder, or its remote twin)."""
    if not path:
        return None
    root = root.rstrip("/")
    if path.startswith(root + "/"):
        return path[len(root) + 1 :]
    return path


def trial_row(
    trial_id: str,
    data: Mapping[str, Any],
    *,
    stage: str,
    metric: str,
    mode: str,
    running: bool = False,
    stopped: bool = False,
    run_dir: Path | None = None,
    trial_dir: Path | None = None,
    test_scores: Mapping[str, float] | None = None,
    storage_root: str | None = None,
) -> TrialRow:
    """One leaderboard row from a trial's params, per-epoch results and failure.

    The row's metrics are those of the trial's best epoch by ``metric``. ``storage_root`` is
    where checkpoints live (default ``run_dir``); checkpoint paths are stored relative to it.
    """
    root = storage_root if storage_root is not None else (str(run_dir) if run_dir is not None else None)
    params = data["params"]
    results = [r for r in data["results"] if "epoch" in r]
    failure = data.get("failure")
    scored = [r for r in results if _finite(r.get(metric)) is not None]
    best = None
    if scored:
        sign = -1.0 if mode == "max" else 1.0
        # Best value first; among ties the later epoch, whose checkpoint Ray Train keeps.
        ranked = sorted(scored, key=lambda r: (sign * float(r[metric]), -int(r.get("epoch", 0))))
        best = ranked[0]
        for r in ranked:
            if float(r[metric]) != float(best[metric]):
                break
            if _checkpoint_exists(r.get("checkpoint_path"), root):
                best = r
                break
    last = results[-1] if results else {}
    if data.get("interrupted") and not (failure or last.get("finished")):
        status, reason = TrialStatus.INTERRUPTED, INTERRUPTED
    elif failure or last.get("failure_reason"):
        status = TrialStatus.FAILED
        reason = str(failure or last.get("failure_reason"))
    elif last.get("finished"):
        status, reason = TrialStatus.COMPLETED, None
    elif stopped:
        status, reason = TrialStatus.INTERRUPTED, STOPPED
    elif running:
        status, reason = TrialStatus.RUNNING, None
    else:
        status, reason = TrialStatus.STOPPED_EARLY, None
    src = best or last

    def count(key: str) -> int | None:
        return int(src[key]) if src.get(key) is not None else None

    return TrialRow(
        trial_id=trial_id,
        stage=stage,
        status=status,
        failure_reason=reason,
        architecture=params.get("architecture"),
        weights=last.get("weights_used"),
        params={key: params.get(key) for key in param_names()},
        repeat=int(params.get(REPEAT) or 0),
        epochs_run=int(last.get("epoch", 0)) if last else 0,
        best_epoch=int(best["epoch"]) if best else None,
        objective=_finite(best.get(metric)) if best else None,
        checkpoint_path=_relative(best.get("checkpoint_path"), root) if best and root else (best or {}).get("checkpoint_path"),
        trial_dir=os.path.relpath(trial_dir, run_dir) if trial_dir and run_dir else None,
        history=tuple(EpochMetrics(**{k: _finite(r.get(k)) for k in _EPOCH_KEYS}) for r in results),
        **{key: _finite(src.get(key)) for key in ("val_accuracy", "val_accuracy_common", "val_loss", "balanced_accuracy", "macro_f1", "images_per_second")},
        n_classes=count("n_classes"),
        trainable_params=count("trainable_params"),
        total_params=count("total_params"),
        gpus=_finite(last.get("gpus")),
        node=last.get("node"),
        setup_seconds=_finite(last.get("setup_seconds")),
        train_seconds=_finite(last.get("train_seconds")),
        test_accuracy=_finite(test_scores.get("test_accuracy")) if test_scores else None,
    )


def trial_dirs(experiment_dir: Path) -> Iterable[tuple[str, Path]]:
    """``(trial_id, folder)`` of every trial folder of a Tune experiment."""
    if not experiment_dir.is_dir():
        return []
    found = []
    for child in sorted(experiment_dir.iterdir()):
        params = child / PARAMS_FILE
        if child.is_dir() and params.is_file():
            results = child / RESULT_FILE
            trial_id = None
            if results.is_file():
                first = results.read_text().split("\n", 1)[0]
                try:
                    trial_id = json.loads(first).get("trial_id")
                except ValueError:
                    trial_id = None
            # The driver names trial folders by trial id (trial_dirname_creator).
            found.append((trial_id or child.name, child))
    return found


def collect_rows(
    run_dir: Path,
    metric: str,
    mode: str,
    running: set[str] | None = None,
    test_scores: Mapping[str, Mapping[str, float]] | None = None,
    fresh: Mapping[str, str] | None = None,
    storage_root: str | None = None,
    stopped: set[str] | None = None,
) -> list[TrialRow]:
    """Rows for every trial of every stage in ``run_dir``, best first within each stage
    (``tuner.leaderboard.rank_rows``: by configuration, a configuration trained again scored
    by its mean).

    ``fresh`` maps trial ids to folders holding newer copies of their files (Tune's staging).
    ``stopped``: trials running when the user stopped the search (they are ``interrupted``).
    """
    rows = []
    fresh = fresh or {}
    for stage in STAGES:
        known = dict(trial_dirs(run_dir / stage))
        tracked_file = run_dir / stage / TRACKED_FILE
        tracked = _tracked(tracked_file)
        for trial_id, path in fresh.items():
            # Tune stages a trial's files in <...>/<stage>/driver_artifacts/<trial folder>.
            staged_in = {Path(path).parent.name, Path(path).parent.parent.name}
            if stage in staged_in and trial_id not in known:
                known[trial_id] = run_dir / stage / Path(path).name
        for trial_id, folder in sorted(known.items(), key=lambda kv: str(kv[1])):
            source = Path(fresh[trial_id]) if trial_id in fresh and Path(fresh[trial_id]).is_dir() else folder
            data = read_trial(source, journal_path(run_dir, stage, trial_id))
            if data is None:
                continue
            if tracked is not None and folder.name not in tracked:
                if not data["results"]:
                    continue  # staged, never trained: nothing to report
                data = {**data, "interrupted": True}
            rows.append(
                trial_row(
                    trial_id,
                    data,
                    stage=stage,
                    metric=metric,
                    mode=mode,
                    running=trial_id in (running or set()),
                    stopped=trial_id in (stopped or set()),
                    run_dir=run_dir,
                    trial_dir=folder,
                    test_scores=(test_scores or {}).get(trial_id),
                    storage_root=storage_root,
                )
            )
    return rank_rows(rows, mode=mode)


def _tracked(path: Path) -> set[str] | None:
    """The trial folders Tune tracked when the stage ended (``None``: not known). The file only
    refines which trials were interrupted; a damaged one must not stop a resume, so it counts
    as absent."""
    try:
        names = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, ValueError):
        return None
    return {str(n) for n in names} if isinstance(names, list) else None
