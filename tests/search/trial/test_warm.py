"""Warm trials: trial after trial in one process that keeps TensorFlow imported, and a fresh
process whenever a trial failed. Real searches on the session's Ray instance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.search.conftest import resources_free, write_space
from tuner.leaderboard import read_leaderboard
from tuner.search.driver._driver import run_search
from tuner.search.plan._plan import Options, build_plan

pytestmark = pytest.mark.slow

# Five trials in the grid's order, one at a time: a good one, one that diverges to NaN, one
# that learns nothing (ASHA stops it at its first rung, behind the good one), two good ones.
SPACE = """
kind: scratch
metric: val_accuracy
architectures: [lenet5]
params:
  lr: {choice: [0.02, 1.0e+38, 1.0e-7, 0.03, 0.04]}
  optimizer: {fixed: sgd_momentum}
  batch_size: {fixed: 64}
  input_size: {fixed: 32}
  augment: {fixed: none}
budget: {num_samples: 5, max_epochs: 3, grace_period: 1, reduction_factor: 2, sampler: grid, early_stopping: asha}
"""


def _pids(run_dir: Path, trial_dir: str) -> set[int]:
    journal = run_dir / "epochs" / trial_dir  # epochs/<stage>/<trial>.jsonl
    lines = journal.with_suffix(".jsonl").read_text().splitlines()
    return {int(json.loads(line)["pid"]) for line in lines if '"pid"' in line}


def test_trials_reuse_a_warm_process_unless_one_failed_and_processes_retire(ray_address, tmp_path, monkeypatch):
    from tuner.search.trial import _trial

    # The space says early_stopping: asha, so that the third trial is stopped for sure
    # (Hyperband's brackets put some trials where nothing stops them).
    monkeypatch.setattr(_trial, "TRIALS_PER_PROCESS", 4)  # one process at a time: 4 trials a generation
    space = write_space(tmp_path, SPACE)
    plan = build_plan(Options(space=space, name="warm", storage=str(tmp_path / "runs"), max_concurrent=1))
    run_dir = tmp_path / "runs" / "warm"
    run_search(plan, run_dir)
    df, _ = read_leaderboard(run_dir)
    df = df.sort_values("lr", key=lambda s: s.map({0.02: 0, 1e38: 1, 1e-7: 2, 0.03: 3, 0.04: 4}))
    assert list(df["status"]) == ["completed", "failed", "stopped_early", "completed", "completed"], df[["lr", "status", "failure_reason"]]
    assert df.iloc[1]["failure_reason"] == "nan_loss"
    pids = [_pids(run_dir, f"{stage}/{tid}") for stage, tid in zip(df["stage"], df["trial_id"])]
    assert all(len(p) == 1 for p in pids), pids
    good, nan, stopped, reused, retired = (p.pop() for p in pids)
    assert nan == good, "the second trial did not run in the first one's (warm) process"
    assert stopped != nan, "a process whose trial failed (NaN) was reused"
    assert reused == stopped, "the process of a trial ASHA stopped was not reused"
    assert retired != reused, "the fifth trial (a new generation) ran in a process that had trained 4"
    # Only the failed trial's process was replaced: no Tune retry of a reported failure.
    assert "Failure # 2" not in (run_dir / df.iloc[1]["trial_dir"] / "error.txt").read_text()
    assert resources_free(60)


def _models_alive() -> list:
    """Keras models still in this process after a few collections (tf.data's and TensorFlow's
    threads may hold a frame for a moment after a trial: a leak is what stays)."""
    import gc
    import time

    import keras

    for _ in range(10):
        gc.collect()
        alive = [o for o in gc.get_objects() if isinstance(o, keras.Model)]
        if not alive:
            return []
        time.sleep(0.5)
    return [f"{type(r).__name__}: {str(r)[:200]}" for o in alive for r in gc.get_referrers(o) if r is not alive]


def test_a_warm_trial_releases_its_model_however_it_ends(tmp_path):
    """After ``warm()``, no Keras model of the trial is alive in the process, whether it ended
    normally or Tune stopped it (``SystemExit`` in its report, as ASHA's stop arrives), and
    the stop reaches Tune. Fails without ``warm()``'s clean-up: Keras' global state keeps
    every model built."""
    from tests.search.test_faults import _demo_config
    from tuner.search.worker._worker import run_training, warm

    for _ in range(2):
        with warm():
            run_training(_demo_config(), lambda m, d: None)
        assert not _models_alive()

    def stop(metrics, directory):
        raise SystemExit(0)

    with pytest.raises(SystemExit) as stopped, warm():
        run_training(_demo_config(), stop)
    assert stopped.value.code == 0
    del stopped
    assert not _models_alive()


def test_a_process_whose_memory_grew_retires_its_generation():
    """Trials created after a warm process grew past the limit (from its memory when its
    second trial began) ask for the next generation of processes: a different resource
    request, so Tune does not reuse the old actors."""
    from tuner.search.trial import _trial

    request = _trial.WarmResources({"CPU": 1.0}, per_generation=100)
    tag = lambda: request({}).bundles[0]["memory"]  # noqa: E731
    first = tag()
    assert tag() == first
    note = lambda trial, mb: _trial.note_process(4242, trial, mb, growth=0.5)  # noqa: E731
    assert not note("a", 800.0) and not note("a", 1900.0), "the first trial sets no baseline"
    assert not note("b", 1000.0)  # the second trial's first report: the baseline
    assert not note("b", 1400.0) and not note("c", 1500.0)
    assert tag() == first
    assert note("c", 1600.0)
    assert tag() == first + 1
    assert not note("d", 1700.0), "a retired process retires its generation once"
    assert tag() == first + 1
