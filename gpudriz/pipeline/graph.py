"""The mosaic mode: the pipeline as stages of tasks over chips, exposures and tiles.

Used when ``tile_size`` > 0, ``workers`` > 0, ``scheduler`` is set or a
``client`` is given (:meth:`gpudriz.Multidrizzle.run`).  Each stage is a
batch of independent tasks (:mod:`gpudriz.pipeline.steps.mosaic_tasks`) run
by an :class:`~gpudriz.pipeline.execution.Execution` (this process or a Dask
cluster); the orchestrator here gathers their small results between stages:

========== ================ ============================================================
stage      one task per     holds at once
========== ================ ============================================================
static     chip             the chip; its mask is written to ``<output>_tasks/``
sky        chip             the chip
skymatch   exposure         its chips and its window of the coarse matching frame (``skymethod = match``)
skypairs   exposure         its map and, one at a time, those of the later ones it overlaps (``match``)
separate   exposure         its chips and its window of the separate frame
median     separate tile    the tile (and minmed's halo) of each single image over it
blot       chip             the chip and the median under its footprint
driz_cr    exposure         its chips and their blots
footprint  chip             the chip's pixmap to the final frame (tiled output)
final      final tile       the tile and one chip (or the frame, ``tile_size = 0``)
========== ================ ============================================================

Files are opened one at a time by each task, whatever the number of inputs.
Every task records its result when done (:mod:`gpudriz.pipeline.taskrecords`),
so a rerun after a crash redoes only the missing or stale tasks.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from gpudriz.backend.arrays import to_host, to_xp
from gpudriz.pipeline.io import checks, products, tile_products
from gpudriz.pipeline.state import PipelineError, by_exposure
from gpudriz.pipeline.steps import mosaic_tasks as T
from gpudriz.pipeline.steps.blot import BlotParams
from gpudriz.pipeline.steps.driz_cr import DrizCrParams
from gpudriz.pipeline.steps.final import FinalParams
from gpudriz.pipeline.steps.median import MedianParams
from gpudriz.pipeline.steps.median_noise import statistic_variances
from gpudriz.pipeline.steps.separate import SeparateParams
from gpudriz.pipeline.steps.skymatch import SkyPair, match_frame, match_levels, overlapping_pairs
from gpudriz.pipeline.steps.static import StaticParams
from gpudriz.pipeline.steps.tiles import Tile, plan_tiles, tile_chips
from gpudriz.pipeline.steps.windows import blot_margin, overlap
from gpudriz.pipeline.taskrecords import TaskRecords, run_recorded, task_key

__all__ = ["MEDIAN_TILE", "mosaic_mode", "run_graph"]

log = logging.getLogger("gpudriz")

#: Side of the median's tiles (pixels) when ``tile_size`` is 0.
MEDIAN_TILE = 1024


def mosaic_mode(pars, client=None) -> bool:
    """Whether a run with ``pars`` (and ``client``) runs as the mosaic mode's task graph."""
    return bool(pars["tile_size"] or pars["workers"] or pars["scheduler"] or client is not None)


class _Stages:
    """One run's stages: the records, the run's key, and how a stage's tasks are submitted."""

    def __init__(self, md, execution):
        self.md, self.ex = md, execution
        self.records = TaskRecords(md.workdir / f"{md.output}_tasks")
        self.backend = md._task_backend
        if execution.distributed and not isinstance(self.backend, str):
            raise PipelineError("mosaic mode: a backend that no name selects cannot run on Dask workers.")
        self.base = task_key(sorted((k, str(v)) for k, v in md.pars.changed().items()
                                    if k not in ("workers", "scheduler")),  # where it runs changes nothing
                             str(self.backend))  # fmt: skip
        self.prov = md.provenance()
        self.counts = {}

    def run(self, stage, names, keys, fn, items, *common):
        """``fn(*item, *common)`` per item, skipping those recorded done with the same key."""
        results = [self.records.done(stage, n, k) for n, k in zip(names, keys)]
        todo = [i for i, r in enumerate(results) if r is None]
        if len(todo) < len(items):
            log.info("%s: %d of %d task(s) already done (records in %s)", stage, len(items) - len(todo),
                     len(items), self.records.folder)  # fmt: skip
        work = [(str(self.records.path(stage, names[i])), keys[i], tuple(items[i])) for i in todo]
        if work:
            for i, r in zip(todo, self.ex.map(stage, run_recorded, work, fn, *common)):
                results[i] = r
        self.counts[stage] = (len(todo), len(items))
        return results


def _unsubtracted_key(w) -> tuple:
    """What a chip's tasks before the sky is known depend on: its file, its number, its static mask."""
    parts = _chip_key(w)
    return parts[:2], parts[5]


def _chip_key(w, include_cr=False) -> list:
    """What a chip's tasks depend on: its file, its number, its sky and static mask."""
    # The static mask by its file's name, which holds its digest (a file's time would change on a rerun).
    parts = [w.chip.path, w.chip.extver, float(w.sky), w.sky_in_data, float(w.to_electrons), str(w.static_file)]
    if include_cr:
        parts.append(w.crmask_file)
    return parts


def run_graph(md, todo: dict, execution) -> dict:
    """Run the enabled steps of ``md`` (a built :class:`~gpudriz.Multidrizzle`) as the mosaic task graph.

    ``todo``: step name -> enabled.  Updates ``md``'s chips (sky, static
    masks, cosmic-ray mask files), ``md.products`` and ``md.timings``.
    """
    if md.pars["workinplace"]:
        raise PipelineError("workinplace=yes is not available in the mosaic mode (tile_size, workers, "
                            "scheduler): its tasks never write into the inputs.")  # fmt: skip
    g = _Stages(md, execution)
    md.task_counts = g.counts  # stage -> (tasks run, tasks in all): what a rerun redid
    log.info("mosaic mode: %d exposure(s), %d chip(s), tasks run in %s", len(md.exposures), len(md.chips),
             execution.description)  # fmt: skip
    state = {}
    steps = [("static", _static), ("skysub", _sky), ("driz_separate", _separate), ("median", _median),
             ("blot", _blot), ("driz_cr", _driz_cr), ("driz_combine", _final)]  # fmt: skip
    enabled = [(n, f) for n, f in steps if todo[n]]
    for k, (name, fn) in enumerate(enabled, 1):
        log.info("step %d/%d: %s", k, len(enabled), name)
        t0 = time.perf_counter()
        fn(g, state)
        md.timings[name] = time.perf_counter() - t0
        log.info("step %d/%d: %s done in %.2f s", k, len(enabled), name, md.timings[name])
    return md.products


def _static(g: _Stages, state):
    md = g.md
    params = StaticParams.from_pars(md.pars)
    names = [f"{w.exposure.rootname}_sci{w.chip.extver}" for w in md.chips]
    keys = [task_key(g.base, "static", _chip_key(w)[:2]) for w in md.chips]
    (g.records.folder / "static").mkdir(parents=True, exist_ok=True)
    paths = [g.records.folder / "static" / f"{n}_static.npy" for n in names]
    items = [(w.task_input(header=False), str(p)) for w, p in zip(md.chips, paths)]
    results = g.run("static", names, keys, T.static_task, items, params, g.backend)
    xp = md.backend.xp
    # One mask file read at a time as the per-number masks are combined.
    md._static(masks=((w.key, to_xp(np.load(r["path"]), xp)) for w, r in zip(md.chips, results)))
    # Tasks are sent the combined masks' file names, not the masks (a full-size chip's is 8 MB, and it
    # would travel with each of its tasks).  The name holds the content's digest: a rerun that
    # combines the same masks names the same file, and the tasks downstream keep their keys.
    files = {}
    for w in md.chips:
        if w.key not in files:
            mask = to_host(w.static_ok).astype(bool)
            path = g.records.folder / "static" / f"{md.output}_static_sci{w.key}_{task_key(mask)[:16]}.npy"
            if not path.exists():
                products.atomic_write_array(path, mask)
            files[w.key] = path
        w.static_file, w.static_ok = files[w.key], None


def _sky(g: _Stages, state):
    md = g.md

    def measure(groups, params, backend):
        chips = [w for group in groups for w in group]
        names = [f"{w.exposure.rootname}_sci{w.chip.extver}" for w in chips]
        keys = [task_key(g.base, "sky", *_unsubtracted_key(w)) for w in chips]
        results = iter(g.run("sky", names, keys, T.sky_task, [(w.task_input(header=False),) for w in chips],
                             params, backend))  # fmt: skip
        skies = []
        for group in groups:
            found = [next(results) for _ in group]
            # The tasks found the chips without data (the build did not read the pixels).
            reasons = [r.get("empty") for r in found]
            for w, why in zip(group, reasons):
                w.empty = why is not None
            checks.warn_empty(group[0].exposure.path, [w.chip.name for w in group], reasons)
            skies.append([r["sky"] for r in found])
        return skies

    def match(groups, local_skies, separate_frame, backend):
        # skymatch as tasks: each exposure's map on its window of the matching frame, written to a file,
        # then the differences of the pairs whose maps overlap, each task reading two maps.
        frame = match_frame([c.chip for grp in groups for c in grp], separate_frame)
        exposures = by_exposure(md.chips)  # the exposures of `groups`, in their order
        names = [grp[0].exposure.rootname for grp in exposures]
        frame_card = frame.header().tostring()
        keys = [task_key(g.base, "skymatch", [_unsubtracted_key(w) for w in grp], frame_card) for grp in exposures]
        folder = g.records.folder / "skymatch"
        folder.mkdir(parents=True, exist_ok=True)
        items = [([w.task_input(header=False) for w in grp], str(folder / f"{n}_coarse.npy"))
                 for grp, n in zip(exposures, names)]  # fmt: skip
        maps = g.run("skymatch", names, keys, T.skymatch_map_task, items, frame, backend)
        partners = {}  # one task per exposure and its later partners: its map read once
        for i, j in overlapping_pairs([r["box"] for r in maps]):
            partners.setdefault(i, []).append(j)
        firsts = sorted(partners)
        found = g.run("skypairs", [names[i] for i in firsts],
                      [task_key(g.base, "skypairs", keys[i], [keys[j] for j in partners[i]]) for i in firsts],
                      T.skymatch_pair_task, [(i, maps[i], [(j, maps[j]) for j in partners[i]]) for i in firsts])
        measured = [SkyPair(i, j, **r) for i, res in zip(firsts, found) for j, r in zip(partners[i], res["pairs"])
                    if r is not None]  # fmt: skip
        return match_levels(groups, local_skies, measured, frame)

    md._skysub(measure=measure, match=match)


def _separate(g: _Stages, state):
    md = g.md
    groups = by_exposure(md.chips)
    frame = md.separate_frame
    names = [grp[0].exposure.rootname for grp in groups]
    frame_card = frame.header().tostring()
    keys = [task_key(g.base, "separate", [_chip_key(w) for w in grp], frame_card) for grp in groups]
    results = g.run("separate", names, keys, T.separate_task,
                    [([w.task_input(header=False) for w in grp], grp[0].exposure.exptime) for grp in groups],
                    frame, SeparateParams.from_pars(md.pars), g.backend, md.workdir, g.prov)  # fmt: skip
    state["singles"] = [(grp, r, k) for grp, r, k in zip(groups, results, keys)]
    for r in results:
        if r["window"] is not None:
            md.intermediates += [r["sci"], r["wht"]]


def _median(g: _Stages, state):
    md = g.md
    if "singles" not in state:
        raise PipelineError("median: there are no separate drizzled images; run driz_separate.")
    singles = [(grp, r, k) for grp, r, k in state["singles"] if r["window"] is not None]
    if not singles:
        raise PipelineError("median: no exposure reaches the separate frame.")
    size = md.pars["tile_size"] or MEDIAN_TILE
    frame = md.separate_frame
    described = []
    for grp, r, k in singles:
        described.append(dict(r, exptime=float(grp[0].exposure.exptime), sky=float(np.mean([w.sky for w in grp])),
                              rdnoise=float(np.mean([w.chip.rdnoise for w in grp])), key=k))  # fmt: skip
    items, names, keys = [], [], []
    for t in plan_tiles(frame.shape, size):
        over = [s for s in described if overlap(t, T.tile_of(s["window"])) is not None]
        if not over:
            continue  # no single image reaches it: nothing to combine, nothing written
        items.append((T.tile_dict(t), over))
        names.append(f"x{t.ix}y{t.iy}")
        keys.append(task_key(g.base, "median", T.tile_dict(t), [s["key"] for s in over], size))
    results = g.run("median", names, keys, T.median_tile_task, items, len(singles), frame,
                    MedianParams.from_pars(md.pars), g.backend, md.workdir, md.output, g.prov)  # fmt: skip
    state["median"] = [dict(r, key=k) for r, k in zip(results, keys)]
    state["nimages"] = len(singles)
    for r in results:
        md.intermediates += [r["med"], r["count"]]


def _blot(g: _Stages, state):
    md = g.md
    if "median" not in state:
        raise PipelineError("blot: there is no median image; run the median step.")
    params = BlotParams.from_pars(md.pars)
    reach = int(np.ceil(blot_margin(params.blot_sinscl)))
    window_of = {id(w): r["window"] for grp, r, _ in state["singles"] for w in grp}
    chips, items, names, keys = [], [], [], []
    for w in md.chips:
        win = window_of.get(id(w))
        if win is None:
            tiles = state["median"]  # the exposure missed the frame: any tile may do (the blot is all fill)
        else:
            # The tiles over the exposure's window, widened by the interpolant's reach.
            wide = Tile(0, 0, win["x0"] - reach, win["y0"] - reach, win["nx"] + 2 * reach, win["ny"] + 2 * reach)
            tiles = [m for m in state["median"] if overlap(wide, T.tile_of(m["window"])) is not None]
        chips.append(w)
        items.append((w.task_input(header=False), tiles))
        names.append(f"{w.exposure.rootname}_sci{w.chip.extver}")
        keys.append(task_key(g.base, "blot", _chip_key(w), [m["key"] for m in tiles]))
    # The median's statistic variances, made here once for every blot task (minmax's by a simulation of ~2 s,
    # which each worker process would otherwise repeat).
    variances = statistic_variances(params.combine_type, state["nimages"], params.combine_nlow, params.combine_nhigh)
    results = g.run("blot", names, keys, T.blot_task, items, state["nimages"], md.separate_frame, params,
                    g.backend, md.workdir, g.prov, variances)  # fmt: skip
    state["blot_keys"] = {}
    for w, r, k in zip(chips, results, keys):
        w.blot_path, w.median_var_path = Path(r["blot"]), Path(r["var"])
        state["blot_keys"][id(w)] = k
        md.intermediates += [r["blot"], r["var"]]


def _driz_cr(g: _Stages, state):
    md = g.md
    groups = by_exposure(md.chips)
    for grp in groups:
        for w in grp:
            if w.blot_path is None:
                raise PipelineError("driz_cr: there are no blotted images; run the blot step.")
    names = [grp[0].exposure.rootname for grp in groups]
    blot_keys = state.get("blot_keys", {})
    keys = [task_key(g.base, "driz_cr", [_chip_key(w) for w in grp], [blot_keys.get(id(w)) for w in grp])
            for grp in groups]  # fmt: skip
    items = [([w.task_input(header=False) for w in grp], [{"blot": w.blot_path, "var": w.median_var_path} for w in grp])
             for grp in groups]  # fmt: skip
    results = g.run("driz_cr", names, keys, T.driz_cr_task, items, DrizCrParams.from_pars(md.pars), g.backend,
                    md.workdir, g.prov)  # fmt: skip
    ncr = {}
    for grp, r in zip(groups, results):
        md.products.update({k: Path(v) for k, v in r["files"].items()})
        for w, noise, n in zip(grp, r["noise"], r["ncr"]):
            w.crmask_file, w.cr_noise_scale = Path(r["crmask"]), noise
            ncr[w.chip.name] = n
    log.info("driz_cr: cosmic-ray pixels per chip %s", ncr if len(ncr) <= 16 else f"{sum(ncr.values())} in all")


def _final(g: _Stages, state):
    md = g.md
    p = md.pars
    params = FinalParams.from_pars(p)
    ivms = [None] * len(md.chips)
    if p["final_wht_type"] == "IVM":
        ivms = [md.ivm[md.exposures.index(w.exposure)] for w in md.chips]
    frame = md.final_frame
    inputs = [w.task_input(header=False) for w in md.chips]
    chip_keys = [task_key(_chip_key(w, include_cr=True)) for w in md.chips]
    if not p["tile_size"]:
        key = task_key(g.base, "final", chip_keys, frame.header().tostring())
        (r,) = g.run("final", ["frame"], [key], T.final_frame_task, [(inputs, ivms)], frame, params, g.backend,
                     md.workdir, md.output, g.prov, bool(p["build"]))  # fmt: skip
        md.products.update({k: Path(v) for k, v in r["files"].items()})
        return
    names = [f"{w.exposure.rootname}_sci{w.chip.extver}" for w in md.chips]
    frame_card = frame.header().tostring()  # once: a header per chip cost more than the footprints' keys
    boxes = [r["box"] for r in g.run("footprint", names, [task_key(g.base, "footprint", k, frame_card)
                                                         for k in chip_keys],
                                     T.footprint_task, [(c,) for c in inputs], frame, params, g.backend)]  # fmt: skip
    items, tnames, keys = [], [], []
    for t in plan_tiles(frame.shape, p["tile_size"]):
        ks = tile_chips(boxes, t)
        if not ks:
            continue
        items.append((T.tile_dict(t), ks, [inputs[k] for k in ks], [ivms[k] for k in ks]))
        tnames.append(f"x{t.ix}y{t.iy}")
        keys.append(task_key(g.base, "final", T.tile_dict(t), [chip_keys[k] for k in ks], frame_card))
    results = g.run("final", tnames, keys, T.final_tile_task, items, frame, params, g.backend, md.workdir,
                    md.output, g.prov, bool(p["build"]))  # fmt: skip
    rows = []
    for r in results:
        md.products.update({k: Path(v) for k, v in r["files"].items()})
        if r["row"] is not None:
            f, ix, iy, x0, y0, nx, ny, used = r["row"]
            rows.append(tile_products.TileRow(f, ix, iy, x0, y0, nx, ny, tuple(used)))
    md.products["tiles"] = tile_products.write_tile_table(md.workdir, md.output, rows, frame, p["tile_size"])
    log.info("driz_combine: %d of %d %dx%d tile(s) written (the others have no input)", len(rows),
             len(plan_tiles(frame.shape, p["tile_size"])), p["tile_size"], p["tile_size"])  # fmt: skip
