"""The Optuna study on disk (``RUN_DIR/optuna.db``): rows mapped to Optuna trials, then synced."""

from __future__ import annotations

import json

import optuna
import pytest

from tuner.data import demo_dataset_dir
from tuner.leaderboard import TrialRow
from tuner.search.driver._study import study_trials, sync_study
from tuner.search.plan._contracts import Plan
from tuner.search.plan._plan import Options, build_plan, stage_space


def _plan(weights: str = "imagenet") -> Plan:
    plan = build_plan(Options(space="finetune", data=str(demo_dataset_dir())))
    return plan.evolve(weights=dict.fromkeys(plan.architectures, weights))


def _row(trial_id: str, status: str, arch: str = "resnet50", epochs: int = 3, **kw) -> TrialRow:
    history = [
        {"epoch": e, "val_accuracy": 0.5 + e / 10, "val_accuracy_common": 0.6 + e / 10, "time": 1000.0 + e + 100 * int(trial_id[-1])}
        for e in range(1, epochs + 1)
    ]
    row = {
        "trial_id": trial_id, "stage": "search", "status": status, "architecture": arch, "lr": 1e-3, "lr_schedule": "cosine",
        "optimizer": "adam", "dropout": 0.2, "dense_units": 512, "unfrozen_blocks": 3, "warmup_epochs": 1, "backbone_lr_mult": 0.1,
        "grouping": "none", "batch_size": 32, "input_size": "default", "augment": "study", "epochs_run": epochs,
        "objective": max(h["val_accuracy_common"] for h in history), "failure_reason": None, "history": json.dumps(history),
    }  # fmt: skip
    return TrialRow.from_record({**row, **kw})


def test_rows_become_trials_with_the_samplers_names_states_and_learning_curves():
    rows = [
        _row("t2", "stopped_early", epochs=1),
        _row("t1", "completed", arch="mobilenet_v2"),
        _row("t3", "failed", failure_reason="nan_loss", objective=None),
        _row("t4", "running", epochs=2),
        _row("t5", "interrupted", epochs=2),
    ]
    trials = study_trials(rows, "search", stage_space(_plan(), "search"), "val_accuracy_common")
    assert [t.trial_id for t in trials] == ["t1", "t2", "t3", "t4", "t5"]  # in start order
    assert [t.state for t in trials] == ["COMPLETE", "PRUNED", "FAIL", "RUNNING", "FAIL"]
    assert trials[0].value == pytest.approx(0.9) and all(t.value is None for t in trials[1:])
    # Per-architecture ranges under the sampler's own names, with their distributions.
    assert trials[0].params["unfrozen_blocks.mobilenet_v2"] == 3 and trials[1].params["unfrozen_blocks.resnet50"] == 3
    assert trials[0].distributions["lr"] == optuna.distributions.FloatDistribution(1e-5, 1e-2, log=True)
    assert trials[1].intermediate == {1: pytest.approx(0.7)}
    assert trials[2].user_attrs["failure_reason"] == "nan_loss" and trials[2].user_attrs["repeat"] == 0


def test_random_weights_are_not_sampled_so_they_are_not_parameters():
    (t,) = study_trials([_row("t1", "completed", arch="mobilenet_v2")], "search", stage_space(_plan("none"), "search"), "val_accuracy")
    assert not {k for k in t.params if k.startswith(("unfrozen_blocks", "warmup_epochs", "backbone_lr_mult"))}


def test_sync_adds_updates_and_rewrites_a_trial_a_resumed_search_reopened(tmp_path):
    db = tmp_path / "optuna.db"
    stages = {"search": stage_space(_plan(), "search")}
    storage = f"sqlite:///{db}"

    def states():
        study = optuna.load_study(study_name="search", storage=storage)
        return {t.user_attrs["trial_id"]: (t.state.name, len(t.intermediate_values)) for t in study.trials}

    sync_study(db, [_row("t1", "running", epochs=1)], stages, "val_accuracy", "max")
    assert states() == {"t1": ("RUNNING", 1)}
    sync_study(db, [_row("t1", "running", epochs=2), _row("t2", "completed")], stages, "val_accuracy", "max")
    assert states() == {"t1": ("RUNNING", 2), "t2": ("COMPLETE", 3)}
    # Ctrl+C: the leaderboard calls t1 stopped; --resume continues it to the end.
    sync_study(db, [_row("t1", "stopped_early", epochs=2), _row("t2", "completed")], stages, "val_accuracy", "max")
    assert states()["t1"] == ("PRUNED", 2)
    sync_study(db, [_row("t1", "completed", epochs=3), _row("t2", "completed")], stages, "val_accuracy", "max")
    assert states() == {"t1": ("COMPLETE", 3), "t2": ("COMPLETE", 3)}
