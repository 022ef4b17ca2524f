"""MLflow tracking from the leaderboard rows, against a real local tracking store."""

from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest

from tests.search.driver.test_study import _row
from tuner.search.driver._mlflow import sync_mlflow

mlflow = pytest.importorskip("mlflow", reason="MLflow is an extra: pip install 'tuner[mlflow]' (the test extra has it)")


def test_trials_become_runs_that_follow_the_search_and_a_resume(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    matrix = tmp_path / "confusion.npy"
    np.save(matrix, np.eye(3))
    warnings: list[str] = []

    def sync(rows, best=None):
        sync_mlflow(tmp_path, uri, "demo-run", rows, lambda row: matrix if row.status == "completed" else None, best, warnings.append)

    sync([_row("t1", "running", epochs=2), _row("t2", "failed", epochs=1, failure_reason="nan_loss")])
    sync([_row("t1", "completed", epochs=3), _row("t2", "failed", epochs=1, failure_reason="nan_loss")], best="t1")
    assert not warnings
    client = mlflow.tracking.MlflowClient(uri)
    experiment = client.get_experiment_by_name("demo-run")
    runs = {r.data.tags["tuner.trial_id"]: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"t1", "t2"}
    t1, t2 = runs["t1"], runs["t2"]
    assert t1.info.status == "FINISHED" and t1.data.tags["tuner.status"] == "completed" and t1.data.tags["tuner.best"] == "true"
    assert t2.info.status == "FAILED" and t2.data.tags["tuner.failure_reason"] == "nan_loss" and "tuner.best" not in t2.data.tags
    assert t1.data.params["lr"] == "0.001" and t1.data.params["architecture"] == "resnet50"
    curve = client.get_metric_history(t1.info.run_id, "val_accuracy")
    assert [(m.step, round(m.value, 6)) for m in sorted(curve, key=lambda m: m.step)] == [(1, 0.6), (2, 0.7), (3, 0.8)]  # each epoch once
    assert [a.path for a in client.list_artifacts(t1.info.run_id)] == ["confusion.npy"]
    assert list((tmp_path / "mlartifacts").rglob("confusion.npy")), "artifacts beside the store, not in the working folder"
    assert json.loads((tmp_path / "mlflow.json").read_text())["runs"] == {"t1": t1.info.run_id, "t2": t2.info.run_id}
    # A resumed search is a new process: it finds the runs again by their tags, adds none.
    import tuner.search.driver._mlflow as module

    module._trackers.clear()
    sync([_row("t1", "completed", epochs=3), _row("t2", "failed", epochs=1, failure_reason="nan_loss"), _row("t3", "running", epochs=1)])
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.tags["tuner.trial_id"] for r in runs) == ["t1", "t2", "t3"]
    assert len(client.get_metric_history(t1.info.run_id, "val_accuracy")) == 3


def test_a_tracking_server_that_cannot_be_reached_is_one_warning(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    warnings: list[str] = []
    t0 = time.monotonic()
    for _ in range(3):
        sync_mlflow(tmp_path, f"http://127.0.0.1:{port}", "demo-run", [_row("t1", "running")], lambda row: None, None, warnings.append)
    assert time.monotonic() - t0 < 60
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: MLflow tracking at http://127.0.0.1:{port} stopped (")
    assert "leaderboard is unaffected" in warnings[0]
