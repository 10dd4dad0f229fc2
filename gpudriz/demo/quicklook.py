"""A PNG quicklook of an image, written with the standard library only.

An 8-bit greyscale PNG (zlib-compressed, filter type 0 on every row) of an
asinh stretch between robust limits, with North up as the image is stored
(row 0 at the bottom, as FITS viewers show it).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["write_png", "stretch"]


def stretch(image, *, low=0.5, high=99.8, softening=0.02):
    """Map ``image`` to 0..255 with an asinh stretch between two percentiles of its finite values."""
    img = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(img)
    if not finite.any():
        return np.zeros(img.shape, dtype=np.uint8)
    lo, hi = np.percentile(img[finite], [low, high])
    if hi <= lo:
        hi = lo + 1.0
    x = np.clip((np.where(finite, img, lo) - lo) / (hi - lo), 0.0, 1.0)
    y = np.arcsinh(x / softening) / np.arcsinh(1.0 / softening)
    return np.round(255 * y).astype(np.uint8)


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def write_png(path, image, **stretch_kw) -> Path:
    """Write ``image`` (2-D, any real dtype) as an 8-bit greyscale PNG; returns the path."""
    pixels = stretch(image, **stretch_kw)[::-1]  # FITS row 0 is the bottom
    ny, nx = pixels.shape
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)
    header = struct.pack(">IIBBBBB", nx, ny, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6))
    png += _chunk(b"IEND", b"")
    path = Path(path)
    path.write_bytes(png)
    return path
