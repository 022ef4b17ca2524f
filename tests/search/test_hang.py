"""The end-of-trial hang (issue 11): a driver slower than its trials must never stall a search.

With Ray's ``TuneReportCallback`` a trial whose ``fit()`` returned before the driver took its
last reports blocked forever (Tune's closing result entered the size-1 result queue ahead of
the last epoch). A driver callback that sleeps 3 s per result made that certain with LeNet-5
epochs of about a second. The driver runs in its own process, joined to the session's Ray
instance, so a hang is a timeout here rather than a stuck test session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.search.conftest import resources_free, write_space
from tuner.leaderboard import read_leaderboard

pytestmark = pytest.mark.slow

SPACE = """
kind: scratch
metric: val_accuracy
architectures: [lenet5]
params:
  lr: {fixed: 0.02}
  optimizer: {fixed: sgd_momentum}
  batch_size: {fixed: 64}
  input_size: {fixed: 32}
  augment: {fixed: none}
budget: {num_samples: 2, max_epochs: 2, grace_period: 2, reduction_factor: 2}
"""

SLOW_DRIVER = """
import sys, time
from pathlib import Path
from ray.tune import Callback
from tuner.search.driver._driver import run_search
from tuner.search.plan._plan import Options, build_plan

class SlowDriver(Callback):
    # A driver busy for 3 s per result: a loaded machine, or slow per-result work.
    def on_trial_result(self, iteration, trials, trial, result, **info):
        time.sleep(3.0)

space, storage, runner = sys.argv[1], sys.argv[2], sys.argv[3]
plan = build_plan(Options(space=space, name="slow", storage=storage)).evolve(runner=runner)
run_search(plan, Path(storage) / "slow", callbacks=[SlowDriver()])
"""


@pytest.mark.parametrize("runner", ["warm", "train"])
def test_a_slow_driver_never_hangs_the_end_of_a_trial(ray_address, tmp_path, runner):
    """Both ways a trial runs: warm (Tune's own function-trial reporting) and Ray Train (the
    relay), the way trials holding 2+ GPUs run."""
    space = write_space(tmp_path, SPACE)
    storage = tmp_path / "runs"
    env = {**os.environ, "RAY_ADDRESS": ray_address, "RAY_AUTH_MODE": "token"}
    try:
        done = subprocess.run([sys.executable, "-c", SLOW_DRIVER, space, str(storage), runner], env=env, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the search hung: no end after 300 s (2 trials of 2 one-second epochs)\n{(exc.stdout or b'')[-2000:]!r}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    df, _ = read_leaderboard(storage / "slow")
    assert len(df) == 2 and set(df["status"]) == {"completed"}, df[["trial_id", "status", "epochs_run"]]
    # Every epoch of every trial reached the leaderboard, none twice.
    for history in df["history"]:
        assert [h["epoch"] for h in json.loads(history)] == [1, 2]
    assert resources_free(30)
    # Quiet console (issue 11): Ray's internals go to the run's ray.log, not the terminal.
    shown = done.stdout + done.stderr
    for internal in ("core_worker", "(raylet)", "raylet.cc", "PlacementGroupCleaner", "(pid=", "PYTHON worker processes"):
        assert internal not in shown, f"Ray's {internal!r} reached the terminal:\n{shown[-3000:]}"
    log = storage / "slow" / "ray.log"
    assert f"Ray's log (its workers' output and warnings): {log}" in done.stdout
    assert "[search] 2/2 trials done" in done.stdout
