"""Real-photo datasets for the benchmarks: crops of scikit-image's sample photographs.

python bench/_photos.py --out /tmp/photos   # the photo tables' datasets and pretrained backbone
"""

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


#: The photo tables' datasets (bench/tabulate.py): name -> (photos, (train, validation, test) per class).
#: ``photos_scratch``: ten photographs and textures told apart from small crops, from scratch.
#: ``photos_transfer``: eight grayscale textures and scenes, fine-tuned from a backbone
#: pretrained on eight colour photographs it never shares (:func:`pretrain_photos`).
SOURCE = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina", "immunohistochemistry", "colorwheel")
TABLE_SETS = {
    "photos_scratch": (("astronaut", "chelsea", "coffee", "rocket", "camera", "moon", "brick", "grass", "gravel", "coins"), (50, 40, 30)),
    "photos_transfer": (("brick", "grass", "gravel", "camera", "moon", "coins", "clock", "cell"), (25, 45, 30)),
}
PHOTO_WEIGHTS = "digits_cnn_photos.weights.h5"


def _crops(img: np.ndarray, n: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``n`` random square crops whose side is 1/12 to 1/4 of the photo's shorter side (local
    texture, not the whole scene), resized to ``size`` px."""
    from PIL import Image

    h, w = img.shape[:2]
    out = []
    for _ in range(n):
        side = int(rng.integers(max(size, min(h, w) // 12), min(h, w) // 4 + 1))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        out.append(np.asarray(Image.fromarray(img[y : y + side, x : x + side]).resize((size, size), Image.Resampling.BILINEAR)))
    return out


def write_photo_splits(root: Path, photos: tuple[str, ...], counts: tuple[int, int, int], size: int = 16, seed: int = 0) -> Path:
    """``root/{train,validation,test}/<photo>/<n>.png``: disjoint random crops per split."""
    from PIL import Image

    if (root / ".complete").exists():
        return root
    rng = np.random.default_rng(seed)
    for name in photos:
        img = _photo(name)
        if img is None:
            raise SystemExit(f"scikit-image's sample photo {name!r} is not available here")
        for split, n in zip(("train", "validation", "test"), counts):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i, crop in enumerate(_crops(img, n, size, rng)):
                Image.fromarray(crop).save(folder / f"{i:04d}.png")
    (root / ".complete").write_text("")
    return root


def pretrain_photos(out: Path, epochs: int = 15, per_class: int = 150, seed: int = 0) -> Path:
    """Train the bench CNN (``_digits.NAME``) on crops of the :data:`SOURCE` photos and save its
    backbone: the pretrained start of ``photos_transfer``, which never sees these photos."""
    target = out / PHOTO_WEIGHTS
    if target.is_file():
        return target
    from _digits import NAME

    from tuner._quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras

    from tuner.zoo import build_model, compile_model, set_unfrozen_blocks

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed + 1)
    xs, ys = [], []
    for label, name in enumerate(SOURCE):
        for crop in _crops(_photo(name), per_class, 16, rng):
            xs.append(crop)
            ys.append(label)
    order = rng.permutation(len(ys))  # validation_split takes the last rows: mix the classes first
    x, y = np.stack(xs)[order], np.array(ys)[order]
    built = build_model(NAME, len(SOURCE), mode="finetune", source_size=16, weights="none", unfrozen_blocks=3)
    set_unfrozen_blocks(built, 3)
    compile_model(built, "adam", 1e-3)
    history = built.model.fit(x, y, epochs=epochs, batch_size=32, validation_split=0.15, shuffle=True, verbose=0)
    print(f"pretrained {NAME} on {len(SOURCE)} photos: val accuracy {history.history['val_accuracy'][-1]:.3f} after {epochs} epochs")
    built.backbone.save_weights(str(target))  # type: ignore[union-attr]
    return target


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="Write the photo tables' datasets and pretrained backbone.")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (photos, counts) in TABLE_SETS.items():
        print(write_photo_splits(args.out / name, photos, counts))
    print(pretrain_photos(args.out))


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.path.append(str(Path(__file__).resolve().parent))
    main()
