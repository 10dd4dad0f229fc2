"""The mosaic mode (gpudriz.pipeline.graph): the same products as the single-frame pipeline, resumable.

The tiled run of the demo association is compared with the untiled one in
``tests/pipeline/steps/test_tiles.py`` (it runs the mosaic mode's task graph);
here: every combine type, the task records (a rerun after a crash redoes only
what is missing, a changed parameter only what depends on it), Dask workers
(the same products, also when one is killed mid-run), and 400 inputs under a
limit of 256 open files.
"""

import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import psutil
import pytest
from astropy.io import fits
from helpers.tiny_runs import tiny_folder, tiny_multidrizzle

import gpudriz
from gpudriz.demo.mosaic_data import make_mosaic
from gpudriz.demo.tiny_inputs import write_tiny_exposures
from gpudriz.pipeline.execution import ExecutionStart
from gpudriz.pipeline.io.tile_products import read_tile_table
from gpudriz.pipeline.state import PipelineError
from gpudriz.pipeline.steps import median_noise, mosaic_tasks
from gpudriz.pipeline.steps.chipdata import pixmap_to

TILE = 16
PARS = dict(backend="cpu", rdnoise=5.0)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return tiny_folder(tmp_path_factory, "tiny_in", 6, seed=3)


def _run(inputs, folder, **pars):
    md = tiny_multidrizzle(inputs, folder, {**PARS, **pars})
    md.run()
    return md


def _crmasks(md):
    out = {}
    for key, path in md.products.items():
        if key.startswith("crmask:"):
            with fits.open(path) as h:
                out[key] = [hdu.data.copy() for hdu in h[1:]]
    return out


def _assemble(md):
    """The tiled SCI and WHT assembled into the whole frame."""
    table = read_tile_table(md.products["tiles"])
    ny, nx = md.final_frame.shape
    sci, wht = np.zeros((ny, nx), np.float32), np.zeros((ny, nx), np.float32)
    for row in table:
        with fits.open(md.workdir / row["file"]) as h:
            win = (slice(row["y0"], row["y0"] + row["ny"]), slice(row["x0"], row["x0"] + row["nx"]))
            sci[win], wht[win] = h["SCI"].data, h["WHT"].data
    return sci, wht


def _assert_same_science(whole, tiled):
    a, b = _crmasks(whole), _crmasks(tiled)
    assert a.keys() == b.keys() and a
    for key in a:
        for ma, mb in zip(a[key], b[key]):
            np.testing.assert_array_equal(ma, mb, err_msg=key)
    with fits.open(whole.products["drz"]) as h:
        sci, wht = h["SCI"].data, h["WHT"].data
    tsci, twht = _assemble(tiled)
    np.testing.assert_array_equal(twht > 0, wht > 0)
    both = wht > 0
    np.testing.assert_allclose(twht[both], wht[both], rtol=2e-6)
    np.testing.assert_allclose(tsci[both], sci[both], rtol=2e-6, atol=2e-6 * np.abs(sci[both]).max())


@pytest.mark.parametrize("combine", [dict(combine_type="median"), dict(combine_type="minmed"),
                                     dict(combine_type="minmax", combine_nhigh=1)], ids=lambda c: c["combine_type"])
def test_the_mosaic_mode_gives_the_single_frame_products(inputs, tmp_path, combine):
    whole = _run(inputs, tmp_path / "whole", **combine)
    tiled = _run(inputs, tmp_path / "tiled", tile_size=TILE, **combine)
    assert tiled.task_counts["median"][1] > 1  # the median was made in several tiles
    _assert_same_science(whole, tiled)


@pytest.fixture(scope="module")
def pointings(tmp_path_factory):
    """Four pointings of two exposures each, overlapping: the tiles at the edges miss some single images."""
    folder = tmp_path_factory.mktemp("pointings")
    make_mosaic(folder, 8, chip_shape=(64, 64), seed=4)
    return folder


def test_minmax_counts_the_single_images_that_miss_a_tile(pointings, tmp_path):
    """A median tile stacks only the single images that reach it, yet minmax's rejections count all of them."""
    pars = dict(combine_type="minmax", combine_nhigh=1)
    whole = _run(pointings, tmp_path / "whole", **pars)
    tiled = _run(pointings, tmp_path / "tiled", tile_size=64, **pars)
    fewer = 0
    for path in (tmp_path / "tiled").glob("*_med_count_x*y*.fits"):
        with fits.open(path) as h:
            fewer += 0 < h[0].data.max() < 8
    assert fewer > 0  # some tiles are reached by fewer than the 8 single images
    _assert_same_science(whole, tiled)


def test_skymatch_as_tasks_gives_the_single_frame_skies_and_resumes(pointings, tmp_path):
    """Each exposure's map on its own window, the pairs' differences in tasks: the skies of the whole-frame maps."""
    sky_only = dict(driz_separate=False, median=False, blot=False, driz_cr=False, driz_combine=False)
    runs = []
    for folder, pars in (("whole", {}), ("tiled", dict(tile_size=64)), ("tiled", dict(tile_size=64))):
        md = tiny_multidrizzle(pointings, tmp_path / folder, {**PARS, "skymethod": "match", **pars})
        md.run(**sky_only)
        runs.append(md)
    whole, tiled, rerun = runs
    assert [w.sky for w in tiled.chips] == [w.sky for w in whole.chips]
    assert len({round(w.sky, 3) for w in whole.chips}) == 8  # a sky per exposure: matched, not one for all
    done, tasks = tiled.task_counts["skypairs"]
    assert done == tasks == 7  # every exposure but the last has later ones it overlaps
    assert rerun.task_counts["skymatch"][0] == rerun.task_counts["skypairs"][0] == 0
    assert [w.sky for w in rerun.chips] == [w.sky for w in whole.chips]


def test_the_blot_tasks_get_the_median_noise_made_once_for_the_run(inputs, tmp_path, monkeypatch):
    """Each worker process used to make them in its first blot task (a simulation of ~2 s, minmax's still)."""
    def made_again(*args):
        raise AssertionError("a blot task made the median's noise variances")

    monkeypatch.setattr(median_noise, "statistic_variances", made_again)
    _run(inputs, tmp_path, tile_size=TILE)


def test_a_rerun_after_a_crash_redoes_only_the_missing_tasks(inputs, tmp_path, monkeypatch):
    undisturbed = _run(inputs, tmp_path / "undisturbed", tile_size=TILE)
    real, calls = mosaic_tasks.blot_task, []

    def crashing(*args):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("worker lost")
        return real(*args)

    monkeypatch.setattr(mosaic_tasks, "blot_task", crashing)
    with pytest.raises(RuntimeError, match="worker lost"):
        _run(inputs, tmp_path / "crashed", tile_size=TILE)
    monkeypatch.setattr(mosaic_tasks, "blot_task", real)
    resumed = _run(inputs, tmp_path / "crashed", tile_size=TILE)
    counts = resumed.task_counts
    for stage in ("static", "sky", "separate", "median"):
        assert counts[stage][0] == 0, stage
    assert counts["blot"] == (counts["blot"][1] - 3, 12)  # the three blots done before the crash are kept
    assert counts["driz_cr"][0] == counts["driz_cr"][1]
    _assert_same_products(undisturbed, resumed)


def _assert_same_products(a, b, *, exact=True):
    """The same cosmic-ray masks and final tiles; ``exact=False``: images within float32 rounding."""
    for key in a.products:
        if key.startswith(("drz", "crmask")):
            with fits.open(a.products[key]) as ha, fits.open(b.products[key]) as hb:
                for x, y in zip(ha, hb):
                    if x.data is None or isinstance(x, fits.BinTableHDU):
                        continue
                    if exact or key.startswith("crmask") or x.name == "CTX":
                        np.testing.assert_array_equal(x.data, y.data, err_msg=key)
                    else:
                        np.testing.assert_allclose(y.data, x.data, rtol=2e-6,
                                                   atol=2e-6 * float(np.abs(x.data).max()), err_msg=key)


def test_a_rerun_redoes_what_a_changed_parameter_touches_and_nothing_else(inputs, tmp_path):
    _run(inputs, tmp_path / "run", tile_size=TILE)
    same = _run(inputs, tmp_path / "run", tile_size=TILE)
    assert all(done == 0 for done, _ in same.task_counts.values())
    changed = _run(inputs, tmp_path / "run", tile_size=TILE, final_pixfrac=0.8)
    # Every task key holds the run's changed parameters: a changed final parameter reruns everything
    # whose key holds it; the records of the first run are replaced, never mixed with the new ones.
    assert changed.task_counts["final"][0] == changed.task_counts["final"][1]
    fresh = _run(inputs, tmp_path / "fresh", tile_size=TILE, final_pixfrac=0.8)
    _assert_same_products(fresh, changed)


def test_a_changed_input_file_reruns_its_tasks(inputs, tmp_path):
    local = tmp_path / "in"
    local.mkdir()
    for p in inputs.iterdir():
        (local / p.name).write_bytes(p.read_bytes())
    _run(local, tmp_path / "run", tile_size=TILE)
    first = sorted(local.glob("*_flt.fits"))[0]
    with fits.open(first, mode="update") as h:
        h[1].data[3, 3] += 1.0
    again = _run(local, tmp_path / "run", tile_size=TILE)
    assert again.task_counts["separate"][0] >= 1 and again.task_counts["static"][0] == 2


def test_every_file_written_passes_fits_verification(inputs, tmp_path):
    """Intermediates are written without astropy's card check (their headers are made here): still valid FITS."""
    md = _run(inputs, tmp_path / "out", tile_size=TILE)
    written = sorted((tmp_path / "out").rglob("*.fits"))
    assert any("_blt" in p.name for p in written) and any("single" in p.name for p in written)
    for path in written:
        with fits.open(path) as hdul:
            hdul.verify("exception")
    assert md.products


def test_workinplace_is_refused_in_the_mosaic_mode(inputs, tmp_path):
    with pytest.raises(PipelineError, match="workinplace=yes is not available in the mosaic mode"):
        _run(inputs, tmp_path / "run", tile_size=TILE, workinplace=True)


def test_400_inputs_run_under_a_limit_of_256_open_files(tmp_path):
    write_tiny_exposures(tmp_path / "in", 400, shape=(16, 32), seed=5)
    (tmp_path / "run").mkdir()
    script = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        import gpudriz
        md = gpudriz.Multidrizzle(input={str(tmp_path / "in" / "*_flt.fits")!r}, workdir={str(tmp_path / "run")!r},
                                  backend="cpu", rdnoise=5.0, tile_size=32)
        md.run()
        print("tiles", md.products["tiles"])
    """)
    # From tmp_path: run in a checkout, `python -c` would import its gpudriz/ folder, not the installed package.
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "run" / "final_tiles.ecsv").is_file()


def test_chips_and_frames_travel_to_a_worker_exactly(inputs, tmp_path):
    md = gpudriz.Multidrizzle(input=str(inputs / "*_flt.fits"), workdir=inputs, **PARS).build()
    frame = pickle.loads(pickle.dumps(md.separate_frame))
    for w in md.chips[:2]:
        chip = pickle.loads(pickle.dumps(w.task_input())).chip
        np.testing.assert_array_equal(pixmap_to(chip, frame, md.backend), pixmap_to(w.chip, md.separate_frame, md.backend))
        np.testing.assert_array_equal(chip.wcs.wcs.crval, w.chip.wcs.wcs.crval)


def test_the_mosaic_tasks_chips_travel_without_their_header(inputs):
    """The SCI header copy (no task reads it) is half of a pickled chip; everything else travels."""
    md = gpudriz.Multidrizzle(input=str(inputs / "*_flt.fits"), workdir=inputs, **PARS).build()
    w = md.chips[0]
    full, light = w.task_input(), w.task_input(header=False)
    assert len(light.chip.header) == 0 and len(full.chip.header) > 0 and len(w.chip.header) > 0
    assert light.chip.wcs is w.chip.wcs and light.chip.shape == w.chip.shape and light.chip.path == w.chip.path
    assert len(pickle.dumps(light)) < 0.75 * len(pickle.dumps(full))


def test_two_dask_workers_give_the_products_of_this_process(inputs, tmp_path, monkeypatch):
    # skymethod=match: its maps and pairs run as tasks too (localmin's sky tasks run in the killed-worker test).
    serial = _run(inputs, tmp_path / "serial", tile_size=TILE, skymethod="match")
    # The build reads the headers once the cluster is open: shared with the workers (its chips travel back).
    real_map, shared = ExecutionStart.map, []

    def map_once_open(self, *args):
        self._future.result()
        shared.append(1)
        return real_map(self, *args)

    monkeypatch.setattr(ExecutionStart, "map", map_once_open)
    parallel = _run(inputs, tmp_path / "parallel", tile_size=TILE, workers=2, skymethod="match")
    assert shared and parallel.task_counts == serial.task_counts and serial.task_counts["skypairs"][0] == 5
    for a, b in zip(serial.chips, parallel.chips):
        np.testing.assert_array_equal(a.chip.wcs.all_pix2world([[0, 0], [40, 24]], 0),
                                      b.chip.wcs.all_pix2world([[0, 0], [40, 24]], 0))
    assert parallel.final_frame.header().tostring() == serial.final_frame.header().tostring()
    # A worker's Numba kernels run on its share of the cores: sums in another order, the last bit of float32.
    _assert_same_products(serial, parallel, exact=False)


def _kill_a_worker_once_records_appear(stage_folder, killed, timeout=300.0):
    """Wait for ``stage_folder`` to hold a task record, then SIGKILL one Dask worker process of this process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stage_folder.is_dir() and any(stage_folder.glob("*.json")):
            workers = [p for p in psutil.Process().children(recursive=True)
                       if "spawn_main" in " ".join(p.cmdline())]  # fmt: skip
            if workers:
                workers[0].send_signal(signal.SIGKILL)
                killed.append(workers[0].pid)
                return
        time.sleep(0.02)


def test_a_dask_worker_killed_mid_run_changes_no_product(inputs, tmp_path):
    serial = _run(inputs, tmp_path / "serial", tile_size=TILE)
    folder = tmp_path / "killed"
    killed = []
    # The first blot recorded: the other blots are queued or running on the workers.
    killer = threading.Thread(target=_kill_a_worker_once_records_appear,
                              args=(folder / "final_tasks" / "blot", killed), daemon=True)  # fmt: skip
    killer.start()
    disturbed = _run(inputs, folder, tile_size=TILE, workers=2)
    killer.join(timeout=5)
    assert killed, "no worker was killed: the run ended before the blot stage recorded a task"
    assert not psutil.pid_exists(killed[0]) or psutil.Process(killed[0]).status() == psutil.STATUS_ZOMBIE
    assert disturbed.task_counts == serial.task_counts
    _assert_same_products(serial, disturbed, exact=False)
