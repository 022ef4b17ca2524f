"""Leaderboard rows rebuilt from trial folders (pure functions over Tune's files)."""

from __future__ import annotations

import json
from pathlib import Path

from tuner._run import journal_path
from tuner.search.driver._rows import INTERRUPTED, TRACKED_FILE, collect_rows


def _trial(stage_dir: Path, trial_id: str, accs: list[float], finished: bool = False) -> Path:
    folder = stage_dir / trial_id
    folder.mkdir(parents=True)
    (folder / "params.json").write_text(json.dumps({"architecture": "lenet5", "lr": 0.01, "optimizer": "adam"}))
    lines = [json.dumps({"trial_id": trial_id, "epoch": i + 1, "val_accuracy": a, "finished": finished and i == len(accs) - 1}) for i, a in enumerate(accs)]
    (folder / "result.json").write_text("\n".join(lines) + ("\n" if lines else ""))
    return folder


def test_rows_take_the_best_epoch_and_sort_best_first(tmp_path):
    _trial(tmp_path / "search", "a", [0.2, 0.6, 0.5], finished=True)
    _trial(tmp_path / "search", "b", [0.7])
    rows = collect_rows(tmp_path, "val_accuracy", "max")
    assert [r.trial_id for r in rows] == ["b", "a"]
    assert rows[1].param("lr") == 0.01 and rows[1].param("optimizer") == "adam" and rows[1].param("dropout") is None
    a = rows[1]
    assert (a.status, a.best_epoch, a.objective, a.epochs_run) == ("completed", 2, 0.6, 3)
    assert rows[0].status == "stopped_early"


def test_untracked_trial_folders_after_a_crash_are_dropped_or_marked_interrupted(tmp_path):
    stage = tmp_path / "search"
    _trial(stage, "kept", [0.5], finished=True)
    _trial(stage, "staged", [])  # staged by Tune, never trained
    _trial(stage, "lost", [0.3, 0.4])  # trained, but Tune's state never recorded it
    assert {r.trial_id for r in collect_rows(tmp_path, "val_accuracy", "max")} == {"kept", "staged", "lost"}
    (stage / TRACKED_FILE).write_text('["kept", "lo')  # torn: as if absent, never a failed resume
    assert {r.trial_id for r in collect_rows(tmp_path, "val_accuracy", "max")} == {"kept", "staged", "lost"}
    (stage / TRACKED_FILE).write_text(json.dumps(["kept"]))
    rows = {r.trial_id: r for r in collect_rows(tmp_path, "val_accuracy", "max")}
    assert set(rows) == {"kept", "lost"}
    assert rows["kept"].status == "completed"
    assert rows["lost"].status == "interrupted" and rows["lost"].failure_reason == INTERRUPTED
    assert (rows["lost"].epochs_run, rows["lost"].best_epoch, rows["lost"].objective) == (2, 2, 0.4)


def test_the_journal_keeps_epochs_that_a_restored_trial_lost_from_result_json(tmp_path):
    # Issue 11: after --resume, Tune's result.json of a restored trial held only its last
    # epoch (0.422 at 15) while it had peaked at epoch 8 (0.641): the row must keep the peak.
    accs = [0.3, 0.4, 0.5, 0.55, 0.6, 0.62, 0.63, 0.641, 0.6, 0.55, 0.5, 0.45, 0.44, 0.43, 0.422]
    folder = _trial(tmp_path / "search", "fe1a590b", [])
    (folder / "result.json").write_text(
        json.dumps({"epoch": 15, "val_accuracy": 0.422, "finished": True, "checkpoint_path": "train/fe1a590b/checkpoint_15"}) + "\n"
    )
    for e in (8, 15):
        (tmp_path / "train" / "fe1a590b" / f"checkpoint_{e}").mkdir(parents=True)
    journal = journal_path(tmp_path, "search", "fe1a590b")
    journal.parent.mkdir(parents=True)
    lines = [
        {"epoch": i + 1, "val_accuracy": a, "finished": i == 14, "checkpoint_path": str(tmp_path / f"train/fe1a590b/checkpoint_{i + 1}")}
        for i, a in enumerate(accs)
    ]
    lines.insert(10, {**lines[9], "val_accuracy": 0.1})  # epoch 10 reported twice (worker restarted): the later wins
    journal.write_text("".join(json.dumps(x) + "\n" for x in lines))
    (row,) = collect_rows(tmp_path, "val_accuracy", "max")
    assert (row.status, row.epochs_run, row.best_epoch, row.objective) == ("completed", 15, 8, 0.641)
    assert row.checkpoint_path == "train/fe1a590b/checkpoint_8"
    assert [h.epoch for h in row.history] == list(range(1, 16))
    assert [h.val_accuracy for h in row.history] == accs[:9] + [0.1] + accs[10:]


def test_a_replayed_last_epoch_keeps_the_original_report_and_fills_a_gap(tmp_path):
    from tuner.search.driver._rows import merge_epochs

    original = {"epoch": 3, "val_accuracy": 0.9, "finished": False, "checkpoint_path": "c3"}
    replay = {"epoch": 3, "val_accuracy": 0.9, "finished": True, "replayed": True}
    (merged,) = merge_epochs([original], [replay])
    assert merged["checkpoint_path"] == "c3" and merged["val_accuracy"] == 0.9 and merged["finished"]
    (alone,) = merge_epochs([], [replay])
    assert alone["finished"] is True  # an epoch Tune never heard of before the crash
    retrained = {"epoch": 3, "val_accuracy": 0.8, "checkpoint_path": "c3b"}
    assert merge_epochs([original], [retrained])[0]["checkpoint_path"] == "c3b"
