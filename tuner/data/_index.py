"""Find the images of a dataset folder, their labels and their split: the ``DatasetIndex``.

Pure functions of the folder's listing: no image is opened here, so indexing 10,000 files
takes well under a second. Three layouts are recognised:

- class folders ``DIR/<class>/**/*.jpg`` (unsplit; split 80/10/10 here);
- pre-split ``DIR/train|validation|val|valid|test/<class>/...``;
- Tiny ImageNet (``wnids.txt``, ``words.txt``, ``train/<wnid>/images``, ``val/images`` with
  ``val/val_annotations.txt``): ``val/`` is the test split, validation is carved from train.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tuner.data._names import clean_class_name, compile_class_name_pattern
from tuner.data._walk import IMAGE_EXTENSIONS, is_image, subdirs, walk
from tuner.errors import DataError

__all__ = [
    "IMAGE_EXTENSIONS",
    "SPLITS",
    "DatasetIndex",
    "index_dataset",
    "split_assignments",
]

#: File endings read as images, compared case-insensitively.
SPLITS = ("train", "validation", "test")
Layout = Literal["class_folders", "pre_split", "tiny_imagenet"]

_VALIDATION_DIRS = ("validation", "val", "valid")
_FORMAT_VERSION = 1  # bump when the identity recipe changes, so old caches are not reused


@dataclass(frozen=True)
class _File:
    rel: str
    label: int
    split: str | None  # None: to be assigned by the seeded split
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class DatasetIndex:
    """Every usable file of a dataset with its label and split. Immutable.

    Attributes:
        root: Absolute path of the dataset folder.
        layout: Which of the three layouts was found.
        class_names: Class names, in label order (sorted by folder name).
        class_folders: The folder (or wnid) each class came from, same order.
        files: Image paths relative to ``root``, POSIX style, sorted.
        labels: Class id of each file.
        splits: ``"train"``, ``"validation"`` or ``"test"`` for each file.
        sizes: Size in bytes of each file.
        ignored_files: Files that are not images by their ending (relative paths).
        identity: Hash of the relative paths, sizes, mtimes and the class list; keys caches.
        split_seed: The seed of the 80/10/10 split (unused for pre-split data).
    """

    root: str
    layout: Layout
    class_names: tuple[str, ...]
    class_folders: tuple[str, ...]
    files: tuple[str, ...]
    labels: tuple[int, ...]
    splits: tuple[str, ...]
    sizes: tuple[int, ...]
    ignored_files: tuple[str, ...]
    identity: str
    split_seed: int
    _by_split: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.files)

    def indices(self, split: str) -> tuple[int, ...]:
        """Positions in :attr:`files` of the files in ``split``."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if split not in self._by_split:
            self._by_split[split] = tuple(i for i, s in enumerate(self.splits) if s == split)
        return self._by_split[split]

    def class_counts(self, split: str | None = None) -> list[int]:
        """Number of files per class, in one split or in all."""
        counts = [0] * self.num_classes
        for label, s in zip(self.labels, self.splits):
            if split is None or s == split:
                counts[label] += 1
        return counts


def split_assignments(keys: Sequence[str], labels: Sequence[int], seed: int, fractions: tuple[float, float] = (0.1, 0.1)) -> list[str]:
    """Deterministic stratified train/validation/test assignment.

    Within each class the files are ranked by a hash of ``(seed, key)``; the first
    ``round(n * fractions[0])`` go to validation, the next ``round(n * fractions[1])`` to test,
    the rest to train (each held-out split gets at least one file when the class has 3 or
    more). The rank of a file depends only on its key and the seed, so the result does not
    depend on the listing order, the machine or any library's random generator. A zero
    fraction leaves that split empty.
    """
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    out = ["train"] * len(keys)
    for members in by_class.values():
        ranked = sorted(members, key=lambda i: hashlib.sha256(f"{seed}\0{keys[i]}".encode()).digest())
        n = len(ranked)
        n_val = _held_out(n, fractions[0])
        n_test = _held_out(n, fractions[1])
        for i in ranked[:n_val]:
            out[i] = "validation"
        for i in ranked[n_val : n_val + n_test]:
            out[i] = "test"
    return out


def _held_out(n: int, fraction: float) -> int:
    if fraction <= 0:
        return 0
    return max(1, round(n * fraction)) if n >= 3 else 0


def _name_classes(folders: Sequence[str], pattern: str | None, root: Path, where: str) -> list[str]:
    regex = compile_class_name_pattern(pattern)
    names = [clean_class_name(folder, regex) for folder in folders]
    first: dict[str, str] = {}
    clashes: list[str] = []
    for folder, name in zip(folders, names):
        if name in first:
            clashes.append(f"{first[name]!r} and {folder!r} both become {name!r}")
        else:
            first[name] = folder
    if clashes:
        raise DataError(f"class folders in {root / where} collide after --class-name-pattern: {'; '.join(clashes)}; rename the folders or change the pattern")
    return names


def _check_root(root: Path) -> Path:
    if not root.exists():
        raise DataError(f"dataset folder {str(root)!r} does not exist; pass the folder that holds your class folders")
    if not root.is_dir():
        raise DataError(f"dataset path {str(root)!r} is not a directory; pass the folder that holds your class folders")
    return root.resolve()


def _detect(root: Path) -> Layout:
    folders = set(subdirs(root))
    if (root / "wnids.txt").is_file() and (root / "words.txt").is_file() and "train" in folders:
        return "tiny_imagenet"
    if "train" in folders and folders & set(_VALIDATION_DIRS):
        return "pre_split"
    return "class_folders"


def _class_folder_files(base: Path, root: Path, folders: Sequence[str], split: str | None, require_images: bool) -> tuple[list[_File], list[str]]:
    files: list[_File] = []
    ignored: list[str] = []
    for label, folder in enumerate(folders):
        images, others = walk(base / folder, root)
        ignored.extend(others)
        if not images and require_images:
            rel = Path(os.path.relpath(base / folder, root)).as_posix()
            raise DataError(f"class folder {rel!r} in {root} holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))}); add images or remove the folder")
        files.extend(_File(rel, label, split, size, mtime) for rel, size, mtime in images)
    return files, ignored


def _index_class_folders(root: Path, pattern: str | None) -> tuple[list[str], list[str], list[_File], list[str]]:
    folders = subdirs(root)
    loose_images = [e.name for e in os.scandir(root) if e.is_file() and is_image(e.name)]
    if not folders:
        if loose_images:
            raise DataError(
                f"{root} holds {len(loose_images)} images but no class folders; put each class's "
                f"images in its own folder, e.g. {root}/cat/*.jpg and {root}/dog/*.jpg"
            )
        raise DataError(f"no images found under {root}; it needs one folder per class holding images")
    names = _name_classes(folders, pattern, root, "")
    files, ignored = _class_folder_files(root, root, folders, None, require_images=True)
    ignored.extend(e.name for e in os.scandir(root) if e.is_file() and not e.name.startswith("."))
    return names, folders, files, ignored


def _index_pre_split(root: Path, pattern: str | None) -> tuple[list[str], list[str], list[_File], list[str]]:
    present = [d for d in _VALIDATION_DIRS if (root / d).is_dir()]
    if len(present) > 1:
        raise DataError(f"{root} has more than one validation folder ({', '.join(present)}); keep exactly one of {', '.join(_VALIDATION_DIRS)}")
    val_dir = present[0]
    folders = subdirs(root / "train")
    if not folders:
        raise DataError(f"{root / 'train'} has no class folders; put each class's training images in train/<class>/")
    names = _name_classes(folders, pattern, root, "train")
    files, ignored = _class_folder_files(root / "train", root, folders, "train", require_images=True)
    for split_dir, split in ((val_dir, "validation"), ("test", "test")):
        if not (root / split_dir).is_dir():
            continue
        extra = sorted(set(subdirs(root / split_dir)) - set(folders))
        if extra:
            raise DataError(
                f"class {extra[0]!r} is in {split_dir}/ but not in train/ of {root}; add training images in train/{extra[0]}/ or remove {split_dir}/{extra[0]}/"
            )
        present_folders = [f for f in folders if (root / split_dir / f).is_dir()]
        labels = {f: folders.index(f) for f in present_folders}
        for folder in present_folders:
            images, others = walk(root / split_dir / folder, root)
            ignored.extend(others)
            files.extend(_File(rel, labels[folder], split, size, mtime) for rel, size, mtime in images)
    return names, folders, files, ignored


def _tiny_names(root: Path, wnids: Sequence[str]) -> list[str]:
    words: dict[str, str] = {}
    with open(root / "words.txt", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            wnid, _, text = line.rstrip("\n").partition("\t")
            if wnid in wnids:
                words[wnid] = text.split(",")[0].strip() or wnid
    names = [words.get(w, w) for w in wnids]
    # Several wnids can share a first synonym (e.g. two kinds of "crane"): keep them apart.
    dupes = {n for n in names if names.count(n) > 1}
    return [f"{n} ({w})" if n in dupes else n for n, w in zip(names, wnids)]


def _index_tiny_imagenet(root: Path) -> tuple[list[str], list[str], list[_File], list[str]]:
    from tuner._io import read_text

    wnids = sorted({line.strip() for line in read_text(root / "wnids.txt", "dataset file", DataError).splitlines() if line.strip()})
    bad = next((w for w in wnids if w in (".", "..") or "/" in w or "\\" in w or w.startswith("~")), None)
    if bad is not None:
        raise DataError(f"wnids.txt lists {bad!r}, which is not a class folder name under train/; list folder names only, one per line")
    if not wnids:
        raise DataError(f"{root / 'wnids.txt'} lists no classes; it needs one WordNet id per line")
    missing = [w for w in wnids if not (root / "train" / w).is_dir()]
    if missing:
        raise DataError(f"wnids.txt lists {missing[0]!r} but {root / 'train' / missing[0]} does not exist; restore the folder or remove the id from wnids.txt")
    names = _tiny_names(root, wnids)
    files, ignored = _class_folder_files(root / "train", root, wnids, None, require_images=True)
    label_of = {w: i for i, w in enumerate(wnids)}
    annotations = root / "val" / "val_annotations.txt"
    if annotations.is_file():
        for line in read_text(annotations, "dataset file", DataError).splitlines():
            parts = line.split("\t")
            if len(parts) < 2 or not parts[0]:
                continue
            filename, wnid = parts[0], parts[1]
            if wnid not in label_of:
                raise DataError(f"val/val_annotations.txt labels {filename!r} with {wnid!r}, which is not in wnids.txt; fix the annotation or add the id")
            path = root / "val" / "images" / filename
            try:
                st = os.stat(path)
            except OSError:
                continue  # listed but absent: nothing to train on, nothing to crash on
            files.append(_File(f"val/images/{filename}", label_of[wnid], "test", st.st_size, st.st_mtime_ns))
    return names, list(wnids), files, ignored


def _identity(layout: str, names: Sequence[str], folders: Sequence[str], files: Iterable[_File]) -> str:
    h = hashlib.sha256()
    h.update(f"tuner-dataset-v{_FORMAT_VERSION}\0{layout}\0".encode())
    for name, folder in zip(names, folders):
        h.update(f"{folder}\0{name}\n".encode())
    for f in files:
        h.update(f"{f.rel}\0{f.size}\0{f.mtime_ns}\0{f.label}\0{f.split or ''}\n".encode())
    return h.hexdigest()[:24]


def check_readable(index: DatasetIndex) -> None:
    """Refuse a dataset with a class none of whose images can be read (header check, stopping
    at each class's first readable image: one probe per class when all is well).

    Raises:
        DataError: naming the class and the first file's problem.
    """
    from tuner.data._images import probe_image

    members: dict[int, list[str]] = {}
    for rel, label in zip(index.files, index.labels):  # one pass over the files, not one per class
        members.setdefault(label, []).append(rel)
    for label, files in members.items():
        problems = []
        for rel in files:
            probe = probe_image(os.path.join(index.root, rel))
            if probe.ok:
                break
            problems.append(f"{rel[:60]}: {probe.problem[:60]}")
        else:
            raise DataError(f"class {index.class_names[label][:40]!r}: none of its {len(files)} images can be read (e.g. {problems[0]}); fix or remove them")


def index_dataset(data_dir: str | os.PathLike[str], class_name_pattern: str | None = None, split_seed: int = 0) -> DatasetIndex:
    """Index a dataset folder: layout, classes, files, labels, split and identity.

    Args:
        data_dir: The dataset folder, in any of the three layouts.
        class_name_pattern: A regex whose first group is the class name, or a preset name
            such as ``"beauty"``; ``None`` keeps folder names.
        split_seed: Seed of the deterministic 80/10/10 split of unsplit data (and of the
            validation part carved from Tiny ImageNet's train).

    Raises:
        DataError: missing folder, no images, fewer than two classes, an empty class folder,
            a validation/test class absent from train, colliding class names.
        ConfigError: an invalid ``class_name_pattern``.
    """
    from tuner._io import user_path

    root = _check_root(user_path(str(data_dir), "dataset folder", DataError))
    layout = _detect(root)
    if layout == "tiny_imagenet":
        names, folders, files, ignored = _index_tiny_imagenet(root)
        fractions = (0.1, 0.0)  # val/ is the test split; carve validation from train
    elif layout == "pre_split":
        names, folders, files, ignored = _index_pre_split(root, class_name_pattern)
        fractions = (0.1, 0.1)
    else:
        names, folders, files, ignored = _index_class_folders(root, class_name_pattern)
        fractions = (0.1, 0.1)
    if not files:
        raise DataError(f"no images found under {root}; expected {', '.join(sorted(IMAGE_EXTENSIONS))} files")
    if len(names) < 2:
        raise DataError(f"found {len(names)} class ({names[0]!r}) in {root}; a classifier needs at least 2 class folders")
    files.sort(key=lambda f: f.rel)
    unsplit = [i for i, f in enumerate(files) if f.split is None]
    if unsplit:
        counts: dict[int, int] = {}
        for i in unsplit:
            counts[files[i].label] = counts.get(files[i].label, 0) + 1
        small = [(label, n) for label, n in counts.items() if n < 3]
        if small and layout == "class_folders":
            label, n = small[0]
            raise DataError(f"class folder {folders[label]!r} has {n} image(s); the 80/10/10 split needs at least 3 per class: add images or remove the folder")
        assigned = split_assignments([files[i].rel for i in unsplit], [files[i].label for i in unsplit], split_seed, fractions)
    else:
        assigned = []
    splits = [f.split or "" for f in files]
    for i, split in zip(unsplit, assigned):
        splits[i] = split
    return DatasetIndex(
        root=str(root),
        layout=layout,
        class_names=tuple(names),
        class_folders=tuple(folders),
        files=tuple(f.rel for f in files),
        labels=tuple(f.label for f in files),
        splits=tuple(splits),
        sizes=tuple(f.size for f in files),
        ignored_files=tuple(sorted(ignored)),
        identity=_identity(layout, names, folders, files),
        split_seed=split_seed,
    )
