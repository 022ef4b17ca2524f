"""The bad-input contract, for every command: one line naming the problem and the fix, exit
status 2, no traceback, no search started, nothing written outside the run folder; valid input
accepted.

Two halves: a regression test per class of bad input a review found (each failed before its
fix), and Hypothesis properties over generated space files, command-line values, damaged run
folders and dataset trees. The commands run in-process (``tuner._cli.main``), a search as
``--dry-run`` (which plans everything a search checks, then stops), so hundreds of inputs
take seconds; ``test_search_cli`` runs the same commands as subprocesses.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuner._cli import MESSAGE_WIDTH
from tuner._cli import main as tuner_main
from tuner._params import param_names

ROOT = Path(__file__).resolve().parents[1]
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def run_cli(*argv: str, cwd: Path | None = None, timeout: float = 60.0) -> tuple[int, str, str]:
    """``tuner ARGV`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    before = os.getcwd()
    start = time.monotonic()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            tuner_main(list(argv))
    except SystemExit as exc:
        code = exc.code
    except BaseException as exc:  # the contract's failure: a traceback would have been printed
        import traceback

        err.write("Traceback (most recent call last):\n" + "".join(traceback.format_exception(exc)))
        code = 1
    finally:
        os.chdir(before)
    assert time.monotonic() - start < timeout, f"tuner {' '.join(argv)} took {time.monotonic() - start:.0f} s"
    return int(code or 0), out.getvalue(), err.getvalue()


def assert_user_error(code: int, err: str, *fragments: str) -> None:
    """Exit 2, one line, no traceback, at most MESSAGE_WIDTH characters, naming ``fragments``."""
    assert code == 2, f"exit {code}: {err[-2000:]}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    assert len(lines[0]) <= MESSAGE_WIDTH, lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def assert_contract(code: int, err: str) -> None:
    """Accepted (0) or refused by the contract (2); never a traceback."""
    assert "Traceback" not in err, err[-3000:]
    assert code in (0, 2), f"exit {code}: {err[-2000:]}"
    if code == 2:
        assert_user_error(code, err)


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@contextlib.contextmanager
def sandbox() -> Iterator[Path]:
    """A fresh folder that Hypothesis examples can use (pytest's tmp_path is per test)."""
    with tempfile.TemporaryDirectory(prefix="tuner-bad-input-") as d:
        yield Path(d)


def dry_run(space_file: Path, folder: Path, *extra: str) -> tuple[int, str, str]:
    return run_cli("search", "--space", str(space_file), "--dry-run", "--weights", "none", "--storage", str(folder / "runs"), *extra, cwd=folder)


def write_space(folder: Path, text: str, name: str = "s.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


BASE = "architectures: [mobilenet_v2]\nbudget: {num_samples: 3, max_epochs: 2}\n"


# ---------------------------------------------------------------------------------------------
# Regressions: each class of the review's findings.


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ("unfrozen_blocks: {choice: [abc]}", "'abc' is not a number"),
        ("unfrozen_blocks: {uniform: [0, 3]}", "uniform draws real numbers"),
        ("augment: {choice: [[study], none]}", "is a list, not one value"),
        ("lr: {loguniform: [1.0e-4, .inf]}", "inf is not a finite number"),
        ("dense_units: {int: [1, max]}", "'max' is not a number"),
        ("lr: {choice: [0.001, '0.01']}", "'0.01' is quoted"),
        ("batch_size: {fixed: 32.5}", "32.5 is not a whole number"),
        ("dropout: {choice: [0.1, high]}", "'high' is not a number"),
        ("warmup_epochs: {fixed: -1}", "-1 is too small"),
        ("backbone_lr_mult: {fixed: -0.5}", "-0.5 is too small"),
    ],
)
def test_a_value_a_trial_cannot_run_is_refused_before_anything_runs(tmp_path, params, fragment):
    space = write_space(tmp_path, BASE + "params:\n  " + params + "\n")
    assert_user_error(*dry_run(space, tmp_path)[::2], fragment)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (BASE.replace("num_samples: 3", "num_samples: 3, reduction_factor: 1.0000000001"), "reduction_factor"),
        (BASE.replace("num_samples: 3", "num_samples: 3, early_stopping: hyperbandd"), "'none', 'hyperband' or 'asha' (got 'hyperbandd')"),
        (BASE.replace("num_samples: 3", "num_samples: 3, sampler: grid")
         + "params:\n" + "".join(f"  {p}: {{choice: [{', '.join(str(v) for v in vals)}]}}\n" for p, vals in {
             "lr": [round(1e-4 * (i + 1), 6) for i in range(40)], "dropout": [round(i / 50, 3) for i in range(40)],
             "dense_units": list(range(1, 41)), "batch_size": list(range(1, 41)), "warmup_epochs": list(range(40))}.items()),
         "more than 10,000"),
        ("metric: val_loss\nmode: max\n" + BASE, "mode must be min"),
        ("a: 1\na: 2\n" + BASE, "appears twice"),
        ("metric: val_accuracy\n" + BASE + "params:\n  grouping: {choice: [none, 'auto:3']}\n", "use metric: val_accuracy_common"),
        (BASE + "params:\n  lr: " + "[" * 3000 + "]" * 3000 + "\n", "nested more than"),
    ],
)  # fmt: skip
def test_spaces_that_used_to_crash_or_run_wrongly_are_refused(tmp_path, text, fragment):
    space = write_space(tmp_path, text)
    code, _, err = dry_run(space, tmp_path)
    assert_user_error(code, err, fragment)


def test_yaml_1e_minus_3_is_the_number_the_user_meant(tmp_path):
    """PyYAML reads ``1e-3`` (no dot) as a string; the space reader reads it as YAML 1.2 does."""
    space = write_space(tmp_path, BASE + "params:\n  lr: {fixed: 1e-3}\n  backbone_lr_mult: {choice: [1e-1, 1E0]}\n")
    code, out, err = dry_run(space, tmp_path)
    assert code == 0, err
    assert "fixed: 0.001" in out and "0.1" in out


@pytest.mark.parametrize("kind", ["not_utf8", "folder", "dev_null", "no_such_user", "nul"])
def test_a_space_file_that_cannot_be_read_says_why(tmp_path, kind):
    if kind == "not_utf8":
        path = tmp_path / "s.yaml"
        path.write_bytes(b"architectures: [mobilenet_v2]\n# caf\xe9\n")
        arg, fragment = str(path), "is not UTF-8 text"
    elif kind == "folder":
        (tmp_path / "d.yaml").mkdir()
        arg, fragment = str(tmp_path / "d.yaml"), "is a folder"
    elif kind == "dev_null":
        arg, fragment = "/dev/null", "is not a regular file"
    elif kind == "no_such_user":
        arg, fragment = "~nosuchuser_xyz/s.yaml", "no such user's home folder"
    else:
        arg, fragment = "s\x00.yaml", "NUL"
    code, _, err = run_cli("search", "--space", arg, "--dry-run", "--storage", str(tmp_path / "runs"), cwd=tmp_path)
    assert_user_error(code, err, fragment)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_a_space_file_without_read_permission(tmp_path):
    space = write_space(tmp_path, BASE)
    space.chmod(0)
    assert_user_error(*dry_run(space, tmp_path)[::2], "permission denied")


def test_a_grouping_or_wnids_file_that_is_not_utf8(tmp_path, tmp_path_factory):
    grouping = tmp_path / "g.yaml"
    grouping.write_bytes(b"name: g\ngroups: {G: [a\xff, b]}\n")
    space = write_space(tmp_path, BASE + f"params:\n  grouping: {{fixed: {grouping}}}\n")
    assert_user_error(*dry_run(space, tmp_path)[::2], "is not UTF-8 text")
    tiny = _tiny_imagenet(tmp_path / "tiny")
    (tiny / "wnids.txt").write_bytes(b"n01\n\xff\xfe\n")
    assert_user_error(*run_cli("data", "inspect", str(tiny))[::2], "is not UTF-8 text")


def test_a_wnids_entry_cannot_reach_outside_the_dataset(tmp_path):
    tiny = _tiny_imagenet(tmp_path / "tiny")
    (tiny / "wnids.txt").write_text("n01\nn02\n/etc\n")
    assert_user_error(*run_cli("data", "inspect", str(tiny))[::2], "is not a class folder name")


def _tiny_imagenet(root: Path) -> Path:
    from PIL import Image

    for wnid in ("n01", "n02"):
        folder = root / "train" / wnid / "images"
        folder.mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(folder / f"{wnid}_{i}.JPEG")
    (root / "val" / "images").mkdir(parents=True)
    (root / "wnids.txt").write_text("n01\nn02\n")
    (root / "words.txt").write_text("n01\tone\nn02\ttwo\n")
    return root


def _classes(root: Path, names: tuple[str, ...] = ("cat", "dog"), per_class: int = 3) -> Path:
    from PIL import Image

    for k, name in enumerate(names):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(np.full((8, 8, 3), 30 * k + i, np.uint8)).save(folder / f"{i}.png")
    return root


def test_a_two_class_dataset_runs_the_default_space_without_its_auto_groupings(tmp_path):
    """Found by bench/fuzz.py: the default space's auto:60% refused any 2-class dataset."""
    data = _classes(tmp_path / "data")
    code, out, err = run_cli(
        "search", "--space", "finetune", "--data", str(data), "--dry-run", "--weights", "none", "--storage", str(tmp_path / "runs"), cwd=tmp_path
    )
    assert code == 0, err
    assert "auto:60% dropped: the dataset has 2 classes" in out


def test_a_path_under_an_unknown_home_folder_is_one_line(tmp_path):
    """Found by bench/fuzz.py: --data ~nosuchuser/d raised RuntimeError from Path.expanduser."""
    code, _, err = run_cli("search", "--space", "finetune", "--data", "~nosuchuser_xyz/d", "--dry-run", "--storage", str(tmp_path / "runs"), cwd=tmp_path)
    assert_user_error(code, err, "no such user's home folder")


def test_a_dataset_whose_images_cannot_be_read_is_refused(tmp_path):
    data = tmp_path / "data"
    for name in ("cat", "dog"):
        (data / name).mkdir(parents=True)
        for i in range(3):
            (data / name / f"{i}.jpg").write_bytes(b"not a jpeg" * i)
    assert_user_error(*run_cli("data", "inspect", str(data))[::2], "can be read")
    space = write_space(tmp_path, BASE)
    assert_user_error(*dry_run(space, tmp_path, "--data", str(data))[::2], "can be read")


def test_a_folder_name_that_is_not_utf8_is_one_line(tmp_path):
    data = _classes(tmp_path / "data")
    os.mkdir(os.fsencode(data) + b"/bad\xff")
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(os.fsdecode(os.fsencode(data) + b"/bad\xff/0.png"))
    assert_user_error(*run_cli("data", "inspect", str(data))[::2], "is not a valid UTF-8 name")


def test_symlink_loops_are_neither_images_nor_classes(tmp_path):
    data = _classes(tmp_path / "data")
    os.symlink(data / "cat", data / "cat" / "again")  # a loop back into the class
    os.symlink("self", data / "dog" / "self")  # a link to itself
    code, out, err = run_cli("data", "inspect", str(data), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert len(report["classes"]) == 2 and report["num_files"] == 6, report


def test_a_catastrophic_class_name_pattern_ends_in_a_second_or_two(tmp_path):
    data = _classes(tmp_path / "data", names=("a" * 60 + "b", "cat"))
    start = time.monotonic()
    code, _, err = run_cli("data", "inspect", str(data), "--class-name-pattern", "^(a|aa)+$")
    assert_user_error(code, err, "took over 1 s")
    space = write_space(tmp_path, BASE)
    code, _, err = dry_run(space, tmp_path, "--data", str(data), "--class-name-pattern", "^(a|aa)+$")
    assert_user_error(code, err, "took over 1 s")
    assert time.monotonic() - start < 20


def test_an_unreachable_ray_address_is_one_line_within_seconds(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    start = time.monotonic()
    code, _, err = dry_run(write_space(tmp_path, BASE), tmp_path)
    assert_user_error(code, err, "cannot be reached", "--local")
    assert time.monotonic() - start < 15


@pytest.mark.parametrize(
    ("flag", "value", "fragment"),
    [
        ("--gpus-per-trial", "nan", "--gpus-per-trial must be a number >= 0"),
        ("--seed", "-1", "--seed must be a whole number from 0"),
        ("--seed", str(2**70), "--seed must be a whole number from 0"),
        ("--storage", "ftp://host/runs", "--storage"),
        ("--storage", "/proc/x", "no folder can be made"),
        ("--groupings-from", "/no/such/run", "/no/such/run"),
    ],
)
def test_flag_values_a_search_would_trip_on_are_refused_in_a_dry_run(tmp_path, flag, value, fragment):
    code, _, err = run_cli("search", "--space", "finetune", "--dry-run", "--weights", "none", flag, value, cwd=tmp_path)
    assert_user_error(code, err, fragment)


def test_storage_that_cannot_hold_a_run_is_refused_in_a_dry_run(tmp_path):
    (tmp_path / "afile").write_text("x")
    code, _, err = run_cli("search", "--space", "finetune", "--dry-run", "--weights", "none", "--storage", str(tmp_path / "afile"), cwd=tmp_path)
    assert_user_error(code, err, "afile")


def test_a_grouping_that_merges_every_class_is_refused(tmp_path):
    data = _classes(tmp_path / "data", names=("cat", "dog", "fox"))
    grouping = tmp_path / "all.yaml"
    grouping.write_text("name: all\ngroups: {animal: [cat, dog, fox]}\n")
    space = write_space(tmp_path, BASE + f"params:\n  grouping: {{fixed: {grouping}}}\n")
    assert_user_error(*dry_run(space, tmp_path, "--data", str(data))[::2], "leaving nothing to classify")


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.report._synthetic import write_synthetic_run

    run = write_synthetic_run(tmp_path_factory.mktemp("run") / "r", n_trials=24, n_classes=6, groupings=False)
    (run / "run.json").write_text(json.dumps({"schema_version": 0}))
    return run


def _copy(run: Path, to: Path) -> Path:
    import shutil

    return Path(shutil.copytree(run, to / "r"))


def _confusion(run: Path) -> Path:
    return next(run.rglob("confusion.npy"))


DAMAGE = {
    "parquet_torn": lambda r: (r / "leaderboard.parquet").write_bytes((r / "leaderboard.parquet").read_bytes()[:-200]),
    "parquet_pages": lambda r: _flip(r / "leaderboard.parquet", 400),
    "run_json_list": lambda r: (r / "run.json").write_text("[1, 2]"),
    "run_json_not_json": lambda r: (r / "run.json").write_text("{not json"),
    "run_json_bad_field": lambda r: (r / "run.json").write_text(json.dumps({**json.loads((r / "run.json").read_text()), "class_names": 7})),
    "confusion_garbage": lambda r: _confusion(r).write_bytes(b"\x93NUMPY garbage"),
    "confusion_nan": lambda r: np.save(_confusion(r), np.full((6, 6), np.nan)),
    "confusion_pickle": lambda r: np.save(_confusion(r), np.array([{"a": 1}], dtype=object), allow_pickle=True),
}


def _flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    for i in range(offset, min(len(raw), offset + 64)):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


def _rewrite_leaderboard(run: Path, change) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(run / "leaderboard.parquet")
    pq.write_table(change(table), run / "leaderboard.parquet")


def _meta(table, value: bytes):
    return table.replace_schema_metadata({**(table.schema.metadata or {}), b"tuner": value})


LEADERBOARD_DAMAGE = {
    "no_status": lambda t: t.drop_columns(["status"]),
    "meta_not_json": lambda t: _meta(t, b"{nope"),
    "meta_a_list": lambda t: _meta(t, b"[1]"),
    "meta_bad_sweep": lambda t: _meta(t, json.dumps({"format_version": 1, "sweep": "many"}).encode()),
    "meta_bad_classes": lambda t: _meta(t, json.dumps({"format_version": 1, "dataset": {"classes": 7}}).encode()),
    "bad_history": lambda t: t.set_column(t.schema.get_field_index("history"), "history", _strings(t.num_rows, "{oops")),
    "bad_status": lambda t: t.set_column(t.schema.get_field_index("status"), "status", _strings(t.num_rows, "exploded")),
    "bad_history_epoch": lambda t: t.set_column(t.schema.get_field_index("history"), "history", _strings(t.num_rows, '[{"epoch": "first"}]')),
}


def _strings(n: int, value: str):
    import pyarrow as pa

    return pa.array([value] * n, type=pa.string())


@pytest.mark.parametrize("damage", [*DAMAGE, *LEADERBOARD_DAMAGE])
def test_a_damaged_run_folder_names_the_damaged_file(tmp_path, synthetic_run, damage):
    run = _copy(synthetic_run, tmp_path)
    if damage in DAMAGE:
        DAMAGE[damage](run)
    else:
        _rewrite_leaderboard(run, LEADERBOARD_DAMAGE[damage])
    before = files_under(tmp_path)
    for argv in (["report", str(run), "--out", str(tmp_path / "report")], ["groupings", "suggest", str(run), "--classes", "3"]):
        code, _, err = run_cli(*argv, cwd=tmp_path)
        assert_contract(code, err)
        if damage != "run_json_not_json" and damage.startswith(("parquet", "run_json", "no_", "meta", "bad")):
            assert_user_error(code, err)
        if code == 2 and damage.startswith("confusion"):
            assert "confusion.npy" in err
    assert files_under(tmp_path) - before <= files_under(tmp_path / "report") | {"report"} | {f"report/{p}" for p in files_under(tmp_path / "report")}


def test_a_report_out_that_is_a_file_or_impossible(tmp_path, synthetic_run):
    (tmp_path / "afile").write_text("x")
    assert_user_error(*run_cli("report", str(synthetic_run), "--out", str(tmp_path / "afile"))[::2])
    assert_user_error(*run_cli("report", str(synthetic_run), "--out", "/dev/null/report")[::2])


def test_preprocessing_json_with_infinity_is_damaged(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "model.keras").write_bytes(b"x")
    (export / "labels.json").write_text('["a", "b"]')
    (export / "preprocessing.json").write_text('{"image_size": Infinity}')
    img = tmp_path / "x.png"
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    code, _, err = run_cli("predict", str(export), str(img))
    assert_user_error(code, err, "preprocessing")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--dry-run"], "--dry-run"),
        (["--num-samples", "-5"], "--num-samples"),
        (["--max-epochs", "3"], "--max-epochs"),
        (["--seed", "1"], "--seed"),
        (["--weights", "none"], "--weights"),
        (["--storage", "elsewhere"], "--storage"),
    ],
)
def test_resume_refuses_every_flag_it_would_otherwise_ignore(tmp_path, synthetic_run, args, fragment):
    code, _, err = run_cli("search", "--resume", str(synthetic_run), *args, cwd=tmp_path)
    assert_user_error(code, err, fragment)


def test_resume_checks_a_torn_leaderboard_before_starting(tmp_path):
    """A run whose leaderboard is torn: --resume refuses before any trial starts."""
    from tuner.search.driver._driver import check_resume
    from tuner.search.plan._plan import Options, build_plan, save_plan

    space = write_space(tmp_path, BASE)
    plan = build_plan(Options(space=str(space), weights="none"))
    run = tmp_path / "runs" / plan.name
    run.mkdir(parents=True)
    save_plan(plan, run)
    (run / "leaderboard.parquet").write_bytes(b"PAR1 torn")
    from tuner.errors import ConfigError

    with pytest.raises(ConfigError, match="leaderboard.parquet"):
        check_resume(run, None, None)


def test_tuner_alone_prints_the_commands_in_two_lines():
    code, out, err = run_cli()
    assert code == 0 and out.count("\n") <= 3 and "search" in out and "predict" in out, out + err


def test_groupings_classes_rule_is_stated_plainly(synthetic_run):
    code, _, err = run_cli("groupings", "suggest", str(synthetic_run), "--classes", "0")
    assert_user_error(code, err, "--classes")
    assert "< 0" not in err and "from 2 to 5" in err


def test_a_huge_value_is_cut_to_one_line(tmp_path):
    space = write_space(tmp_path, BASE + "params:\n  optimizer: {fixed: " + "x" * 500_000 + "}\n")
    code, _, err = dry_run(space, tmp_path)
    assert_user_error(code, err, "unknown optimizer")


# ---------------------------------------------------------------------------------------------
# Properties: generated input, the same contract.

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["max", "default", "adam", "none", "auto:3", "auto:50%", "study", "1e-3"]),
)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=2), max_leaves=6)
_names = st.sampled_from([*param_names(), "bogus"])  # every registered parameter, and one that is not
_kinds = st.sampled_from(["loguniform", "uniform", "int", "choice", "fixed", "other"])
_param = st.builds(lambda k, v, w: {k: v if k in ("fixed", "choice") and not isinstance(v, list) else [v, w]}, _kinds, _values, _values)
_budget = st.dictionaries(
    st.sampled_from(["num_samples", "max_epochs", "grace_period", "reduction_factor", "patience", "probe_samples", "probe_epochs", "sampler"]),
    _scalars,
    max_size=4,
)
_spaces = st.fixed_dictionaries(
    {"architectures": st.one_of(st.just(["mobilenet_v2"]), st.lists(st.sampled_from(["mobilenet_v2", "resnet50", "nope", 3]), max_size=2))},
    optional={
        "params": st.dictionaries(_names, _param, max_size=3),
        "budget": _budget,
        "metric": st.sampled_from(["val_accuracy_common", "val_accuracy", "val_loss", "f1"]),
        "mode": st.sampled_from(["max", "min", "up"]),
        "kind": st.sampled_from(["finetune", "scratch", "other"]),
    },
)


@FAST
@given(space=_spaces)
def test_any_space_file_is_accepted_or_refused_in_one_line(space):
    with sandbox() as folder:
        text = yaml.safe_dump(space, allow_unicode=True)
        code, _, err = dry_run(write_space(folder, text), folder)
        assert_contract(code, err)
        assert not (folder / "runs").exists()


_valid_params = st.fixed_dictionaries(
    {},
    optional={
        "lr": st.one_of(
            st.builds(lambda a, b: {"loguniform": sorted([a, b])}, st.floats(1e-6, 1.0), st.floats(1e-6, 1.0)),
            st.builds(lambda v: {"choice": v}, st.lists(st.floats(1e-6, 1.0), min_size=1, max_size=4)),
        ),
        "dropout": st.builds(lambda a, b: {"uniform": sorted([a, b])}, st.floats(0, 0.9), st.floats(0, 0.9)),
        "unfrozen_blocks": st.builds(lambda a: {"int": [a, "max"]}, st.integers(0, 5)),
        "batch_size": st.builds(lambda v: {"choice": v}, st.lists(st.sampled_from([8, 16, 32, 64]), min_size=1, max_size=3, unique=True)),
        "optimizer": st.builds(
            lambda v: {"choice": v}, st.lists(st.sampled_from(["adam", "adamw", "rmsprop", "sgd", "sgd_momentum"]), min_size=1, unique=True)
        ),
        "augment": st.builds(lambda v: {"fixed": v}, st.sampled_from(["study", "light", "none"])),
    },
)


@FAST
@given(params=_valid_params, samples=st.integers(1, 50), epochs=st.integers(1, 30))
def test_every_valid_space_is_accepted(params, samples, epochs):
    with sandbox() as folder:
        text = yaml.safe_dump({"architectures": ["mobilenet_v2"], "params": params, "budget": {"num_samples": samples, "max_epochs": epochs}})
        code, out, err = dry_run(write_space(folder, text), folder)
        assert code == 0, err
        assert "# resolved space" in out


_flag_values = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=8),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "0", "-0", "1.5", ""]),
)
_flags = st.sampled_from(
    ["--num-samples", "--max-epochs", "--gpus-per-trial", "--cpus-per-trial", "--max-concurrent", "--seed", "--stall-timeout", "--max-consecutive-failures"]
)


@FAST
@given(flag=_flags, value=_flag_values)
def test_any_numeric_flag_value_is_accepted_or_refused_in_one_line(flag, value):
    with sandbox() as folder:
        code, _, err = run_cli(
            "search", "--space", "finetune", "--dry-run", "--weights", "none", "--storage", str(folder / "runs"), f"{flag}={value}", cwd=folder
        )
        assert_contract(code, err)
        assert not (folder / "runs").exists()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(["leaderboard.parquet", "run.json", "confusion"]), offset=st.integers(0, 10_000), length=st.integers(1, 300), cut=st.booleans())
def test_any_byte_damage_to_a_run_folder_is_one_line(synthetic_run, target, offset, length, cut):
    with sandbox() as folder:
        run = _copy(synthetic_run, folder)
        path = _confusion(run) if target == "confusion" else run / target
        raw = bytearray(path.read_bytes())
        at = offset % max(1, len(raw))
        if cut:
            del raw[at:]
        else:
            for i in range(at, min(len(raw), at + length)):
                raw[i] ^= 0xA5
        path.write_bytes(bytes(raw))
        for argv in (["groupings", "suggest", str(run), "--classes", "3"], ["report", str(run), "--out", str(folder / "report")]):
            code, _, err = run_cli(*argv, cwd=folder)
            assert_contract(code, err)


_entry = st.tuples(
    st.lists(st.sampled_from(["cat", "dog", "a b", "ünï", ".hidden", "x" * 60, "..", "c"]), min_size=1, max_size=3),
    st.sampled_from(["png", "garbage", "empty", "link_loop", "link_up", "txt"]),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=st.lists(_entry, max_size=8))
def test_any_dataset_tree_is_inspected_or_refused_in_one_line(entries):
    from PIL import Image

    with sandbox() as folder:
        data = folder / "data"
        data.mkdir()
        for i, (parts, kind) in enumerate(entries):
            parent = data.joinpath(*[p for p in parts if p != ".."][:-1] or ["."])
            name = parts[-1] if parts[-1] != ".." else "up"
            try:
                parent.mkdir(parents=True, exist_ok=True)
                target = parent / f"{name}{i}"
                if kind == "png":
                    Image.fromarray(np.full((8, 8, 3), i * 20 % 255, np.uint8)).save(target.with_suffix(".png"))
                elif kind == "garbage":
                    target.with_suffix(".jpg").write_bytes(os.urandom(64))
                elif kind == "empty":
                    target.with_suffix(".png").write_bytes(b"")
                elif kind == "link_loop":
                    os.symlink(target.name, target)
                elif kind == "link_up":
                    os.symlink(data, target)
                else:
                    target.with_suffix(".txt").write_text("notes")
            except (FileExistsError, NotADirectoryError, IsADirectoryError):
                continue
        before = files_under(folder)
        code, _, err = run_cli("data", "inspect", str(data), timeout=60)
        assert_contract(code, err)
        assert files_under(folder) == before


def test_files_written_whole_keep_the_usual_permissions(tmp_path):
    """write_atomic goes through mkstemp (0600): the file must still read like one open() made."""
    from tuner._io import write_atomic

    mask = os.umask(0o022)
    try:
        path = write_atomic(tmp_path / "run.json", "{}")
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~0o022 or path.stat().st_mode & 0o777 == 0o644
