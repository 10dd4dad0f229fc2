"""Sky methods: globalmin (skysub.global_sky) and match (gpudriz.pipeline.steps.skymatch).

Unit tests of the offset solver and the anchoring, then the pipeline's sky
step on synthetic associations whose exposures see different skies: a
2-pointing association for globalmin, and a mosaic (pointings overlapping
by ~28 of 128 columns) with extended light added to the scene for match.
"""

import logging
import math
from itertools import combinations

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

import gpudriz
from gpudriz.demo.synthetic import make_association
from gpudriz.pipeline.steps.sky import global_sky
from gpudriz.pipeline.steps.skymatch import (
    CoarseMap,
    SkyPair,
    anchor_levels,
    overlapping_pairs,
    pair_difference,
    pair_differences,
    solve_offsets,
    well_covered,
)

CHIP = (64, 128)
SKY_ONLY = {"static": False, "driz_separate": False, "median": False, "blot": False,
            "driz_cr": False, "driz_combine": False}  # fmt: skip

# Extended light of the mosaic test: a band across the detector's y axis,
# Gaussian in x, centred in the second pointing's own part of the mosaic.
LIGHT_E = 40.0  # e- per pixel at the peak, for the association's exposure time
LIGHT_CENTRE_X = 30.0  # px, in the coordinates of the reference chip (exposure 2, SCI,1)
LIGHT_SIGMA = 50.0  # px


# --------------------------------------------------------------------------
# the solver
# --------------------------------------------------------------------------


def _exact_pairs(levels, edges, weight=1.0):
    return [(i, j, levels[i] - levels[j], weight) for i, j in edges]


def test_offsets_from_exact_differences():
    truth = np.array([10.0, 13.5, 8.25, 20.0, 11.0])
    offsets, groups = solve_offsets(5, _exact_pairs(truth, combinations(range(5), 2)))
    assert groups == [[0, 1, 2, 3, 4]]
    assert offsets[0] == 0.0
    np.testing.assert_allclose(offsets, truth - truth[0], atol=1e-12)


def test_a_chain_is_enough():
    # Exposures 0 and 3 never overlap; the chain 0-1-2-3 still ties them.
    truth = np.array([1.0, -2.0, 4.0, 0.5])
    offsets, groups = solve_offsets(4, _exact_pairs(truth, [(1, 0), (1, 2), (3, 2)]))
    assert groups == [[0, 1, 2, 3]]
    np.testing.assert_allclose(offsets, truth - truth[0], atol=1e-12)


def test_weights_decide_between_inconsistent_differences():
    # Triangle 0-1-2 whose differences do not close: weighted least squares.
    pairs = [(0, 1, 1.0, 1.0), (1, 2, 1.0, 4.0), (0, 2, 3.0, 0.5), (0, 1, 1.6, 2.0)]
    offsets, _ = solve_offsets(3, pairs)
    # Reference: the same problem with x_0 = 0 as an ordinary weighted lstsq.
    a = np.array([[-1.0, 0.0], [1.0, -1.0], [0.0, -1.0], [-1.0, 0.0]])  # columns x_1, x_2
    b = np.array([p[2] for p in pairs])
    sw = np.sqrt([p[3] for p in pairs])
    ref = np.linalg.lstsq(a * sw[:, None], b * sw, rcond=None)[0]
    np.testing.assert_allclose(offsets[1:], ref, atol=1e-12)
    # A pair repeated with a larger weight pulls harder: 0-1 now near 1.6.
    heavy, _ = solve_offsets(3, pairs[:3] + [(0, 1, 1.6, 200.0)])
    assert abs((heavy[0] - heavy[1]) - 1.6) < 0.02 < abs((offsets[0] - offsets[1]) - 1.6)


def test_disconnected_groups_are_solved_separately():
    truth = np.array([5.0, 7.0, 100.0, 90.0, 3.0, 42.0])
    pairs = _exact_pairs(truth, [(0, 1), (2, 3), (3, 5)])
    offsets, groups = solve_offsets(6, pairs)
    assert groups == [[0, 1], [2, 3, 5], [4]]
    np.testing.assert_allclose(offsets[[0, 1]], truth[[0, 1]] - truth[0], atol=1e-12)
    np.testing.assert_allclose(offsets[[2, 3, 5]], truth[[2, 3, 5]] - truth[2], atol=1e-12)
    assert offsets[4] == 0.0


def test_anchoring_keeps_every_level_at_or_below_localmin():
    offsets = np.array([0.0, 2.0, -1.0, 0.0, 5.0, 0.0])
    groups = [[0, 1, 2], [3, 4], [5]]
    local = np.array([10.0, 13.0, 9.5, 4.0, 8.0, 7.0])
    levels = anchor_levels(offsets, groups, local)
    # group 0: c = min(10, 11, 10.5) = 10; group 1: c = min(4, 3) = 3; group 2 keeps localmin.
    np.testing.assert_allclose(levels, [10.0, 12.0, 9.0, 3.0, 8.0, 7.0])
    assert (levels <= local).all()
    for g in groups:
        assert np.isclose(levels[g], local[g]).any()  # one exposure gets exactly its localmin
        np.testing.assert_allclose(np.diff(levels[g]), np.diff(offsets[g]))  # differences kept


@pytest.mark.parametrize(
    "pairs, match",
    [
        ([(0, 3, 1.0, 1.0)], "exposure 3"),
        ([(1, 1, 1.0, 1.0)], "itself"),
        ([(0, 1, math.nan, 1.0)], "difference"),
        ([(0, 1, 1.0, 0.0)], "weight"),
        ([(0, 1, 1.0)], r"\(i, j, difference, weight\)"),
    ],
)
def test_solver_names_bad_pairs(pairs, match):
    with pytest.raises(ValueError, match=match):
        solve_offsets(3, pairs)


def test_anchor_needs_a_partition():
    with pytest.raises(ValueError, match="exactly once"):
        anchor_levels([0.0, 1.0, 2.0], [[0, 1]], [1.0, 1.0, 1.0])


def test_pair_differences_cancel_the_scene():
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[:40, :60]
    scene = 50.0 * np.exp(-((xx - 30.0) ** 2 + (yy - 20.0) ** 2) / 200.0)  # both see it
    a = scene + 3.0 + rng.normal(0.0, 0.5, scene.shape)
    b = scene + 1.0 + rng.normal(0.0, 0.5, scene.shape)
    c = scene + 9.0
    va = xx < 40
    vb = xx >= 10  # a and b share 30 columns
    vc = (xx >= 58) & (yy < 5)  # overlaps b on 10 cells only
    pairs = pair_differences([a, b, c], [va, vb, vc], min_cells=20)
    assert [(p.i, p.j) for p in pairs] == [(0, 1)]
    assert isinstance(pairs[0], SkyPair)
    assert pairs[0].difference == pytest.approx(2.0, abs=0.05)
    assert pairs[0].ncells > 1000
    # the weight is an inverse variance: ~ n / (pi/2 * (0.5 * sqrt 2)**2)
    assert pairs[0].weight == pytest.approx(pairs[0].ncells / (math.pi / 2 * 0.5), rel=0.2)
    assert [(p.i, p.j) for p in pair_differences([a, b, c], [va, vb, vc], min_cells=5)] == [(0, 1), (1, 2)]


def test_overlapping_pairs_are_those_whose_boxes_intersect():
    rng = np.random.default_rng(4)
    boxes = []
    for _ in range(60):
        y0, x0 = rng.integers(0, 200, 2)
        h, w = rng.integers(1, 40, 2)
        boxes.append((int(y0), int(y0 + h), int(x0), int(x0 + w)))
    boxes[7] = boxes[30] = None
    boxes[11] = boxes[12]  # the same box twice
    boxes[13] = (boxes[12][1], boxes[12][1] + 5, boxes[12][2], boxes[12][3])  # touches 12's edge only
    want = [(i, j) for i, j in combinations(range(60), 2)
            if boxes[i] and boxes[j] and boxes[i][0] < boxes[j][1] and boxes[j][0] < boxes[i][1]
            and boxes[i][2] < boxes[j][3] and boxes[j][2] < boxes[i][3]]  # fmt: skip
    got = overlapping_pairs(boxes)
    assert got == want and (11, 12) in got and (12, 13) not in got
    assert len(got) < 60 * 59 // 4


def test_a_map_on_its_window_gives_the_pairs_of_the_whole_frame():
    rng = np.random.default_rng(8)
    a, b = rng.normal(10.0, 1.0, (40, 50)), rng.normal(12.0, 1.0, (40, 50))
    va, vb = np.zeros((40, 50), bool), np.zeros((40, 50), bool)
    va[5:30, 3:35], vb[12:38, 20:48] = True, True
    (whole,) = pair_differences([a, b], [va, vb])
    windows = [CoarseMap(4, 2, a[4:31, 2:36], va[4:31, 2:36]), CoarseMap(10, 19, b[10:40, 19:50], vb[10:40, 19:50])]
    assert windows[0].box == (5, 30, 3, 35) and windows[1].box == (12, 38, 20, 48)
    assert pair_difference(0, 1, *windows) == whole


def test_pair_differences_clip_cosmic_rays():
    # 30% of a's cells hold a cosmic ray: an unclipped median would move by ~0.4.
    rng = np.random.default_rng(8)
    a = 3.0 + rng.normal(0.0, 0.5, (50, 50))
    b = 1.0 + rng.normal(0.0, 0.5, (50, 50))
    a[rng.random(a.shape) < 0.3] += 1000.0
    ok = np.ones(a.shape, bool)
    (pair,) = pair_differences([a, b], [ok, ok])
    assert pair.difference == pytest.approx(2.0, abs=0.06)
    assert pair.ncells < 0.75 * a.size  # the hits were clipped


def test_only_well_covered_cells_are_used():

    wht = np.zeros((6, 8))
    wht[1:5, 1:7] = 16.0
    wht[1, 1:7] = 6.0  # a footprint edge, partly covered
    wht[3, 4] = 4.0  # mostly masked (a bad column, a saturated star)
    ok = well_covered(wht)
    want = np.zeros_like(ok)
    want[2:4, 2:6] = True  # inside: every neighbour covered
    want[3, 4] = False
    np.testing.assert_array_equal(ok, want)
    assert not well_covered(np.zeros((3, 3))).any()


# --------------------------------------------------------------------------
# globalmin
# --------------------------------------------------------------------------


def test_global_sky_compares_rates_per_unit_area():
    # Exposure 1 has more electrons but twice the time: its rate is lower.
    # Its second chip has 4x the pixel area: 300 e- there is 37.5 per unit area and time.
    skies = global_sky([[40.0, 44.0], [60.0, 300.0]], [[0.05, 0.05], [0.05, 0.1]], [400.0, 800.0])
    lowest = 60.0 / 800.0 / 0.05**2  # 30 e-/s/arcsec^2
    np.testing.assert_allclose(skies[0], [lowest * 400 * 0.05**2] * 2)  # 30 e-, below 40
    np.testing.assert_allclose(skies[1], [60.0, lowest * 800 * 0.1**2])  # 60 e-, 240 e-


def test_global_sky_skips_nan_and_names_bad_input(caplog):
    assert global_sky([[math.nan], [20.0]], [[1.0], [1.0]], [10.0, 10.0]) == [[20.0], [20.0]]
    with caplog.at_level(logging.WARNING, logger="gpudriz"):
        assert global_sky([[math.nan]], [[1.0]], [10.0]) == [[0.0]]
    assert "no sky is subtracted" in caplog.text
    with pytest.raises(ValueError, match="'exptimes'"):
        global_sky([[1.0]], [[1.0]], [0.0])
    with pytest.raises(ValueError, match="one entry per exposure"):
        global_sky([[1.0]], [[1.0]], [1.0, 2.0])


def _sky_step(asn, folder, **pars):
    md = gpudriz.Multidrizzle(input=str(asn), workdir=folder, backend="cpu", **pars)
    md.build()
    md.run(**SKY_ONLY)
    return md


@pytest.fixture(scope="module")
def association(tmp_path_factory):
    folder = tmp_path_factory.mktemp("globalmin")
    truth = make_association(folder, chip_shape=CHIP, seed=5)
    # Exposure 3 (the brightest sky) gets twice the exposure time in its
    # header only: per second it now has the faintest sky of all.
    with fits.open(folder / truth.exposures[3], mode="update") as h:
        h[0].header["EXPTIME"] = 2 * truth.exptime
    return folder, truth


def test_globalmin_gives_every_exposure_the_lowest_rate(association):
    folder, truth = association
    local = _sky_step(folder / truth.asn_file, folder, skymethod="localmin")
    glob = _sky_step(folder / truth.asn_file, folder, skymethod="globalmin")

    def rates(md):
        return np.array([w.sky / w.chip.exptime / w.chip.pixel_scale**2 for w in md.chips])

    lowest = rates(local).min()
    # Every chip of every exposure: the same surface-brightness rate, the minimum.
    np.testing.assert_allclose(rates(glob), lowest, rtol=1e-9)
    assert np.argmin(rates(local)) // 2 == 3  # the long exposure sets it, not the fewest electrons
    assert np.argmin([w.sky for w in local.chips]) // 2 != 3
    # localmin differs from exposure to exposure (the truth skies span > 10 e-).
    assert np.ptp(rates(local)) > 10.0 / truth.exptime / local.chips[0].chip.pixel_scale**2
    # MDRIZSKY is that rate converted back: electrons of each chip.
    for w in glob.chips:
        assert w.sky == pytest.approx(lowest * w.chip.exptime * w.chip.pixel_scale**2, rel=1e-9)


def test_skyuser_wins_over_skymethod(association):
    folder, truth = association
    md = _sky_step(folder / truth.asn_file, folder, skymethod="match", skyuser="MEANDARK")
    assert all(w.sky_by_user and w.sky == 0.0 for w in md.chips)


# --------------------------------------------------------------------------
# match, on a mosaic with extended light
# --------------------------------------------------------------------------


def _light(ref, ra, dec, amplitude):
    """The extended light at sky positions: a function of (RA, Dec) only."""
    x, _ = ref.wcs_world2pix(ra, dec, 0)
    return amplitude * np.exp(-0.5 * ((x - LIGHT_CENTRE_X) / LIGHT_SIGMA) ** 2)


def _add_light(folder, truth, ref):
    """Add the light to every chip of every exposure, through each chip's own WCS."""
    for name in truth.exposures:
        with fits.open(folder / name, mode="update") as h:
            for hdu in h:
                if hdu.name != "SCI":
                    continue
                y, x = np.indices(hdu.data.shape, dtype=float)
                ra, dec = WCS(hdu.header, h).all_pix2world(x, y, 0)
                # flt data are per nominal pixel area: a surface brightness.
                hdu.data = (hdu.data + _light(ref, ra, dec, LIGHT_E)).astype(np.float32)


@pytest.fixture(scope="module")
def mosaic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mosaic")
    truth = make_association(folder, chip_shape=CHIP, seed=6, dither=(100.0, 0.0))
    with fits.open(folder / truth.exposures[2]) as h:
        ref = WCS(h["SCI", 1].header, h)
    ref.sip = None  # a plain coordinate system on the sky
    _add_light(folder, truth, ref)
    local = _sky_step(folder / truth.asn_file, folder, skymethod="localmin")
    matched = _sky_step(folder / truth.asn_file, folder, skymethod="match")
    return folder, truth, ref, local, matched


def _exposure_skies(md):
    return np.array([md.chips[2 * e].sky for e in range(4)])


def test_match_recovers_the_sky_differences(mosaic):
    _, truth, _, local, matched = mosaic
    want = truth.sky - truth.sky[0]
    err_match = (_exposure_skies(matched) - _exposure_skies(matched)[0]) - want
    err_local = (_exposure_skies(local) - _exposure_skies(local)[0]) - want
    assert np.abs(err_match).max() < 1.0  # e-; ~0.3 e- noise from ~150 overlap cells per pair
    assert np.abs(err_local).max() > 10.0  # the light biases localmin (~26 e- here)
    for e in range(4):  # both chips of an exposure: one surface brightness
        assert matched.chips[2 * e].sky == pytest.approx(matched.chips[2 * e + 1].sky, rel=1e-9)


def test_match_is_anchored_on_localmin(mosaic):
    _, _, _, local, matched = mosaic
    lm, mt = _exposure_skies(local), _exposure_skies(matched)
    assert (mt <= lm + 1e-6).all()
    assert np.isclose(mt, lm, rtol=0, atol=1e-6).sum() >= 1


def test_matched_mosaic_shows_no_step(mosaic):
    _, truth, ref, local, matched = mosaic

    def steps(md):
        md.pars["context"] = True
        md.run(static=False, skysub=False, driz_separate=False, median=False, blot=False,
               driz_cr=False, driz_combine=True)  # fmt: skip
        with fits.open(md.products["drz"]) as h:
            sci, ctx, frame = h["SCI"].data, h["CTX"].data, WCS(h["SCI"].header)
        y, x = np.indices(sci.shape, dtype=float)
        ra, dec = frame.all_pix2world(x, y, 0)
        resid = sci - _light(ref, ra, dec, LIGHT_E / truth.exptime)  # e-/s, sky residual + sources
        first, second = (ctx & 0x0F) != 0, (ctx & 0xF0) != 0  # chips of exposures 0-1 / 2-3
        level = [np.median(resid[m]) for m in (first & ~second, first & second, second & ~first)]
        return np.abs(np.diff(level)) * truth.exptime  # e- per pixel

    # The localmin skies of the two pointings differ by ~26 e- more than the
    # truth's (the light), half of which shows at each edge of the overlap.
    assert steps(matched).max() < 1.0
    assert steps(local).max() > 8.0


def test_an_exposure_that_overlaps_nothing_keeps_localmin(tmp_path, caplog):
    truth = make_association(tmp_path, chip_shape=CHIP, seed=6, dither=(400.0, 0.0), n_stars=5,
                             n_galaxies=0)  # fmt: skip
    names = ",".join(str(tmp_path / n) for n in truth.exposures[:3])  # q, r at pointing 0; s far away
    local = _sky_step(names, tmp_path, skymethod="localmin")
    with caplog.at_level(logging.INFO, logger="gpudriz"):
        matched = _sky_step(names, tmp_path, skymethod="match")
    assert "j8demo01s_flt.fits overlaps no other exposure" in caplog.text
    lm, mt = (np.array([w.sky for w in md.chips]) for md in (local, matched))
    assert mt[4:] == pytest.approx(lm[4:], abs=1e-9)
    # q and r are matched: their difference is the truth's, and one keeps its localmin.
    assert (mt[0] - mt[2]) == pytest.approx(truth.sky[0] - truth.sky[1], abs=1.0)
    assert np.isclose(mt[:4], lm[:4], rtol=0, atol=1e-9).any()


def test_match_on_the_cuda_kernels_matches_the_cpu(mosaic):
    """skymatch's drizzles and masks through the CUDA driver (host-compiled .cu sources)."""
    from helpers.cuda_host import gxx_available, host_backend

    if not gxx_available():
        pytest.skip("g++ is needed for the host-compiled kernels")
    folder, truth, _, _, matched = mosaic
    md = gpudriz.Multidrizzle(input=str(folder / truth.asn_file), workdir=folder,
                              backend=host_backend(block=128, max_grid=16), skymethod="match")
    md.run(**SKY_ONLY)
    for a, b in zip(md.chips, matched.chips):
        assert a.sky == pytest.approx(b.sky, abs=1e-3)
