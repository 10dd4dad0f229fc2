"""An image extension's pixels read where the build found them, without parsing the file's headers again.

Every task that reads a chip (static mask, sky, separate drizzle, blot,
driz_cr, final drizzle) used to open its exposure with astropy, which parses
each header up to the extension wanted: a DQ array of the second chip of an
HST exposure is behind seven headers of ~140 cards.  For small chips that was
most of a task's reading time.  The build has those headers parsed already;
for each plane it records a :class:`PlaneLayout` (where its data start, their
type and shape, and the file's size, time and inode then), and a task reads
the bytes there directly (as fast as astropy's reader for a whole full-size
plane, 20x faster for a small chip's).

Only planes whose bytes are the values astropy would return get a layout: an
uncompressed ``IMAGE`` extension (or primary array) with no ``BSCALE``,
``BZERO`` or ``BLANK`` (astropy turns those into scaled, unsigned or NaN-filled
arrays).  When the file is no longer the one the build saw, the read falls
back to astropy, which reports what changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

__all__ = ["PlaneLayout", "file_stamp", "plane_layout", "read_plane_at"]

#: Numpy types of the FITS BITPIX values (FITS stores big-endian; 8 is unsigned).
_BITPIX_DTYPES = {8: "u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}


@dataclass(frozen=True)
class PlaneLayout:
    """Where a plane's values lie in its file.

    Attributes
    ----------
    offset : int
        Byte offset of the first value.
    dtype : str
        Numpy type of the stored values (big-endian).
    shape : tuple of int
        ``(ny, nx)``.
    stamp : tuple of int
        The file's :func:`file_stamp` when the layout was taken.
    """

    offset: int
    dtype: str
    shape: tuple[int, int]
    stamp: tuple[int, int, int]


def file_stamp(path) -> tuple[int, int, int]:
    """``(size, modification time in ns, inode)`` of ``path``: what tells a rewritten file."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns, st.st_ino


def plane_layout(hdu, stamp, compressed: bool) -> PlaneLayout | None:
    """The layout of ``hdu``'s data (an HDU of an open file whose :func:`file_stamp` is ``stamp``).

    None where the stored bytes are not the values astropy returns: a
    compressed file or image, scaled or BLANK-flagged values, no 2-D array.
    """
    if compressed or type(hdu) not in (fits.ImageHDU, fits.PrimaryHDU):
        return None
    h = hdu.header
    dtype = _BITPIX_DTYPES.get(h.get("BITPIX"))
    if dtype is None or h.get("NAXIS") != 2 or "BLANK" in h:
        return None
    if h.get("BSCALE", 1) != 1 or h.get("BZERO", 0) != 0:
        return None
    shape = (h.get("NAXIS2"), h.get("NAXIS1"))
    if not all(isinstance(n, int) and n > 0 for n in shape):
        return None
    return PlaneLayout(offset=int(hdu.fileinfo()["datLoc"]), dtype=dtype, shape=shape, stamp=tuple(stamp))


def read_plane_at(path, layout: PlaneLayout, rows: slice, cols: slice) -> np.ndarray | None:
    """The values of ``layout`` in ``rows`` x ``cols`` (slices with start and stop), in native byte order.

    The rows are read at once into a new array (they are contiguous in the
    file), swapped to native order in place, then cut to the columns (a view
    of that array: the caller owns it).  None when the file is not the one
    the layout was taken from (its stamp changed, or it is shorter): the
    caller reads it with astropy.
    """
    if file_stamp(path) != layout.stamp:
        return None
    stored = np.dtype(layout.dtype)
    nx = layout.shape[1]
    out = np.empty((rows.stop - rows.start, nx), dtype=stored)
    with open(path, "rb") as f:
        f.seek(layout.offset + rows.start * nx * stored.itemsize)
        got = f.readinto(out)
    if got != out.nbytes:
        return None
    if not stored.isnative:
        out = out.byteswap(inplace=True).view(stored.newbyteorder("="))
    return out[:, cols]
