"""The processing steps 2-8 of :class:`gpudriz.Multidrizzle` (manual section 1.4).

Each step is a function of the ``Multidrizzle`` object: it reads what it needs
(chip arrays from the inputs, read-only; intermediates from the output
folder), runs the per-pixel work on the backend, and records its results on
the object and in the output folder.  Units inside the pipeline: electrons
for chip data, electrons per second for drizzled images.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from astropy.io import fits

from gpudriz.backend.arrays import to_host, to_xp
from gpudriz.blot import blot_image
from gpudriz.pipeline.io import products
from gpudriz.pipeline.io.sections import stack_rows
from gpudriz.pipeline.multidrizzle import MASKPT, MEDIAN_BUDGET, PipelineError
from gpudriz.pipeline.steps.median_noise import (
    measure_drizzle_blot_kernel,
    median_term_table,
    noise_scale,
)

log = logging.getLogger("gpudriz")


def _by_exposure(md):
    groups = {}
    for w in md.chips:
        groups.setdefault(id(w.exposure), []).append(w)
    return list(groups.values())


# -- 2: static mask ------------------------------------------------------------


def static_mask(md):
    """Per-chip static masks (clipped mode - static_sig x rms), AND-ed over exposures."""
    from gpudriz.pipeline.steps.static import (
        StaticMask,
        chip_static_mask,
        read_static_file,
    )

    p = md.pars
    xp = md.xp
    acc = StaticMask()
    for w in md.chips:
        sci = md.read_electrons(w)
        acc.add(w.key, chip_static_mask(sci, xp=xp, static_sig=p["static_sig"], dq_good=md.dq_good(w)))
    keys = sorted({w.key for w in md.chips})
    extra = {}
    if p["staticfile"]:
        shapes = {w.key: w.chip.shape for w in md.chips}
        # md.path keeps an absolute name as it is.
        extra = read_static_file(md.path(p["staticfile"]), keys, shapes=shapes)
    for w in md.chips:
        mask = acc.get(w.key)
        if w.key in extra:
            mask = mask & to_xp(extra[w.key], xp)
        w.static_ok = mask
    nbad = {k: int((~acc.get(k)).sum()) for k in keys}
    log.info("static: pixels masked per chip %s", nbad)


# -- 3: sky ---------------------------------------------------------------------------


def sky_subtraction(md):
    """Per-chip clipped sky combined per ``skymethod`` (or ``skyuser``'s), recorded as MDRIZSKY.

    localmin (the manual's rule): per exposure the lowest surface brightness
    of its chips; globalmin: the lowest rate per unit area of all exposures,
    for all; match: the exposures' sky differences solved from their
    overlaps (:mod:`gpudriz.pipeline.steps.skymatch`), anchored on the localmin values.
    """
    from gpudriz.pipeline.steps.sky import chip_sky, exposure_sky, global_sky, user_sky

    p = md.pars
    groups = _by_exposure(md)
    if p["skyuser"]:
        # The user's value wins over every skymethod.
        for w in md.chips:
            header = w.chip.header.copy()
            header.extend(w.exposure.primary_header, unique=True)  # SCI keyword first
            w.sky = float(user_sky(header, p["skyuser"], source=w.chip.name)) * w.to_electrons
            w.sky_by_user = True
        log.info("skysub: MDRIZSKY (e-) %s", {w.chip.name: round(w.sky, 3) for w in md.chips})
        return
    values = [[chip_sky(
        md.read_electrons(w), xp=md.xp, good=md.good_mask(w), skystat=p["skystat"],
        skywidth=p["skywidth"], skylower=p["skylower"], skyupper=p["skyupper"], skyclip=p["skyclip"],
        skylsigma=p["skylsigma"], skyusigma=p["skyusigma"],
    ) for w in group] for group in groups]  # fmt: skip
    # A chip without data (gpudriz.pipeline.io.checks.empty_chips) has no say in its exposure's sky.
    values = [[np.nan if w.empty else v for w, v in zip(g, vals)] for g, vals in zip(groups, values)]
    scales = [[w.chip.pixel_scale for w in group] for group in groups]
    names = [group[0].exposure.path.name for group in groups]
    if p["skymethod"] == "globalmin":
        skies = global_sky(values, scales, [g[0].chip.exptime for g in groups], names=names)
    else:
        skies = [exposure_sky(v, s, name=n) for v, s, n in zip(values, scales, names)]
        if p["skymethod"] == "match":
            from gpudriz.pipeline.steps.skymatch import match_sky

            skies = match_sky(md, groups, skies)
    for group, group_skies in zip(groups, skies):
        for w, sky in zip(group, group_skies):
            if not np.isfinite(sky):
                raise PipelineError(f"sky: no usable pixels to measure the sky of {w.chip.name}.")
            w.sky = float(sky)
    log.info("skysub (%s): MDRIZSKY (e-) %s", p["skymethod"],
             {w.chip.name: round(w.sky, 3) for w in md.chips})  # fmt: skip


def sky_subtracted(md, w, sci=None):
    """The chip in electrons with its sky removed (unless already removed).

    ``sci``: the chip as :meth:`Multidrizzle.read_electrons` gives it, when
    the caller has read it already.
    """
    if sci is None:
        sci = md.read_electrons(w)
    if w.sky and w.sky_in_data:
        sci = sci - md.xp.float32(w.sky)
    return sci


def with_sky(md, w, data):
    """The chip as observed, sky included, from ``data`` as read from the input.

    The sky is added back where it was removed before gpudriz (``skyuser``)
    or in the file (``workinplace``): noise models count its photons.
    """
    return data if w.sky_in_data else data + md.xp.float32(w.sky)


# -- 4: separate drizzles -------------------------------------------------------------


def drizzle_separate(md):
    """Each exposure drizzled onto the separate frame, in e-/s, weights exptime x good."""
    p = md.pars
    frame = md.separate_frame
    md._singles = []
    for group in _by_exposure(md):
        exp = group[0].exposure
        d = md.new_drizzle(p["driz_sep_kernel"], frame, p["driz_sep_fillval"])
        for w in group:
            s = md.scale_ratio(w, frame)
            weights = md.good_mask(w).astype(np.float32)
            d.add_image(sky_subtracted(md, w), exp.exptime, md.pixmap_to(w, frame),
                        weight_map=weights, wht_scale=exp.exptime, pixfrac=p["driz_sep_pixfrac"],
                        in_units="counts", iscale=s * s, pixel_scale_ratio=s)  # fmt: skip
        sci_path = md.path(f"{exp.rootname}_single_sci.fits")
        wht_path = md.path(f"{exp.rootname}_single_wht.fits")
        hdr = frame.header()
        products.write_image(sci_path, to_host(d.out_img), hdr, md, bunit="ELECTRONS/S")
        products.write_image(wht_path, to_host(d.out_wht), hdr, md)
        md.intermediates += [sci_path, wht_path]
        md._singles.append((group, sci_path, wht_path))


# -- 5: median -----------------------------------------------------------------------


def median_image(md):
    """Combine the separate images section by section under :data:`MEDIAN_BUDGET`.

    Besides the median (``<output>_med.fits``, e-/s) it writes the number of
    good values combined at each pixel (``<output>_med_count.fits``), from
    which the blot step derives the median's part of driz_cr's noise
    (:mod:`gpudriz.pipeline.steps.median_noise`).
    """
    p = md.pars
    if not md._singles:
        raise PipelineError("median: there are no separate drizzled images; run driz_separate.")
    xp = md.xp
    n = len(md._singles)
    if n > np.iinfo(np.int16).max:
        raise PipelineError(f"median: {n} separate images are more than the "
                            f"{np.iinfo(np.int16).max} one median can count.")  # fmt: skip
    ny, nx = md.separate_frame.shape
    grow = int(round(p["combine_grow"])) if p["combine_type"] == "minmed" else 0
    # wht_min per image: median_newmasks masks low-weight pixels.
    wht_min = np.zeros(n, dtype=np.float32)
    if p["median_newmasks"]:
        for i, (_, _, wht_path) in enumerate(md._singles):
            with fits.open(wht_path, memmap=True) as h:
                wht = h[0].data
                pos = wht[wht > 0]
                wht_min[i] = MASKPT * float(pos.mean()) if pos.size else 0.0
    exptime = np.array([g[0].exposure.exptime for g, _, _ in md._singles], dtype=np.float32)
    sky = np.array([np.mean([w.sky for w in g]) for g, _, _ in md._singles], dtype=np.float32)
    rdnoise = np.array([np.mean([w.chip.rdnoise for w in g]) for g, _, _ in md._singles],
                       dtype=np.float32)  # fmt: skip
    # Three (n, rows, nx) float32 stacks live at once: data, weights, scratch.
    rows = max(1, int(MEDIAN_BUDGET // (3 * 4 * n * nx)) - 2 * grow)
    median = np.empty((ny, nx), dtype=np.float32)
    counts = np.empty((ny, nx), dtype=np.int16)  # at most n <= 32767 images: checked above
    # One file open at a time, whatever the number of inputs (gpudriz.pipeline.io.sections).
    sci_paths = [s for _, s, _ in md._singles]
    wht_paths = [w for _, _, w in md._singles]
    for r0 in range(0, ny, rows):
        r1 = min(ny, r0 + rows)
        a0 = max(0, r0 - grow)
        a1 = min(ny, r1 + grow)
        sci = stack_rows(sci_paths, a0, a1)
        wht = stack_rows(wht_paths, a0, a1)
        out = xp.empty((a1 - a0, nx), dtype=xp.float32)
        count = xp.empty((a1 - a0, nx), dtype=xp.int32)
        md.backend.ops.combine(
            to_xp(sci, xp), to_xp(wht, xp), to_xp(wht_min, xp), out, p["combine_type"],
            nlow=p["combine_nlow"], nhigh=p["combine_nhigh"], lthresh=p["combine_lthresh"],
            hthresh=p["combine_hthresh"], exptime=to_xp(exptime, xp), sky=to_xp(sky, xp),
            rdnoise=to_xp(rdnoise, xp), nsigma=tuple(p["combine_nsigma"]), grow=grow,
            fill=0.0, count=count,
        )  # fmt: skip
        inner = slice(r0 - a0, r0 - a0 + (r1 - r0))
        median[r0:r1] = to_host(out)[inner]
        counts[r0:r1] = to_host(count[inner])
    path = md.path(f"{md.output}_med.fits")
    products.write_image(path, median, md.separate_frame.header(), md, bunit="ELECTRONS/S")
    count_path = md.path(f"{md.output}_med_count.fits")
    products.write_image(count_path, counts, md.separate_frame.header(), md)
    md.intermediates += [path, count_path]
    md._median_path = path
    md._median_count_path = count_path


# -- 6: blot -------------------------------------------------------------------------


def blot_median(md):
    """The median blotted back to every chip (electrons, sky not included), and its noise term.

    Besides each blot (``_blt.fits``) it writes what the blotted median adds
    to the variance of driz_cr's ``D - B`` (``_bltvar.fits``, electrons
    squared): ``var(B) - 2 cov(D, B)`` from the number of good values of the
    median at each pixel (the nearest pixel's), the drizzle and
    blot's smoothing measured through this chip's geometry and the chip's
    noise predicted from the blot, ``|B + sky| + rn**2``
    (:mod:`gpudriz.pipeline.steps.median_noise`).
    """
    p = md.pars
    xp = md.xp
    if md._median_path is None:
        raise PipelineError("blot: there is no median image; run the median step.")
    med = to_xp(fits.getdata(md._median_path), xp, np.float32)
    counts = None
    if md._median_count_path is not None:
        counts = to_xp(fits.getdata(md._median_count_path), xp, np.int16)
    frame = md.separate_frame
    nimages = len(md._singles)
    for w in md.chips:
        s = md.scale_ratio(w, frame)
        pixmap = md.pixmap_to(w, frame)  # once for both blots
        blotted = blot_image(med, pixmap, interp=p["blot_interp"], sinscl=p["blot_sinscl"],
                             iscale=w.chip.exptime / (s * s), backend=md.backend)  # fmt: skip
        header = w.chip.wcs.to_header(relax=True)
        path = md.path(f"{w.exposure.rootname}_sci{w.chip.extver}_blt.fits")
        products.write_image(path, to_host(blotted), header, md, bunit="ELECTRONS")
        md.intermediates.append(path)
        w.blot_path = path
        if counts is None:
            continue
        v, k0 = measure_drizzle_blot_kernel(
            pixmap, kernel=p["driz_sep_kernel"], pixfrac=p["driz_sep_pixfrac"],
            pixel_scale_ratio=s, interp=p["blot_interp"], sinscl=p["blot_sinscl"],
            backend=md.backend,
        )  # fmt: skip
        table = median_term_table(p["combine_type"], nimages, p["combine_nlow"],
                                  p["combine_nhigh"], v, k0)  # fmt: skip
        m = nearest_values(counts, pixmap, xp)
        rn = to_xp(w.chip.rdnoise_map(), xp, np.float32)
        var_d = xp.abs(blotted + xp.float32(w.sky)) + rn * rn
        var_path = md.path(f"{w.exposure.rootname}_sci{w.chip.extver}_bltvar.fits")
        products.write_image(var_path, to_host(xp.take(to_xp(table, xp), m) * var_d), header, md,
                             bunit="ELECTRONS2")  # fmt: skip
        md.intermediates.append(var_path)
        w.median_var_path = var_path


def nearest_values(image, pixmap, xp):
    """``image`` at the nearest pixel of each pixmap position (int32; 0 outside or undefined)."""
    ny, nx = image.shape
    x, y = pixmap[..., 0], pixmap[..., 1]
    inside = xp.isfinite(x) & xp.isfinite(y)
    inside &= (x > -0.5) & (x < nx - 0.5) & (y > -0.5) & (y < ny - 0.5)
    ix = xp.clip(xp.rint(xp.where(inside, x, 0.0)), 0, nx - 1).astype(xp.int64)
    iy = xp.clip(xp.rint(xp.where(inside, y, 0.0)), 0, ny - 1).astype(xp.int64)
    return xp.where(inside, image[iy, ix].astype(xp.int32), 0)


# -- 7: driz_cr ----------------------------------------------------------------------


def cosmic_rays(md):
    """Cosmic rays: each chip (sky in) against its blot (sky added back); masks and _cor files.

    The noise of ``D - B`` is the model ``|B| + rn**2`` plus the median's
    term (``_bltvar.fits``), scaled to the chip's measured scatter of
    ``D - B`` (:func:`gpudriz.pipeline.steps.median_noise.noise_scale`; the scale is logged
    and recorded as CRNOISE in the chip's ``_crmask`` extension).
    """
    p = md.pars
    xp = md.xp
    scales = {}
    for w in md.chips:
        if w.blot_path is None:
            raise PipelineError("driz_cr: there are no blotted images; run the blot step.")
        # The noise model needs the sky in both images; |D - B| does not change.
        data = with_sky(md, w, md.read_electrons(w))
        blotted = to_xp(fits.getdata(w.blot_path), xp, np.float32) + xp.float32(w.sky)
        rn = to_xp(w.chip.rdnoise_map(), xp, np.float32)
        var_d = xp.abs(blotted) + rn * rn
        model = var_d
        if w.median_var_path is not None:
            model = var_d + to_xp(fits.getdata(w.median_var_path), xp, np.float32)
        c2 = noise_scale(data, blotted, model, xp)
        w.cr_noise_scale = math.sqrt(c2)
        scales[w.chip.name] = round(w.cr_noise_scale, 3)
        # What the kernel adds to var_d: the median's term and the measured level.
        median_var = (xp.float32(c2) * model - var_d).astype(xp.float32)
        mask = xp.zeros(w.chip.shape, dtype=xp.uint8)
        # Data in electrons: the test is invariant under a common scale, so gain 1.
        md.backend.ops.driz_cr(data, blotted, rn, mask, gain=1.0, snr=tuple(p["driz_cr_snr"]),
                               scale=tuple(p["driz_cr_scale"]), grow=0,
                               median_var=median_var)  # fmt: skip
        w.crmask = mask.astype(bool)
        w.cor = None
        if p["driz_cr_corr"]:
            cor = xp.where(w.crmask, blotted, data)
            if not w.sky_in_data:
                cor = cor - xp.float32(w.sky)  # _cor keeps the input's sky state
            w.cor = to_host(cor) / np.float32(w.to_electrons)
    products.write_crmasks(md)
    if p["driz_cr_corr"]:
        products.write_cor(md)
    log.info("driz_cr: noise of D - B over its model, per chip %s", scales)
    log.info("driz_cr: cosmic-ray pixels per chip %s",
             {w.chip.name: int(w.crmask.sum()) for w in md.chips})  # fmt: skip


# -- 8: final drizzle ----------------------------------------------------------------


def chip_variance(md, w, data):
    """Variance of every pixel of the chip in electrons^2, on the backend.

    From the ERR extension when the chip has one, ``(ERR x to_electrons)^2``;
    otherwise the noise model ``max(data, 0) + rdnoise^2`` per amplifier, with
    ``data`` the chip in electrons as read (:meth:`Multidrizzle.read_electrons`),
    with the sky included (a sky removed before gpudriz, ``skyuser``, or in
    the file, ``workinplace``, is added back: it was photons too).
    Unusable pixels (negative ERR, non-finite values) are NaN.
    """
    xp = md.xp
    if w.chip.has_err:
        err = to_xp(w.chip.read_err() * np.float32(w.to_electrons), xp, np.float32)
        return xp.where(err >= 0, err * err, xp.float32(np.nan))
    data = with_sky(md, w, data)
    rn = to_xp(w.chip.rdnoise_map(), xp, np.float32)
    # NaN data stay NaN (np.maximum propagates it), so they are flagged below.
    return xp.maximum(data, xp.float32(0.0)) + rn * rn


def final_drizzle(md):
    """The final drizzle: sky-subtracted chips, weights per final_wht_type, CRs masked.

    Each chip's variance (:func:`chip_variance`) is drizzled alongside as
    ``data2``, co-added with the squared weights (drizzle 3.x), so that
    ``sqrt(out_img2)`` is the propagated error of SCI in electrons/s: the
    product's ERR.  A pixel whose variance is negative or non-finite gets
    weight 0 (it is left out of SCI too: its noise is unknown).
    """
    p = md.pars
    xp = md.xp
    frame = md.final_frame
    ny, nx = frame.shape
    # The variance output (float32) and ERR computed from it: two more output-sized arrays.
    md.backend.ops.check_memory(2 * 4 * ny * nx, f"the {nx}x{ny} final variance and ERR arrays")
    d = md.new_drizzle(p["final_kernel"], frame, p["final_fillval"], context=p["context"],
                       nimages=len(md.chips))  # fmt: skip
    for w in md.chips:
        exptime = w.chip.exptime
        good = md.good_mask(w, with_cr=True).astype(np.float32)
        data = md.read_electrons(w)  # read once: the variance model and SCI
        var = chip_variance(md, w, data)
        kind = p["final_wht_type"]
        if kind == "EXP":
            weights = good * np.float32(exptime)
        elif kind == "ERR":
            # var is ERR^2 in electrons^2 here (final_wht_type ERR needs ERR extensions).
            with np.errstate(divide="ignore", invalid="ignore"):
                ivar = xp.where(var > 0, np.float32(exptime) ** 2 / var, 0.0)
            weights = good * ivar.astype(np.float32)
        else:  # IVM
            ivm_path = md.ivm[md.exposures.index(w.exposure)]
            ivm = products.read_ivm(ivm_path, w.chip)
            weights = good * to_xp(ivm, xp, np.float32)
        usable = xp.isfinite(var)
        weights = xp.where(usable, weights, xp.float32(0.0))
        var = xp.where(usable, var, xp.float32(0.0))
        s = md.scale_ratio(w, frame)
        # data2 is scaled by (iscale / exptime)^2 like the data by iscale / exptime:
        # electrons^2 in, (electrons/s)^2 out, the square of SCI's units.
        d.add_image(sky_subtracted(md, w, data), exptime, md.pixmap_to(w, frame), data2=var,
                    weight_map=weights, pixfrac=p["final_pixfrac"], in_units="counts",
                    iscale=s * s, pixel_scale_ratio=s)  # fmt: skip
        del data, var, usable  # not held while the next chip is read
    products.write_drizzle_product(md, d, frame, err=final_error(md, d))


def final_error(md, d):
    """ERR of the final drizzle: ``sqrt(out_img2)`` in electrons/s, on the host.

    Pixels without input (zero weight) get ``final_fillval`` when it is set,
    else 0.
    """
    xp = md.xp
    var = d.out_img2[0]
    empty = d.out_wht == 0
    fill = md.pars["final_fillval"]
    err = xp.sqrt(xp.where(empty, xp.float32(0.0), var))
    err = xp.where(empty, xp.float32(0.0 if fill is None else fill), err)
    return to_host(err).astype(np.float32)
