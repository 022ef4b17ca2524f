"""Shared fixtures: an isolated cache directory and datasets built from real photos.

Every file a test writes goes under ``tmp_path``. The photos come from scikit-image's bundled
samples (real photographs); the digits from scikit-learn.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

#: scikit-image sample photos used as classes (all real photographs).
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "moon")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``TUNER_CACHE_DIR`` at a per-test folder so no test sees another's cache."""
    cache = tmp_path_factory.mktemp("tuner-cache")
    monkeypatch.setenv("TUNER_CACHE_DIR", str(cache))
    return cache


def photo(name: str) -> np.ndarray:
    """A scikit-image sample photo as an RGB uint8 array."""
    import skimage.data

    img = getattr(skimage.data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[..., :3]).astype(np.uint8)


def crops(name: str, count: int, size: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` random square crops of a photo, resized to ``size`` px."""
    from PIL import Image

    img = photo(name)
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    side = min(h, w) // 2
    out = []
    for _ in range(count):
        y = int(rng.integers(0, h - side + 1))
        x = int(rng.integers(0, w - side + 1))
        patch = Image.fromarray(img[y : y + side, x : x + side]).resize((size, size), Image.Resampling.BILINEAR)
        out.append(np.asarray(patch))
    return out


def write_photo_classes(root: Path, classes: dict[str, str], per_class: int, size: int = 48, ext: str = ".jpg") -> Path:
    """Write class folders ``root/<class>/<n><ext>`` of crops of a photo per class."""
    from PIL import Image

    for k, (cls, name) in enumerate(classes.items()):
        folder = root / cls
        folder.mkdir(parents=True, exist_ok=True)
        for i, arr in enumerate(crops(name, per_class, size, seed=k)):
            Image.fromarray(arr).save(folder / f"img_{i:03d}{ext}", quality=90)
    return root


@pytest.fixture
def photo_dataset(tmp_path: Path) -> Callable[..., Path]:
    """Factory: a class-folder dataset of real photo crops under ``tmp_path``."""

    def make(num_classes: int = 3, per_class: int = 12, size: int = 48, name: str = "photos") -> Path:
        classes = {f"class_{PHOTOS[i]}": PHOTOS[i] for i in range(num_classes)}
        return write_photo_classes(tmp_path / name, classes, per_class, size)

    return make


def write_bad_files(folder: Path, size: int = 32) -> dict[str, str]:
    """Write one file of each awkward kind into ``folder``; returns name -> expected fate.

    The fate is ``"excluded"`` (cannot be decoded) or ``"converted"`` (decodes to RGB).
    """
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    base = crops("coffee", 1, size, seed=99)[0]
    fates: dict[str, str] = {}
    (folder / "zero_byte.jpg").write_bytes(b"")
    fates["zero_byte.jpg"] = "excluded"
    (folder / "text_named.jpg").write_text("this is not a picture\n")
    fates["text_named.jpg"] = "excluded"
    rng = np.random.default_rng(3)
    (folder / "random_bytes.png").write_bytes(rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
    fates["random_bytes.png"] = "excluded"
    Image.fromarray(base).save(folder / "whole.jpg", quality=95)
    data = (folder / "whole.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "whole.jpg").unlink()
    fates["truncated.jpg"] = "excluded"
    Image.fromarray(base).convert("CMYK").save(folder / "cmyk.jpg")
    fates["cmyk.jpg"] = "converted"
    rgba = Image.fromarray(base).convert("RGBA")
    alpha = np.full((size, size), 255, dtype=np.uint8)
    alpha[: size // 2] = 0  # top half transparent
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(folder / "rgba.png")
    fates["rgba.png"] = "converted"
    gray16 = (np.asarray(Image.fromarray(base).convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(gray16).save(folder / "gray16.png")
    fates["gray16.png"] = "converted"
    Image.fromarray(base).convert("L").save(folder / "gray.jpg")
    fates["gray.jpg"] = "converted"
    Image.fromarray(base).convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "palette.gif")
    fates["palette.gif"] = "converted"
    return fates


@pytest.fixture(scope="session")
def ray_address():
    """One Ray instance for the whole test session (2 CPUs, like CI), shared by every test that needs Ray."""
    import ray

    from tuner.search.driver._cluster import init_ray

    init_ray(local=True, num_cpus=2)
    address = ray.get_runtime_context().gcs_address
    yield address
    ray.shutdown()
