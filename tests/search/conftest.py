"""Helpers of the search tests (the session's Ray instance is ``ray_address`` in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path


def write_space(folder: Path, text: str, name: str = "space.yaml") -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return str(path)


def resources_free(wait: float = 10.0) -> bool:
    """All CPUs and GPUs free again (allowing Ray a few seconds to reap finished actors)."""
    import time

    import ray

    deadline = time.monotonic() + wait
    while True:
        total = ray.cluster_resources()
        free = ray.available_resources()
        if all(abs(free.get(k, 0.0) - v) < 1e-6 for k, v in total.items() if k in ("CPU", "GPU")):
            return True
        if time.monotonic() > deadline:
            from ray.util.placement_group import placement_group_table

            held = {k: v["bundles"] for k, v in placement_group_table().items() if v["state"] == "CREATED"}
            print(f"resources still held: free={free} total={total} placement groups={held}")
            return False
        time.sleep(0.5)


def lenet_space(budget: str, batch_size: int = 64, input_size: int = 32) -> str:
    """A scratch LeNet-5 space on the digits (32 px by default): real training in seconds per epoch."""
    return f"""
kind: scratch
metric: val_accuracy
architectures: [lenet5]
params:
  lr: {{loguniform: [3.0e-3, 3.0e-2]}}
  optimizer: {{fixed: sgd_momentum}}
  batch_size: {{fixed: {batch_size}}}
  input_size: {{fixed: {input_size}}}
  augment: {{fixed: none}}
budget: {{{budget}}}
"""


def assert_study_matches_leaderboard(run_dir) -> None:
    """``RUN_DIR/optuna.db`` holds one Optuna study per stage that agrees with the leaderboard
    row by row: state, value, parameters, per-epoch metric."""
    import json

    import optuna

    from tuner.leaderboard import read_leaderboard
    from tuner.search.driver._study import STATES

    df, meta = read_leaderboard(run_dir)
    storage = f"sqlite:///{run_dir / 'optuna.db'}"
    assert {s.study_name for s in optuna.get_all_study_summaries(storage)} == set(df["stage"])
    for stage, rows in df.groupby("stage"):
        study = optuna.load_study(study_name=stage, storage=storage)
        trials = {t.user_attrs["trial_id"]: t for t in study.trials}
        assert set(trials) == set(rows["trial_id"]), (stage, sorted(trials), sorted(rows["trial_id"]))
        for _, row in rows.iterrows():
            t = trials[row["trial_id"]]
            assert t.state.name == STATES[row["status"]], (row["trial_id"], row["status"], t.state)
            assert t.user_attrs["status"] == row["status"] and t.user_attrs["epochs_run"] == row["epochs_run"]
            if t.state.name == "COMPLETE":
                assert t.value == row["objective"]
            if "lr" in t.params:
                assert t.params["lr"] == row["lr"]
            history = json.loads(row["history"])
            assert t.intermediate_values == {h["epoch"]: h[meta["metric"]] for h in history if h.get(meta["metric"]) is not None}
