"""Helpers of the search tests (the session's Ray instance is ``ray_address`` in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path


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
