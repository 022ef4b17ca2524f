"""cluster.yaml passes Ray's own cluster-config schema, loaded the way `ray up` loads it
(defaults merged, docker checked, then validated), and keeps the security rules."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

CLUSTER_YAML = Path(__file__).resolve().parents[1] / "cluster.yaml"


def _load():
    from ray.autoscaler._private.util import prepare_config, validate_config

    raw = yaml.safe_load(CLUSTER_YAML.read_text())
    config = prepare_config(copy.deepcopy(raw))  # what `ray up` does before bootstrapping AWS
    validate_config(config)  # jsonschema against ray/autoscaler/ray-schema.json
    return raw, config


def test_cluster_yaml_passes_rays_schema_validation():
    raw, config = _load()
    assert config["provider"]["type"] == "aws"
    assert config["docker"]["image"].startswith("rayproject/ray:2.60.") and config["docker"]["image"].endswith("-py311-gpu")


def test_schema_validation_does_reject_a_broken_config():
    import jsonschema
    import pytest
    from ray.autoscaler._private.util import prepare_config, validate_config

    raw = yaml.safe_load(CLUSTER_YAML.read_text())
    raw["available_node_types"]["gpu_1x"]["no_such_field"] = 1
    with pytest.raises(jsonschema.ValidationError):
        validate_config(prepare_config(raw))


def test_head_trains_nothing_and_gpu_workers_scale_from_zero():
    _, config = _load()
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head["resources"] == {"CPU": 0}
    workers = {k: v for k, v in types.items() if k != config["head_node_type"]}
    assert sorted(v["resources"]["GPU"] for v in workers.values()) == [1, 4, 8]
    assert all(v["min_workers"] == 0 for v in workers.values())
    assert all(v["node_config"]["InstanceMarketOptions"]["MarketType"] == "spot" for v in workers.values())
    assert any("pip install" in c and "/home/ray/tuner" in c for c in config["setup_commands"])


def test_only_ssh_is_open_and_the_dashboard_stays_on_loopback():
    raw, config = _load()
    rules = raw["provider"]["security_group"]["IpPermissions"]
    assert [(r["FromPort"], r["ToPort"]) for r in rules] == [(22, 22)]
    start = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in start and "0.0.0.0" not in start
    text = CLUSTER_YAML.read_text()
    assert "RAY_AUTH_MODE=disabled" not in text.replace("never set RAY_AUTH_MODE=disabled", "")
