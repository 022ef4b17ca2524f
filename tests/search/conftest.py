"""One Ray instance for the whole test session (2 CPUs, like CI), shared by the search tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def ray_address():
    import ray

    from tuner.search._driver import init_ray

    init_ray(local=True, num_cpus=2)
    address = ray.get_runtime_context().gcs_address
    yield address
    ray.shutdown()


def write_space(folder: Path, text: str, name: str = "space.yaml") -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return str(path)


def resources_free(wait: float = 10.0) -> bool:
    """All CPUs and GPUs free again (allowing Ray a few seconds to reap finished actors)."""
    import time

    import ray

    deadline = time.monotonic() + wait
    while True:
        total = ray.cluster_resources()
        free = ray.available_resources()
        if all(abs(free.get(k, 0.0) - v) < 1e-6 for k, v in total.items() if k in ("CPU", "GPU")):
            return True
        if time.monotonic() > deadline:
            from ray.util.placement_group import placement_group_table

            held = {k: v["bundles"] for k, v in placement_group_table().items() if v["state"] == "CREATED"}
            print(f"resources still held: free={free} total={total} placement groups={held}")
            return False
        time.sleep(0.5)
