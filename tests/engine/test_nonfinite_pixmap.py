"""A non-finite pixmap node (NaN, +inf, -inf) spoils only the drops that use it.

On every backend (the Numba driver, ``gpudriz.backend.cpu.drizzle_add``, and
the CUDA one, ``gpudriz.backend.cuda.drizzle.drizzle_add``, run on the
host-compiled kernels and on a device) and whatever the band split: the result must equal a
drizzle of the clean pixmap in which the input pixels that need that node
have zero weight.  A square drop's corners are bilinear in the nine nodes
around its pixel, so those are the 3x3 pixels around the node; a centred
kernel needs only its own node.  Before the shared host rules
(``gpudriz.backend.host``), +/-inf made the CPU footprint infinite (the
band, possibly the whole image, was lost) and went through the CUDA
kernels' NaN test, giving NaN output pixels.
"""

import numpy as np
import pytest
from gpudriz.fallback.drizzle import DRIZZLE_KERNELS
from helpers.pixmaps import distorted_pixmap
from numpy.testing import assert_allclose, assert_array_equal

import gpudriz
from gpudriz.backend.arrays import to_host

IN_SHAPE = (40, 40)
OUT_SHAPE = (64, 64)
NODE = (17, 21)  # (j, i), interior
# One kernel per entry point of the drizzle kernels (lanczos2 runs lanczos3's).
KERNELS = tuple({entry: name for name, entry in DRIZZLE_KERNELS}.values())
BAD_VALUES = (np.nan, np.inf, -np.inf)


def _add(backend, kernel, pixmap, weights, nbands):
    xp = backend.xp
    data = xp.asarray((1.0 + np.random.default_rng(3).random(IN_SHAPE)).astype(np.float32))
    img = xp.zeros(OUT_SHAPE, np.float32)
    wht = xp.zeros(OUT_SHAPE, np.float32)
    ctx = xp.zeros(OUT_SHAPE, np.int32)
    kw = dict(pixfrac=0.8, pscale_ratio=1.0, fillval=0.0, nbands=nbands)
    counts = backend.ops.drizzle_add(kernel, data, xp.asarray(weights), xp.asarray(pixmap), img,
                                     wht, ctx, 1, **kw)  # fmt: skip
    return to_host(img), to_host(wht), to_host(ctx), counts


def _needing_node(kernel):
    """Input pixels whose drop needs the node at NODE."""
    mask = np.zeros(IN_SHAPE, bool)
    j, i = NODE
    r = 1 if kernel == "square" else 0
    mask[j - r : j + r + 1, i - r : i + r + 1] = True
    return mask


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("bad", BAD_VALUES, ids=("nan", "+inf", "-inf"))
@pytest.mark.parametrize("coords", ("x", "xy"))
def test_nonfinite_node_spoils_only_its_drops(backend, kernel, bad, coords):
    clean = distorted_pixmap(IN_SHAPE, angle_deg=14.0, shift=(12.0, 6.0))
    spoiled = clean.copy()
    spoiled[NODE[0], NODE[1], : len(coords)] = bad
    weights = np.ones(IN_SHAPE, np.float32)
    zeroed = np.where(_needing_node(kernel), np.float32(0), weights)
    ref_img, ref_wht, ref_ctx, _ = _add(backend, kernel, clean, zeroed, nbands=1)
    # Misses of the clean pixmap (tophat's small window misses pixel centres).
    _, _, _, (miss0, skip0, _) = _add(backend, kernel, clean, weights, nbands=1)
    for nbands in (1, 2, 5, 40):
        img, wht, ctx, (nmiss, nskip, nbad) = _add(backend, kernel, spoiled, weights, nbands)
        assert np.isfinite(img).all(), f"NaN/inf output pixels with {nbands} band(s)"
        assert_allclose(wht, ref_wht, rtol=1e-6, atol=1e-6)
        # Flux per pixel: where Lanczos lobes nearly cancel the weight, the
        # mean itself amplifies summation-order rounding.
        assert_allclose(img * wht, ref_img * ref_wht, rtol=1e-5, atol=1e-5)
        assert_array_equal(ctx, ref_ctx)
        assert miss0 <= nmiss <= miss0 + _needing_node(kernel).sum()
        assert nmiss > 0 and nskip == skip0 and nbad == 0


def test_inf_node_through_drizzle_class():
    """The public class: an inf node costs only its drops, on an output sized from the pixmap too."""
    pm = distorted_pixmap(IN_SHAPE, angle_deg=14.0, shift=(12.0, 6.0))
    pm[NODE] = np.inf
    data = np.ones(IN_SHAPE, np.float32)
    d = gpudriz.Drizzle(out_shape=OUT_SHAPE, backend="cpu")
    nmiss, nskip = d.add_image(data, 1.0, pm)
    assert (nmiss, nskip) == (9, 0)
    assert_allclose(d.out_wht.sum(), data.size - 9, rtol=1e-5)
    e = gpudriz.Drizzle(backend="cpu")  # no out_shape: sized from the finite nodes
    e.add_image(data, 1.0, pm)
    assert max(e.out_img.shape) < 80

