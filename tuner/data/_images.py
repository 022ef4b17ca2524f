"""Reading one image file into 8-bit RGB, whatever its mode; probing headers cheaply.

Used by the cache builder (full decode, once per dataset per node) and by ``inspect``
(header probe). Pillow does the decoding; nothing here loops over pixels in Python.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

__all__ = ["ImageProbe", "probe_image", "decode_rgb", "to_rgb"]

# A truncated file must be reported as bad, never silently padded with grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# Retail photos can be large; this stays a guard against decompression bombs, just a higher one.
Image.MAX_IMAGE_PIXELS = 20_000 * 20_000

_DECODE_ERRORS = (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError, EOFError)


@dataclass(frozen=True)
class ImageProbe:
    """What the header of an image file says, without decoding pixels.

    Attributes:
        ok: The file opened as an image and does not look truncated.
        problem: Why not, when ``ok`` is false (``"empty file"``, ``"not an image"``, ...).
        format: Pillow's format name (``"JPEG"``, ``"PNG"``...).
        mode: Pillow's mode (``"RGB"``, ``"L"``, ``"CMYK"``, ``"RGBA"``, ``"P"``, ``"I;16"``...).
        width: Width in pixels.
        height: Height in pixels.
    """

    ok: bool
    problem: str = ""
    format: str = ""
    mode: str = ""
    width: int = 0
    height: int = 0


def _looks_truncated(path: str, fmt: str) -> bool:
    """Cheap end-of-file check: JPEGs end with the EOI marker, PNGs with the IEND chunk."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 32))
            tail = fh.read()
    except OSError:
        return True
    if fmt == "JPEG":
        return b"\xff\xd9" not in tail[-16:]
    if fmt == "PNG":
        return b"IEND" not in tail
    return False


def probe_image(path: str, deep: bool = False) -> ImageProbe:
    """Read an image's header (and with ``deep``, decode it fully) to see whether it is usable."""
    try:
        if os.path.getsize(path) == 0:
            return ImageProbe(ok=False, problem="empty file")
    except OSError as exc:
        return ImageProbe(ok=False, problem=f"unreadable ({exc.strerror or exc})")
    try:
        with Image.open(path) as img:
            fmt, mode, (w, h) = img.format or "", img.mode, img.size
            if deep:
                img.load()
    except UnidentifiedImageError:
        return ImageProbe(ok=False, problem="not an image")
    except _DECODE_ERRORS as exc:
        return ImageProbe(ok=False, problem=f"corrupt ({str(exc)[:80]})")
    if _looks_truncated(path, fmt):
        return ImageProbe(ok=False, problem="truncated", format=fmt, mode=mode, width=w, height=h)
    return ImageProbe(ok=True, format=fmt, mode=mode, width=w, height=h)


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow image to 8-bit RGB.

    16-bit and 32-bit integer images are scaled to 0-255 rather than clipped; images with
    transparency are composited on white (a product photo's cut-out background); CMYK,
    palette and grayscale go through Pillow's own conversions.
    """
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        arr = np.clip(arr * (255.0 / peak), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        span = float(arr.max(initial=0) - arr.min(initial=0)) or 1.0
        arr = ((arr - arr.min(initial=0)) * (255.0 / span)).astype(np.uint8)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode != "RGB":
        return img.convert("RGB")
    return img


def decode_rgb(path: str, size: int) -> np.ndarray | None:
    """Decode ``path`` to a ``(size, size, 3)`` uint8 array, or ``None`` if it is unusable.

    JPEGs are decoded at a reduced scale when they are much larger than ``size`` (Pillow's
    draft mode), which makes decoding large photos several times faster. EXIF orientation is
    applied, so phone photos are upright.
    """
    try:
        with Image.open(path) as img:
            if img.format == "JPEG":
                img.draft("RGB", (size, size))
            img = ImageOps.exif_transpose(img)
            img.load()
            rgb = to_rgb(img)
            if rgb.size != (size, size):
                rgb = rgb.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
            return np.asarray(rgb, dtype=np.uint8)
    except _DECODE_ERRORS:
        return None
