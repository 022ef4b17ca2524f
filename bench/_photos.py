"""Real-photo datasets for the benchmarks: crops of scikit-image's sample photographs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "moon", "immunohistochemistry", "hubble_deep_field", "motorcycle_left", "retina")


def _photo(name: str) -> np.ndarray:
    import skimage.data

    try:
        img = getattr(skimage.data, name)()
    except Exception:  # some samples need an optional download; skip those
        return None  # type: ignore[return-value]
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[..., :3]).astype(np.uint8)


def write_photo_dataset(root: Path, num_classes: int, per_class: int, size: int, seed: int = 0) -> Path:
    """``root/<photo>/<n>.jpg``: ``per_class`` random crops of one photo per class, ``size`` px JPEGs."""
    from PIL import Image

    if (root / ".complete").exists():
        return root
    rng = np.random.default_rng(seed)
    photos = [(n, p) for n in PHOTOS if (p := _photo(n)) is not None][:num_classes]
    if len(photos) < num_classes:
        raise SystemExit(f"only {len(photos)} sample photos available, asked for {num_classes} classes")
    for name, img in photos:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        h, w = img.shape[:2]
        for i in range(per_class):
            side = int(rng.integers(min(h, w) // 3, min(h, w) + 1))
            y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
            crop = Image.fromarray(img[y : y + side, x : x + side]).resize((size, size), Image.Resampling.BILINEAR)
            crop.save(folder / f"{i:05d}.jpg", quality=90)
    (root / ".complete").write_text("")
    return root
