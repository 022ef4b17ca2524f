"""The search's Tune callbacks, driven directly: trial folders on disk, real placement groups."""

from __future__ import annotations

import json
import pickle
from types import SimpleNamespace

import pytest

from tuner._run import STOPPED_FILE
from tuner.search.driver._callbacks import FailureGuard
from tuner.search.trial._trial import write_failure


def _trial(tmp_path, trial_id, reason=None, fatal=False):
    folder = tmp_path / "search" / trial_id
    folder.mkdir(parents=True)
    (folder / "params.json").write_text(json.dumps({"lr": 0.01}))  # what Tune writes first
    if reason:
        write_failure(folder, trial_id, reason, fatal=fatal)
    return SimpleNamespace(trial_id=trial_id, local_path=str(folder))


def test_failed_trials_in_a_row_stop_the_stage_and_a_success_resets_the_count(tmp_path):
    guard = FailureGuard(str(tmp_path / "search"), max_consecutive=3)
    for i, ok in enumerate([False, False, True, False, False]):
        trial = _trial(tmp_path, f"t{i}", None if ok else "nan_loss")
        (guard.on_trial_complete if ok else guard.on_trial_error)(i, [], trial)
    assert not guard.stop_all() and not (tmp_path / "search" / STOPPED_FILE).exists()
    guard.on_trial_error(5, [], _trial(tmp_path, "t5", "out_of_memory: OOM when allocating"))
    assert guard.stop_all() and not guard.fatal
    assert "3 trials failed in a row (the last: out_of_memory: OOM when allocating)" in guard.reason
    saved = json.loads((tmp_path / "search" / STOPPED_FILE).read_text())
    assert saved == {"reason": guard.reason, "fatal": False}


def test_a_fatal_trial_stops_the_stage_at_once_with_the_workers_line(tmp_path):
    guard = FailureGuard(str(tmp_path / "search"), max_consecutive=5)
    guard.on_trial_error(0, [], _trial(tmp_path, "t0", "dataset d changed since the search started", fatal=True))
    assert guard.stop_all() and guard.fatal and guard.reason == "dataset d changed since the search started"


def test_fatal_is_a_field_of_the_report_not_a_prefix_of_its_reason(tmp_path):
    """A reason that happens to start with "fatal: " is an ordinary failure; the report's
    ``fatal`` field (set where a user error is caught) is what stops a search."""
    from tuner.search.plan._contracts import EpochReport

    guard = FailureGuard(str(tmp_path / "search"), max_consecutive=5)
    trial = _trial(tmp_path, "t0")
    guard.on_trial_result(0, [], SimpleNamespace(**vars(trial), max_failures=3), EpochReport(epoch=1, failure_reason="fatal: looks bad").result())
    guard.on_trial_error(0, [], trial)
    assert not guard.stop_all()
    trial = _trial(tmp_path, "t1")
    guard.on_trial_result(0, [], SimpleNamespace(**vars(trial), max_failures=3), EpochReport(epoch=0, failure_reason="data changed", fatal=True).result())
    guard.on_trial_error(0, [], trial)
    assert guard.stop_all() and guard.fatal and guard.reason == "data changed"


@pytest.mark.parametrize(("reason", "fatal"), [("nan_loss", False), ("bad data", True)])
def test_a_restored_guard_starts_clean(tmp_path, reason, fatal):
    """Tune pickles the guard with the experiment: --resume after the fix must run on."""
    guard = FailureGuard(str(tmp_path / "search"), max_consecutive=1)
    guard.on_trial_error(0, [], _trial(tmp_path, "t0", reason, fatal=fatal))
    assert guard.stop_all()
    restored = pickle.loads(pickle.dumps(guard))
    assert not restored.stop_all() and restored.max_consecutive == 1
