"""Row sections of a list of FITS images, read one file at a time.

The median (step 5) combines the separate drizzles section by section under
a memory budget.  Holding every file open (memory-mapped) for the whole step
costs two file descriptors per exposure, and fails with "Too many open files"
at 64 inputs under ``ulimit -n 256`` (macOS's default).  Here each file is
opened, its rows read and the file closed before the next, so at most one
file is open whatever the number of inputs (design principle 11: no file held
open beyond the task).  ``ImageHDU.section`` reads only the bytes of the rows
asked for, so reopening per section costs a header parse, not a full read.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

__all__ = ["read_rows", "stack_rows", "read_box", "section_box", "WHOLE_ROWS_BYTES"]

#: Bytes per row beyond a box that :func:`section_box` still reads, to read its rows at once: astropy
#: reads a section narrower than the image row by row (~10 us a row, the time of copying ~32 KB).
WHOLE_ROWS_BYTES = 32768


def read_rows(path, r0: int, r1: int, *, ext=0) -> np.ndarray:
    """Rows ``r0:r1`` of the image in HDU ``ext`` of ``path`` as float32; the file is closed on return.

    Parameters
    ----------
    path : str or os.PathLike
        A FITS file with a 2-D image.
    r0, r1 : int
        First and one-past-last row (numpy order: the first axis).
    ext : int
        HDU index.

    Returns
    -------
    ndarray
        ``(r1 - r0, nx)`` float32, owned by the caller (no view of the file).
    """
    with fits.open(path, memmap=False, lazy_load_hdus=True) as h:
        return np.array(h[ext].section[r0:r1], dtype=np.float32)


def stack_rows(paths, r0: int, r1: int, *, ext=0) -> np.ndarray:
    """Rows ``r0:r1`` of each image of ``paths``, stacked: ``(len(paths), r1 - r0, nx)`` float32.

    One file is open at a time (see the module docstring).
    """
    paths = list(paths)
    first = read_rows(paths[0], r0, r1, ext=ext)
    out = np.empty((len(paths),) + first.shape, dtype=np.float32)
    out[0] = first
    for k, p in enumerate(paths[1:], 1):
        out[k] = read_rows(p, r0, r1, ext=ext)
    return out


def section_box(hdu, rows: slice, cols: slice) -> np.ndarray:
    """Pixels ``[rows, cols]`` (slices with start and stop) of an open image HDU, reading only their rows.

    The rows are read at once (contiguous in the file), then cut to the
    columns, unless that reads more than :data:`WHOLE_ROWS_BYTES` a row beyond
    the box; then astropy reads the box row by row.  A view: copy it to own it.
    """
    spare = (hdu.header["NAXIS1"] - (cols.stop - cols.start)) * abs(hdu.header["BITPIX"]) // 8
    if spare <= WHOLE_ROWS_BYTES:
        return hdu.section[rows][:, cols]
    return hdu.section[rows, cols]


def read_box(path, y0: int, y1: int, x0: int, x1: int, *, ext=0, dtype=np.float32) -> np.ndarray:
    """Pixels ``[y0:y1, x0:x1]`` of the image in HDU ``ext`` of ``path``; the file is closed on return.

    Like :func:`read_rows`, only the rows asked for are read from disk (:func:`section_box`).
    """
    with fits.open(path, memmap=False, lazy_load_hdus=True) as h:
        return np.array(section_box(h[ext], slice(y0, y1), slice(x0, x1)), dtype=dtype)
