"""Groupings: label remaps that merge confusable classes. No file is ever copied.

A grouping file (``search_spaces/groupings/*.yaml``)::

    name: beauty_grouped_a
    groups:
      G14: [Oralhygiene_ElectricToothbrush, Oralhygiene_Toothbrushes]
    # classes not listed keep their own label
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from tuner._paths import list_yaml, repo_search_spaces_dir, resolve_named_yaml
from tuner.errors import ConfigError

__all__ = [
    "Grouping",
    "LabelRemap",
    "load_grouping",
    "list_groupings",
    "resolve_grouping_path",
]


class _GroupingFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    groups: dict[str, list[str] | None]


@dataclass(frozen=True)
class LabelRemap:
    """Where each original class id goes under a grouping.

    Attributes:
        names: The new label names, in new-label order.
        mapping: ``mapping[old_id]`` is the new id.
    """

    names: tuple[str, ...]
    mapping: tuple[int, ...]

    @property
    def num_classes(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class Grouping:
    """A named set of groups; each group merges two or more classes into one label."""

    name: str
    groups: Mapping[str, tuple[str, ...]]

    def validate(self, class_names: Sequence[str], source: str = "", *, one_label_ok: bool = False) -> None:
        """Check the grouping against a dataset's classes.

        Raises:
            ConfigError: unknown class (closest names suggested), class in two groups, empty
                group, a group name equal to a class left ungrouped, or (unless
                ``one_label_ok``) every class merged into one label.
        """
        where = f" in {source}" if source else ""
        known = set(class_names)
        owner: dict[str, str] = {}
        for group, members in self.groups.items():
            if not members:
                raise ConfigError(f"group {group!r} of grouping {self.name!r}{where} is empty; list at least one class or remove it")
            for cls in members:
                if cls not in known:
                    close = difflib.get_close_matches(cls, class_names, n=3, cutoff=0.5)
                    hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else "check the spelling against 'python -m tuner.data inspect'"
                    raise ConfigError(f"group {group!r} of grouping {self.name!r}{where} lists unknown class {cls!r}; {hint}")
                if cls in owner:
                    raise ConfigError(
                        f"class {cls!r} is in both group {owner[cls]!r} and group {group!r} of grouping {self.name!r}{where}; a class can be in one group only"
                    )
                owner[cls] = group
        for group in self.groups:
            if group in known and group not in owner:
                raise ConfigError(f"group name {group!r} of grouping {self.name!r}{where} is also the name of a class left ungrouped; rename the group")
        labels = {owner.get(cls, cls) for cls in class_names}
        if len(labels) < 2 and not one_label_ok:
            raise ConfigError(f"grouping {self.name!r}{where} merges every class into one label, leaving nothing to classify; keep at least two labels")

    def remap(self, class_names: Sequence[str]) -> LabelRemap:
        """The label remap for a dataset's classes (validated first).

        New labels are sorted by name, so the same grouping on the same classes always gives
        the same ids.
        """
        # A user's grouping of one label was refused where it was given; a derived space (the
        # common space of overlapping candidates) may be that coarse.
        self.validate(class_names, one_label_ok=True)
        target = {cls: cls for cls in class_names}
        for group, members in self.groups.items():
            for cls in members:
                target[cls] = group
        names = tuple(sorted(set(target.values())))
        position = {name: i for i, name in enumerate(names)}
        return LabelRemap(names=names, mapping=tuple(position[target[cls]] for cls in class_names))

    @staticmethod
    def identity(class_names: Sequence[str]) -> LabelRemap:
        """The remap that keeps every class as it is (the ``none`` grouping)."""
        return LabelRemap(names=tuple(class_names), mapping=tuple(range(len(class_names))))


def _groupings_dir() -> Path:
    return repo_search_spaces_dir() / "groupings"


def list_groupings() -> list[str]:
    """Names of the shipped groupings."""
    return list_yaml(_groupings_dir())


def resolve_grouping_path(name_or_file: str) -> Path:
    """A grouping given as a shipped name or a file path -> its file.

    Raises:
        ConfigError: neither a shipped name nor an existing file.
    """
    return resolve_named_yaml(name_or_file, _groupings_dir(), "grouping")


def load_grouping(name_or_file: str | os.PathLike[str]) -> Grouping:
    """Load and structurally validate a grouping YAML (a shipped name or a path).

    Checks against a dataset's classes happen in :meth:`Grouping.validate`.

    Raises:
        ConfigError: missing file, invalid YAML, unknown or missing keys, duplicate members.
    """
    from tuner._io import read_yaml

    path = resolve_grouping_path(str(name_or_file))
    raw = read_yaml(path, "grouping file")
    if not isinstance(raw, dict):
        raise ConfigError(f"grouping file {str(path)!r} must be a mapping with keys 'name' and 'groups', got {type(raw).__name__}")
    try:
        parsed = _GroupingFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            raise ConfigError(f"grouping file {str(path)!r} has unknown key {key!r}; the valid keys are 'name' and 'groups'") from None
        raise ConfigError(f"grouping file {str(path)!r}: key {key!r} {err['msg'].lower()} (got {err.get('input')!r})") from None
    groups: dict[str, tuple[str, ...]] = {}
    for group, members in parsed.groups.items():
        members = list(members or [])
        dupes = sorted({m for m in members if members.count(m) > 1})
        if dupes:
            raise ConfigError(f"group {group!r} of grouping {parsed.name!r} in {str(path)!r} lists {dupes[0]!r} twice; list it once")
        groups[str(group)] = tuple(str(m) for m in members)
    return Grouping(name=parsed.name, groups=groups)
