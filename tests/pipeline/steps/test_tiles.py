"""Tiled output (``tile_size``): a tiled run is the untiled run, cut into tiles on the same WCS.

The whole run of the shared association (``conftest.whole_run``, untiled) is
the reference; the tiled runs use a copy of the same association with the
same parameters.  The tiling touches only the final drizzle: the cosmic-ray
masks are the same files.
"""

import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, Sip

import gpudriz
from gpudriz.backend import memory as backend_memory
from gpudriz.cli import main
from gpudriz.demo.tiny_inputs import write_tiny_exposures
from gpudriz.pipeline.config.parameters import ParameterError
from gpudriz.pipeline.geometry.outframe import OutputFrame
from gpudriz.pipeline.io.tile_products import read_tile_table
from gpudriz.pipeline.memory import MemoryLimitError, RunSize, check_run, step_needs
from gpudriz.pipeline.steps.tiles import Tile, compact_context, plan_tiles, tile_frame

#: Tiles of 48 pixels on the association's ~200 x 230 frame: 5 x 5 tiles, smaller edge tiles,
#: corner tiles that no chip touches.
N = 48
EXTS = ("SCI", "WHT", "CTX", "ERR")


def _tiled_run(association, whole_run, tmp_path_factory, name, **pars):
    """The whole run's parameters and ``pars`` on a copy of the association."""
    src, truth = association
    folder = tmp_path_factory.mktemp(name)
    for p in src.iterdir():
        shutil.copy(p, folder / p.name)
    same = {k: v for k, v in whole_run.pars.changed().items() if k not in ("input", "backend")}
    md = gpudriz.Multidrizzle(input=str(folder / truth.asn_file), workdir=folder, backend="cpu",
                              **{**same, **pars})  # fmt: skip
    md.run()
    return md


@pytest.fixture(scope="module")
def tiled(association, whole_run, tmp_path_factory):
    return _tiled_run(association, whole_run, tmp_path_factory, "tiled", tile_size=N)


def _bits(ctx, n):
    """Context planes (2-D or 3-D int32) as an ``(n, ny, nx)`` array of 0/1, bit k first."""
    ctx = np.asarray(ctx, dtype=np.int32)  # native byte order (FITS data are big-endian)
    planes = (ctx if ctx.ndim == 3 else ctx[None]).view(np.uint32)
    return np.stack([(planes[k // 32] >> np.uint32(k % 32)) & np.uint32(1) for k in range(n)])


def _full(whole_run):
    with fits.open(whole_run.products["drz"]) as h:
        return {name: h[name].data.copy() for name in EXTS}, h["SCI"].header.copy()


def test_a_tiled_run_is_the_untiled_run_cut_into_tiles(whole_run, tiled):
    full, _ = _full(whole_run)
    nchips = len(whole_run.chips)
    table = read_tile_table(tiled.products["tiles"])
    assert len(table) > 1
    covered = np.zeros(full["WHT"].shape, bool)
    for row in table:
        window = (slice(row["y0"], row["y0"] + row["ny"]), slice(row["x0"], row["x0"] + row["nx"]))
        covered[window] = True
        with fits.open(tiled.workdir / row["file"]) as h:
            tile = {name: h[name].data for name in EXTS}
            bits_table = h["CTXBITS"].data
            assert h[0].header["TILEX0"] == row["x0"] and h[0].header["TILEY0"] == row["y0"]
            assert len(h["INPUTS"].data) == nchips  # the run's provenance, as the untiled product
        assert tile["SCI"].shape == (row["ny"], row["nx"]) and (tile["WHT"] > 0).any()
        np.testing.assert_array_equal(tile["WHT"] > 0, full["WHT"][window] > 0)
        both = tile["WHT"] > 0
        for name in ("SCI", "WHT", "ERR"):
            ref = full[name][window]
            np.testing.assert_allclose(tile[name][both], ref[both], rtol=2e-6,
                                       atol=2e-6 * np.abs(full[name][full["WHT"] > 0]).max(), err_msg=name)  # fmt: skip
        # Context: bit k of the tile is chip chips[k]; no other chip has a bit there.
        chips = list(row["chips"])
        assert row["nchips"] == len(chips) and list(bits_table["INPUT"]) == chips
        assert list(bits_table["BIT"]) == list(range(len(chips)))
        full_bits = _bits(full["CTX"][..., window[0], window[1]], nchips)
        np.testing.assert_array_equal(_bits(tile["CTX"], len(chips)), full_bits[chips])
        others = [k for k in range(nchips) if k not in chips]
        assert not full_bits[others].any()
        # Listed chips are those that reach the tile, not every chip whose box is near it.
        assert full_bits[chips].any(axis=(1, 2)).all()
    # Every pixel with weight is in a tile written.
    assert not (full["WHT"][~covered] > 0).any()


def test_the_cosmic_ray_masks_are_the_untiled_runs(whole_run, tiled):
    masks = [k for k in whole_run.products if k.startswith("crmask:")]
    assert masks and masks == [k for k in tiled.products if k.startswith("crmask:")]
    for key in masks:
        with fits.open(whole_run.products[key]) as a, fits.open(tiled.products[key]) as b:
            for ha, hb in zip(a[1:], b[1:]):
                np.testing.assert_array_equal(ha.data, hb.data, err_msg=key)


def test_the_tile_table_lists_every_tile_written_and_only_those(whole_run, tiled):
    table = read_tile_table(tiled.products["tiles"])
    ny, nx = whole_run.final_frame.shape
    assert table.colnames == ["file", "ix", "iy", "x0", "y0", "nx", "ny", "nchips", "chips"]
    assert table.meta["tile_size"] == N and (table.meta["frame_nx"], table.meta["frame_ny"]) == (nx, ny)
    for row in table:
        assert row["file"] == f"{whole_run.output}_x{row['ix']}y{row['iy']}_drz.fits"
        assert (row["x0"], row["y0"]) == (row["ix"] * N, row["iy"] * N)
        assert (row["nx"], row["ny"]) == (min(N, nx - row["x0"]), min(N, ny - row["y0"]))
        assert 0 < row["nchips"] <= len(whole_run.chips)
    on_disk = sorted(p.name for p in tiled.workdir.glob(f"{whole_run.output}_x*y*_drz.fits"))
    assert on_disk == sorted(table["file"])
    assert sorted(k for k in tiled.products if k.startswith("drz:")) == sorted(
        f"drz:x{r['ix']}y{r['iy']}" for r in table)
    assert "drz" not in tiled.products and not (tiled.workdir / f"{whole_run.output}_drz.fits").exists()
    # Untouched tiles exist here (the frame is rotated against the chips) and are not written.
    n_tiles = -(-nx // N) * -(-ny // N)
    assert len(table) < n_tiles
    full, _ = _full(whole_run)
    written = {(r["ix"], r["iy"]) for r in table}
    for t in plan_tiles((ny, nx), N):
        if (t.ix, t.iy) not in written:
            assert not (full["WHT"][t.y0:t.y0 + t.ny, t.x0:t.x0 + t.nx] > 0).any()


def test_a_sky_position_maps_to_one_frame_pixel_through_every_tile(whole_run, tiled):
    _, sci_header = _full(whole_run)
    frame_wcs = WCS(sci_header)
    table = read_tile_table(tiled.products["tiles"])
    rng = np.random.default_rng(3)
    for row in table:
        with fits.open(tiled.workdir / row["file"]) as h:
            w = WCS(h["SCI"].header)
        # Points spread over this tile and beyond it: a tile's WCS holds the whole frame's plane.
        x = rng.uniform(-20, 220, 50)
        y = rng.uniform(-20, 250, 50)
        ra, dec = frame_wcs.pixel_to_world_values(x, y)
        tx, ty = w.world_to_pixel_values(ra, dec)
        np.testing.assert_allclose(tx + row["x0"], x, atol=1e-7)
        np.testing.assert_allclose(ty + row["y0"], y, atol=1e-7)


def test_one_tile_larger_than_the_frame_is_the_untiled_product(association, tmp_path_factory, whole_run):
    md = _tiled_run(association, whole_run, tmp_path_factory, "one_tile", tile_size=4096)
    full, sci_header = _full(whole_run)
    table = read_tile_table(md.products["tiles"])
    assert len(table) == 1 and (table[0]["ix"], table[0]["iy"], table[0]["x0"], table[0]["y0"]) == (0, 0, 0, 0)
    assert list(table[0]["chips"]) == list(range(len(whole_run.chips)))
    with fits.open(md.products["drz:x0y0"]) as h:
        for name in EXTS:
            np.testing.assert_array_equal(h[name].data, full[name], err_msg=name)
        assert WCS(h["SCI"].header).to_header_string() == WCS(sci_header).to_header_string()
        assert h[0].header["NDRIZIM"] == len(whole_run.chips)


def test_without_context_the_tiles_have_no_ctx_and_the_table_still_lists_their_chips(association, whole_run,
                                                                                          tiled, tmp_path_factory):  # fmt: skip
    md = _tiled_run(association, whole_run, tmp_path_factory, "tiles_no_ctx", tile_size=N, context=False)
    with_ctx = read_tile_table(tiled.products["tiles"])
    table = read_tile_table(md.products["tiles"])
    assert list(table["file"]) == list(with_ctx["file"]) and list(table["nchips"]) == list(with_ctx["nchips"])
    assert [tuple(c) for c in table["chips"]] == [tuple(c) for c in with_ctx["chips"]]
    for row in table:
        with fits.open(md.workdir / row["file"]) as a, fits.open(tiled.workdir / row["file"]) as b:
            assert "CTX" not in a and "CTXBITS" not in a
            for name in ("SCI", "WHT", "ERR"):
                np.testing.assert_array_equal(a[name].data, b[name].data, err_msg=name)


def test_build_no_writes_simple_files_per_tile_and_clean_removes_the_intermediates(association, whole_run,
                                                                                     tmp_path_factory):  # fmt: skip
    md = _tiled_run(association, whole_run, tmp_path_factory, "tiles_build_no", tile_size=100, build=False, clean=True)
    table = read_tile_table(md.products["tiles"])
    out = md.output
    for row in table:
        root = f"{out}_x{row['ix']}y{row['iy']}"
        assert row["file"] == f"{root}_drz_sci.fits"
        for plane in ("sci", "wht", "ctx", "err"):
            path = md.workdir / f"{root}_drz_{plane}.fits"
            assert md.products[f"drz_{plane}:x{row['ix']}y{row['iy']}"] == path
            with fits.open(path) as h:
                assert h[0].data.shape == (row["ny"], row["nx"]) and h[0].header["TILEX0"] == row["x0"]
                assert ("INPUTS" in h) == (plane == "sci") and ("CTXBITS" in h) == (plane == "ctx")
    assert not list(md.workdir.glob("*_drz.fits"))
    assert not list(md.workdir.glob("*_single_sci.fits")) and not list(md.workdir.glob("*_blt.fits"))
    assert "tile_size=100" in md.products["runfile"].read_text()


# -- the memory check -----------------------------------------------------------------------------


def test_a_frame_too_large_untiled_is_refused_suggesting_tile_size(tmp_path, monkeypatch):
    write_tiny_exposures(tmp_path / "in", 3)
    (tmp_path / "run").mkdir()
    cg = tmp_path / "cg"
    cg.mkdir()
    (cg / "memory.max").write_text(f"{64 * 2**20}\n")
    (cg / "memory.current").write_text("0\n")
    monkeypatch.setattr(backend_memory, "CGROUP_ROOT", cg)

    def md(**pars):
        return gpudriz.Multidrizzle(input=str(tmp_path / "in" / "*_flt.fits"), workdir=tmp_path / "run",
                                    backend="cpu", rdnoise=5.0, final_outnx=3000, final_outny=3000,
                                    final_scale=0.1, **pars)  # fmt: skip

    with pytest.raises(MemoryLimitError) as err:
        md().run()
    msg = str(err.value)
    assert msg.count(". ") == 0 and msg.endswith(".")  # one sentence
    assert "driz_combine step needs about" in msg and "3000x3000 final frame" in msg
    suggested = int(msg.split("tile_size=")[1].split(" ")[0])
    assert suggested >= 256 and suggested % 256 == 0
    assert not list((tmp_path / "run").iterdir())  # refused before any work
    # The suggested tile size runs, writing only the tiles the inputs touch.
    run = md(tile_size=suggested)
    products = run.run()
    table = read_tile_table(products["tiles"])
    assert 0 < len(table) < (-(-3000 // suggested)) ** 2


def test_the_final_steps_need_is_one_tiles_with_tile_size():
    size = RunSize(chip_shapes=((64, 128),) * 8, chip_keys=(1, 2) * 4, n_exposures=4,
                   separate_shape=(200, 200), final_shape=(20000, 30000), driz_cr_corr=False,
                   context=True)  # fmt: skip
    todo = {"driz_combine": True}
    untiled = step_needs(size, todo)[0]
    tiled = step_needs(RunSize(**{**size.__dict__, "tile_size": 1000}), todo)[0]
    assert "20000" in untiled.detail.replace("30000x20000", "20000") and "one 1000x1000 tile" in tiled.detail
    assert untiled.bytes - tiled.bytes == pytest.approx((20000 * 30000 - 1000**2) * 26, rel=0.01)
    edge = step_needs(RunSize(**{**size.__dict__, "final_shape": (300, 500), "tile_size": 1000}), todo)[0]
    assert "one 500x300 tile" in edge.detail  # a tile larger than the frame is the frame
    check_run(RunSize(**{**size.__dict__, "tile_size": 256}), todo)  # fits in any test machine


# -- parameters, tiles, context --------------------------------------------------------------------


@pytest.mark.parametrize("value", [-1, 2.5, "abc", "-3", True])
def test_bad_tile_sizes_are_refused_in_one_sentence(value):
    with pytest.raises(ParameterError) as err:
        gpudriz.Multidrizzle(input="x.fits", tile_size=value)
    assert str(err.value) == f"tile_size = {value!r} is not valid: expected an integer >= 0."


def test_the_command_line_takes_tile_size(tmp_path, monkeypatch, capsys):
    write_tiny_exposures(tmp_path / "in", 3)
    monkeypatch.chdir(tmp_path)
    assert main([str(tmp_path / "in" / "*_flt.fits"), "tile_size=-2"]) == 1
    assert "tile_size = '-2' is not valid: expected an integer >= 0." in capsys.readouterr().err
    assert main([str(tmp_path / "in" / "*_flt.fits"), "tile_size=16", "backend=cpu", "rdnoise=5"]) == 0
    table = read_tile_table(tmp_path / "final_tiles.ecsv")
    assert len(table) > 1 and all((tmp_path / f).is_file() for f in table["file"])
    assert not (tmp_path / "final_drz.fits").exists()


def test_tile_size_from_text_and_its_default():
    assert gpudriz.Multidrizzle(input="x.fits").pars["tile_size"] == 0
    assert gpudriz.Multidrizzle(input="x.fits", tile_size="512").pars["tile_size"] == 512
    assert gpudriz.Multidrizzle(input="x.fits", tile_size=512.0).pars["tile_size"] == 512


def test_plan_tiles_covers_the_frame_once():
    tiles = plan_tiles((70, 130), 32)
    assert [(t.ix, t.iy) for t in tiles[:5]] == [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0)]
    assert tiles[4] == Tile(4, 0, 128, 0, 2, 32) and tiles[-1] == Tile(4, 2, 128, 64, 2, 6)
    count = np.zeros((70, 130), int)
    for t in tiles:
        count[t.y0:t.y0 + t.ny, t.x0:t.x0 + t.nx] += 1
    assert (count == 1).all()
    assert plan_tiles((70, 130), 500) == [Tile(0, 0, 0, 0, 130, 70)]


def test_a_tile_frame_moves_crpix_and_a_sip_distortion_with_it():
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    w.wcs.crval, w.wcs.crpix, w.wcs.cdelt = [10.0, 20.0], [50.5, 40.5], [-1e-5, 1e-5]
    a = np.zeros((3, 3))
    a[2, 0] = 1e-6
    b = np.zeros((3, 3))
    b[0, 2] = -2e-6
    w.sip = Sip(a, b, None, None, w.wcs.crpix)
    w.pixel_shape = (100, 80)
    frame = OutputFrame(w, (80, 100))
    tile = Tile(1, 1, 32, 32, 32, 32)
    t = tile_frame(frame, tile)
    assert t.shape == (32, 32) and t.wcs.pixel_shape == (32, 32)
    assert list(t.wcs.wcs.crpix) == [18.5, 8.5] and tuple(t.wcs.sip.crpix) == (18.5, 8.5)
    x, y = np.array([0.0, 40.0, 90.0]), np.array([3.0, 45.0, 77.0])
    np.testing.assert_allclose(t.wcs.all_pix2world(x - 32, y - 32, 0), w.all_pix2world(x, y, 0), rtol=0, atol=1e-12)
    assert frame.wcs.wcs.crpix[0] == 50.5  # the frame itself is untouched


def test_compact_context_keeps_and_renumbers_the_bits():
    rng = np.random.default_rng(0)
    n = 40
    bits = rng.integers(0, 2, (n, 4, 5)).astype(np.uint32)
    planes = np.zeros((2, 4, 5), np.uint32)
    for k in range(n):
        planes[k // 32] |= bits[k] << np.uint32(k % 32)
    keep = [0, 3, 31, 32, 39]
    out = compact_context(planes.view(np.int32), keep)
    assert out.dtype == np.int32 and out.shape == (1, 4, 5)
    np.testing.assert_array_equal(_bits(out, len(keep)), bits[keep])
