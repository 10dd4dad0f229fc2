"""Nothing silently wrong: name clashes, open files, header growth, bad inputs found at build,
truncated files, leftovers of killed runs, non-ASCII paths, concurrent runs, memory limits.

Every test runs the pipeline on tiny inputs (:mod:`gpudriz.demo.tiny_inputs`, 16 x 32 chips);
the crash, open-file and full-disk cases run it in a subprocess.
"""

import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from astropy.io import fits

import gpudriz
from gpudriz.backend import memory as backend_memory
from gpudriz.demo.tiny_inputs import write_tiny_exposures
from gpudriz.pipeline import memory
from gpudriz.pipeline.io.inputs import InputError, resolve_inputs
from gpudriz.pipeline.multidrizzle import PipelineError
from gpudriz.pipeline.workfolder import LOCK_NAME, TEMP_MARK


def _md(folder, pattern="*_flt.fits", **pars):
    run = folder / "run"
    run.mkdir(exist_ok=True)
    return gpudriz.Multidrizzle(input=str(folder / "in" / pattern), workdir=run, backend="cpu", rdnoise=5.0,
                                **pars)  # fmt: skip


@pytest.fixture
def tiny(tmp_path):
    write_tiny_exposures(tmp_path / "in", 3)
    return tmp_path


def _python(script, cwd, timeout=300, preexec=None):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, preexec_fn=preexec)  # fmt: skip


# -- 1: rootname clashes ---------------------------------------------------------------


def test_two_exposures_with_one_rootname_are_refused_naming_both(tiny):
    second = tiny / "in" / "tiny0001_flt.fits"
    with fits.open(second, mode="update") as h:
        h[0].header["ROOTNAME"] = "tiny0000"
    with pytest.raises(InputError) as err:
        _md(tiny).build()
    msg = str(err.value)
    assert "tiny0000_flt.fits" in msg and "tiny0001_flt.fits" in msg and "'tiny0000'" in msg


def test_flt_and_flc_of_one_exposure_are_refused(tiny):
    shutil.copy(tiny / "in" / "tiny0002_flt.fits", tiny / "in" / "tiny0002_flc.fits")
    with pytest.raises(InputError, match="tiny0002_flc.fits.*|.*tiny0002_flt.fits") as err:
        _md(tiny, pattern="tiny*.fits").build()
    assert "tiny0002_flt.fits" in str(err.value) and "tiny0002_flc.fits" in str(err.value)


# -- 2: a bounded number of open files ---------------------------------------------------


def test_median_of_300_inputs_under_64_open_files(tmp_path):
    """Without one-file-at-a-time reading the median holds 600 files open and fails."""
    write_tiny_exposures(tmp_path / "in", 300)
    (tmp_path / "run").mkdir()
    script = f"""
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        import gpudriz
        md = gpudriz.Multidrizzle(input={str(tmp_path / "in" / "*_flt.fits")!r}, workdir={str(tmp_path / "run")!r},
                                  backend="cpu", rdnoise=5.0)
        md.run(static=False, skysub=False, driz_separate=True, median=True, blot=False, driz_cr=False,
               driz_combine=False)
        print("median", md.state.median.path)
    """
    t0 = time.perf_counter()
    proc = _python(script, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "run" / "final_med.fits").is_file()
    print(f"300 inputs: {time.perf_counter() - t0:.1f} s")


# -- 3: fixed-size headers; provenance once, in the product ---------------------------------


def _cards(path):
    with fits.open(path) as h:
        return len(h[0].header)


def test_intermediate_headers_do_not_grow_with_the_inputs(tmp_path):
    sizes = {}
    for n in (2, 6):
        folder = tmp_path / f"n{n}"
        write_tiny_exposures(folder / "in", n)
        md = _md(folder)
        md.run()
        run = folder / "run"
        sizes[n] = [_cards(run / "tiny0000_single_sci.fits"), _cards(run / "tiny0000_sci1_blt.fits"),
                    _cards(run / "final_med.fits"), _cards(run / "tiny0000_crmask.fits")]  # fmt: skip
        with fits.open(run / "final_drz.fits") as h:
            assert not [k for k in h[0].header if k.startswith("D0")]
            t = h["INPUTS"].data
            assert len(t) == 2 * n
            assert list(t["EXTVER"][:2]) == [1, 2] and t["ROOTNAME"][-1] == f"tiny{n - 1:04d}"
            np.testing.assert_allclose(t["MDRIZSKY"], [w.sky for w in md.chips], rtol=1e-6)
            assert h[0].header["NDRIZIM"] == 2 * n
    assert sizes[2] == sizes[6]


# -- 9: every input checked at build ---------------------------------------------------------


def test_ivm_of_the_wrong_shape_is_refused_at_build(tiny):
    listing = tiny / "in" / "list.txt"
    lines = []
    for k in range(3):
        ivm = tiny / "in" / f"ivm{k}.fits"
        shape = (16, 32) if k != 1 else (16, 31)
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones(shape, np.float32), name="IVM", ver=1),
                      fits.ImageHDU(np.ones(shape, np.float32), name="IVM", ver=2)]).writeto(ivm)  # fmt: skip
        lines.append(f"tiny{k:04d}_flt.fits {ivm.name}")
    listing.write_text("\n".join(lines) + "\n")
    md = gpudriz.Multidrizzle(input=f"@{listing}", workdir=tiny, backend="cpu", final_wht_type="IVM", rdnoise=5.0)
    with pytest.raises(InputError, match=r"IVM file '.*ivm1.fits' has no \(16, 32\) image for chip 1"):
        md.build()
    assert not list(tiny.glob("*_single_sci.fits"))  # nothing ran


def test_chips_of_different_shapes_are_refused_naming_both_files(tmp_path):
    write_tiny_exposures(tmp_path / "in", 1, prefix="a")
    write_tiny_exposures(tmp_path / "in", 1, prefix="b", shape=(16, 30))
    with pytest.raises(InputError) as err:
        _md(tmp_path, pattern="*.fits").build()
    assert "a0000_flt.fits" in str(err.value) and "b0000_flt.fits" in str(err.value)
    assert "(16, 30)" in str(err.value) and "(16, 32)" in str(err.value)


def test_singular_cd_matrix_names_the_file(tiny):
    with fits.open(tiny / "in" / "tiny0001_flt.fits", mode="update") as h:
        h["SCI", 2].header["CD1_1"] = 0.0
        h["SCI", 2].header["CD2_1"] = 0.0
    with pytest.raises(InputError, match=r"tiny0001_flt.fits' SCI,2 has a singular"):
        _md(tiny).build()


def _empty_three_chips(tiny):
    """tiny0001's chip 2 all zero, both chips of tiny0002 all NaN."""
    with fits.open(tiny / "in" / "tiny0001_flt.fits", mode="update") as h:
        h["SCI", 2].data[:] = 0.0
    with fits.open(tiny / "in" / "tiny0002_flt.fits", mode="update") as h:
        h["SCI", 1].data[:] = np.nan
        h["SCI", 2].data[:] = np.nan


def test_all_zero_chip_is_reported_and_left_out_of_the_sky(tiny, caplog):
    _empty_three_chips(tiny)
    md = _md(tiny)
    with caplog.at_level(logging.WARNING, logger="gpudriz"):
        md.build()
    text = caplog.text
    assert "tiny0001_flt.fits[SCI,2]: every pixel is 0" in text
    assert "tiny0002_flt.fits[SCI,1]: no finite pixel" in text and "every chip is all NaN" in text
    md.run(driz_separate=False, median=False, blot=False, driz_cr=False, driz_combine=False)
    sky = {(w.chip.path.name, w.chip.extver): w.sky for w in md.chips}
    # The exposure's sky comes from its chip with data (about 50 e-), not the empty one (0).
    assert sky["tiny0001_flt.fits", 1] == pytest.approx(50.0, abs=5.0)
    assert sky["tiny0001_flt.fits", 2] == pytest.approx(sky["tiny0001_flt.fits", 1], rel=1e-6)


def test_the_mosaic_modes_sky_tasks_find_the_chips_without_data(tiny, caplog):
    """The mosaic mode's build reads no pixels; its sky tasks warn as the build does, and give the same skies."""
    _empty_three_chips(tiny)
    steps = dict(driz_separate=False, median=False, blot=False, driz_cr=False, driz_combine=False)
    serial = _md(tiny)
    serial.run(**steps)
    md = _md(tiny, tile_size=64)
    caplog.clear()  # the serial run's own warnings
    with caplog.at_level(logging.WARNING, logger="gpudriz"):
        md.build()
        assert "every pixel is 0" not in caplog.text and not any(w.empty for w in md.chips)
        md.run(**steps)
    text = caplog.text
    assert "tiny0001_flt.fits[SCI,2]: every pixel is 0" in text
    assert "tiny0002_flt.fits[SCI,1]: no finite pixel" in text and "every chip is all NaN" in text
    assert [w.empty for w in md.chips] == [w.empty for w in serial.chips]
    assert sum(w.empty for w in md.chips) == 3
    assert [w.sky for w in md.chips] == [w.sky for w in serial.chips]


# -- 7: a file cut at an HDU boundary --------------------------------------------------------


def test_file_cut_at_an_hdu_boundary_is_refused(tiny):
    path = tiny / "in" / "tiny0001_flt.fits"
    with fits.open(path) as h:
        hdus = fits.HDUList([x.copy() for x in h])
    hdus[0].header["NEXTEND"] = 4
    hdus.writeto(path, overwrite=True)
    with fits.open(path) as h:
        cut = h.fileinfo(3)["hdrLoc"]  # the file ends before SCI,2: a whole number of HDUs
    with open(path, "r+b") as f:
        f.truncate(cut)
    with pytest.raises(InputError, match=r"tiny0001_flt.fits' is truncated: .*NEXTEND = 4 .* holds 2"):
        resolve_inputs(str(tiny / "in" / "*_flt.fits"))


# -- 8: leftovers of killed runs; the runfile written atomically --------------------------------


def test_stale_temporaries_are_removed_and_a_killed_run_reruns_identically(tiny):
    run = tiny / "run"
    run.mkdir()
    # A child that is killed (SIGKILL) in the middle of writing the fourth file.
    script = f"""
        import os, signal
        from astropy.io import fits
        import gpudriz
        real, calls = fits.HDUList.writeto, [0]
        def dying(self, name, *a, **k):
            calls[0] += 1
            if calls[0] == 4:
                with open(name, "wb") as f:
                    f.write(b"SIMPLE  =                    T")
                os.kill(os.getpid(), signal.SIGKILL)
            return real(self, name, *a, **k)
        fits.HDUList.writeto = dying
        gpudriz.Multidrizzle(input={str(tiny / "in" / "*_flt.fits")!r}, workdir={str(run)!r}, backend="cpu",
                             rdnoise=5.0).run()
    """
    proc = _python(script, tiny)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    left = [p for p in run.iterdir() if TEMP_MARK in p.name]
    assert len(left) == 1 and left[0].name.startswith(".") and left[0].name.endswith(".tmp")
    _md(tiny).run()
    assert not [p for p in run.iterdir() if TEMP_MARK in p.name]
    # The same run from scratch elsewhere gives the same product, bit for bit.
    clean = tiny / "clean"
    shutil.copytree(tiny / "in", clean / "in")
    _md(clean).run()
    with fits.open(run / "final_drz.fits") as a, fits.open(clean / "run" / "final_drz.fits") as b:
        for name in ("SCI", "WHT", "CTX", "ERR"):
            np.testing.assert_array_equal(a[name].data, b[name].data)


def test_full_disk_leaves_the_old_runfile(tiny):
    run = tiny / "run"
    run.mkdir()
    (run / "multidrizzle.run").write_text("# the previous run\n")
    # RLIMIT_FSIZE makes every write past 40 bytes fail (EFBIG), as a full disk would.
    script = f"""
        import resource, signal
        import gpudriz
        md = gpudriz.Multidrizzle(input={str(tiny / "in" / "*_flt.fits")!r}, workdir={str(run)!r}, backend="cpu")
        md.build()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (40, resource.RLIM_INFINITY))
        try:
            md.run(static=False, skysub=False, driz_separate=False, median=False, blot=False, driz_cr=False,
                   driz_combine=False)
        except OSError as exc:
            print("failed:", exc)
        else:
            print("written")
    """
    proc = _python(script, tiny)
    assert "failed:" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert (run / "multidrizzle.run").read_text() == "# the previous run\n"
    assert not [p for p in run.iterdir() if TEMP_MARK in p.name]


# -- 5: non-ASCII paths -----------------------------------------------------------------------


def test_non_ascii_folder_file_and_output_names(tmp_path):
    folder = tmp_path / "é日本"
    write_tiny_exposures(folder / "in", 2, prefix="tü")
    md = _md(folder, output="ü日")
    md.run()
    drz = folder / "run" / "ü日_drz.fits"
    with fits.open(drz) as h:
        paths = [p.decode("utf-8") if isinstance(p, bytes) else p for p in h["INPUTS"].data["PATH"]]
        history = "\n".join(str(c) for c in h[0].header["HISTORY"])
        assert h[0].header["FILENAME"] == "\\xfc\\u65e5_drz.fits"
    assert paths[0] == str(folder / "in" / "tü0000_flt.fits")
    assert "output = \\xfc\\u65e5" in history
    assert "ü日" in (folder / "run" / "multidrizzle.run").read_text(encoding="utf-8")


# -- 6: one run at a time in a folder ----------------------------------------------------------


def test_a_second_run_in_a_busy_folder_stops_with_a_clear_error(tiny):
    run = tiny / "run"
    run.mkdir()
    # cwd away from the checkout, so that the holder imports the installed package.
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from gpudriz.pipeline.workfolder import FolderLock
        with FolderLock({str(run)!r}):
            print("locked", flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True, cwd=tiny)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        md = _md(tiny, final_pixfrac=0.5)
        with pytest.raises(PipelineError, match=rf"another gpudriz run \(process {holder.pid}\) is working in"):
            md.run()
        assert not list(run.glob("*.fits"))  # nothing written
    finally:
        holder.kill()  # kill -9: the kernel releases the lock
        holder.wait()
        holder.stdout.close()
    md.run()
    assert (run / "final_drz.fits").is_file() and (run / LOCK_NAME).is_file()


# -- 4: memory needs against the process's limit -------------------------------------------------


def _fake_cgroup(root, limit, current=0):
    root.mkdir(parents=True, exist_ok=True)
    (root / "memory.max").write_text(f"{limit}\n")
    (root / "memory.current").write_text(f"{current}\n")


def test_cgroup_limit_is_read(tmp_path, monkeypatch):
    _fake_cgroup(tmp_path / "cg", 300 * 2**20, 100 * 2**20)
    monkeypatch.setattr(backend_memory, "CGROUP_ROOT", tmp_path / "cg")
    avail = memory.available_memory()
    assert avail.bytes == 200 * 2**20 and "memory.max" in avail.source
    (tmp_path / "cg" / "memory.max").write_text("max\n")
    assert "memory.max" not in memory.available_memory().source


def test_a_frame_too_large_for_the_cgroup_is_refused_before_any_work(tiny, monkeypatch):
    _fake_cgroup(tiny / "cg", 64 * 2**20)
    monkeypatch.setattr(backend_memory, "CGROUP_ROOT", tiny / "cg")
    md = _md(tiny, final_outnx=3000, final_outny=3000, final_scale=0.1)
    with pytest.raises(MemoryError) as err:
        md.run()
    msg = str(err.value)
    assert "driz_combine step needs about" in msg and "3000x3000 final frame" in msg
    assert "64.0 MiB" in msg and "memory.max" in msg and "final_scale" in msg
    assert not list((tiny / "run").glob("*.fits"))  # refused before the first step
    _md(tiny, final_outnx=200, final_outny=200, final_scale=0.1).run()  # 200x200 fits


def test_rlimit_as_counts(tmp_path):
    script = """
        import resource
        from gpudriz.pipeline import memory
        used = [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize:")][0]
        resource.setrlimit(resource.RLIMIT_AS, (used + 100 * 2**20, resource.RLIM_INFINITY))
        a = memory.available_memory()
        print(a.bytes <= 100 * 2**20, a.source.startswith("RLIMIT_AS"))
    """
    if not os.path.exists("/proc/self/status"):
        pytest.skip("no /proc on this system")
    proc = _python(script, tmp_path)
    assert proc.stdout.split() == ["True", "True"], proc.stderr[-2000:]
