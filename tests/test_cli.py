"""The ``tuner`` command (tuner/_cli.py): one table of subcommands, each also ``python -m``."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from tuner._cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent


def _tuner(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tuner", *args], capture_output=True, text=True, timeout=120)


def test_the_console_script_is_the_table_dispatcher():
    tomllib = pytest.importorskip("tomllib")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"tuner": "tuner._cli:main"}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_runs_its_module_main_under_its_own_name(name):
    module, _ = COMMANDS[name]
    assert callable(importlib.import_module(module).main)
    run = _tuner(name, "--help")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"usage: tuner {name}"), run.stdout[:200]
    direct = subprocess.run([sys.executable, "-m", module.removesuffix(".__main__"), "--help"], capture_output=True, text=True, timeout=120)
    assert direct.returncode == 0 and direct.stdout.startswith(f"usage: python -m {module.removesuffix('.__main__')}")


def test_without_a_command_it_names_every_command_in_two_lines_and_exits_0():
    run = _tuner()
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("\n") <= 3, run.stdout
    for name in COMMANDS:
        assert name in run.stdout
    table = _tuner("--help")
    assert table.returncode == 0
    for name, (_, help_) in COMMANDS.items():
        assert f"  {name}" in table.stdout and help_ in table.stdout


def test_an_unknown_command_is_one_line_with_the_closest_name():
    run = _tuner("serch", "--space", "finetune")
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "did you mean 'search'?" in run.stderr, run.stderr


def test_a_subcommand_usage_error_names_the_command_as_typed():
    run = _tuner("search", "--no-such-flag")
    assert run.returncode == 2
    assert run.stderr.startswith("tuner search: error: unrecognized arguments: --no-such-flag"), run.stderr
