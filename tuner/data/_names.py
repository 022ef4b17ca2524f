"""Class names: cleaning folder names with a regex or a preset, and making names file-safe."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from tuner.errors import ConfigError

__all__ = ["CLASS_NAME_PRESETS", "compile_class_name_pattern", "clean_class_name", "safe_filename"]

#: Built-in ``--class-name-pattern`` presets. The first regex group is the class name.
CLASS_NAME_PRESETS: Mapping[str, str] = {
    # The retail study's folders: boxes_<Family>_<Category>_<number> -> <Family>_<Category>.
    "beauty": r"^(?:boxes_)?(.+?)(?:_\d+)?$",
}


def compile_class_name_pattern(pattern: str | None) -> re.Pattern[str] | None:
    """Turn ``--class-name-pattern`` (a preset name or a regex with one group) into a regex.

    Raises:
        ConfigError: the regex does not compile or has no capturing group.
    """
    if pattern is None or pattern == "":
        return None
    source = CLASS_NAME_PRESETS.get(pattern, pattern)
    try:
        compiled = re.compile(source)
    except re.error as exc:
        presets = ", ".join(sorted(CLASS_NAME_PRESETS))
        raise ConfigError(
            f"--class-name-pattern {pattern!r} is not a valid regular expression ({exc}); "
            f"give a regex whose first group is the class name, or a preset: {presets}"
        ) from None
    if compiled.groups < 1:
        raise ConfigError(f"--class-name-pattern {pattern!r} has no capturing group; the first group is the class name, e.g. '^prefix_(.+)$'")
    return compiled


def clean_class_name(folder: str, pattern: re.Pattern[str] | None) -> str:
    """The class name for ``folder``: the pattern's first group, or the folder name itself.

    A folder the pattern does not match keeps its own name; a match with an empty first group
    is an error, since an empty class name cannot be told apart from any other.
    """
    if pattern is None:
        return folder
    match = pattern.search(folder)
    if match is None or match.group(1) is None:
        return folder
    name = match.group(1)
    if not name.strip():
        raise ConfigError(
            f"--class-name-pattern {pattern.pattern!r} turns folder {folder!r} into an empty class name; make the first group match at least one character"
        )
    return name


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str, max_length: int = 80) -> str:
    """A file-name-safe form of a class or group name (no separators, no ``..``, no markup).

    Distinct names can map to the same safe name; callers that write one file per class add
    an index to keep them apart.
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = _UNSAFE.sub("_", text)
    text = re.sub(r"\.{2,}", "_", text).strip("._")
    return (text or "class")[:max_length]
