"""Optional MLflow tracking (``--mlflow-uri URI`` or ``MLFLOW_TRACKING_URI``).

One MLflow run per trial, in an experiment named after the tuner run: the trial's parameters,
its metrics per epoch (step = epoch), its status and failure reason as tags, the confusion
matrix of its best epoch as an artifact once it ends, and ``tuner.best = true`` on the best
trial when the search ends. Like ``optuna.db`` it follows the leaderboard rows, so it is
right after ``--resume`` (runs are found again by their ``tuner.trial_id`` tag) and it never
decides anything. MLflow's own client does the work; a store that cannot be reached, or any
other MLflow error, is one warning and tracking stops for the run: never a failed search.
``RUN_DIR/mlflow.json`` records where the runs are, for the report's links.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuner._io import write_atomic
from tuner._run import MLFLOW_FILE
from tuner.leaderboard import TrialRow, TrialStatus

__all__ = ["MLFLOW_STATUS", "artifact_location", "sync_mlflow", "tracking_uri"]

#: Leaderboard status -> MLflow run status.
MLFLOW_STATUS: dict[str, str] = {
    TrialStatus.COMPLETED: "FINISHED",
    TrialStatus.STOPPED_EARLY: "FINISHED",
    TrialStatus.FAILED: "FAILED",
    TrialStatus.INTERRUPTED: "KILLED",
    TrialStatus.RUNNING: "RUNNING",
}


@dataclass
class _Logged:
    """What one trial's MLflow run holds: its id, epochs, last status, the confusion artifact."""

    run_id: str
    epochs: int = 0
    status: str | None = None
    artifact: bool = False


_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "val_accuracy_common", "balanced_accuracy", "macro_f1", "learning_rate")

_trackers: dict[tuple[str, str], _Tracker] = {}
_lock = threading.Lock()


def tracking_uri(flag: str | None) -> str | None:
    """``--mlflow-uri``, else ``MLFLOW_TRACKING_URI``, else ``None`` (tracking off)."""
    return flag or os.environ.get("MLFLOW_TRACKING_URI") or None


def artifact_location(uri: str) -> str | None:
    """Where a new experiment's artifacts go: beside a SQLite store's file (MLflow's default
    is ``./mlruns`` in whatever folder the search was started from); a server or a ``file:``
    store decides itself (``None``)."""
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///") :]).expanduser().resolve().parent / "mlartifacts").as_uri()
    return None


class _Tracker:
    """The MLflow side of one tuner run in this process: the runs made so far and what each holds."""

    def __init__(self, uri: str, experiment: str):
        # A server that is down should cost seconds, not MLflow's default minutes of retries.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        from mlflow.tracking import MlflowClient

        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            tags = {"tuner.run": experiment}
            self.experiment_id = self.client.create_experiment(experiment, artifact_location=artifact_location(uri), tags=tags)
        else:
            self.experiment_id = found.experiment_id
        self.disabled = False
        self.runs: dict[str, _Logged] = {}  # trial id -> what its MLflow run holds
        for r in self.client.search_runs([self.experiment_id], max_results=50_000):
            trial_id = r.data.tags.get("tuner.trial_id")
            if trial_id:
                tags = r.data.tags
                logged = int(tags.get("tuner.epochs_logged", 0))
                self.runs[trial_id] = _Logged(r.info.run_id, logged, tags.get("tuner.status"), tags.get("tuner.artifact") == "1")

    def sync(self, rows: Sequence[TrialRow], confusion: Any, best: str | None) -> None:
        from mlflow.entities import Metric, Param, RunTag

        client = self.client
        for row in rows:
            trial_id = row.trial_id
            status = str(row.status)
            if trial_id not in self.runs:
                run = client.create_run(
                    self.experiment_id, run_name=trial_id, tags={"tuner.trial_id": trial_id, "tuner.stage": row.stage, "tuner.repeat": str(row.repeat)}
                )
                values = {"architecture": row.architecture, **row.params}
                params = [Param(k, str(v)) for k, v in values.items() if v is not None]
                client.log_batch(run.info.run_id, params=params)
                self.runs[trial_id] = _Logged(run.info.run_id)
            state = self.runs[trial_id]
            run_id, logged = state.run_id, state.epochs
            new = [h for h in row.history if int(h.epoch or 0) > logged]
            if new:
                now = int(time.time() * 1000)
                metrics = [
                    Metric(k, v, int(float(h.time or now / 1000) * 1000), int(h.epoch or 0)) for h in new for k in _METRICS if (v := h.value(k)) is not None
                ]
                client.log_batch(run_id, metrics=metrics, tags=[RunTag("tuner.epochs_logged", str(int(new[-1].epoch or 0)))])
                state.epochs = int(new[-1].epoch or 0)
            if status != state.status:
                tags = [RunTag("tuner.status", status)]
                if row.failure_reason:
                    tags.append(RunTag("tuner.failure_reason", row.failure_reason[:5000]))
                client.log_batch(run_id, tags=tags)
                if status == TrialStatus.RUNNING:
                    client.update_run(run_id, status="RUNNING")  # a resumed trial runs again
                else:
                    client.set_terminated(run_id, status=MLFLOW_STATUS.get(status, "FINISHED"))
                state.status = status
            if status != TrialStatus.RUNNING and not state.artifact:
                path = confusion(row)
                if path is not None:
                    client.log_artifact(run_id, str(path))
                    client.set_tag(run_id, "tuner.artifact", "1")
                    state.artifact = True
        if best is not None and best in self.runs:
            client.set_tag(self.runs[best].run_id, "tuner.best", "true")


def sync_mlflow(run_dir: Path, uri: str, experiment: str, rows: Sequence[TrialRow], confusion: Any, best: str | None, warn: Any) -> None:
    """Bring the MLflow runs of ``experiment`` at ``uri`` in line with ``rows``.

    ``confusion(row)``: the local path of a trial's confusion matrix file, or ``None``.
    ``best``: the trial to tag as best (when the search has ended). ``warn(line)`` says why
    tracking stopped, once.
    """
    with _lock:
        key = (uri, experiment)
        tracker = _trackers.get(key)
        if tracker is not None and tracker.disabled:
            return
        try:
            if tracker is None:
                tracker = _trackers[key] = _Tracker(uri, experiment)
            tracker.sync(rows, confusion, best)
            record = {"uri": uri, "experiment": experiment, "experiment_id": tracker.experiment_id, "runs": {t: s.run_id for t, s in tracker.runs.items()}}
            write_atomic(run_dir / MLFLOW_FILE, json.dumps(record, indent=1))
        except Exception as exc:  # noqa: BLE001 - tracking must never fail a search
            if tracker is None:
                tracker = _trackers[key] = _Tracker.__new__(_Tracker)
            tracker.disabled = True
            warn(f"warning: MLflow tracking at {uri} stopped ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); the leaderboard is unaffected")
