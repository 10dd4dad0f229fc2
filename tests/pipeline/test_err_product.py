"""The ERR extension of the final product (gpudriz issue 5).

ERR is the propagated error of SCI: each chip's variance (its ERR extension
squared, or the noise model ``max(data, 0) + rdnoise^2``) drizzled with the
squared weights.  It is checked against the scatter of SCI over many noise
realisations of one scene.

The scene: three exposures of one ACS/WFC chip (two amplifiers, read noise
6 and 9 e-), dithered by fractions of a pixel and rotated by 0 and +-36.87
degrees, with exposure times 25-fold apart so that the weights differ between
exposures, and a faint smooth scene on a low sky so that the read noise
matters.

The realisations are cells of one image, not separate runs: the scene is
periodic on the sky with a period of ``PERIOD`` output pixels, and the
rotations are those of the 3-4-5 triangle (cos 0.8, sin 0.6), so one period
is a whole number of pixels of every chip too.  Every cell then sees the same
scene through the same pixel geometry, and its noise is its own: the cells
covered by all three chips are NREAL independent realisations of the same
output pixels, from one pipeline run.
"""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

import gpudriz
from gpudriz import Drizzle

SHAPE = (200, 220)  # (ny, nx) of a chip
SCALE = 0.05  # arcsec per pixel, inputs and output
CRVAL = (150.0, 2.0)
#: Per exposure: exposure time (s), (dx, dy) pointing offset (pixels), (cos, sin) of the rotation.
EXPOSURES = ((40.0, (0.0, 0.0), (1.0, 0.0)), (200.0, (3.4, -2.3), (0.8, 0.6)),
             (1000.0, (-2.6, 3.7), (0.8, -0.6)))  # fmt: skip
READNOISE = {"C": 6.0, "D": 9.0}  # e-: left and right halves of the chip
SKY_RATE = 0.05  # e-/s per pixel
#: The scene's period on the sky (output pixels); a multiple of 5 (3-4-5 rotations).
PERIOD = 20
NREAL = 40  # at least this many cells must be covered by every chip
ONLY_FINAL = {"static": False, "skysub": False, "driz_separate": False, "median": False,
              "blot": False, "driz_cr": False}  # fmt: skip
#: The median of a sample std over ~40 realisations lies ~1% below the true
#: sigma (chi distribution); 3% leaves room for that and for the scatter.
TOL = 0.03


def _grid():
    """The sky grid: TAN at CRVAL, north up, the output's scale (the product's frame)."""
    g = WCS(naxis=2)
    g.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    g.wcs.crpix = [1.0, 1.0]
    g.wcs.crval = list(CRVAL)
    g.wcs.cd = SCALE / 3600.0 * np.array([[-1.0, 0.0], [0.0, 1.0]])
    return g


def _chip_wcs(grid, offset, rotation):
    """TAN WCS of a chip centred ``offset`` grid pixels from the grid's centre, rotated."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crpix = [(SHAPE[1] + 1) / 2.0, (SHAPE[0] + 1) / 2.0]
    x, y = np.asarray(offset) + 100.0
    w.wcs.crval = [float(v) for v in grid.all_pix2world([[x, y]], 0)[0]]
    c, s = rotation
    w.wcs.cd = SCALE / 3600.0 * np.array([[-c, s], [s, c]])
    return w


def _scene_rate(grid, w):
    """Rate (e-/s) at every chip pixel: smooth, periodic on the grid (sky excluded)."""
    y, x = np.indices(SHAPE, dtype=np.float64)
    gx, gy = grid.all_world2pix(*w.all_pix2world(x, y, 0), 0)
    a, b = 2 * np.pi * gx / PERIOD, 2 * np.pi * gy / PERIOD
    return 1.5 + np.cos(a) * np.cos(b) + 0.3 * np.sin(a + 2 * b)


def _rdnoise_map():
    rn = np.empty(SHAPE, dtype=np.float64)
    rn[:, : SHAPE[1] // 2] = READNOISE["C"]
    rn[:, SHAPE[1] // 2 :] = READNOISE["D"]
    return rn


def _write(path, exptime, w, sci, err=None, *, gain=1.0):
    """An ACS/WFC exposure of one chip (SCI,1: CCDCHIP 2, amplifiers C and D).

    ``gain`` 1 writes electrons; otherwise counts (``sci / gain``, ``err / gain``).
    """
    primary = fits.Header()
    for key, value in (("TELESCOP", "HST"), ("INSTRUME", "ACS"), ("DETECTOR", "WFC"),
                       ("CCDAMP", "CD"), ("EXPTIME", exptime), ("ATODGNC", gain),
                       ("ATODGND", gain), ("READNSEC", READNOISE["C"]),
                       ("READNSED", READNOISE["D"])):  # fmt: skip
        primary[key] = value
    unit = "ELECTRONS" if gain == 1.0 else "COUNTS"
    planes = [("SCI", sci / gain, unit)]
    if err is not None:
        planes.append(("ERR", err / gain, unit))
    planes.append(("DQ", np.zeros(SHAPE), "UNITLESS"))
    hdus = [fits.PrimaryHDU(header=primary)]
    for name, data, bunit in planes:
        h = w.to_header()
        h.update(EXTNAME=name, EXTVER=1, CCDCHIP=2, BUNIT=bunit)
        dtype = np.int16 if name == "DQ" else np.float32
        hdus.append(fits.ImageHDU(data.astype(dtype), header=h))
    fits.HDUList(hdus).writeto(path, overwrite=True)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """The exposures with ERR (``e<i>_err_flt.fits``) and without (``e<i>_noerr_flt.fits``).

    Returns the folder and, per exposure, ``(exptime, wcs, data, err)``.
    """
    folder = tmp_path_factory.mktemp("err")
    rng = np.random.default_rng(2024)
    grid = _grid()
    rn = _rdnoise_map()
    exposures = []
    for e, (exptime, offset, rotation) in enumerate(EXPOSURES):
        w = _chip_wcs(grid, offset, rotation)
        mean = exptime * (_scene_rate(grid, w) + SKY_RATE)
        data = rng.poisson(mean) + rng.normal(0.0, rn)
        # The ERR a calibration pipeline would give (from the expected counts).
        err = np.sqrt(mean + rn**2)
        _write(folder / f"e{e}_err_flt.fits", exptime, w, data, err)
        _write(folder / f"e{e}_noerr_flt.fits", exptime, w, data)
        exposures.append((exptime, w, data, err))
    return folder, exposures


def _inputs(folder, kind):
    """The three exposures as a comma-separated list."""
    return ",".join(str(folder / f"e{e}_{kind}_flt.fits") for e in range(len(EXPOSURES)))


def _multidrizzle(folder, inputs, output, **pars):
    """Only the final drizzle, onto the grid's tangent point, scale and orientation."""
    return gpudriz.Multidrizzle(input=inputs, output=output, workdir=folder, backend="cpu",
                                ra=CRVAL[0], dec=CRVAL[1], final_scale=SCALE, final_rot=0.0,
                                **pars)  # fmt: skip


def _cells(md, image):
    """The cells covered by every chip, cut from ``image`` (the final frame): (n, PERIOD, PERIOD).

    A cell is a window of PERIOD x PERIOD output pixels on the scene's lattice,
    kept when it lies at least 2 pixels inside every chip.
    """
    grid = _grid()
    wcs = md.final_frame.wcs
    # Output pixel of the grid's origin: cells start there, PERIOD pixels apart.
    ox, oy = wcs.all_world2pix(*grid.all_pix2world([0.0], [0.0], 0), 0)
    assert abs(ox[0] - round(ox[0])) < 1e-3 and abs(oy[0] - round(oy[0])) < 1e-3
    ny, nx = image.shape
    x0s = np.arange(round(ox[0]) % PERIOD, nx - PERIOD + 1, PERIOD)
    y0s = np.arange(round(oy[0]) % PERIOD, ny - PERIOD + 1, PERIOD)
    cells = []
    for y0 in y0s:
        for x0 in x0s:
            corners = np.array([[x0, y0], [x0 + PERIOD, y0], [x0, y0 + PERIOD],
                                [x0 + PERIOD, y0 + PERIOD]], dtype=float) - 0.5  # fmt: skip
            sky = wcs.all_pix2world(corners, 0)
            inside = all(
                ((xy > 1.5) & (xy < np.array(SHAPE[::-1]) - 2.5)).all()
                for xy in (w.chip.wcs.all_world2pix(sky, 0) for w in md.chips)
            )
            if inside:
                cells.append(image[y0 : y0 + PERIOD, x0 : x0 + PERIOD])
    return np.array(cells)


_BUILT = {}
_RUNS = {}


def _run_cells(folder, kind, **pars):
    """One final drizzle (cached): SCI, ERR, WHT cut into cells, and the Multidrizzle.

    The chips and frames do not depend on the final_* parameters, so one
    built Multidrizzle per kind of input serves every run.
    """
    key = (kind, tuple(sorted(pars.items())))
    if key not in _RUNS:
        if kind not in _BUILT:
            _BUILT[kind] = _multidrizzle(folder, _inputs(folder, kind), f"cells_{kind}").build()
        md = _BUILT[kind]
        md.pars.update(final_wht_type="EXP", final_kernel="square", final_pixfrac=1.0)
        md.pars.update(**pars)
        md.run(**ONLY_FINAL)
        with fits.open(md.products["drz"]) as h:
            planes = [_cells(md, h[name].data.astype(np.float64)) for name in ("SCI", "ERR", "WHT")]
        _RUNS[key] = (*planes, md)
    return _RUNS[key]


def _scatter_over_error(sci, err):
    """Per pixel: the std of SCI over the realisations over their rms ERR.

    The rms (not the mean) because cells on the two amplifiers have different
    errors: the sample variance of SCI estimates the mean of their variances.
    """
    return np.sqrt(sci.var(axis=0, ddof=1) / (err**2).mean(axis=0)).ravel()


@pytest.mark.parametrize("pixfrac", [1.0, 0.6])
@pytest.mark.parametrize(
    "kind, wht_type",
    [("err", "EXP"), ("err", "ERR"), ("noerr", "EXP")],
    ids=["ERR-ext-EXP", "ERR-ext-ERR", "noise-model-EXP"],
)
def test_err_matches_scatter_of_sci(scene, kind, wht_type, pixfrac):
    sci, err, wht, _ = _run_cells(scene[0], kind, final_wht_type=wht_type, final_pixfrac=pixfrac)
    assert len(sci) >= NREAL and (wht > 0).all()
    ratio = _scatter_over_error(sci, err)
    assert np.median(ratio) == pytest.approx(1.0, abs=TOL)
    # Pixel by pixel too: a std over ~60 cells scatters by ~9%.
    assert np.percentile(ratio, 5) > 0.8 and np.percentile(ratio, 95) < 1.2


def test_err_needs_squared_weights(scene):
    """Variance co-added with linear weights (normalised by the number of inputs) is far off.

    With exposure-time weights 25-fold apart and read noise that matters, the
    squared-weight co-add sum(w^2 v) / (sum w)^2 and a linear one
    sum(w v) / sum(w) / n differ by far more than TOL: the scatter of SCI
    agrees with the first only.
    """
    sci, err, _, md = _run_cells(scene[0], "err", final_wht_type="EXP", final_pixfrac=1.0)
    assert np.median(_scatter_over_error(sci, err)) == pytest.approx(1.0, abs=TOL)
    frame = md.final_frame
    lin = Drizzle(kernel="square", out_shape=frame.shape, backend="cpu", disable_ctx=True)
    for w in md.chips:
        var = (w.chip.read_err() * w.to_electrons) ** 2
        lin.add_image(var, w.chip.exptime**2, md.pixmap_to(w, frame), in_units="counts",
                      weight_map=np.full(SHAPE, w.chip.exptime, np.float32),
                      pixel_scale_ratio=1.0)  # fmt: skip
    # Every pixel of a cell has all three exposures.
    err_lin = np.sqrt(_cells(md, lin.out_img) / len(md.chips))
    assert abs(np.median(_scatter_over_error(sci, err_lin)) - 1.0) > 5 * TOL


# -- the product -------------------------------------------------------------------


@pytest.fixture(scope="module")
def joined(scene):
    """A build=yes run of the exposures with ERR (EXP weights): the Multidrizzle and its HDUs."""
    folder = scene[0]
    md = _multidrizzle(folder, _inputs(folder, "err"), "joined")
    md.run(**ONLY_FINAL)
    with fits.open(md.products["drz"]) as h:
        hdus = {x.name: (x.header.copy(), x.data.copy()) for x in h[1:]}
        names = [x.name for x in h[1:]]
    return md, names, hdus


def test_err_extension_is_last_with_units_and_wcs(joined):
    md, names, hdus = joined
    assert names == ["SCI", "WHT", "CTX", "ERR", "INPUTS"]  # ERR the last image; the inputs table after
    head, err = hdus["ERR"]
    assert head["EXTVER"] == 1 and head["BUNIT"] == "ELECTRONS/S"
    assert head["BITPIX"] == -32 and err.shape == md.final_frame.shape
    sci_head = hdus["SCI"][0]
    frame_cards = md.final_frame.header()
    assert "CRVAL1" in frame_cards
    for key in frame_cards:
        assert head[key] == sci_head[key] == frame_cards[key], key
    wht, sci = hdus["WHT"][1], hdus["SCI"][1]
    assert (wht == 0).any() and (wht > 0).any()
    # No input: ERR 0 (no final_fillval; SCI keeps drizzle's NaN there).
    assert (err[wht == 0] == 0).all() and np.isnan(sci[wht == 0]).all()
    assert np.isfinite(err).all() and (err[wht > 0] > 0).all()


def test_err_file_when_build_is_no(scene, joined):
    folder = scene[0]
    md = _multidrizzle(folder, _inputs(folder, "err"), "apart", build=False)
    products = md.run(**ONLY_FINAL)
    assert products["drz_err"] == folder / "apart_drz_err.fits"
    assert {"drz_sci", "drz_wht", "drz_ctx"} <= set(products)
    with fits.open(products["drz_err"]) as h:
        assert h[0].header["BUNIT"] == "ELECTRONS/S"
        assert h[0].header["CTYPE1"].startswith("RA---TAN")
        np.testing.assert_array_equal(h[0].data, joined[2]["ERR"][1])


def test_err_takes_the_fill_value_where_there_is_no_input(scene, joined):
    folder = scene[0]
    md = _multidrizzle(folder, _inputs(folder, "err"), "filled", final_fillval=-7.0)
    md.run(**ONLY_FINAL)
    with fits.open(md.products["drz"]) as h:
        err, wht, sci = h["ERR"].data, h["WHT"].data, h["SCI"].data
    empty = wht == 0
    assert empty.any() and (err[empty] == -7.0).all() and (sci[empty] == -7.0).all()
    np.testing.assert_array_equal(err[~empty], joined[2]["ERR"][1][~empty])


# -- the variance of a chip -------------------------------------------------------------


def _output_pixels(md, chip_wcs, x0, x1, y0, y1):
    """Output pixels (iy, ix) of chip pixels [y0:y1, x0:x1] (an unrotated chip)."""
    y, x = np.mgrid[y0:y1, x0:x1]
    ox, oy = md.final_frame.wcs.all_world2pix(*chip_wcs.all_pix2world(x, y, 0), 0)
    return np.round(oy).astype(int), np.round(ox).astype(int)


def _one_chip(folder, name, data, err=None, *, gain=1.0):
    """Exposure 0's geometry (unrotated) with the given arrays; returns its path."""
    exptime, w = EXPOSURES[0][0], _chip_wcs(_grid(), EXPOSURES[0][1], EXPOSURES[0][2])
    path = folder / f"{name}_flt.fits"
    _write(path, exptime, w, data, err, gain=gain)
    return path, w


def test_negative_or_non_finite_variance_gets_zero_weight(scene):
    folder, exposures = scene
    _, w, data, err = exposures[0]
    err = err.copy()
    err[40:80, 30:70] = -1.0  # negative: a positive ERR^2, but no usable error
    err[120:160, 140:180] = np.nan
    path, _ = _one_chip(folder, "badvar", data, err)
    md = _multidrizzle(folder, str(path), "badvar")
    md.run(**ONLY_FINAL)
    with fits.open(md.products["drz"]) as h:
        err_out, wht = h["ERR"].data, h["WHT"].data
    for y0, y1, x0, x1 in ((40, 80, 30, 70), (120, 160, 140, 180)):
        inside = _output_pixels(md, w, x0 + 2, x1 - 2, y0 + 2, y1 - 2)
        assert (wht[inside] == 0).all() and (err_out[inside] == 0).all()
    good = _output_pixels(md, w, 2, 30, 2, 40)
    assert (wht[good] > 0).all()
    assert np.isfinite(err_out).all()


def test_noise_model_reads_noise_per_amplifier_and_the_user_sky(scene):
    """No ERR: variance max(data, 0) + rdnoise^2 by amplifier, with a user-removed sky added back.

    A noiseless constant chip, so ERR^2 is (S + rn^2) times a geometric factor
    that is (nearly) the same for every interior pixel.
    """
    folder = scene[0]
    sky = 50.0
    path, w = _one_chip(folder, "flat", np.full(SHAPE, sky))
    md = _multidrizzle(folder, str(path), "flat")
    md.run(**ONLY_FINAL)
    err_flat = fits.getdata(md.products["drz"], "ERR")
    half = SHAPE[1] // 2
    left = err_flat[_output_pixels(md, w, 3, half - 3, 3, SHAPE[0] - 3)]
    right = err_flat[_output_pixels(md, w, half + 3, SHAPE[1] - 3, 3, SHAPE[0] - 3)]
    # (The factor drifts by ~1e-4 across the chip: two tangent planes.)
    assert np.ptp(left) < 1e-3 * left.max() and np.ptp(right) < 1e-3 * right.max()
    ratio = (np.median(right) / np.median(left)) ** 2
    expected = (sky + READNOISE["D"] ** 2) / (sky + READNOISE["C"] ** 2)
    assert ratio == pytest.approx(expected, rel=1e-3)
    # The same chip with its sky removed before gpudriz (skyuser): the same ERR.
    path, _ = _one_chip(folder, "flat_skysub", np.zeros(SHAPE))
    md = _multidrizzle(folder, str(path), "flat_skysub").build()
    md.chips[0].sky, md.chips[0].sky_by_user = sky, True
    md.run(**ONLY_FINAL)
    np.testing.assert_allclose(fits.getdata(md.products["drz"], "ERR"), err_flat, rtol=1e-6)


def test_err_extension_in_counts_is_converted_to_electrons(scene):
    folder, exposures = scene
    _, _, data, err = exposures[0]
    out = {}
    for gain in (1.0, 2.0):
        path, _ = _one_chip(folder, f"gain{gain:g}", data, err, gain=gain)
        md = _multidrizzle(folder, str(path), f"gain{gain:g}")
        md.run(**ONLY_FINAL)
        out[gain] = fits.getdata(md.products["drz"], "ERR")
    assert (out[1.0] > 0).any()
    np.testing.assert_allclose(out[2.0], out[1.0], rtol=1e-5)
