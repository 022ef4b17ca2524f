"""Faults during a search: OOM and NaN inside a trial, a worker killed mid-trial, the driver
killed with SIGKILL and resumed. Real processes, real signals, a real Ray instance."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.search.conftest import assert_study_matches_leaderboard, resources_free, write_space
from tuner._run import STOPPED_FILE
from tuner.data import demo_dataset_dir, index_dataset
from tuner.leaderboard import read_leaderboard
from tuner.search.driver._driver import run_search
from tuner.search.driver._rows import INTERRUPTED, STOPPED
from tuner.search.plan._contracts import TrialConfig
from tuner.search.plan._plan import Options, build_plan
from tuner.search.space._space import PARAM_NAMES
from tuner.search.worker._worker import run_training

pytestmark = pytest.mark.slow


def _demo_config(**overrides):
    """A trial config on the demo digits: TrialConfig fields and sampled parameters by name."""
    index = index_dataset(demo_dataset_dir())
    params = dict(architecture="lenet5", input_size=32, lr=0.05, optimizer="sgd_momentum", batch_size=64, augment="none")
    params.update({k: overrides.pop(k) for k in list(overrides) if k in PARAM_NAMES or k == "architecture"})
    fixed = dict(data_dir=index.root, identity=index.identity, working_size=8, kind="scratch", max_epochs=2, metric="val_accuracy", mode="max")
    return TrialConfig(params=params, **{**fixed, **overrides})


def test_nan_loss_is_reported_as_the_failure_reason():
    reports = []
    last = run_training(_demo_config(lr=1e38), lambda m, d: reports.append((m, d)))
    assert last["failure_reason"] == "nan_loss" and last["finished"]
    assert reports[-1][1] is None, "no checkpoint of NaN weights"
    assert all("objective" not in m for m, _ in reports), "no score: no value for Tune (not a made-up -1e9)"


def test_out_of_memory_is_reported_as_the_failure_reason():
    # A 10^11-unit dense layer cannot be allocated: TensorFlow raises its real OOM error.
    cfg = _demo_config(architecture="mobilenet_v2", kind="finetune", dense_units=10**11, lr=1e-3)
    last = run_training(cfg, lambda m, d: None)
    assert last["failure_reason"].startswith("out_of_memory: ")
    assert "OOM" in last["failure_reason"]
    assert "objective" not in last


SLOW_SPACE = """
kind: scratch
metric: val_accuracy
architectures: [lenet5]
params:
  lr: {fixed: 0.01}
  optimizer: {fixed: sgd_momentum}
  batch_size: {fixed: 8}
  input_size: {fixed: 32}
  augment: {fixed: light}
budget: {num_samples: 1, max_epochs: 8, grace_period: 8, reduction_factor: 2}
"""


def _epochs(trial_dir: Path) -> list[int]:
    path = trial_dir / "result.json"
    if not path.is_file():
        return []
    reports = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r["epoch"] for r in reports if not r.get("replayed")]  # a replay says a stored epoch again


DRIVER_SPACE = """
kind: scratch
metric: val_accuracy
architectures: [lenet5]
params:
  lr: {loguniform: [1.0e-3, 1.0e-1]}
  optimizer: {fixed: sgd_momentum}
  batch_size: {fixed: 32}
  input_size: {fixed: 32}
  augment: {fixed: none}
budget: {num_samples: 3, max_epochs: 5, grace_period: 5, reduction_factor: 2}
"""


def _journal(run_dir: Path, trial_id: str) -> list[dict]:
    path = run_dir / "epochs" / "search" / f"{trial_id}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def _start_driver(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    # Its own process group, like a command typed at a terminal (Ctrl+C signals the group).
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _journals(run_dir: Path) -> dict[str, list[dict]]:
    """Every search trial's journaled reports."""
    return {j.stem: _journal(run_dir, j.stem) for j in (run_dir / "epochs" / "search").glob("*.jsonl")}


def _midway(run_dir: Path) -> dict[str, list[dict]]:
    """Trials of the search that reported 2+ epochs and not their last, with those reports."""
    return {t: j for t, j in _journals(run_dir).items() if len(j) >= 2 and not j[-1].get("finished")}


def _stop_group(driver: subprocess.Popen) -> None:
    if driver.poll() is None:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)


def test_ctrl_c_then_sigkill_then_resume_finishes_without_losing_or_rerunning_trials(ray_address, tmp_path):
    """The driver stopped twice mid-search, both ways a user stops it, then resumed:

    1. Ctrl+C (SIGINT to its process group, as a terminal sends it) ends it within a minute,
       exit 130, its last line the --resume command; it does not go on to score and summarise
       a half-run search (it used to: Tune's graceful stop returns normally).
    2. Resumed, then SIGKILL while a trial is mid-way and another has finished (a lost
       terminal, an OOM kill): nothing graceful runs.
    3. Resumed again: 3 trials, no epoch reported before either stop lost, no finished trial
       re-run.
    """
    space = write_space(tmp_path, DRIVER_SPACE)
    env = {**os.environ, "RAY_ADDRESS": ray_address, "RAY_AUTH_MODE": "token"}
    storage = tmp_path / "runs"
    run_dir = storage / "resumable"
    cmd = [sys.executable, "-m", "tuner.search", "--space", space, "--name", "resumable", "--storage", str(storage)]
    resume = [*cmd[:3], "--resume", str(run_dir)]

    # 1. Ctrl+C.
    driver = _start_driver(cmd, env)
    before_int: dict[str, list[dict]] = {}
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and not before_int:
            assert driver.poll() is None, driver.communicate()
            before_int = _midway(run_dir)
            time.sleep(0.2)
        assert before_int, "no trial reached its second epoch"
        os.killpg(driver.pid, signal.SIGINT)
        interrupted_at = time.monotonic()
        out, err = driver.communicate(timeout=120)
    finally:
        _stop_group(driver)
    assert driver.returncode == 130, out[-2000:] + err[-3000:]
    assert time.monotonic() - interrupted_at < 60, "Ctrl+C took over a minute to stop the search"
    last = err.strip().splitlines()[-1]
    assert last == f"interrupted: the leaderboard has every epoch so far; resume with: python -m tuner.search --resume {run_dir}", err[-3000:]
    assert "Traceback" not in err and "top " not in out
    df, meta = read_leaderboard(run_dir)
    assert not meta.get("ended")
    for trial_id, epochs in before_int.items():
        row = df[df["trial_id"] == trial_id].iloc[0]
        assert row["epochs_run"] >= len(epochs), "an epoch reported before Ctrl+C is missing"
        # Running when stopped: not "stopped_early", which means only that ASHA stopped it.
        assert row["status"] == "interrupted" and row["failure_reason"] == STOPPED, (row["status"], row["failure_reason"])

    # 2. Resumed, then SIGKILL once a trial has finished in this run and another is mid-way.
    # Read from the journals, which a trial appends to as each epoch reaches Tune (a LeNet-5
    # epoch here is about 1.5 s: the leaderboard, rewritten every 2 s, is too coarse for this).
    at_start = {t: len(j) for t, j in _journals(run_dir).items()}
    driver = _start_driver(resume, env)
    done_before: dict[str, int] = {}
    midway: dict[str, list[dict]] = {}
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and not done_before:
            journals = _journals(run_dir)
            finished = {t: int(j[-1]["epoch"]) for t, j in journals.items() if j and j[-1].get("finished")}
            midway = {t: j for t, j in journals.items() if len(j) >= 2 and not j[-1].get("finished") and len(j) > at_start.get(t, 0)}
            if finished and midway:
                done_before = finished
                break
            assert driver.poll() is None, driver.communicate()
            time.sleep(0.1)
    finally:
        _stop_group(driver)
        killed_at = time.time()
    assert done_before, "no trial finished before the kill"

    # 3. Resumed to the end.
    resumed = subprocess.run(resume, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "resuming" in resumed.stdout
    df, meta = read_leaderboard(run_dir)
    assert meta["ended"]
    search = df[df["stage"] == "search"]
    # A trial Tune staged after its last experiment checkpoint is not resumed: it is listed
    # only if it trained, as interrupted with its epochs; the resumed search still runs 3 trials.
    lost = (search["status"] == "interrupted").to_numpy(dtype=bool)
    assert (~lost).sum() == 3 and set(search["status"]) <= {"completed", "stopped_early", "interrupted"}
    assert (search[lost]["failure_reason"] == INTERRUPTED).all()
    assert all(json.loads(h) for h in search[lost]["history"])
    # Issue 11: a trial running at either stop keeps every epoch it reported (continued from
    # its last checkpoint, or interrupted), and its best epoch, objective and checkpoint.
    for trial_id, reported in {**before_int, **midway}.items():
        row = search[search["trial_id"] == trial_id].iloc[0]
        history = json.loads(row["history"])
        assert row["epochs_run"] >= len(reported) and len(history) == row["epochs_run"], (trial_id, history)
        assert [h["val_accuracy"] for h in history[: len(reported)]] == [r["val_accuracy"] for r in reported], (trial_id, history, reported)
        best_before = max(r["val_accuracy"] for r in reported)
        assert row["objective"] >= best_before and row["objective"] == max(h["val_accuracy"] for h in history)
        assert history[row["best_epoch"] - 1]["val_accuracy"] == row["objective"]
        state = json.loads((run_dir / row["checkpoint_path"] / "state.json").read_text())
        assert state["metrics"]["epoch"] == row["best_epoch"], "the checkpoint holds the best epoch's weights"
    for trial_id, n in done_before.items():
        row = search[search["trial_id"] == trial_id].iloc[0]
        assert row["status"] == "completed" and row["epochs_run"] == n
        # Not re-run: every checkpoint it ever wrote predates the kill.
        checkpoints = list((run_dir / row["checkpoint_path"]).parent.glob("checkpoint_*"))
        assert checkpoints and all(p.stat().st_mtime < killed_at for p in checkpoints), f"trial {trial_id} was re-run"
    assert_study_matches_leaderboard(run_dir)  # rebuilt across both stops, like the leaderboard
    assert resources_free(30)


# The slow trial of SLOW_SPACE, twice at once, 6 epochs each.
WORKER_FAULT_SPACE = SLOW_SPACE.replace("num_samples: 1, max_epochs: 8, grace_period: 8", "num_samples: 2, max_epochs: 6, grace_period: 6")
assert WORKER_FAULT_SPACE != SLOW_SPACE


def _training_pid(ray_address: str, report: dict) -> int | None:
    """The pid of the live process training the trial that made ``report``: a warm trial's
    reports name it; a Ray Train trial's name its worker's placement group."""
    if report.get("placement_group"):
        from ray.util.state import list_actors

        for a in list_actors(address=ray_address, filters=[("state", "=", "ALIVE")], detail=True):
            if a["class_name"] == "RayTrainWorker" and a.get("placement_group_id") == report["placement_group"]:
                return int(a["pid"])
        return None
    return int(report["pid"])


def test_a_killed_worker_resumes_from_its_checkpoint_and_a_frozen_one_is_ended_as_stalled(ray_address, tmp_path, capsys):
    """Two trials at once, two worker faults. One trial's worker is killed (SIGKILL: an OOM
    kill, a crash): Ray Train restarts it from its last checkpoint and the trial finishes,
    at most one epoch repeated. The other's is frozen mid-epoch (SIGSTOP: a hung driver call,
    a dead NFS mount) and never reports again: the watchdog ends that trial as failed
    (stalled), frees its CPU and the search finishes."""
    space = write_space(tmp_path, WORKER_FAULT_SPACE)
    plan = build_plan(Options(space=space, name="faults", storage=str(tmp_path / "runs")))
    plan = plan.evolve(stall_timeout=30.0)  # 10x an epoch here (about 3 s), even on a loaded 2-core machine
    run_dir = tmp_path / "runs" / "faults"
    hit: dict[str, tuple[str, int, int]] = {}  # "killed"/"frozen" -> (trial id, pid, epochs reported)
    errors: list[BaseException] = []

    def saboteur():
        deadline = time.monotonic() + 300
        try:
            while time.monotonic() < deadline and len(hit) < 2:
                journals = _journals(run_dir)
                # The victim to kill has a checkpoint of epoch 2 or later; the other has reported.
                ready = [(t, j) for t, j in journals.items() if len(j) >= 2 and j[-1].get("checkpoint_path")]
                if ready and len(journals) == 2 and all(journals.values()):
                    (kill_id, kill_j), (freeze_id, freeze_j) = ready[0], next((t, j) for t, j in journals.items() if t != ready[0][0])
                    pids = {t: _training_pid(ray_address, j[-1]) for t, j in ((kill_id, kill_j), (freeze_id, freeze_j))}
                    if all(pids.values()):
                        os.kill(pids[freeze_id], signal.SIGSTOP)
                        hit["frozen"] = (freeze_id, pids[freeze_id], len(freeze_j))
                        os.kill(pids[kill_id], signal.SIGKILL)
                        hit["killed"] = (kill_id, pids[kill_id], len(kill_j))
                        return
                time.sleep(0.2)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    thread = threading.Thread(target=saboteur, daemon=True)
    thread.start()
    try:
        run_search(plan, run_dir)
    finally:
        thread.join(timeout=5)
        if "frozen" in hit:
            try:
                os.kill(hit["frozen"][1], signal.SIGCONT)
            except ProcessLookupError:
                pass
    assert not errors, errors
    assert len(hit) == 2, f"the faults were not both injected: {hit}"
    df, _ = read_leaderboard(run_dir)
    assert len(df) == 2
    killed_id, killed_pid, killed_at = hit["killed"]
    row = df[df["trial_id"] == killed_id].iloc[0]
    assert row["status"] == "completed" and row["epochs_run"] == 6, row
    epochs = _epochs(run_dir / row["trial_dir"])
    # The killed process cannot have reported the later epochs: a new worker did, starting
    # from the last checkpoint (epoch >= killed_at - 1), so at most one epoch repeats.
    assert set(epochs) == set(range(1, 7)), epochs
    assert len(epochs) - len(set(epochs)) <= 1, f"more than one epoch lost: {epochs}"
    assert all(b >= a - 1 for a, b in zip(epochs, epochs[1:])), f"restarted from scratch: {epochs}"
    frozen_id, frozen_pid, _ = hit["frozen"]
    stalled = df[df["trial_id"] == frozen_id].iloc[0]
    assert stalled["status"] == "failed" and stalled["failure_reason"].startswith("stalled: no report for "), stalled
    assert "stalled: no report for" in capsys.readouterr().err
    for pid in (killed_pid, frozen_pid):  # neither worker was left behind (Ray reaps them within seconds)
        assert _gone(pid, 30), f"process {pid} still runs"
    assert resources_free(60)


def _gone(pid: int, wait: float) -> bool:
    """``pid`` has ended (and is not a zombie) within ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().split(") ", 1)[1].startswith("Z"):
                    return True  # ended; its parent has not reaped it yet
        except (FileNotFoundError, ProcessLookupError):
            return True
        time.sleep(0.5)
    return False


# Short trials, one at a time: which ones ran says when the search stopped.
QUICK_SPACE = SLOW_SPACE.replace("num_samples: 1, max_epochs: 8, grace_period: 8", "num_samples: 4, max_epochs: 1, grace_period: 1")
assert QUICK_SPACE != SLOW_SPACE


def test_a_user_error_in_a_worker_stops_the_search_at_once(ray_address, tmp_path):
    """The dataset a worker sees no longer matches the plan (it changed under the search): every
    trial would fail alike, so the first one stops the search with the worker's own line."""
    from tuner.errors import FatalTrialError

    space = write_space(tmp_path, QUICK_SPACE)
    plan = build_plan(Options(space=space, name="fatal", storage=str(tmp_path / "runs"), max_concurrent=1))
    plan = plan.evolve(identity="0" * len(plan.identity))  # what the data was when the search started
    run_dir = tmp_path / "runs" / "fatal"
    with pytest.raises(FatalTrialError, match=r"changed since the search started"):
        run_search(plan, run_dir)
    df, _ = read_leaderboard(run_dir)
    assert len(df) == 1, df[["trial_id", "status", "failure_reason"]]
    assert df.iloc[0]["status"] == "failed" and "changed since the search started" in df.iloc[0]["failure_reason"]
    failure = json.loads((run_dir / df.iloc[0]["trial_dir"] / "failure.json").read_text())
    assert failure["fatal"] is True  # a field of the report, not a prefix of its reason
    assert json.loads((run_dir / "search" / STOPPED_FILE).read_text())["fatal"]
    assert resources_free(60)
