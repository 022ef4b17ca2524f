"""End-to-end searches on a real 2-CPU Ray instance with real Keras training on real digits."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.search.conftest import assert_study_matches_leaderboard, resources_free, write_space
from tuner.leaderboard import read_leaderboard
from tuner.search.driver._driver import run_search
from tuner.search.plan._plan import Options, build_plan

pytestmark = pytest.mark.slow

# LeNet-5 from scratch on the digits: a real model that learns in seconds on a CPU.
ASHA_SPACE = """
kind: scratch
metric: val_accuracy
architectures: [lenet5]
params:
  lr: {loguniform: [1.0e-4, 3.0e-1]}
  optimizer: {choice: [adam, sgd]}
  batch_size: {fixed: 64}
  input_size: {fixed: 32}
  augment: {fixed: none}
budget: {num_samples: 6, max_epochs: 4, grace_period: 1, reduction_factor: 2, early_stopping: asha}
"""


def _search(tmp_path, space_text, name, **kw):
    space = write_space(tmp_path / "spaces", space_text)
    plan = build_plan(Options(space=space, name=name, storage=str(tmp_path / "runs"), **kw))
    run_dir = tmp_path / "runs" / name
    rows = run_search(plan, run_dir)
    return run_dir, rows


def test_asha_stops_trials_and_the_search_finishes_with_resources_free(ray_address, tmp_path, capsys):
    """Also what users see in their own tools: the Optuna study on disk (optuna-dashboard)
    and MLflow runs."""
    mlflow_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_dir, rows = _search(tmp_path, ASHA_SPACE, "asha", mlflow_uri=mlflow_uri)
    df, meta = read_leaderboard(run_dir)
    assert len(df) == 6 and set(df["stage"]) == {"search"}
    assert (df["status"] == "stopped_early").sum() >= 1, df[["trial_id", "status", "epochs_run"]]
    assert (df["status"] == "completed").sum() >= 1
    assert not (df["status"] == "running").any()
    t0 = time.monotonic()
    assert resources_free(60), "a stopped trial left its placement group reserved"
    print(f"resources free {time.monotonic() - t0:.1f}s after the search")
    best = df.iloc[0]
    assert best["val_accuracy"] > 0.5, "LeNet-5 learns the digits"
    assert best["objective"] == df["objective"].max()
    history = json.loads(best["history"])
    assert [h["epoch"] for h in history] == list(range(1, best["epochs_run"] + 1))
    assert (run_dir / best["checkpoint_path"] / "model.weights.h5").is_file()
    assert (run_dir / best["checkpoint_path"] / "confusion.npy").is_file()
    assert meta["dataset"]["classes"] == [str(i) for i in range(10)] and meta["ended"]
    assert df["test_accuracy"].notna().sum() >= 1  # the top trials are scored on the test split
    # Plain pandas reads it; one row per trial, typed columns.
    plain = pd.read_parquet(run_dir / "leaderboard.parquet")
    assert list(plain["trial_id"]) == list(df["trial_id"])
    out = capsys.readouterr().out
    assert "trials done" in out and "top " in out and "python -m tuner.report" in out
    # TensorBoard logs for every trial under the run directory (Tune's TBX logger).
    assert len(list((run_dir / "search").glob("*/events.out.tfevents.*"))) == 6
    # The Optuna study on disk, ASHA's stops as PRUNED, as optuna-dashboard serves it.
    assert_study_matches_leaderboard(run_dir)
    served = _optuna_dashboard_studies(run_dir / "optuna.db")
    assert [(s["study_name"], s["directions"]) for s in served] == [("search", ["maximize"])]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name("asha").experiment_id])
    by_trial = {r.data.tags["tuner.trial_id"]: r for r in runs}
    assert set(by_trial) == set(df["trial_id"])
    assert [t for t, r in by_trial.items() if r.data.tags.get("tuner.best")] == [best["trial_id"]]
    for _, row in df.iterrows():
        r = by_trial[row["trial_id"]]
        assert r.data.tags["tuner.status"] == row["status"] and r.info.status == "FINISHED"
        assert len(client.get_metric_history(r.info.run_id, "val_accuracy")) == row["epochs_run"]


def _optuna_dashboard_studies(db: Path) -> list[dict]:
    """What ``optuna-dashboard sqlite:///DB`` serves at /api/studies (on a free loopback port)."""
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dashboard = str(Path(sys.executable).parent / "optuna-dashboard")
    server = subprocess.Popen([dashboard, f"sqlite:///{db}", "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as response:
                    return json.loads(response.read())["study_summaries"]
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:] if server.stderr else ""
                assert time.monotonic() < deadline, "optuna-dashboard did not answer within 60 s"
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)


NAN_SPACE = """
kind: scratch
metric: val_accuracy
architectures: [lenet5]
params:
  lr: {choice: [1.0e+38, 0.05]}
  optimizer: {choice: [sgd_momentum]}
  batch_size: {fixed: 64}
  input_size: {fixed: 32}
  augment: {fixed: none}
# The grid makes the failing trials certain (TPE's picks depend on which trials finish first).
budget: {max_epochs: 2, grace_period: 2, reduction_factor: 2, sampler: grid}
"""


def test_nan_loss_fails_the_trial_and_the_search_goes_on(ray_address, tmp_path, monkeypatch):
    """Also the grid sampler (every point of the grid exactly once) and the README's default
    of a relative --storage (./runs)."""
    monkeypatch.chdir(tmp_path)
    space = write_space(tmp_path / "spaces", NAN_SPACE)
    plan = build_plan(Options(space=space, name="nan", storage="runs", seed=3))
    run_search(plan, Path("runs") / "nan")
    run_dir = tmp_path / "runs" / "nan"
    df, meta = read_leaderboard(run_dir)
    assert len(df) == 2 and meta["num_samples"] == 2
    assert sorted(df["lr"]) == [0.05, 1e38] and set(df["optimizer"]) == {"sgd_momentum"}
    failed = df[df["status"] == "failed"]
    assert len(failed) == 1 and set(failed["failure_reason"]) == {"nan_loss"}
    assert (failed["lr"] == 1e38).all()
    assert (df["status"] == "completed").sum() == 1, "the other trial finished"
    assert resources_free()


GRID_SPACE = """
kind: scratch
metric: val_accuracy
architectures: [lenet5]
params:
  lr: {choice: [1.0e-3, 1.0e-2]}
  optimizer: {choice: [adam, sgd_momentum]}
  batch_size: {fixed: 64}
  input_size: {fixed: 32}
  augment: {fixed: none}
budget: {max_epochs: 1, grace_period: 1, sampler: grid}
"""


def test_grid_sampler_refuses_continuous_parameters_and_num_samples(tmp_path):
    from tuner.errors import ConfigError

    space = write_space(tmp_path, GRID_SPACE.replace("{choice: [1.0e-3, 1.0e-2]}", "{loguniform: [1.0e-3, 1.0e-2]}"))
    with pytest.raises(ConfigError, match="params.lr is continuous"):
        build_plan(Options(space=space, storage=str(tmp_path)))
    space = write_space(tmp_path, GRID_SPACE, name="grid.yaml")
    with pytest.raises(ConfigError, match="--num-samples does not apply to a grid"):
        build_plan(Options(space=space, storage=str(tmp_path), num_samples=3))
