"""Leaderboard rows rebuilt from trial folders (pure functions over Tune's files)."""

from __future__ import annotations

import json
from pathlib import Path

from tuner.search._rows import INTERRUPTED, TRACKED_FILE, collect_rows


def _trial(stage_dir: Path, trial_id: str, accs: list[float], finished: bool = False) -> Path:
    folder = stage_dir / trial_id
    folder.mkdir(parents=True)
    (folder / "params.json").write_text(json.dumps({"architecture": "lenet5", "lr": 0.01, "optimizer": "adam"}))
    lines = [
        json.dumps({"trial_id": trial_id, "epoch": i + 1, "val_accuracy": a, "finished": finished and i == len(accs) - 1})
        for i, a in enumerate(accs)
    ]
    (folder / "result.json").write_text("\n".join(lines) + ("\n" if lines else ""))
    return folder


def test_rows_take_the_best_epoch_and_sort_best_first(tmp_path):
    _trial(tmp_path / "search", "a", [0.2, 0.6, 0.5], finished=True)
    _trial(tmp_path / "search", "b", [0.7])
    rows = collect_rows(tmp_path, "val_accuracy", "max")
    assert [r["trial_id"] for r in rows] == ["b", "a"]
    a = rows[1]
    assert (a["status"], a["best_epoch"], a["objective"], a["epochs_run"]) == ("completed", 2, 0.6, 3)
    assert rows[0]["status"] == "stopped_early"


def test_untracked_trial_folders_after_a_crash_are_dropped_or_marked_interrupted(tmp_path):
    stage = tmp_path / "search"
    _trial(stage, "kept", [0.5], finished=True)
    _trial(stage, "staged", [])  # staged by Tune, never trained
    _trial(stage, "lost", [0.3, 0.4])  # trained, but Tune's state never recorded it
    assert {r["trial_id"] for r in collect_rows(tmp_path, "val_accuracy", "max")} == {"kept", "staged", "lost"}
    (stage / TRACKED_FILE).write_text(json.dumps(["kept"]))
    rows = {r["trial_id"]: r for r in collect_rows(tmp_path, "val_accuracy", "max")}
    assert set(rows) == {"kept", "lost"}
    assert rows["kept"]["status"] == "completed"
    assert rows["lost"]["status"] == "failed" and rows["lost"]["failure_reason"] == INTERRUPTED
    assert rows["lost"]["epochs_run"] == 2
