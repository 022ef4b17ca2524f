"""Connecting to Ray and checking the cluster: the environment of every search process, a local
instance or the running cluster, storage every node can see, the nodes' shape."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from tuner.errors import ConfigError

__all__ = ["HEAD_NODE_RESOURCE", "RAY_ENV", "check_remote_is_new", "check_storage", "cluster_shape", "init_ray", "storage_problem"]


#: Environment for every process of the search (set before Ray starts, passed to workers).
RAY_ENV = {
    "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.1",  # ray.train.report: ~2 s -> ~0.16 s
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
    "RAY_AIR_NEW_OUTPUT": "0",
    # Ray Train gives up on a worker group after 60 s; on a small machine a trial can wait
    # that long for the CPUs of a trial Tune is still tearing down.
    "RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S": "600",
    # A trial Tune stops (ASHA) sits in Train's fit() and cannot exit gracefully; Ray waits
    # 30 s by default before force-killing it, holding its CPUs/GPUs all that time. Read by
    # the GCS when Ray starts here (cluster.yaml sets it for a cluster).
    "RAY_actor_graceful_shutdown_timeout_ms": "3000",
    # Tune writes trial results in a local staging folder and copies them (and its own
    # state) into the run directory at each experiment checkpoint: every 5 s, so a killed
    # search loses at most a few seconds of results.
    "TUNE_GLOBAL_CHECKPOINT_S": "5",
    # A trial restored by --resume whose Train run had already finished returns without a
    # new report in this process; Tune must not treat that as an error.
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",  # Tune's classic output honours verbose=0; tuner prints its own progress
    # A reused (warm) trial actor waits this long for the previous trial's thread to end
    # before the next trial starts in it; past it Tune aborts the *next* trial. Ending a
    # stopped trial frees its model (Keras' clear_session and a garbage collection), which
    # can pass Tune's 2 s default on a loaded machine.
    "TUNE_FUNCTION_THREAD_TIMEOUT_S": "60",
}


HEAD_NODE_RESOURCE = "node:__internal_head__"  # Ray's built-in resource of the head node


def init_ray(local: bool, num_cpus: int | None = None) -> None:
    """Join the running cluster unless ``local``, else start Ray on this machine.

    Without ``local``: ``RAY_ADDRESS`` if set, else a cluster ``ray start`` runs on this
    machine (the head node of ``ray up``), else a new local instance. With ``local``: always
    a new instance on this machine, even beside a running cluster.
    """
    import ray

    os.environ.update(RAY_ENV)
    if not local and os.environ.get("RAY_ADDRESS"):
        check_reachable(os.environ["RAY_ADDRESS"])  # also when this process joined it already
    if ray.is_initialized():
        return
    # Ray 2.60 announces at every start that token authentication is on (it stays on); the
    # line would otherwise precede a user-error message, which must be one line.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    kwargs: dict[str, Any] = {
        "runtime_env": {"env_vars": dict(RAY_ENV)},
        "logging_level": logging.WARNING,
    }
    if not local and os.environ.get("RAY_ADDRESS"):
        address = os.environ["RAY_ADDRESS"]
        try:
            ray.init(address=address, **kwargs)
        except ConnectionError as exc:
            raise ConfigError(f"RAY_ADDRESS={address!r}: {str(exc).splitlines()[0][:120]}; {_RAY_ADDRESS_FIX}") from None
        return
    os.environ.pop("RAY_ADDRESS", None)
    # Only a Ray instance started here inherits this (a cluster's nodes keep their own
    # setting): one machine has no node to drain, and Train's preemption watcher is one more
    # actor process per trial, which costs each trial's start seconds on a small machine.
    os.environ.setdefault("RAY_TRAIN_ENABLE_PREEMPTION_WATCHER", "0")
    # The dashboard process is what lets Ray Train release the placement groups of trials
    # ASHA stops (docs/architecture.md); bind it to this machine only.
    ray.init(
        # "local" never joins a cluster ray start runs here; None joins one if there is.
        address="local" if local else None,
        num_cpus=num_cpus if local else None,
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        **kwargs,
    )


_RAY_ADDRESS_FIX = "start the cluster (ray up cluster.yaml, or ray start --head), fix or unset RAY_ADDRESS, or pass --local"
#: How long a RAY_ADDRESS gets to answer before the search gives up (Ray itself retries for minutes).
CONNECT_TIMEOUT_S = 5.0


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail in one line, within ``timeout``, when ``address``'s host and port do not answer.

    ``auto`` and ``local`` are Ray's own lookups, left to it. ``ray://host:port`` (Ray Client)
    and ``host:port`` (a head node's GCS) are tried with one TCP connection.
    """
    import socket
    from urllib.parse import urlsplit

    if address in ("auto", "local"):
        return
    parts = urlsplit(address if "://" in address else f"gcs://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise ConfigError(f"RAY_ADDRESS={address!r} is not host:port (or ray://host:port, auto); {_RAY_ADDRESS_FIX}")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        why = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__).lower()
        raise ConfigError(f"RAY_ADDRESS={address!r} cannot be reached ({why} within {timeout:g} s); {_RAY_ADDRESS_FIX}") from None


def storage_problem(root: str, visible: dict[str, bool]) -> str | None:
    """Why ``root`` cannot hold a run on this cluster, or ``None``.

    Args:
        root: The local ``--storage`` folder.
        visible: Per node id, whether a file the driver wrote under ``root`` is seen there.
    """
    if len(visible) < 2:
        return None
    blind = sorted(n for n, ok in visible.items() if not ok)
    if not blind:
        return None
    names = ", ".join(n[:12] for n in blind[:3]) + (" ..." if len(blind) > 3 else "")
    return (
        f"--storage {root!r} is a local folder that {len(blind)} of the cluster's {len(visible)} nodes cannot see "
        f"({names}); trials write checkpoints from their own node, so on a multi-node cluster use "
        f"--storage s3://bucket/prefix or a shared filesystem mounted at the same path on every node"
    )


def check_storage(root: Path) -> None:
    """Refuse a local ``--storage`` that some node of a multi-node cluster does not share."""
    import uuid

    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
    if len(nodes) < 2:
        return
    root.mkdir(parents=True, exist_ok=True)
    marker = root / f".tuner-storage-check-{uuid.uuid4().hex}"
    marker.write_text("tuner")

    @ray.remote(num_cpus=0)
    def sees(path: str) -> bool:
        return os.path.exists(path)

    try:
        refs = {n: sees.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False)).remote(str(marker)) for n in nodes}
        visible = {n: bool(ray.get(ref, timeout=120)) for n, ref in refs.items()}
    finally:
        marker.unlink(missing_ok=True)
    problem = storage_problem(str(root), visible)
    if problem:
        raise ConfigError(problem)


def check_remote_is_new(remote: str) -> None:
    """Refuse to start a run in a remote folder that already holds one (nothing is overwritten)."""
    import pyarrow.fs as pafs

    from tuner._storage import display_uri, open_uri

    fs, path = open_uri(remote)
    if fs.get_file_info(path).type != pafs.FileType.NotFound:
        raise ConfigError(
            f"{display_uri(remote)} already exists; pick another --name (a remote run is resumed from its local folder with --resume runs/<name>)"
        )


def cluster_shape() -> tuple[float, float, float, float]:
    import ray

    total = ray.cluster_resources()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    node_gpus = max((n["Resources"].get("GPU", 0.0) for n in nodes), default=0.0)
    node_cpus = max((n["Resources"].get("CPU", 0.0) for n in nodes), default=0.0)
    return float(total.get("CPU", 0.0)), float(total.get("GPU", 0.0)), float(node_gpus), float(node_cpus)
