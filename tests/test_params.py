"""The parameter registry (tuner/_params.py): a parameter declared once is validated,
sampled, a leaderboard column and in the report, with no other module touched."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest

from tests._rows import typed
from tuner._params import PARAM_DEFAULTS, ParamSpec, param_names, register_param, unregister_param
from tuner.errors import ConfigError


@pytest.fixture
def label_smoothing():
    """A throwaway parameter, registered for one test only."""
    spec = register_param(ParamSpec("label_smoothing", "label smoothing of the loss", 0.0, "Float64"))
    yield spec
    unregister_param(spec.name)
    assert "label_smoothing" not in param_names()


def _space(tmp_path, params: str):
    from tuner.search import load_space

    path = tmp_path / "space.yaml"
    path.write_text(f"kind: scratch\narchitectures: [lenet5]\nparams:\n{params}")
    return load_space(str(path))


def test_a_registered_parameter_is_validated_and_sampled(tmp_path, label_smoothing):
    from tuner.search import DefineByRun

    space = _space(tmp_path, "  label_smoothing: {uniform: [0.0, 0.2]}\n")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    values = [DefineByRun(space)(study.ask())["label_smoothing"] for _ in range(5)]
    assert all(0.0 <= v <= 0.2 for v in values) and len(set(values)) == 5
    assert DefineByRun(_space(tmp_path, "  lr: {fixed: 0.01}\n"))(study.ask())["label_smoothing"] == 0.0, "its default when unmentioned"
    with pytest.raises(ConfigError, match="label_smoothing"):
        _space(tmp_path, "  label_smoothing: {uniform: [0.3]}\n")
    with pytest.raises(ConfigError, match="label_smoothing"):
        _space(tmp_path, "  label_smoothin: {fixed: 0.1}\n")  # the message names the close key


def test_an_unregistered_parameter_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="label_smoothing"):
        _space(tmp_path, "  label_smoothing: {fixed: 0.1}\n")


def test_a_registered_parameter_is_a_leaderboard_column_and_in_the_report(tmp_path, label_smoothing):
    from tests.report._synthetic import write_synthetic_run
    from tuner._run import load_run
    from tuner.leaderboard import FILENAME, read_leaderboard, write_leaderboard
    from tuner.report import get_importance_info, get_top_table
    from tuner.search.driver._rows import trial_row

    row = trial_row(
        "t1",
        {"params": {"architecture": "lenet5", "label_smoothing": 0.1}, "results": [{"epoch": 1, "val_accuracy": 0.5, "finished": True}]},
        stage="search",
        metric="val_accuracy",
        mode="max",
    )
    assert row.param("label_smoothing") == 0.1 and row.record()["label_smoothing"] == 0.1

    run_dir = write_synthetic_run(tmp_path / "run", n_trials=60, groupings=False)
    df, meta = read_leaderboard(run_dir)
    rng = np.random.default_rng(0)
    rows = []
    for r in df.to_dict("records"):
        ls = float(rng.uniform(0, 0.2))
        if r["objective"] is not None and not (isinstance(r["objective"], float) and np.isnan(r["objective"])):
            r["objective"] = float(r["objective"]) - ls  # the objective depends on it
        rows.append({**{k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else v) for k, v in r.items()}, "label_smoothing": ls})
    write_leaderboard(run_dir / FILENAME, typed(rows), meta)
    df, _ = read_leaderboard(run_dir)
    assert str(df["label_smoothing"].dtype) == "Float64"
    run = load_run(run_dir)
    assert "label_smoothing" in get_top_table(run).columns
    assert "label_smoothing" in get_importance_info(run).importances
    json.dumps(PARAM_DEFAULTS)  # the registry's defaults stay plain data
