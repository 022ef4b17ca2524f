"""Releasing the placement groups of ended trials (tuner/search/driver/_placement.py), on a real Ray."""

from __future__ import annotations

from tuner.search.driver._placement import PlacementGroupReleaser


def test_the_releaser_frees_the_stages_leftover_placement_groups_and_no_one_elses(ray_address):
    """A worker placement group made during the stage and still held when it ends is removed
    (no State API needed); one the driver held before the stage is left alone."""
    import ray
    from ray.util.placement_group import placement_group, placement_group_table, remove_placement_group

    mine = placement_group([{"CPU": 1}])
    ray.get(mine.ready(), timeout=30)
    releaser = PlacementGroupReleaser()
    releaser.setup()
    stray = placement_group([{"CPU": 1}])  # what a Train controller killed mid-start leaves
    ray.get(stray.ready(), timeout=30)
    try:
        releaser.on_experiment_end(trials=[])
        table = placement_group_table()
        assert table[stray.id.hex()]["state"] == "REMOVED"
        assert table[mine.id.hex()]["state"] == "CREATED"
    finally:
        remove_placement_group(mine)
