"""Accelerator setup for one training process: memory growth, strategy, mixed precision."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

__all__ = ["DeviceSetup", "setup_devices"]

_log = logging.getLogger("tuner.zoo")


@dataclass(frozen=True)
class DeviceSetup:
    """What :func:`setup_devices` chose.

    Attributes:
        strategy: A ``tf.distribute`` strategy; build and compile inside ``strategy.scope()``.
        gpus: Number of GPUs visible to this process.
        replicas: Replicas in sync (global batch = per-replica batch x replicas).
        mixed_precision: Whether the ``mixed_float16`` policy is on.
    """

    strategy: Any
    gpus: int
    replicas: int
    mixed_precision: bool


def _supports_fp16(gpu: Any) -> bool:
    import tensorflow as tf

    try:
        details = tf.config.experimental.get_device_details(gpu)
    except Exception:  # noqa: BLE001 - unknown device: be conservative
        return False
    capability = details.get("compute_capability") or (0, 0)
    return tuple(capability) >= (7, 0)  # tensor cores: Volta and newer


def setup_devices(mixed_precision: str = "auto", logical_devices: list[str] | None = None, cpu_threads: int | None = None) -> DeviceSetup:
    """Configure TensorFlow for this process's GPUs and return the strategy to build under.

    - Memory growth on every GPU, so a process takes what it uses, not the whole card.
    - 2+ GPUs: ``MirroredStrategy`` over them. One GPU or none: the default strategy, since
      a one-replica MirroredStrategy only adds time.
    - ``mixed_precision="auto"`` turns ``mixed_float16`` on when every GPU has compute
      capability 7.0 or newer; ``"on"``/``"off"`` force it (``"on"`` is how the CPU tests
      check that models build and train under the policy).

    Args:
        mixed_precision: ``auto``, ``on`` or ``off``.
        logical_devices: Device names to mirror over instead of the GPUs (tests use two
            logical CPU devices).
        cpu_threads: Threads TensorFlow may use for one op and across ops: the CPUs Ray
            gave this process, so concurrent trials do not oversubscribe the cores.
    """
    import keras
    import tensorflow as tf

    if cpu_threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(cpu_threads))
            tf.config.threading.set_inter_op_parallelism_threads(max(1, int(cpu_threads)))
        except RuntimeError:  # TensorFlow already initialised in this process
            pass

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised in this process: growth is then fixed
            pass
    if logical_devices and len(logical_devices) > 1:
        strategy = tf.distribute.MirroredStrategy(logical_devices)
    elif len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    if mixed_precision == "on":
        use_fp16 = True
    elif mixed_precision == "off":
        use_fp16 = False
    elif mixed_precision == "auto":
        use_fp16 = bool(gpus) and all(_supports_fp16(g) for g in gpus)
    else:
        raise ValueError(f"mixed_precision must be auto, on or off, got {mixed_precision!r}")
    keras.mixed_precision.set_global_policy("mixed_float16" if use_fp16 else "float32")
    if gpus:
        _log.info("%d GPU(s), %d replica(s), mixed precision %s", len(gpus), strategy.num_replicas_in_sync, "on" if use_fp16 else "off")
    return DeviceSetup(strategy=strategy, gpus=len(gpus), replicas=strategy.num_replicas_in_sync, mixed_precision=use_fp16)
