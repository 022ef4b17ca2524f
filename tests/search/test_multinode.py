"""A search on a multi-node Ray cluster on this one machine (ray.cluster_utils.Cluster: one
raylet per node): a CPU-0 head like cluster.yaml's, three 1-CPU worker nodes. Trials land on
different nodes; a node killed mid-trial costs at most one epoch; the leaderboard accounts for
every trial. The search runs as the real command, in its own process, against the cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.search.conftest import lenet_space, write_space
from tuner.leaderboard import read_leaderboard
from tuner.search.driver._cluster import RAY_ENV, storage_problem

pytestmark = pytest.mark.slow

EPOCHS = 10
SPACE = lenet_space(f"num_samples: 2, max_epochs: {EPOCHS}, grace_period: {EPOCHS}, reduction_factor: 2", batch_size=32, input_size=48)


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    os.environ.update(RAY_ENV)  # read by the GCS and raylets when they start
    small = {"object_store_memory": 150 * 1024**2}
    # cluster_utils turns token authentication on only when this process's environment says
    # so (it does once the session's Ray instance has started here); the driver must match.
    auth = os.environ.get("RAY_AUTH_MODE")
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, **small})
    workers = [c.add_node(num_cpus=1, **small) for _ in range(3)]
    c.wait_for_nodes()
    yield c, workers, auth
    c.shutdown()


def _epochs(trial_dir) -> list[tuple[int, str]]:
    lines = (trial_dir / "result.json").read_text().splitlines()
    out = []
    for line in lines:
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if "epoch" in r and not r.get("replayed"):  # a replay says a stored epoch again
            out.append((int(r["epoch"]), str(r.get("node"))))
    return out


def test_trials_spread_over_nodes_and_a_killed_node_costs_at_most_one_epoch(cluster, tmp_path):
    c, workers, auth = cluster
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"} | {"RAY_ADDRESS": c.address}
    if auth:
        env["RAY_AUTH_MODE"] = auth
    space = write_space(tmp_path, SPACE)
    storage = tmp_path / "runs"  # on one machine every node sees it: a shared filesystem
    cmd = [sys.executable, "-m", "tuner.search", "--space", space, "--name", "multi", "--storage", str(storage), "--max-concurrent", "2"]
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    run_dir = storage / "multi"
    victim = None
    deadline = time.monotonic() + 300
    try:
        # Wait until a trial has checkpointed two epochs, then kill the node it trains on. The
        # run folder's copy lags the trial, so a trial seen near its end may already be done:
        # only one with several epochs still to go is a victim (a fast machine saw epoch 8 of 8
        # at 32 px; 48 px epochs are slower).
        while victim is None and time.monotonic() < deadline:
            assert driver.poll() is None, driver.stdout.read()
            for trial_dir in (run_dir / "search").glob("*/"):
                if not (trial_dir / "result.json").is_file():
                    continue
                epochs = _epochs(trial_dir)
                if 2 <= len(epochs) <= EPOCHS - 4:
                    node = epochs[-1][1]
                    match = [w for w in workers if w.node_id.startswith(node)]
                    if match:
                        victim = (trial_dir.name, node, epochs[-1][0])
                        c.remove_node(match[0], allow_graceful=False)
                        break
            time.sleep(0.2)
        assert victim is not None, "no trial reached epoch 2"
        out, _ = driver.communicate(timeout=600)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, out[-4000:]
    df, meta = read_leaderboard(run_dir)
    assert len(df) == 2 and meta["ended"]
    assert set(df["status"]) == {"completed"}, df[["trial_id", "status", "failure_reason"]]
    # Every trial trained on a worker node (the head has no CPUs), on more than one node.
    nodes = {n for d in df["trial_dir"] for _, n in _epochs(run_dir / d)}
    assert len(nodes) >= 2, nodes
    # The killed trial went on elsewhere from its last checkpoint: every epoch reported,
    # at most one repeated, the later ones from another node.
    trial_id, dead_node, killed_at = victim
    epochs = _epochs(run_dir / "search" / trial_id)
    print(f"killed node {dead_node} after epoch {killed_at} of trial {trial_id}; epochs then: {epochs}")
    numbers = [e for e, _ in epochs]
    assert set(numbers) == set(range(1, EPOCHS + 1)), numbers
    assert len(numbers) - len(set(numbers)) <= 1, f"more than one epoch lost: {numbers}"
    # The dead node's epochs are a prefix (the run folder's copy lags the kill by up to one
    # sync, so it may hold more epochs than were seen at the kill); from the switch on, every
    # epoch comes from another node.
    switch = next(i for i, (_, n) in enumerate(epochs) if n != dead_node)
    assert all(n != dead_node for _, n in epochs[switch:]), epochs
    assert epochs[switch][0] > killed_at


def test_local_storage_unseen_by_some_node_is_refused_naming_the_fix():
    assert storage_problem("runs", {"a": True}) is None
    assert storage_problem("runs", {"a": True, "b": True}) is None
    message = storage_problem("runs", {"head": True, "gpu1": False, "gpu2": False})
    assert "2 of the cluster's 3 nodes cannot see" in message
    assert "s3://" in message and "shared filesystem" in message
