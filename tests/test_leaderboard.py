"""The leaderboard file: atomic rewrites, plain-pandas reads, metadata, format versions."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests._rows import typed
from tuner.errors import DataError
from tuner.leaderboard import FORMAT_VERSION, columns, read_leaderboard, write_leaderboard

ROW = {"trial_id": "a", "stage": "search", "status": "completed", "architecture": "lenet5", "lr": 0.01, "objective": 0.9, "epochs_run": 3}


def test_roundtrip_with_metadata_and_typed_columns(tmp_path):
    write_leaderboard(tmp_path / "leaderboard.parquet", typed([ROW, {**ROW, "trial_id": "b", "objective": None}]), {"name": "x"})
    df, meta = read_leaderboard(tmp_path)
    assert list(df.columns) == list(columns())
    assert df["objective"].isna().tolist() == [False, True]
    assert meta["format_version"] == FORMAT_VERSION and meta["name"] == "x"
    plain = pd.read_parquet(tmp_path / "leaderboard.parquet")
    assert plain["trial_id"].tolist() == ["a", "b"]


def test_interrupted_write_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "leaderboard.parquet"
    write_leaderboard(path, typed([ROW]), {"name": "first"})
    import tuner._io

    def dies_half_way(fd):
        raise KeyboardInterrupt("killed while writing")  # the temp file is written, not yet synced

    monkeypatch.setattr(tuner._io.os, "fsync", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        write_leaderboard(path, typed([ROW, ROW]), {"name": "second"})
    monkeypatch.undo()
    df, meta = read_leaderboard(tmp_path)
    assert len(df) == 1 and meta["name"] == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leaderboard.parquet"], "no temp file left behind"


def test_newer_format_and_missing_files_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_leaderboard(tmp_path / "nope")
    with pytest.raises(DataError, match="holds no leaderboard.parquet"):
        read_leaderboard(tmp_path)
    path = tmp_path / "leaderboard.parquet"
    write_leaderboard(path, typed([ROW]), {})
    table = pq.read_table(path)
    meta = dict(table.schema.metadata)
    meta[b"tuner"] = json.dumps({"format_version": FORMAT_VERSION + 1}).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)
    with pytest.raises(DataError, match="written by a newer tuner"):
        read_leaderboard(tmp_path)


def test_a_run_folder_reads_back_its_metadata_as_one_typed_record(tmp_path):
    """The report, export and suggestions read ``Run.meta`` as a ``RunMeta``, not a dict by key."""
    from tests.report._synthetic import write_synthetic_run
    from tuner._run import load_run
    from tuner.leaderboard import RunMeta, SweepMeta

    run = load_run(write_synthetic_run(tmp_path / "r", n_trials=12, n_classes=4, groupings=False))
    assert isinstance(run.meta, RunMeta) and isinstance(run.meta.sweep, SweepMeta)
    assert run.meta.dataset.classes == run.class_names and len(run.class_names) == 4
    assert run.meta.max_epochs == 10 and run.meta.metric == run.metric == "val_accuracy_common"
    older = RunMeta.model_validate({"format_version": 1, "name": "old"})  # a run before a field existed
    assert older.sweep is None and older.dataset.classes == []


def test_a_row_with_every_field_set_survives_the_file_and_its_columns_come_from_the_model(tmp_path):
    """``TrialRow`` is the one owner of the columns: each field is a column of its type (the
    parameters spread, one column each), and a row with every field set reads back equal."""
    import typing

    from tuner._params import PARAM_COLUMNS
    from tuner.leaderboard import EpochMetrics, TrialRow, read_rows

    def kind(name: str) -> str:
        annotation = TrialRow.model_fields[name].annotation
        return next(t for t in typing.get_args(annotation) or (annotation,) if t is not type(None)).__name__

    expected = {"str": "string", "int": "Int64", "float": "Float64"}
    cols = columns()
    for name in TrialRow.model_fields:
        if name not in ("params", "history", "stage", "status"):
            assert cols[name] == expected[kind(name)], name
    assert {k: cols[k] for k in PARAM_COLUMNS} == PARAM_COLUMNS
    values = {"float": 0.25, "int": 7, "str": "x"}
    own = {name: values[kind(name)] for name in TrialRow.model_fields if name not in ("trial_id", "stage", "status", "params", "history")}
    params = {k: {"Float64": 0.5, "Int64": 3, "string": "s"}[c] for k, c in PARAM_COLUMNS.items()}
    history = (EpochMetrics(epoch=1, val_accuracy=0.5, time=1.0), EpochMetrics(epoch=2, loss=0.1))
    row = TrialRow(trial_id="a", stage="probe", status="stopped_early", params=params, history=history, **own)
    write_leaderboard(tmp_path / "leaderboard.parquet", [row], {})
    (back,), _ = read_rows(tmp_path)
    assert back == row


def _ranked_row(trial_id: str, lr: float, objective: float | None, status: str = "completed", epochs: int = 6, **kw):
    return {**ROW, "trial_id": trial_id, "lr": lr, "objective": objective, "status": status, "epochs_run": epochs, **kw}


def test_a_configuration_trained_again_ranks_by_its_mean_and_its_best_trial_leads_it():
    from tuner.leaderboard import config_scores, rank_rows

    rows = typed(
        [
            _ranked_row("lucky", 0.01, 0.90),  # 0.90 and 0.80: mean 0.85
            _ranked_row("single", 0.02, 0.86),
            _ranked_row("again", 0.01, 0.80, repeat=1),
            _ranked_row("broken", 0.03, None, status="failed"),
        ]
    )
    assert [r.trial_id for r in rank_rows(rows)] == ["single", "lucky", "again", "broken"]
    assert config_scores(rows)["again"] == pytest.approx((0.85, 2))
    assert [r.trial_id for r in rank_rows(rows, mode="min")] == ["again", "lucky", "single", "broken"]


def test_a_configuration_is_averaged_over_its_ended_trials_that_trained_longest():
    from tuner.leaderboard import config_scores

    rows = typed(
        [
            _ranked_row("full", 0.01, 0.90),
            _ranked_row("stopped", 0.01, 0.50, status="stopped_early", epochs=2),  # fewer epochs: not averaged in
            _ranked_row("rerun", 0.01, 0.40, status="running", epochs=1),  # still running: not averaged in
            _ranked_row("alone", 0.02, 0.70, status="running", epochs=1),  # nothing ended: its best so far
        ]
    )
    scores = config_scores(rows)
    assert scores["full"] == scores["stopped"] == scores["rerun"] == (0.90, 1)
    assert scores["alone"] == (0.70, 1)


def test_a_leaderboard_written_before_the_repeat_column_reads_as_first_trainings(tmp_path):
    write_leaderboard(tmp_path / "leaderboard.parquet", typed([ROW]), {"name": "x"})
    table = pq.read_table(tmp_path / "leaderboard.parquet")
    pq.write_table(table.drop(["repeat"]), tmp_path / "leaderboard.parquet")
    df, _ = read_leaderboard(tmp_path)
    assert df["repeat"].tolist() == [0]


@pytest.mark.parametrize(("column", "message"), [(["x"], "is damaged"), ([-1], "repeat")])
def test_a_damaged_repeat_column_names_the_file(tmp_path, column, message):
    """Text where a count belongs, or a negative count: a DataError naming the file, not a
    traceback (the CLIs print it as one line, exit 2)."""
    import pyarrow as pa

    from tuner.leaderboard import read_rows

    write_leaderboard(tmp_path / "leaderboard.parquet", typed([ROW]), {"name": "x"})
    table = pq.read_table(tmp_path / "leaderboard.parquet")
    i = table.schema.get_field_index("repeat")
    pq.write_table(table.set_column(i, "repeat", pa.array(column)), tmp_path / "leaderboard.parquet")
    with pytest.raises(DataError, match=message) as err:
        read_rows(tmp_path)
    assert "leaderboard.parquet" in str(err.value) and "\n" not in str(err.value)
