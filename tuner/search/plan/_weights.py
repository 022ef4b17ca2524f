"""What ``--weights`` means for each architecture, decided before Ray starts (TensorFlow runs in
short child processes, never in the driver)."""

from __future__ import annotations

import json
import sys

from tuner.search.driver._console import say
from tuner.search.plan._contracts import Plan

__all__ = ["resolve_weights"]


_WEIGHTS_CHECK = """
import json, sys, warnings
from tuner._quiet import import_tensorflow_quietly
import_tensorflow_quietly()
import keras
keras.config.disable_interactive_logging()
warnings.filterwarnings("ignore")
from tuner.zoo._build import _imagenet_available
print(json.dumps(_imagenet_available(sys.argv[1], int(sys.argv[2]))))
"""


def resolve_weights(plan: Plan) -> Plan:
    """Turn ``--weights`` into what each architecture's trials use, before any trial starts.

    Returns ``plan`` with ``weights`` filled. ``auto`` and ``imagenet`` have to try loading the weights, which needs TensorFlow: that
    runs in a short child process per architecture (in parallel), not in this driver, and
    before Ray starts, so a ``--weights imagenet`` that cannot be satisfied is one line.
    """
    import subprocess

    policy = plan.weights_policy
    if policy == "none" or plan.kind == "scratch":
        return plan.evolve(weights={a: ("none" if policy in ("auto", "none", "imagenet") else policy) for a in plan.architectures})
    if policy not in ("auto", "imagenet"):
        return plan.evolve(weights=dict.fromkeys(plan.architectures, policy))
    from tuner.zoo import get_spec

    size = plan.space.param("input_size")
    checks = {}
    for arch in plan.architectures:
        spec = get_spec(arch)
        value = (size.values() or ["default"])[0] if size is not None else "default"
        px = spec.default_input_size if value == "default" else max(int(value), spec.min_input_size)
        checks[arch] = subprocess.Popen([sys.executable, "-c", _WEIGHTS_CHECK, arch, str(px)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    resolved = {}
    for arch, proc in checks.items():
        out, err = proc.communicate(timeout=600)
        try:
            why = json.loads(out.strip().splitlines()[-1]) if out.strip() else f"check failed: {err.strip().splitlines()[-1:]}"
        except ValueError:
            why = f"check failed: {out.strip()[-200:]}"
        if why is None:
            resolved[arch] = "imagenet"
        elif policy == "imagenet":
            from tuner.zoo._build import imagenet_unavailable

            raise imagenet_unavailable(arch, why)
        else:
            say(f"warning: ImageNet weights for {arch} could not be had ({why[:120]}); its trials start from random weights", err=True)
            resolved[arch] = "none"
    return plan.evolve(weights=resolved)
