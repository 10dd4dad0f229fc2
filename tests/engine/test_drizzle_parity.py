"""Parity of gpudriz.Drizzle with STScI's drizzle 3.x (cdrizzle), the oracle.

cdrizzle differs from gpudriz by design near the output edges (it drops input
pixels that straddle them) and at the input image's border, so values are
compared on *interior* output pixels: those no input pixel near the input's
border can reach, away from the output's border.  Context must agree exactly
there; images and weights to float32 rounding.
"""

import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from helpers.pixmaps import distorted_pixmap
from numpy.testing import assert_allclose, assert_array_equal

import gpudriz
from gpudriz.resample import EXTRA_KERNELS, SUPPORTED_DRIZZLE_KERNELS

drizzle_resample = pytest.importorskip("drizzle.resample")

KERNELS = tuple(k for k in SUPPORTED_DRIZZLE_KERNELS if k not in EXTRA_KERNELS)  # drizzle 3.x's
PIXFRACS = (1.0, 0.7, 0.3)
SCALES = (0.5, 1.0, 2.0)
FILLVALS = (None, 0)
IN_SHAPE = (48, 56)
OUT_SHAPE = (84, 96)
#: Relative tolerance of images and weights (float32 running mean vs float64 sums).
RTOL = 1e-5


def _hrc_pixmap():
    """Real ACS/HRC SIP distortion: a 48x56 window of the chip onto a TAN frame."""
    from helpers.paths import WCS_DIR

    path = WCS_DIR / "j8bt06nyq_sip_flt.fits"
    if not path.exists():
        pytest.skip(f"{path} not found")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FITSFixedWarning on the HST header
        hdr = fits.getheader(path, 1)
        w_in = WCS(hdr)
    w_out = WCS(naxis=2)
    w_out.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w_out.wcs.crval = w_in.wcs.crval
    w_out.wcs.crpix = [512.0, 512.0]
    cd = np.sqrt(abs(np.linalg.det(w_in.wcs.cd)))
    w_out.wcs.cd = [[-cd, 0.0], [0.0, cd]]
    y, x = np.indices(IN_SHAPE, dtype=np.float64)
    x += 700
    y += 150  # far from the reference pixel: the distortion matters here
    ra, dec = w_in.all_pix2world(x, y, 0)
    xo, yo = w_out.all_world2pix(ra, dec, 0)
    pm = np.dstack([xo, yo])
    # Land the window inside the small output frame.
    pm[..., 0] += 20 - np.floor(pm[..., 0].min())
    pm[..., 1] += 16 - np.floor(pm[..., 1].min())
    return pm


PIXMAPS = {
    "rotated": lambda: distorted_pixmap(IN_SHAPE, angle_deg=17.0, shift=(30.0, 8.0)),
    "hrc_sip": _hrc_pixmap,
}


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return (1.0 + rng.random(IN_SHAPE)).astype(np.float32)


def interior_mask(kernel, pixmap, pixfrac, scale, margin=4):
    """Output pixels reached by no input pixel within ``margin`` of the input border,
    and at least one kernel radius away from the output border."""
    ring = np.ones(IN_SHAPE, np.float32)
    ring[margin:-margin, margin:-margin] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = gpudriz.Drizzle(kernel=kernel, out_shape=OUT_SHAPE, backend="cpu")
        r.add_image(ring, 1.0, pixmap, pixfrac=pixfrac, pixel_scale_ratio=scale, weight_map=ring)
    mask = r.out_wht == 0
    radius = int(np.ceil(3.0 / scale)) + 2
    mask[:radius] = mask[-radius:] = False
    mask[:, :radius] = mask[:, -radius:] = False
    return mask


def _both(kernel, fillval, pixmap, pixfrac, scale, **add_kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-flux-conserving kernel and pixfrac warnings
        ours = gpudriz.Drizzle(kernel=kernel, fillval=fillval, out_shape=OUT_SHAPE, backend="cpu")
        ref = drizzle_resample.Drizzle(kernel=kernel, fillval=fillval, out_shape=OUT_SHAPE)
        for k, (data, pm) in enumerate(pixmap):
            for d in (ours, ref):
                d.add_image(data, 1.0 + k, pm, pixfrac=pixfrac, pixel_scale_ratio=scale, **add_kw)
    return ours, ref


def assert_interior_equal(ours, ref, mask, rtol=RTOL):
    covered = mask & (ref.out_wht != 0)
    assert covered.sum() > 50, "too few interior pixels to compare"
    scale_img = np.abs(ref.out_img[covered]).max()
    # out_img = sum(w d) / sum(w): where Lanczos' negative lobes make sum(w)
    # nearly cancel, rounding is amplified by about typical|sum w| / |sum w|.
    wht = np.abs(ref.out_wht[covered])
    cond = np.maximum(1.0, np.median(wht) / wht)
    err = np.abs(ours.out_img[covered].astype(np.float64) - ref.out_img[covered])
    tol = rtol * (np.abs(ref.out_img[covered]) + scale_img * cond)
    assert np.all(err <= tol), f"max error/tolerance {np.max(err / tol):.3g}"
    scale_wht = np.abs(ref.out_wht[covered]).max()
    assert_allclose(ours.out_wht[covered], ref.out_wht[covered], rtol=rtol, atol=rtol * scale_wht)
    assert_array_equal(ours.out_ctx[:, mask], ref.out_ctx[:, mask])
    # Pixels no image reached hold the fill value in both (NaN for None).
    empty = mask & (ref.out_wht == 0)
    assert_array_equal(ours.out_wht[empty], 0)
    assert_array_equal(ours.out_img[empty], ref.out_img[empty])


@pytest.mark.parametrize("pixmap_name", sorted(PIXMAPS))
@pytest.mark.parametrize("fillval", FILLVALS)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("pixfrac", PIXFRACS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_parity(kernel, pixfrac, scale, fillval, pixmap_name):
    pm = PIXMAPS[pixmap_name]()
    ours, ref = _both(kernel, fillval, [(_data(), pm)], pixfrac, scale)
    assert_interior_equal(ours, ref, interior_mask(kernel, pm, pixfrac, scale))


@pytest.mark.parametrize("kernel", KERNELS)
def test_three_images_context_and_weights(kernel):
    """Running combination of several images; context bits of each image."""
    pms = [
        distorted_pixmap(IN_SHAPE, angle_deg=a, shift=(30.0 + dx, 8.0 + dy))
        for a, dx, dy in ((17.0, 0.0, 0.0), (16.0, 1.3, -0.7), (18.5, -0.4, 2.2))
    ]
    images = [(_data(k), pm) for k, pm in enumerate(pms)]
    ours, ref = _both(kernel, None, images, 1.0, 1.0)
    mask = np.ones(OUT_SHAPE, bool)
    for pm in pms:
        mask &= interior_mask(kernel, pm, 1.0, 1.0)
    assert_interior_equal(ours, ref, mask)
    assert ours.total_exptime == ref.total_exptime == 6.0
    assert set(np.unique(ours.out_ctx[0][mask])) <= set(range(8))


def test_variance_dq_units_weights_parity():
    """data2 (squared weights), dq (OR), counts units, weight map, wht_scale and iscale."""
    rng = np.random.default_rng(3)
    pm = distorted_pixmap(IN_SHAPE, angle_deg=17.0, shift=(30.0, 8.0))
    data = _data(1)
    var = (0.5 + rng.random(IN_SHAPE)).astype(np.float32)
    var2 = (0.1 + rng.random(IN_SHAPE)).astype(np.float32)
    dq = rng.integers(0, 16, IN_SHAPE).astype(np.uint32)
    wmap = (0.2 + rng.random(IN_SHAPE)).astype(np.float32)
    kw = dict(data2=[var, var2], dq=dq, weight_map=wmap, wht_scale=1.7, iscale=0.8,
              in_units="counts", pixfrac=0.8)  # fmt: skip
    ours = gpudriz.Drizzle(kernel="square", out_shape=OUT_SHAPE, backend="cpu")
    ref = drizzle_resample.Drizzle(kernel="square", out_shape=OUT_SHAPE)
    for d in (ours, ref):
        d.add_image(data, 2.5, pm, **kw)
        d.add_image(data[::-1].copy(), 1.5, pm, **kw)
    mask = interior_mask("square", pm, 0.8, 1.0)
    assert_interior_equal(ours, ref, mask)
    for a, b in zip(ours.out_img2, ref.out_img2):
        m = mask & (ref.out_wht != 0)
        assert_allclose(a[m], b[m], rtol=RTOL, atol=RTOL * np.abs(b[m]).max())
    assert_array_equal(ours.out_dq[mask], ref.out_dq[mask])


def test_context_planes_beyond_32_images():
    pm = distorted_pixmap(IN_SHAPE, angle_deg=17.0, shift=(30.0, 8.0))
    ours = gpudriz.Drizzle(out_shape=OUT_SHAPE, begin_ctx_id=31, backend="cpu")
    ref = drizzle_resample.Drizzle(out_shape=OUT_SHAPE, begin_ctx_id=31)
    for d in (ours, ref):
        d.add_image(_data(0), 1.0, pm)
        d.add_image(_data(1), 1.0, pm)
    assert ours.out_ctx.shape == ref.out_ctx.shape == (2,) + OUT_SHAPE
    mask = interior_mask("square", pm, 1.0, 1.0)
    assert_array_equal(ours.out_ctx[:, mask], ref.out_ctx[:, mask])
    assert ours.out_ctx[0].min() == np.iinfo(np.int32).min  # bit 31 set
    assert ours.ctx_id == ref.ctx_id == 33


def test_decode_context_matches_drizzle():
    import drizzle.utils

    rng = np.random.default_rng(0)
    ctx = rng.integers(-(2**31), 2**31 - 1, size=(3, 5, 6), dtype=np.int64).astype(np.int32)
    x, y = [3, 2, 0, 5], [1, 4, 0, 2]
    for a, b in zip(gpudriz.decode_context(ctx, x, y), drizzle.utils.decode_context(ctx, x, y)):
        assert_array_equal(a, b)


def test_input_box_parity():
    pm = distorted_pixmap(IN_SHAPE, angle_deg=17.0, shift=(30.0, 8.0))
    ours = gpudriz.Drizzle(out_shape=OUT_SHAPE, backend="cpu")
    ref = drizzle_resample.Drizzle(out_shape=OUT_SHAPE)
    box = dict(xmin=10, xmax=40, ymin=5, ymax=30)
    for d in (ours, ref):
        d.add_image(_data(), 1.0, pm, **box)
    # Only the box contributed: the boxed run equals a run with zero weights outside.
    w = np.zeros(IN_SHAPE, np.float32)
    w[5:31, 10:41] = 1
    full = gpudriz.Drizzle(out_shape=OUT_SHAPE, backend="cpu")
    full.add_image(_data(), 1.0, pm, weight_map=w)
    assert_allclose(ours.out_wht, full.out_wht, rtol=1e-6, atol=1e-7)
    mask = interior_mask("square", pm, 1.0, 1.0) & (ref.out_wht > 0)
    assert_allclose(ours.out_img[mask], ref.out_img[mask], rtol=RTOL)
