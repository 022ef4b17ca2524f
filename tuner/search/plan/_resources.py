"""How many CPUs and GPUs each trial holds, and how many run at once (pure but for reading
this machine's devices in :func:`local_resources`)."""

from __future__ import annotations

import math
import os
import shutil
import subprocess

from tuner.errors import ConfigError
from tuner.search.plan._contracts import ClusterShape, Plan

__all__ = ["fit_resources", "local_resources", "size_resources"]


def _local_gpus() -> int:
    """GPUs on this machine, without importing TensorFlow (nvidia-smi), for --dry-run."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return 0
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))


def fit_resources(
    gpus: float | None,
    cpus: float | None,
    requested: int | None,
    num_samples: int | None,
    cluster_cpus: float,
    cluster_gpus: float,
    node_max_gpus: float,
    node_max_cpus: float,
) -> tuple[float, float, int]:
    """``(gpus_per_trial, cpus_per_trial, max_concurrent)`` so trials never deadlock (pure).

    Each trial holds ``cpus_per_trial`` CPUs and ``gpus_per_trial`` GPUs (in its warm trial
    actor, or in its Ray Train worker for 2+ GPUs, whose trial actor holds none:
    ``tuner.search.trial._trial.trial_resources``), and at most as many trials run as the cluster
    can hold at once. ``None`` means "choose".

    Raises:
        ConfigError: more GPUs or CPUs per trial than any node has.
    """
    if gpus is None:
        gpus = 1.0 if cluster_gpus >= 1 else 0.0
    if gpus > node_max_gpus:
        raise ConfigError(
            f"--gpus-per-trial {gpus:g} is more than any node of the cluster has ({node_max_gpus:g}); "
            f"use at most {node_max_gpus:g}" + ("" if node_max_gpus else " (this cluster has no GPU: use 0)")
        )
    if cpus is None and not gpus:
        # On CPUs, trials share the cores: as many 1-CPU trials as there are cores, unless
        # fewer trials can run at once (a short search, --max-concurrent), which then get
        # the cores between them (TensorFlow uses them all for one trial).
        at_once = min(x for x in (num_samples, requested, cluster_cpus) if x)
        cpus = float(max(1, math.floor(node_max_cpus / max(1, at_once))))
    elif cpus is None:
        cpus = float(min(8, max(1, math.floor(node_max_cpus / max(node_max_gpus, 1) * gpus))))
    if cpus > node_max_cpus:
        raise ConfigError(f"--cpus-per-trial {cpus:g} is more than any node has ({node_max_cpus:g}); use at most {node_max_cpus:g}")
    fit = int(cluster_cpus // cpus) if cpus else 1
    if gpus:
        fit = min(fit, int(cluster_gpus // gpus))
    fit = max(fit, 1)
    return float(gpus), float(cpus), min(int(requested), fit) if requested else fit


def size_resources(plan: Plan, cluster_cpus: float, cluster_gpus: float, node_max_gpus: float, node_max_cpus: float) -> Plan:
    """``plan`` with its per-trial resources and concurrency chosen for this cluster (:func:`fit_resources`)."""
    gpus, cpus, at_once = fit_resources(
        plan.gpus_per_trial, plan.cpus_per_trial, plan.max_concurrent, plan.num_samples, cluster_cpus, cluster_gpus, node_max_gpus, node_max_cpus
    )
    return plan.evolve(gpus_per_trial=gpus, cpus_per_trial=cpus, max_concurrent=at_once, cluster=ClusterShape(cpus=cluster_cpus, gpus=cluster_gpus))


def local_resources() -> tuple[float, float, float, float]:
    """``(cpus, gpus, node_max_gpus, node_max_cpus)`` of this machine, without Ray."""
    cpus = float(os.cpu_count() or 1)
    gpus = float(_local_gpus())
    return cpus, gpus, gpus, cpus
