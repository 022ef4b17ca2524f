"""The report's figure data (checked as data, optuna-style), edge-case runs and bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from tests._rows import typed
from tests.report._synthetic import write_synthetic_run
from tuner._run import load_run
from tuner.leaderboard import FILENAME, write_leaderboard
from tuner.report import (
    FIGURES,
    build_report,
    cluster_order,
    get_blocks_info,
    get_compute_info,
    get_confusion_info,
    get_curves_info,
    get_groupings_info,
    get_importance_info,
    get_lr_info,
    get_top_table,
)


@pytest.fixture(scope="module")
def big_run(tmp_path_factory):
    return load_run(write_synthetic_run(tmp_path_factory.mktemp("big") / "big", n_trials=300))


def test_top_table_puts_scored_trials_first_best_first(big_run):
    table = get_top_table(big_run, 20)
    assert len(table) == 20
    assert table["objective"].is_monotonic_decreasing
    assert (table["status"] != "failed").all()
    assert table["objective"].iloc[0] == big_run.df["objective"].max()


def test_blocks_lines_hold_the_best_accuracy_per_block_count(big_run):
    info = get_blocks_info(big_run)
    df = big_run.df
    assert set(info.lines) == {(a, g) for a in ("inception_v3", "mobilenet_v2", "resnet50") for g in ("none", "auto_6", "auto_4")}
    ks, best = info.lines[("resnet50", "none")]
    sub = df[(df["architecture"] == "resnet50") & (df["grouping"] == "none") & (df["status"] != "failed")]
    assert ks == sorted(ks) and len(ks) == sub["unfrozen_blocks"].nunique()
    for k, value in zip(ks, best):
        assert value == pytest.approx(sub[sub["unfrozen_blocks"] == k]["val_accuracy"].max())


def test_lr_points_by_optimizer_cover_every_scored_trial(big_run):
    info = get_lr_info(big_run)
    scored = big_run.df[(big_run.df["status"] != "failed") & big_run.df["objective"].notna()]
    assert sum(len(x) for x, _ in info.by_optimizer.values()) == len(scored)
    assert set(info.by_optimizer) == set(scored["optimizer"])


def test_curves_mark_exactly_the_asha_stops_at_their_last_epoch(big_run):
    info = get_curves_info(big_run)
    df = big_run.df
    assert len(info.curves) == len(df)
    stopped = df[df["status"] == "stopped_early"]
    assert len(info.stops) == len(stopped)
    last_epochs = sorted(int(e) for e in stopped["epochs_run"])
    assert sorted(e for e, _ in info.stops) == last_epochs


def test_importances_find_the_parameters_the_objective_depends_on(big_run):
    info = get_importance_info(big_run)
    assert info.n_trials == int(((big_run.df["status"] != "failed") & big_run.df["objective"].notna()).sum())
    assert sum(info.importances.values()) == pytest.approx(1.0)
    top2 = sorted(info.importances, key=info.importances.get, reverse=True)[:2]
    # The synthetic objective is a function of unfrozen blocks and learning rate (and a little grouping).
    assert set(top2) == {"unfrozen_blocks", "lr"}, info.importances
    assert "dense_units" not in info.importances  # constant: nothing to attribute


def test_cluster_order_puts_confused_classes_side_by_side():
    rng = np.random.default_rng(0)
    n = 8
    confusion = np.diag(rng.integers(30, 40, size=n))
    for a, b in ((0, 5), (2, 7)):
        confusion[a, b] = confusion[b, a] = 20
    order = cluster_order(confusion)
    assert sorted(order) == list(range(n))
    pos = {c: i for i, c in enumerate(order)}
    assert abs(pos[0] - pos[5]) == 1 and abs(pos[2] - pos[7]) == 1


def test_confusion_of_the_best_trial_is_reordered_and_row_normalised(big_run):
    info = get_confusion_info(big_run)
    best = big_run.best_row(with_checkpoint=True)
    assert info.trial_id == best.trial_id
    assert np.allclose(info.rates.sum(axis=1), 1.0)
    raw = np.load(big_run.checkpoint(best) / "confusion.npy")
    assert np.array_equal(info.counts, raw[np.ix_(info.order, info.order)])
    names = big_run.label_names(best.param("grouping"))
    assert info.labels == [names[i] for i in info.order]
    a, b, _ = info.most_confused(1)[0]
    assert {a, b} == {names[0], names[-1]}  # the planted pair


def test_groupings_front_is_sorted_by_number_of_classes(big_run):
    info = get_groupings_info(big_run)
    assert info.groupings == ["auto_4", "auto_6", "none"] and info.n_classes == [4, 6, 10]
    df = big_run.df
    assert info.best_common[2] == pytest.approx(df[(df["grouping"] == "none")]["val_accuracy_common"].max())


def test_compute_counts_trial_epochs_and_the_epochs_before_the_best(big_run):
    info = get_compute_info(big_run)
    df = big_run.df
    assert info.trial_epochs == int(df["epochs_run"].sum()) and info.probe_trial_epochs == 0
    assert info.gpu and info.device_hours == pytest.approx(float(((df["train_seconds"] + 10.0) * 1.0).sum() / 3600))
    best = big_run.best_row()
    assert info.best_trial == best.trial_id
    moment = best.history[int(best.best_epoch) - 1].time
    expected = sum(1 for h in df["history"] for e in json.loads(h) if e["time"] <= moment)
    assert info.epochs_to_best == expected < info.trial_epochs


KNOWN_SPACE = {
    "kind": "finetune", "metric": "val_accuracy", "mode": "max", "architectures": ["mobilenet_v2"],
    "params": {
        "lr": {"loguniform": [1.0e-4, 1.0e-2]}, "optimizer": {"choice": ["adam", "rmsprop"]}, "dropout": {"fixed": 0.2},
        "unfrozen_blocks": {"int": [0, "max"]}, "warmup_epochs": {"choice": [0, 1]}, "backbone_lr_mult": {"fixed": 1.0},
        "batch_size": {"choice": [32, 64]},
    },
    "budget": {"num_samples": 2, "max_epochs": 4, "grace_period": 1, "reduction_factor": 2},
}  # fmt: skip


def _known_run(tmp_path, weights):
    """A probe trial and two search trials with known epochs, times and seconds."""
    from tuner.search import SearchSpace
    from tuner.search.space._grid import sweep_info

    known = SearchSpace.model_validate(KNOWN_SPACE)
    space = known.model_dump(mode="json")
    sweep = sweep_info(known, ["mobilenet_v2"] if weights == "none" else [])  # what the search writes

    def row(tid, stage, accs, start):
        hist = [{"epoch": e + 1, "val_accuracy": a, "time": start + 10.0 * (e + 1)} for e, a in enumerate(accs)]
        best = int(np.argmax(accs))
        return {
            "trial_id": tid, "stage": stage, "status": "completed", "architecture": "mobilenet_v2", "epochs_run": len(accs),
            "best_epoch": best + 1, "objective": accs[best], "val_accuracy": accs[best], "history": json.dumps(hist),
            "setup_seconds": 5.0, "train_seconds": 10.0 * len(accs), "gpus": 0.0, "grouping": "none", "n_classes": 10,
        }  # fmt: skip

    rows = [row("p1", "probe", [0.3, 0.5], 0.0), row("s1", "search", [0.4, 0.8, 0.7, 0.6], 100.0), row("s2", "search", [0.5, 0.6], 105.0)]
    write_leaderboard(tmp_path / FILENAME, typed(rows), {"space": space, "max_epochs": 4, "metric": "val_accuracy", "mode": "max", "sweep": sweep})
    return load_run(tmp_path)


@pytest.mark.parametrize(("weights", "sweep_runs"), [("imagenet", 3 + 2 + 19 + 2 + 2), ("none", 3 + 2 + 2)])
def test_compute_of_a_known_run(tmp_path, weights, sweep_runs):
    info = get_compute_info(_known_run(tmp_path, weights))
    assert (info.trial_epochs, info.probe_trial_epochs) == (8, 2)
    assert not info.gpu and info.device_hours == pytest.approx((25 + 45 + 25) / 3600)
    # s1's best epoch (0.8) ends at t=120: p1's 2 epochs, s1's first 2, s2's first (t=115).
    assert (info.best_trial, info.best_value, info.epochs_to_best) == ("s1", 0.8, 5)
    assert info.hours_to_best == pytest.approx(info.device_hours * 5 / 8)
    # One training per value of each varying parameter: lr at 3 levels, 2 optimizers, 19 values
    # of unfrozen_blocks (0..18) and 2 warm-ups unless the weights are random, 2 batch sizes.
    assert info.sweep_runs == sweep_runs and info.sweep_trial_epochs == sweep_runs * 4
    assert info.sweep_device_hours == pytest.approx(sweep_runs * (4 * 10.0 + 5.0) / 3600)
    assert not info.grid_run


def test_report_of_1000_trials_escapes_names_and_embeds_every_figure(report_of_1000):
    result = report_of_1000
    print(f"report of 1000 trials: {result.seconds:.1f}s")
    html = result.html.read_text()
    assert len(result.pngs) == len(FIGURES) and html.count("src='data:image/png;base64,") == len(FIGURES)
    assert re.search(r"class &lt;\d&gt; &amp; co", html) and not re.search(r"class <\d>", html)
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")


def _one_trial_rows(status="completed", **kw):
    return [{
        "trial_id": "only", "stage": "search", "status": status, "architecture": "lenet5", "lr": 0.01, "optimizer": "adam",
        "grouping": "none", "n_classes": 3, "epochs_run": 2, "objective": 0.5 if status != "failed" else None,
        "val_accuracy": 0.5 if status != "failed" else None, "val_accuracy_common": 0.5 if status != "failed" else None,
        "train_seconds": 4.0, "setup_seconds": 1.0, "gpus": 0.0,
        "history": json.dumps([{"epoch": 1, "val_accuracy": 0.4}, {"epoch": 2, "val_accuracy": 0.5}]), **kw,
    }]  # fmt: skip


def _meta(**kw):
    from tuner.search import load_space

    return {"name": "edge", "space": load_space("scratch").model_dump(mode="json"), "metric": "val_accuracy", "mode": "max",
            "dataset": {"root": "/d", "classes": ["a", "b", "c"]}, "max_epochs": 2, "grouping_files": {}, **kw}  # fmt: skip


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (_one_trial_rows(), ["needs at least 4 finished", "no trial has a scored checkpoint", "only one label space"]),
        (
            _one_trial_rows("failed", failure_reason="nan_loss")
            + [{**_one_trial_rows("failed")[0], "trial_id": "two", "failure_reason": "out_of_memory: <big>"}],
            ["none: every trial failed", "nan_loss", "out_of_memory: &lt;big&gt;", "no scored trial"],
        ),
        ([], ["The leaderboard has no trials", "no trial reported an epoch"]),
    ],
    ids=["one-trial", "all-failed", "empty"],
)
def test_small_and_failed_runs_still_report_and_say_why(tmp_path, rows, expected):
    write_leaderboard(tmp_path / FILENAME, typed(rows), _meta())
    result = build_report(tmp_path, tmp_path / "out")
    html = result.html.read_text()
    for text in expected:
        assert text in html, text
    assert result.notes  # what could not be drawn is listed


def _report_cli(*args):
    return subprocess.run([sys.executable, "-m", "tuner.report", *map(str, args)], check=False, capture_output=True, text=True, timeout=120)


def test_bad_run_directories_are_one_line_errors(tmp_path):
    newer = tmp_path / "newer"
    newer.mkdir()
    write_leaderboard(newer / FILENAME, typed(_one_trial_rows()), _meta())
    import pyarrow.parquet as pq

    table = pq.read_table(newer / FILENAME)
    meta = json.loads(table.schema.metadata[b"tuner"])
    pq.write_table(table.replace_schema_metadata({b"tuner": json.dumps({**meta, "format_version": 99}).encode()}), newer / FILENAME)
    cases = {
        "does not exist": tmp_path / "missing",
        "holds no leaderboard.parquet": tmp_path,
        "written by a newer tuner": newer,
    }
    for message, run_dir in cases.items():
        done = _report_cli(run_dir)
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert _report_cli(newer, "--top", "0").returncode == 2


def test_report_groupings_and_export_commands_import_nothing_heavy(tmp_path):
    code = (
        "import sys\n"
        "import tuner.report, tuner.export, tuner.predict, tuner.groupings, tuner._run\n"
        "from tuner.report.__main__ import _parser\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'ray', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for module in ("tuner.report", "tuner.export", "tuner.predict", "tuner.groupings"):
        assert subprocess.run([sys.executable, "-m", module, "--help"], check=False, capture_output=True, timeout=60).returncode == 0


def test_hostile_class_names_are_escaped_in_the_html(tmp_path):
    classes = ["<script>alert(1)</script>", "../../etc/passwd", "plain"]
    ckpt = tmp_path / "train" / "only" / "checkpoint_000001"
    ckpt.mkdir(parents=True)
    np.save(ckpt / "confusion.npy", np.array([[5, 3, 0], [3, 5, 0], [0, 0, 8]]))
    rows = _one_trial_rows(checkpoint_path="train/only/checkpoint_000001")
    write_leaderboard(tmp_path / FILENAME, typed(rows), _meta(dataset={"root": "/d", "classes": classes}))
    result = build_report(tmp_path, tmp_path / "out")
    html = result.html.read_text()
    assert "<script" not in html
    pair = ("&lt;script&gt;alert(1)&lt;/script&gt;", "../../etc/passwd")
    assert f"{pair[0]} &harr; {pair[1]}" in html or f"{pair[1]} &harr; {pair[0]}" in html
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([*(f"{k}.png" for k in result.pngs), "report.html"])


def test_summary_points_to_the_optuna_study_and_the_mlflow_runs(tmp_path):
    run_dir = write_synthetic_run(tmp_path / "run", n_trials=12, groupings=False)
    (run_dir / "optuna.db").write_bytes(b"")
    best = load_run(run_dir).best_row().trial_id
    record = {"uri": "http://mlflow.example:5000/", "experiment": "run<1>", "experiment_id": "7", "runs": {best: "abc123"}}
    (run_dir / "mlflow.json").write_text(json.dumps(record))
    page = build_report(run_dir).html.read_text()
    assert f"optuna-dashboard sqlite:///{run_dir / 'optuna.db'}" in page
    assert "<a href='http://mlflow.example:5000/#/experiments/7/runs/abc123'>run abc123</a>" in page
    assert "experiment run&lt;1&gt;" in page and "run<1>" not in page


def test_probe_trials_are_not_plotted_or_ranked_beside_the_search(tmp_path):
    """A probe trial's score on the common label space is circular (the space was clustered
    from its own confusions); the report used to plot one at 1.00 in the lr figure."""
    import pyarrow.parquet as pq

    run_dir = write_synthetic_run(tmp_path / "r", n_trials=30, groupings=False)
    table = pq.read_table(run_dir / FILENAME)
    df = table.to_pandas()
    df.loc[0, ["stage", "status", "objective", "val_accuracy_common"]] = ["probe", "completed", 1.0, 1.0]
    write_leaderboard(run_dir / FILENAME, typed(df.to_dict("records")), json.loads(table.schema.metadata[b"tuner"]))
    run = load_run(run_dir)
    lr = get_lr_info(run)
    assert all(1.0 not in ys for _, ys in lr.by_optimizer.values())
    top = get_top_table(run, 5)
    assert "probe" not in set(top["stage"]) and top["objective"].iloc[0] < 1.0


def test_probe_rows_get_no_score_on_the_common_space():
    from tuner.search.driver._board import _without_probe_common

    records = [
        {"trial_id": "p", "stage": "probe", "status": "completed", "val_accuracy_common": 1.0, "objective": 1.0, "val_accuracy": 0.8},
        {"trial_id": "s", "stage": "search", "status": "completed", "val_accuracy_common": 0.9, "objective": 0.9},
    ]
    plan = type("P", (), {"common_grouping_file": "common.yaml", "metric": "val_accuracy_common"})()
    rows = _without_probe_common(typed(records), plan)  # type: ignore[arg-type]
    assert rows[0].objective is None and rows[0].val_accuracy_common is None and rows[0].val_accuracy == 0.8
    assert rows[1].objective == 0.9


def test_a_configuration_trained_again_ranks_by_its_mean_in_the_report(tmp_path):
    """The best trial is the best of the best configuration by mean; its row says so; the
    top table keeps the configuration's trials together."""
    lucky, again = _one_trial_rows(objective=0.9)[0], _one_trial_rows(objective=0.7, repeat=1)[0]
    single = {**_one_trial_rows(objective=0.85)[0], "lr": 0.02}
    rows = [{**lucky, "trial_id": "lucky"}, {**again, "trial_id": "again"}, {**single, "trial_id": "single"}]
    write_leaderboard(tmp_path / FILENAME, typed(rows), _meta())
    run = load_run(tmp_path)
    assert run.best_row().trial_id == "single"
    assert get_top_table(run, 5)["trial_id"].tolist() == ["single", "lucky", "again"]
    rows[2]["objective"] = 0.75  # now the configuration trained twice (mean 0.80) leads
    write_leaderboard(tmp_path / FILENAME, typed(rows), _meta())
    page = build_report(tmp_path, tmp_path / "out").html.read_text()
    assert "lucky: lenet5, val_accuracy 0.9000, grouping none (its configuration trained 2 times, with another seed each: mean 0.8000)" in page
