"""What every step reads of a chip: its data in electrons, its good pixels, its pixmap.

The step tasks (:mod:`gpudriz.pipeline.steps`) take a chip's description,
:class:`gpudriz.pipeline.state.ChipInput`, and read its arrays through these
functions, onto the backend's array module ``xp``; the inputs are read,
never written.  Units: electrons for chip data.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np
from astropy.io import fits

from gpudriz.backend import BackendUnavailableError, get_backend
from gpudriz.backend.arrays import to_xp
from gpudriz.pipeline.io.instruments import part_slices, read_part
from gpudriz.pipeline.state import ChipInput
from gpudriz.pixmap import calc_pixmap
from gpudriz.pixmap_grid import map_exact
from gpudriz.resample import Drizzle

__all__ = [
    "backend_of",
    "drizzle_margin",
    "input_box",
    "chip_part",
    "PART_STEP",
    "part_is_whole",
    "read_static",
    "task_backend",
    "read_electrons",
    "dq_good",
    "good_mask",
    "read_crmask",
    "pixmap_to",
    "scale_ratio",
    "new_drizzle",
    "sky_subtracted",
    "with_sky",
]

log = logging.getLogger("gpudriz")


def backend_of(backend):
    """The backend a task runs on, from its name (or a ``Backend``, returned as it is)."""
    return get_backend(backend)


def task_backend(backend):
    """What a task is given for ``backend`` (a ``Backend``): its name when the name selects it.

    A name is picklable, so a task can be shipped to another process; a
    backend that no name selects (a test's host shim of the CUDA kernels) is
    passed as it is.
    """
    try:
        if get_backend(backend.name) == backend:
            return backend.name
    except (ValueError, BackendUnavailableError):
        pass
    return backend


def read_electrons(c: ChipInput, xp, part=None):
    """The chip's science array in electrons, on ``xp`` (sky not subtracted).

    ``part`` ``(x0, y0, nx, ny)``: only those pixels (so for every reader here).
    """
    sci = c.chip.read_sci(part)
    if not np.isfinite(sci).all():
        # A part is one tile's share of the chip: its count is not the chip's.
        log.log(logging.INFO if part is None else logging.DEBUG, "%s: %d non-finite pixel(s) ignored.",
                c.chip.name, int((~np.isfinite(sci)).sum()))  # fmt: skip
    return to_xp(sci * np.float32(c.to_electrons), xp, np.float32)


def dq_good(chip, xp, part=None):
    """DQ-good pixels of ``chip`` (a ``Chip``; the ``bits`` parameter), on ``xp``."""
    dq = chip.read_dq(part)
    good = (dq & ~np.uint32(chip.good_bits)) == 0
    return to_xp(good, xp)


def good_mask(c: ChipInput, xp, *, with_cr=False, part=None):
    """DQ-good AND static-good (AND not a cosmic ray when ``with_cr``)."""
    good = dq_good(c.chip, xp, part)
    rows, cols = part_slices(part)
    if c.static_ok is not None:
        good &= c.static_ok[rows, cols]
    elif c.static_file is not None:
        good &= to_xp(read_static(str(c.static_file))[rows, cols], xp)
    if with_cr and c.crmask is not None:
        good &= ~c.crmask[rows, cols]
    elif with_cr and c.crmask_file is not None:
        good &= ~to_xp(read_crmask(c, part), xp)
    return good


@lru_cache(maxsize=4)
def read_static(path: str) -> np.ndarray:
    """A static mask file of the mosaic mode (``.npy``, True = good), read once per process.

    Its name holds its content's digest (:mod:`gpudriz.pipeline.graph`), so a
    name read before still holds the same mask; read-only, as it is shared.
    """
    mask = np.load(path)
    mask.flags.writeable = False
    return mask


def read_crmask(c: ChipInput, part=None) -> np.ndarray:
    """The chip's cosmic-ray mask (True = CR) from its ``crmask_file`` (mosaic mode)."""
    with fits.open(c.crmask_file, memmap=False, lazy_load_hdus=True) as hdul:
        hdu = hdul["CRMASK", c.chip.extver]
        return np.asarray(read_part(hdu, part)).astype(bool)


def pixmap_to(chip, frame, backend, part=None):
    """The pixmap of ``chip`` (a ``Chip``) into ``frame``, on the backend (of its ``part`` only, if given)."""
    return calc_pixmap(chip.wcs, frame.wcs, shape=chip.shape, backend=backend, device=True, part=part)


def drizzle_margin(pixfrac: float, scale_ratio: float) -> float:
    """Output pixels a drizzle kernel reaches beyond a mapped pixel centre (every kernel, distortion allowed).

    ``(5 + pixfrac) / s + 2``, ``s`` the output pixel size in input pixels:
    Lanczos5 reaches ``5 / s``, the square kernel ``pixfrac / 2s`` times the
    local distortion.
    """
    return (5.0 + float(pixfrac)) / float(scale_ratio) + 2.0


def input_box(pixmap, out_shape, margin: float, xp):
    """The input pixels whose mapped centres fall on an output array of ``out_shape`` widened by ``margin``.

    ``(xmin, xmax, ymin, ymax)``, inclusive, as ``Drizzle.add_image`` takes
    them; None when no pixel does.  Pixels outside it put nothing on the
    output, so drizzling the box alone gives the same output: a chip seen
    by several final tiles is drizzled only where it lands on each.
    """
    ny, nx = out_shape
    x, y = pixmap[..., 0], pixmap[..., 1]
    inside = (x >= -0.5 - margin) & (x <= nx - 0.5 + margin) & (y >= -0.5 - margin) & (y <= ny - 0.5 + margin)
    rows = xp.flatnonzero(inside.any(axis=1))
    if rows.size == 0:
        return None
    cols = xp.flatnonzero(inside.any(axis=0))
    return int(cols[0]), int(cols[-1]), int(rows[0]), int(rows[-1])


#: Spacing (chip pixels) of the coarse exact map from which :func:`chip_part` finds a chip's part on a tile.
PART_STEP = 64


def chip_part(chip, frame, origin, out_shape, margin: float):
    """The part of ``chip`` that may land on an output array: ``(x0, y0, nx, ny)``, or None.

    The output array has ``out_shape`` and starts at pixel ``origin``
    ``(x0, y0)`` of ``frame`` (a final tile).  The chip's WCS is mapped
    exactly on a grid every :data:`PART_STEP` chip pixels (and its last row
    and column); a cell of the grid is kept when the box of its corners'
    images, widened by ``margin`` plus two input pixels' worth of output
    pixels, meets the array widened by ``margin``.  A smooth map does not
    bend a 64-pixel cell by that much, so the part holds every pixel
    :func:`input_box` would find on the whole chip's pixmap; the caller
    checks it (:func:`part_is_whole`).  The whole chip when the map is
    undefined at a node; None when no cell reaches the array.
    """
    ny, nx = chip.shape
    xs = np.r_[np.arange(0, max(nx - 1, 1), PART_STEP), nx - 1]
    ys = np.r_[np.arange(0, max(ny - 1, 1), PART_STEP), ny - 1]
    gx, gy = np.meshgrid(xs.astype(np.float64), ys.astype(np.float64))
    px, py = (np.reshape(np.asarray(v, dtype=np.float64), gx.shape)
              for v in map_exact(chip.wcs, frame.wcs, gx.ravel(), gy.ravel()))  # fmt: skip
    if not (np.isfinite(px).all() and np.isfinite(py).all()):
        return 0, 0, nx, ny
    pad = margin + 2.0 / scale_ratio(chip, frame) + 1.0
    oy, ox = out_shape

    def corners(a):
        c = np.stack([a[:-1, :-1], a[1:, :-1], a[:-1, 1:], a[1:, 1:]])
        return c.min(axis=0), c.max(axis=0)

    (lx, hx), (ly, hy) = corners(px - origin[0]), corners(py - origin[1])
    hit = (hx >= -0.5 - pad) & (lx <= ox - 0.5 + pad) & (hy >= -0.5 - pad) & (ly <= oy - 0.5 + pad)
    if not hit.any():
        return None
    rows, cols = np.flatnonzero(hit.any(axis=1)), np.flatnonzero(hit.any(axis=0))
    x0, x1 = int(xs[cols[0]]), int(xs[cols[-1] + 1])
    y0, y1 = int(ys[rows[0]]), int(ys[rows[-1] + 1])
    return x0, y0, x1 - x0 + 1, y1 - y0 + 1


def part_is_whole(box, part, shape) -> bool:
    """Whether ``box`` (:func:`input_box` on the part's pixmap) stays off the part's edges inside the chip.

    A box that reaches an edge of ``part`` where the chip goes on may go on
    beyond it: the part was too small, and the whole chip must be used.
    """
    x0, y0, nx, ny = part
    xmin, xmax, ymin, ymax = box
    return ((xmin > 0 or x0 == 0) and (ymin > 0 or y0 == 0)
            and (xmax < nx - 1 or x0 + nx == shape[1]) and (ymax < ny - 1 or y0 + ny == shape[0]))  # fmt: skip


def scale_ratio(chip, frame) -> float:
    """Output pixel size over the chip's undistorted pixel size."""
    return float(frame.pixel_scale / chip.pixel_scale)


def new_drizzle(kernel, frame, fillval, backend, *, context=False, nimages=1) -> Drizzle:
    """An empty drizzle onto ``frame``, context planes for ``nimages`` inputs when ``context``."""
    return Drizzle(kernel=kernel, fillval=fillval, out_shape=frame.shape,
                   disable_ctx=not context, max_ctx_id=max(nimages - 1, 0),
                   backend=backend)  # fmt: skip


def sky_subtracted(c: ChipInput, xp, sci=None):
    """The chip in electrons with its sky removed (unless already removed).

    ``sci``: the chip as :func:`read_electrons` gives it, when the caller
    has read it already.
    """
    if sci is None:
        sci = read_electrons(c, xp)
    if c.sky and c.sky_in_data:
        sci = sci - xp.float32(c.sky)
    return sci


def with_sky(c: ChipInput, xp, data):
    """The chip as observed, sky included, from ``data`` as read from the input.

    The sky is added back where it was removed before gpudriz (``skyuser``)
    or in the file (``workinplace``): noise models count its photons.
    """
    return data if c.sky_in_data else data + xp.float32(c.sky)
