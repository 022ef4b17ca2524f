"""The driver's progress line, leaderboard writer thread and console alert filter, driven
directly (the real objects; trials are the few attributes Tune's ``Trial`` gives them)."""

from __future__ import annotations

import io
import threading
import time
from types import SimpleNamespace

import pytest

from tuner.search.driver import _console
from tuner.search.driver._callbacks import LeaderboardCallback, ProgressCallback
from tuner.search.driver._console import Console


def _trial(trial_id: str, status: str = "RUNNING", finished: bool | None = None, config: dict | None = None):
    last = {"finished": finished} if finished is not None else {}
    return SimpleNamespace(trial_id=trial_id, status=status, local_path=None, last_result=last, config=config or {"lr": trial_id, "repeat": 0})


@pytest.fixture
def said(monkeypatch):
    lines: list[str] = []
    monkeypatch.setattr("tuner.search.driver._callbacks.say", lambda line, err=False: lines.append(line))
    return lines


def test_progress_counts_done_stopped_failed_the_best_and_an_eta(said, monkeypatch):
    monkeypatch.setattr("tuner.search.driver._callbacks.failure_reason", lambda path: "nan_loss")
    progress = ProgressCallback("search", "val_accuracy", "max", total=4, every=0.0)
    a, b, c, d = (_trial(t) for t in "abcd")
    progress.on_trial_result(0, [a, b], a, {"val_accuracy": 0.5})
    progress.on_trial_result(0, [a, b], b, {"val_accuracy": 0.75})
    progress.on_trial_result(0, [a, b], a, {"val_accuracy": float("nan")})  # not a best
    assert "best val_accuracy 0.7500 (b)" in said[-1] and "0/4 trials done" in said[-1] and "2 running" in said[-1]
    a.last_result = {"finished": True}
    progress.on_trial_complete(0, [a, b], a)
    assert "1/4 trials done (0 failed)" in said[-1]  # "stopped early" only once a trial was
    b.last_result = {"finished": False}  # ASHA stopped it
    progress.on_trial_complete(0, [b, c], b)
    progress.on_trial_error(0, [c, d], c)
    assert any(line == "[search] trial c failed: nan_loss" for line in said)
    last = said[-1]
    assert "3/4 trials done (1 stopped early, 1 failed)" in last and "ETA ~" in last


def test_progress_names_the_leader_as_the_leaderboard_ranks_it(said):
    """A configuration trained again leads by its mean, not by its luckier training."""
    progress = ProgressCallback("search", "val_accuracy", "max", total=4, every=0.0)
    lucky, again = _trial("lucky", config={"lr": 0.1, "repeat": 0}), _trial("again", config={"lr": 0.1, "repeat": 1})
    other = _trial("other", config={"lr": 0.2, "repeat": 0})
    for t, value in ((lucky, 0.9), (other, 0.85), (again, 0.7)):
        progress.on_trial_result(0, [t], t, {"val_accuracy": value, "epoch": 3})
    assert "best val_accuracy 0.9000 (lucky)" in said[-1]  # its re-run is still running
    for t in (lucky, other, again):
        t.last_result = {"finished": True}
        progress.on_trial_complete(0, [t], t)
    assert "best val_accuracy 0.8500 (other)" in said[-1]  # lucky's configuration: mean 0.80
    progress.on_trial_result(0, [other], other, {"val_accuracy": 0.5, "epoch": 3})
    third = _trial("third", config={"lr": 0.1, "repeat": 2})
    progress.on_trial_result(0, [third], third, {"val_accuracy": 0.99, "epoch": 3})
    third.last_result = {"finished": True}
    progress.on_trial_complete(0, [third], third)
    assert "best val_accuracy 0.8633 (third, mean of 3 trainings)" in said[-1]


def test_progress_is_quiet_between_its_interval_but_beats_every_heartbeat(said):
    progress = ProgressCallback("search", "val_loss", "min", total=2, every=3600.0, heartbeat=0.05)
    t = _trial("t")
    progress.on_trial_result(0, [t], t, {"val_loss": 0.4})
    progress.on_trial_result(0, [t], t, {"val_loss": 0.3})  # within the interval: no line
    assert len(said) == 1 and "best val_loss 0.4000" in said[0]
    time.sleep(0.06)
    progress.on_step_end(0, [t])
    assert len(said) == 2 and "best val_loss 0.3000 (t)" in said[1]  # min mode: lower is best


def test_the_leaderboard_writer_coalesces_bursts_off_the_callers_thread(tmp_path, monkeypatch):
    writes: list[tuple[set, dict, str]] = []
    started = threading.Event()

    def slow_write(self, running, fresh):
        started.set()
        time.sleep(0.2)  # a rewrite reads every trial's files
        writes.append((running, fresh, threading.current_thread().name))

    monkeypatch.setattr(LeaderboardCallback, "write", slow_write)
    callback = LeaderboardCallback(str(tmp_path), plan=SimpleNamespace(remote=None), min_interval=0.1)  # type: ignore[arg-type]
    trials = [_trial(f"t{i}") for i in range(3)]
    t0 = time.monotonic()
    for i in range(50):  # a burst of results: Tune's loop must not wait for rewrites
        callback.on_trial_result(i, trials, trials[0], {})
    assert time.monotonic() - t0 < 0.1
    assert started.wait(5)
    trials[0].status = "TERMINATED"
    callback.on_trial_complete(50, trials, trials[0])
    time.sleep(0.8)
    callback.stop()
    assert 1 <= len(writes) <= 4, len(writes)  # 51 snapshots coalesced
    assert all(name == "tuner-leaderboard" for *_, name in writes)
    assert writes[-1][0] == {"t1", "t2"}  # the last snapshot wins: the ended trial is not running
    import pickle

    restored = pickle.loads(pickle.dumps(callback))  # Tune pickles it with the experiment
    assert restored._thread is None and restored.min_interval == 0.1


def test_a_failed_rewrite_warns_and_the_writer_goes_on(tmp_path, monkeypatch, said):
    calls: list[int] = []

    def flaky(self, running, fresh):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk full")

    monkeypatch.setattr(LeaderboardCallback, "write", flaky)
    callback = LeaderboardCallback(str(tmp_path), plan=SimpleNamespace(remote=None), min_interval=0.0)  # type: ignore[arg-type]
    t = _trial("t")
    callback.on_trial_result(0, [t], t, {})
    time.sleep(0.3)
    callback.on_trial_result(1, [t], t, {})
    time.sleep(0.3)
    callback.stop()
    assert len(calls) == 2
    assert any("leaderboard update failed (OSError: disk full)" in line for line in said)


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("(raylet) Task was killed due to the node running low on memory. Memory monitor ...", True),
        ("\x1b[33m(raylet)\x1b[0m A worker died or was killed: OutOfMemoryError", True),
        ("The node with node id abc has been marked dead because the detector has missed too many heartbeats.", True),
        ("ray.exceptions.NodeDiedError: node lost", True),
        ("2026-12-06 INFO tune.py:616 -- [output] This uses the legacy output and progress reporter", False),
        ("(ImplicitFunc pid=1) Epoch 1/3 ... accuracy: 0.91", False),
        ("", False),
    ],
)
def test_the_console_shows_only_rays_alerts_once_each(tmp_path, line, shown):
    err = io.StringIO()
    console = Console(io.StringIO(), err, tmp_path / "ray.log")
    console.alert(line)
    console.alert(line)  # the same alert again: not repeated
    out = err.getvalue()
    assert (out.count("\n") == 1) == shown, out
    if shown:
        assert out.startswith("ray: ") and str(tmp_path / "ray.log") in out and "\x1b[" not in out
    assert _console.ALERT.search(line) is not None or not shown
