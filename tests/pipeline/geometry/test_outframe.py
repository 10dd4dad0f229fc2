"""Tests of gpudriz.pipeline.geometry.outframe: the output frame of the separate and final drizzles.

Every property is checked against an independent computation: input pixel
centres sampled at every pixel of every chip edge (denser than the module's
own sampling) are mapped through the chips' full WCS and the frame's WCS;
scales through ``proj_plane_pixel_scales``; orientations by stepping North
and East on the sky from the frame's centre.
"""

import math
import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning, Sip
from astropy.wcs.utils import proj_plane_pixel_scales

from gpudriz.pipeline.geometry.outframe import (
    MAX_FRAME_PIXELS,
    OutputFrame,
    output_frame,
)
from gpudriz.pipeline.io.inputs import InputError

# The module samples chip borders every EDGE_STEP px; between two samples a
# border bent by the test distortion bulges by ~1e-3 px, and the frame size is
# rounded with a 1e-3 px slack: the half-pixel margin holds to this much.
MARGIN_TOL = 5e-3
# "Tight": each side of the frame has a footprint point within ~1 px.
TIGHT = 1.0 + MARGIN_TOL


# --------------------------------------------------------------------------
# WCS builders
# --------------------------------------------------------------------------


def rot_cd(scale_arcsec, rot_deg):
    """CD matrix with +Y at position angle ``rot_deg`` East of North, East left."""
    c, s = math.cos(math.radians(rot_deg)), math.sin(math.radians(rot_deg))
    return scale_arcsec / 3600.0 * np.array([[-c, s], [s, c]])


def wfc_pair(crval=(150.1, 2.2), rot=30.0, scale=0.05, nx=400, ny=200, gap=20):
    """Two chips of an ACS/WFC-like camera: chip 2 above chip 1 across a ``gap``-row gap.

    Both chips share one focal plane (same CRVAL, CD and SIP polynomial, their
    CRPIX placing them below and above the optical axis, a little off it in
    x), whose order-2/3 distortion moves the chip corners by several pixels
    and bends their edges.
    """
    a = np.zeros((4, 4))
    b = np.zeros((4, 4))
    a[2, 0], a[1, 1], a[0, 2], a[3, 0], a[1, 2] = 2e-5, -1.5e-5, 1e-5, 1e-8, -5e-9
    # chip 1's bottom edge bows down by ~1 px, lowest between two corners
    b[0, 2], b[1, 1], b[2, 0], b[0, 3], b[2, 1] = -2e-5, 3e-6, 2e-5, 1e-8, 5e-9
    chips = []
    for crpix2 in (ny + gap / 2 + 0.5, -gap / 2 + 0.5):
        w = WCS(naxis=2)
        w.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
        w.wcs.crval = list(crval)
        # off-axis in x, so that no distortion extreme falls on a chip corner or mid-edge
        w.wcs.crpix = [0.37 * nx, crpix2]
        w.wcs.cd = rot_cd(scale, rot)
        w.sip = Sip(a, b, None, None, w.wcs.crpix)
        w.wcs.set()
        chips.append(w)
    return chips, [(ny, nx), (ny, nx)]


def tan_chip(crval, rot=0.0, scale=0.05, n=100, ctype=("RA---TAN", "DEC--TAN")):
    w = WCS(naxis=2)
    w.wcs.ctype = list(ctype)
    w.wcs.crval = list(crval)
    w.wcs.crpix = [(n + 1) / 2, (n + 1) / 2]
    w.wcs.cd = rot_cd(scale, rot)
    w.wcs.set()
    return w, (n, n)


def read_hrc(wcs_dir):
    """ACS/HRC chip: SIP order 4 in extension 1, 1024x1024 from WCSNAX1/2 (no data)."""
    with fits.open(wcs_dir / "j8bt06nyq_sip_flt.fits") as hdul:
        hdr = hdul[1].header
        with warnings.catch_warnings():
            # NAXIS = 0: the file holds no data array, only the WCS.
            warnings.filterwarnings("ignore", "The WCS transformation has more axes", FITSFixedWarning)
            w = WCS(hdr, hdul)
    return w, (hdr["WCSNAX2"], hdr["WCSNAX1"])


# --------------------------------------------------------------------------
# independent checks
# --------------------------------------------------------------------------


def edge_pixels(shape):
    """0-based (x, y) of every pixel centre on the border of a (ny, nx) chip."""
    ny, nx = shape
    xs = np.arange(nx, dtype=float)
    ys = np.arange(ny, dtype=float)
    x = np.concatenate([xs, xs, np.zeros(ny), np.full(ny, nx - 1.0)])
    y = np.concatenate([np.zeros(nx), np.full(nx, ny - 1.0), ys, ys])
    return x, y


def frame_positions(frame, wcs_list, shapes, interior=0):
    """Frame pixel positions of every input's edge pixel centres (and random interior ones)."""
    rng = np.random.default_rng(7)
    xs, ys = [], []
    for w, (ny, nx) in zip(wcs_list, shapes):
        x, y = edge_pixels((ny, nx))
        if interior:
            x = np.concatenate([x, rng.uniform(0, nx - 1, interior)])
            y = np.concatenate([y, rng.uniform(0, ny - 1, interior)])
        ra, dec = w.all_pix2world(x, y, 0)
        fx, fy = frame.wcs.world_to_pixel_values(ra, dec)
        xs.append(fx)
        ys.append(fy)
    return np.concatenate(xs), np.concatenate(ys)


def margins(frame, x, y):
    """Distance (px) of the nearest point to the left, right, bottom and top frame edges."""
    ny, nx = frame.shape
    return x.min() + 0.5, nx - 0.5 - x.max(), y.min() + 0.5, ny - 0.5 - y.max()


def assert_holds(frame, wcs_list, shapes, *, tight=True):
    """Every input pixel at least ~half a pixel inside the frame; each side tight.

    ``tight``: the frame is also the smallest one centred on the footprints:
    their bounding box is centred on the frame's centre and each size is
    their extent rounded up to whole pixels, plus one (two half-pixel margins).
    """
    x, y = frame_positions(frame, wcs_list, shapes, interior=200)
    m = margins(frame, x, y)
    assert min(m) >= 0.5 - MARGIN_TOL, m
    if tight:
        assert max(m) <= TIGHT, m
        for n, p in zip(frame.shape, (y, x)):
            lo, hi = p.min(), p.max()
            assert abs((lo + hi) / 2 - (n - 1) / 2) < MARGIN_TOL
            assert hi - lo - MARGIN_TOL <= n - 1 < hi - lo + 1.0
    return m


def assert_centred(frame):
    ny, nx = frame.shape
    np.testing.assert_array_equal(frame.wcs.wcs.crpix, [(nx + 1) / 2, (ny + 1) / 2])
    assert frame.wcs.pixel_shape == (nx, ny)


def wrap(angle):
    """Angle in [-180, 180)."""
    return (angle + 180.0) % 360.0 - 180.0


def sky_axes(frame):
    """Directions (frame pixel angle atan2(dx, dy), deg) of North and East at the frame centre."""
    x0, y0 = (c - 1.0 for c in frame.wcs.wcs.crpix)
    ra0, dec0 = frame.wcs.pixel_to_world_values(x0, y0)
    # +-step: central differences, so that the curvature of a parallel of
    # declination (off the East great circle by ~step*tan(dec)/2) cancels
    step = 1e-5  # deg, about a pixel
    dra = step / math.cos(math.radians(dec0))
    xn, yn = frame.wcs.world_to_pixel_values([ra0, ra0], [dec0 - step, dec0 + step])
    xe, ye = frame.wcs.world_to_pixel_values([ra0 - dra, ra0 + dra], [dec0, dec0])
    north = math.degrees(math.atan2(xn[1] - xn[0], yn[1] - yn[0]))
    east = math.degrees(math.atan2(xe[1] - xe[0], ye[1] - ye[0]))
    return north, east


def assert_orientation(frame, rot):
    """+Y at position angle ``rot``: North lies ``rot`` clockwise of +Y, East 90 deg further anticlockwise."""
    north, east = sky_axes(frame)
    assert abs(wrap(north - rot)) < 1e-6
    # East left of North (RA decreases with x when North is up).
    assert abs(wrap(east - (rot - 90.0))) < 1e-6
    assert abs(wrap(frame.orientation - rot)) < 1e-6
    assert -180.0 < frame.orientation <= 180.0


# --------------------------------------------------------------------------
# default frame, scale, rot
# --------------------------------------------------------------------------


@pytest.mark.parametrize("rot", [None, 0.0, 30.0, 45.0, -120.0])
def test_frame_holds_every_input_pixel_and_is_tight(rot):
    chips, shapes = wfc_pair(rot=30.0)
    frame = output_frame(chips, shapes, rot=rot)
    assert isinstance(frame, OutputFrame)
    assert_holds(frame, chips, shapes)
    assert_centred(frame)
    assert frame.shape == (frame.wcs.pixel_shape[1], frame.wcs.pixel_shape[0])


def test_default_frame_aligned_with_chips_spans_them():
    # rot None follows the chips, whose undistorted pixels match the frame's:
    # the frame spans the distorted focal plane of both chips and the gap.
    chips, shapes = wfc_pair(rot=30.0, nx=400, ny=200, gap=20)
    frame = output_frame(chips, shapes)
    ny, nx = frame.shape
    assert 400 < nx < 430
    assert 420 < ny < 450


@pytest.mark.parametrize("scale, rot", [(0.05, 0.0), (0.03, 45.0), (0.1, -120.0), (0.05, 200.0)])
def test_scale_and_rot_honoured(scale, rot):
    chips, shapes = wfc_pair(rot=30.0, scale=0.05)
    frame = output_frame(chips, shapes, scale=scale, rot=rot)
    np.testing.assert_allclose(proj_plane_pixel_scales(frame.wcs), scale / 3600.0, rtol=1e-12)
    assert frame.pixel_scale == pytest.approx(scale, rel=1e-12)
    assert_orientation(frame, rot)
    assert_holds(frame, chips, shapes)


def test_finer_scale_grows_frame_in_proportion():
    chips, shapes = wfc_pair()
    coarse = output_frame(chips, shapes, rot=0.0, scale=0.1)
    fine = output_frame(chips, shapes, rot=0.0, scale=0.025)
    # n - 1 is the footprint extent rounded up to whole pixels
    for n_coarse, n_fine in zip(coarse.shape, fine.shape):
        assert -1.0 < (n_fine - 1) / 4 - (n_coarse - 1) <= 0.25


def test_rot_none_is_first_input_orientation():
    a, sa = wfc_pair(crval=(150.1, 2.2), rot=30.0)
    b, sb = wfc_pair(crval=(150.1015, 2.2008), rot=50.0)
    assert_orientation(output_frame(a + b, sa + sb), 30.0)
    assert_orientation(output_frame(b + a, sb + sa), 50.0)
    # an explicit rot still wins
    assert_orientation(output_frame(b + a, sb + sa, rot=0.0), 0.0)


def test_scale_none_is_first_input_cd_scale():
    a, sa = wfc_pair(scale=0.05)
    b, sb = wfc_pair(crval=(150.1005, 2.2), scale=0.04)
    assert output_frame(a + b, sa + sb).pixel_scale == pytest.approx(0.05, rel=1e-12)
    assert output_frame(b + a, sb + sa).pixel_scale == pytest.approx(0.04, rel=1e-12)


def test_frame_holds_two_dithered_exposures():
    a, sa = wfc_pair(crval=(150.1, 2.2), rot=30.0)
    b, sb = wfc_pair(crval=(150.1015, 2.2008), rot=50.0)
    frame = output_frame(a + b, sa + sb, rot=0.0)
    assert_holds(frame, a + b, sa + sb)
    assert_centred(frame)


def test_frame_takes_first_input_celestial_system():
    w, shape = tan_chip((120.0, -30.0), ctype=("GLON-TAN", "GLAT-TAN"))
    frame = output_frame([w], [shape])
    assert list(frame.wcs.wcs.ctype) == ["GLON-TAN", "GLAT-TAN"]
    assert_holds(frame, [w], [shape])


def test_single_undistorted_chip_gives_its_own_shape():
    # same scale, same orientation, no distortion: the chip's own grid
    w, shape = tan_chip((10.0, 20.0), rot=30.0, n=100)
    frame = output_frame([w], [shape])
    assert frame.shape == shape
    ra, dec = w.wcs_pix2world([[49.5, 49.5]], 0)[0]
    np.testing.assert_allclose(frame.wcs.wcs.crval, [ra, dec], atol=1e-10)


# --------------------------------------------------------------------------
# ra/dec and outnx/outny overrides
# --------------------------------------------------------------------------


def test_ra_dec_override_centres_frame_on_it():
    chips, shapes = wfc_pair(crval=(150.1, 2.2))
    ra, dec = 150.1 + 8.0 / 3600, 2.2 - 5.0 / 3600  # off the footprint centre
    frame = output_frame(chips, shapes, rot=0.0, ra=ra, dec=dec)
    np.testing.assert_allclose(frame.wcs.wcs.crval, [ra, dec], rtol=0, atol=1e-12)
    assert_centred(frame)
    left, right, bottom, top = assert_holds(frame, chips, shapes, tight=False)
    # symmetric about the centre, tight on the side the footprints reach furthest
    assert min(left, right) <= TIGHT
    assert min(bottom, top) <= TIGHT
    auto = output_frame(chips, shapes, rot=0.0)
    assert frame.shape[0] > auto.shape[0] and frame.shape[1] > auto.shape[1]


def test_ra_normalised():
    chips, shapes = wfc_pair()
    frame = output_frame(chips, shapes, ra=150.1 - 360.0, dec=2.2)
    assert frame.wcs.wcs.crval[0] == pytest.approx(150.1, abs=1e-12)


def test_outnx_outny_override_shape_keep_centre():
    chips, shapes = wfc_pair()
    auto = output_frame(chips, shapes, rot=0.0)
    both = output_frame(chips, shapes, rot=0.0, outnx=300, outny=200.0)
    assert both.shape == (200, 300)
    assert_centred(both)
    np.testing.assert_allclose(both.wcs.wcs.crval, auto.wcs.wcs.crval, atol=1e-12)
    only_x = output_frame(chips, shapes, rot=0.0, outnx=301)
    assert only_x.shape == (auto.shape[0], 301)
    only_y = output_frame(chips, shapes, rot=0.0, outny=99)
    assert only_y.shape == (99, auto.shape[1])
    # ra/dec, outnx and outny all given: nothing left to measure
    fixed = output_frame(chips, shapes, rot=0.0, outnx=64, outny=32, ra=150.0, dec=2.0)
    assert fixed.shape == (32, 64)
    assert_centred(fixed)


# --------------------------------------------------------------------------
# refimage
# --------------------------------------------------------------------------


def ref_wcs():
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [150.1, 2.2]
    w.wcs.crpix = [40.3, 25.7]  # off-centre: taken as it is
    w.wcs.cd = rot_cd(0.04, 17.0)
    w.wcs.radesys = "FK5"
    w.wcs.equinox = 2000.0
    w.wcs.set()
    return w


def assert_same_wcs(got, want):
    assert dict(got.to_header(relax=True)) == dict(want.to_header(relax=True))
    x = np.array([0.0, 13.0, 69.0])
    y = np.array([0.0, 40.0, 49.0])
    np.testing.assert_array_equal(got.all_pix2world(x, y, 0), want.all_pix2world(x, y, 0))


def test_refimage_simple_file_round_trip(tmp_path):
    w = ref_wcs()
    path = tmp_path / "ref_drz.fits"
    fits.PrimaryHDU(np.zeros((50, 70), np.float32), header=w.to_header()).writeto(path)
    # other parameters are ignored
    frame = output_frame([], [], refimage=str(path), scale=1.0, rot=45.0, outnx=3, ra=0.0, dec=0.0)
    assert frame.shape == (50, 70)
    assert frame.wcs.pixel_shape == (70, 50)
    assert_same_wcs(frame.wcs, w)
    assert frame.pixel_scale == pytest.approx(0.04, rel=1e-12)
    assert frame.orientation == pytest.approx(17.0, abs=1e-6)
    assert output_frame([], [], refimage=path).shape == (50, 70)  # os.PathLike


def test_refimage_extension_syntax(tmp_path):
    w = ref_wcs()
    other = ref_wcs()
    other.wcs.crpix = [5.0, 6.0]
    path = tmp_path / "ref_drz.fits"
    fits.HDUList([
        fits.PrimaryHDU(),
        fits.ImageHDU(np.zeros((50, 70), np.float32), header=w.to_header(), name="SCI"),
        fits.ImageHDU(np.zeros((20, 30), np.float32), header=other.to_header(), name="WHT"),
    ]).writeto(path)  # fmt: skip
    chips, shapes = wfc_pair()
    for spec in (f"{path}[1]", f"{path}[sci,1]", f"{path}[SCI]", f"{path}[ sci , 1 ]", str(path)):
        frame = output_frame(chips, shapes, refimage=spec)
        assert frame.shape == (50, 70), spec
        assert_same_wcs(frame.wcs, w)
    frame = output_frame(chips, shapes, refimage=f"{path}[wht]")
    assert frame.shape == (20, 30)
    assert_same_wcs(frame.wcs, other)


def test_refimage_with_sip_kept_exactly(tmp_path):
    chips, _ = wfc_pair()
    w = chips[0]
    path = tmp_path / "ref.fits"
    fits.PrimaryHDU(np.zeros((20, 40), np.float32), header=w.to_header(relax=True)).writeto(path)
    frame = output_frame([], [], refimage=path)
    assert frame.wcs.sip is not None
    np.testing.assert_array_equal(frame.wcs.sip.a, w.sip.a)
    x, y = np.array([0.0, 39.0]), np.array([0.0, 19.0])
    np.testing.assert_allclose(frame.wcs.all_pix2world(x, y, 0), w.all_pix2world(x, y, 0), rtol=0, atol=1e-12)


def test_header_round_trip():
    chips, shapes = wfc_pair()
    frame = output_frame(chips, shapes, rot=12.0, scale=0.04)
    hdr = frame.header()
    assert (hdr["NAXIS"], hdr["NAXIS1"], hdr["NAXIS2"]) == (2, frame.shape[1], frame.shape[0])
    back = WCS(hdr)
    assert back.pixel_shape == (frame.shape[1], frame.shape[0])
    x, y = np.array([0.0, 10.0, 250.0]), np.array([0.0, 300.0, 7.0])
    # the WCS cards carry 14 significant digits: 1e-12 deg on CRVAL
    np.testing.assert_allclose(back.all_pix2world(x, y, 0), frame.wcs.all_pix2world(x, y, 0), rtol=0, atol=1e-10)


def test_header_written_and_read_as_refimage(tmp_path):
    chips, shapes = wfc_pair()
    frame = output_frame(chips, shapes, rot=0.0)
    path = tmp_path / "final_drz.fits"
    hdr = frame.header()
    fits.PrimaryHDU(np.zeros(frame.shape, np.float32), header=hdr).writeto(path)
    again = output_frame([], [], refimage=path)
    assert again.shape == frame.shape
    assert dict(again.wcs.to_header()) == dict(WCS(hdr).to_header())
    assert again.pixel_scale == pytest.approx(frame.pixel_scale, rel=1e-12)
    assert again.orientation == pytest.approx(0.0, abs=1e-6)


# --------------------------------------------------------------------------
# real headers
# --------------------------------------------------------------------------


def test_real_hrc_header(wcs_dir):
    w, shape = read_hrc(wcs_dir)
    cd = w.wcs.cd
    frame = output_frame([w], [shape])
    # INDEF scale and rot: the CD matrix's scale and +Y angle at the reference pixel
    assert frame.pixel_scale == pytest.approx(math.sqrt(abs(np.linalg.det(cd))) * 3600, rel=1e-12)
    assert_orientation(frame, math.degrees(math.atan2(cd[0, 1], cd[1, 1])))
    assert_holds(frame, [w], [shape])
    north_up = output_frame([w], [shape], rot=0.0)
    assert_orientation(north_up, 0.0)
    assert_holds(north_up, [w], [shape])


def test_real_headers_far_apart_exceed_frame_limit(wcs_dir):
    hrc, hrc_shape = read_hrc(wcs_dir)
    nrc = WCS(fits.Header.fromtextfile(wcs_dir / "nrcb5_sip_wcs.hdr"))
    # 68 degrees apart: a tangent plane holds them, but not in 2**31 pixels
    with pytest.raises(ValueError, match=f"exceeds the {MAX_FRAME_PIXELS}-pixel limit"):
        output_frame([hrc, nrc], [hrc_shape, (2048, 2048)])


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, exc, words", [
    ({"scale": 0.0}, ValueError, "'scale' must be positive"),
    ({"scale": -0.05}, ValueError, "'scale' must be positive"),
    ({"scale": float("nan")}, ValueError, "'scale' must be finite"),
    ({"scale": "0.05"}, TypeError, "'scale' must be a real number"),
    ({"rot": float("inf")}, ValueError, "'rot' must be finite"),
    ({"outnx": 0}, ValueError, "'outnx' must be a whole number of pixels >= 1"),
    ({"outny": 2.5}, ValueError, "'outny' must be a whole number"),
    ({"outnx": True}, TypeError, "'outnx' must be a real number"),
    ({"outnx": 70000, "outny": 70000}, ValueError, "70000 x 70000 pixels exceeds"),
    ({"ra": 150.0}, ValueError, "'dec' is missing"),
    ({"dec": 2.0}, ValueError, "'ra' is missing"),
    ({"ra": 150.0, "dec": 95.0}, ValueError, "'dec' must be between -90 and 90"),
    ({"scale": 1e-6}, ValueError, "choose a larger 'scale'"),
    ({"ra": 30.0, "dec": 2.0}, ValueError, r"reach 11\d\.\d degrees from the frame centre given by 'ra' and 'dec'"),
])  # fmt: skip
def test_parameter_errors(kwargs, exc, words):
    chips, shapes = wfc_pair(crval=(150.0, 2.0))
    with pytest.raises(exc, match=words):
        output_frame(chips, shapes, **kwargs)


def test_input_errors():
    chips, shapes = wfc_pair()
    with pytest.raises(ValueError, match="'wcs_list' must hold at least one"):
        output_frame([], [])
    with pytest.raises(ValueError, match="'shapes' must give one"):
        output_frame(chips, shapes[:1])
    with pytest.raises(ValueError, match="'shapes' item 1 must be two whole numbers"):
        output_frame(chips, [shapes[0], (0, 10)])
    with pytest.raises(ValueError, match="'shapes' item 0 must be a \\(ny, nx\\) pair"):
        output_frame(chips[:1], [100])
    with pytest.raises(TypeError, match="'wcs_list' item 0 must be an astropy.wcs.WCS"):
        output_frame([chips[0].to_header(relax=True)], shapes[:1])
    with pytest.raises(ValueError, match="'wcs_list' item 0 must be a 2-D celestial WCS"):
        output_frame([WCS(naxis=2)], shapes[:1])
    gal, gal_shape = tan_chip((10.0, 5.0), ctype=("GLON-TAN", "GLAT-TAN"))
    with pytest.raises(ValueError, match="mixes celestial coordinate systems"):
        output_frame([chips[0], gal], [shapes[0], gal_shape])


def test_whole_sky_inputs_have_no_centre():
    a, sa = tan_chip((0.0, 0.0))
    b, sb = tan_chip((180.0, 0.0))
    with pytest.raises(ValueError, match="spread over the whole sky"):
        output_frame([a, b], [sa, sb])


def test_refimage_errors(tmp_path):
    missing = tmp_path / "nope_drz.fits"
    with pytest.raises(InputError, match="'refimage' file .*nope_drz.fits' does not exist"):
        output_frame([], [], refimage=missing)
    with pytest.raises(InputError, match="nope_drz.fits' does not exist"):
        output_frame([], [], refimage=f"{missing}[sci,1]")

    text = tmp_path / "notes.fits"
    text.write_text("not a FITS file\n")
    with pytest.raises(InputError, match="is not a readable FITS file"):
        output_frame([], [], refimage=text)

    empty = tmp_path / "empty.fits"
    fits.HDUList([
        fits.PrimaryHDU(),
        fits.BinTableHDU.from_columns([fits.Column(name="a", format="D", array=np.zeros(3))]),
    ]).writeto(empty)  # fmt: skip
    with pytest.raises(InputError, match="holds no 2-D image"):
        output_frame([], [], refimage=empty)
    with pytest.raises(InputError, match=r"no 2-D image shape \(NAXIS = 0\)"):
        output_frame([], [], refimage=f"{empty}[0]")
    with pytest.raises(InputError, match="no 2-D image shape"):
        output_frame([], [], refimage=f"{empty}[1]")
    with pytest.raises(InputError, match="has no such extension"):
        output_frame([], [], refimage=f"{empty}[sci,2]")
    with pytest.raises(InputError, match=r"names the extension \[sci,x\]"):
        output_frame([], [], refimage=f"{empty}[sci,x]")

    plain = tmp_path / "plain.fits"
    fits.PrimaryHDU(np.zeros((10, 12), np.float32)).writeto(plain)
    with pytest.raises(InputError, match="has no celestial WCS"):
        output_frame([], [], refimage=plain)

    with pytest.raises(TypeError, match="'refimage' must be a FITS file name"):
        output_frame([], [], refimage=3)
