"""Files the pipeline writes: drizzled products, cosmic-ray masks, intermediates, runfile.

Every file is written to a temporary name in the output folder and renamed
into place, so an interrupted run never leaves a half-written product.
Headers record the inputs, the parameters that differ from their defaults,
the gpudriz version and the backend.
"""

from __future__ import annotations

import datetime
import logging
import os
import shlex
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits

from gpudriz.backend.arrays import to_host
from gpudriz.pipeline.config import parameters as P
from gpudriz.pipeline.io.provenance import (
    base_cards,
    header_text,
    inputs_table,
    parameter_history,
)
from gpudriz.pipeline.workfolder import temp_prefix

__all__ = [
    "atomic_write",
    "atomic_write_text",
    "write_image",
    "write_drizzle_product",
    "write_crmasks",
    "write_cor",
    "write_runfile",
    "clean_intermediates",
    "read_ivm",
    "provenance_cards",
]

log = logging.getLogger("gpudriz")


def atomic_write(hdul: fits.HDUList, path, *, checksum=False):
    """Write ``hdul`` to ``path`` through a temporary file in the same folder, renamed into place.

    An interrupted write leaves the old file (or none), never a half-written
    one.  A file that is replaced keeps its permissions; a new one gets 0644.
    ``checksum`` writes CHECKSUM/DATASUM cards.
    """
    _replace_atomically(Path(path), lambda tmp: hdul.writeto(tmp, overwrite=True, output_verify="silentfix",
                                                             checksum=checksum))  # fmt: skip


def atomic_write_text(path, text: str):
    """Write ``text`` (UTF-8) to ``path`` as :func:`atomic_write` does: a full disk leaves the old file."""
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    _replace_atomically(Path(path), write)


def _replace_atomically(path: Path, write):
    """``write(tmp)`` to a temporary beside ``path``, then rename it into place.

    The temporary's name carries gpudriz's mark (:func:`gpudriz.pipeline.workfolder.temp_prefix`),
    so that a later run can remove one left by a killed process.
    """
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def provenance_cards(md) -> fits.Header:
    """Primary-header cards of every file written: software, backend, date, chip count.

    Fixed in size whatever the number of inputs (:mod:`gpudriz.pipeline.io.provenance`):
    the inputs themselves are listed once, in the final product's
    ``INPUTS`` table, and the parameters in its HISTORY.
    """
    return base_cards(md)


def write_image(path, data, wcs_header, md, *, bunit=None, extname=None, provenance=False):
    """One image in a simple FITS file (primary HDU) with a WCS and provenance.

    ``provenance``: also the parameters (HISTORY) and the ``INPUTS`` table
    extension, for a final product (:mod:`gpudriz.pipeline.io.provenance`).
    """
    hdr = provenance_cards(md)
    if provenance:
        parameter_history(md, hdr)
    hdr.extend(wcs_header, update=True)
    if bunit:
        hdr["BUNIT"] = bunit
    if extname:
        hdr["EXTNAME"] = extname
    hdus = [fits.PrimaryHDU(np.asarray(data), header=hdr)]
    if provenance:
        hdus.append(inputs_table(md))
    atomic_write(fits.HDUList(hdus), Path(path))


def write_drizzle_product(md, d, frame, *, err=None):
    """``<output>_drz.fits`` (SCI, WHT, CTX, ERR; build=yes) or ``_drz_sci/_wht/_ctx/_err.fits``.

    Parameters
    ----------
    md : Multidrizzle
    d : gpudriz.resample.Drizzle
        The final drizzle.
    frame : gpudriz.pipeline.geometry.outframe.OutputFrame
        Its output frame (WCS of every extension).
    err : ndarray, optional
        The propagated error of SCI (electrons/s).  It comes last, after CTX,
        so that readers of HST's SCI, WHT, CTX layout by index still work.
    """
    wcs_hdr = frame.header()
    sci = to_host(d.out_img).astype(np.float32)
    wht = to_host(d.out_wht).astype(np.float32)
    ctx = None if d.out_ctx is None else to_host(d.out_ctx)
    if ctx is not None and ctx.shape[0] == 1:
        ctx = ctx[0]
    prov = provenance_cards(md)
    parameter_history(md, prov)
    out = md.output
    # ERR last: readers of HST's SCI, WHT, CTX by index still find them.
    planes = [("SCI", sci, "ELECTRONS/S"), ("WHT", wht, None), ("CTX", ctx, None),
              ("ERR", err, "ELECTRONS/S")]  # fmt: skip
    if md.pars["build"]:
        primary = fits.PrimaryHDU(header=prov)
        primary.header["FILENAME"] = header_text(Path(f"{out}_drz.fits").name)
        hdus = [primary]
        for name, data, unit in planes:
            if data is None:
                continue
            h = fits.Header()
            h["EXTNAME"] = name
            h["EXTVER"] = 1
            h.extend(wcs_hdr, update=True)
            if unit:
                h["BUNIT"] = unit
            hdus.append(fits.ImageHDU(data, header=h))
        # After ERR: readers of SCI, WHT, CTX, ERR by index are unaffected.
        hdus.append(inputs_table(md))
        path = md.path(f"{out}_drz.fits")
        atomic_write(fits.HDUList(hdus), path)
        md.products["drz"] = path
    else:
        for name, data, unit in planes:
            if data is None:
                continue
            path = md.path(f"{out}_drz_{name.lower()}.fits")
            # The SCI file also carries the parameters and the INPUTS table.
            write_image(path, data, wcs_hdr, md, bunit=unit, provenance=name == "SCI")
            md.products[f"drz_{name.lower()}"] = path
    log.info("driz_combine: wrote %s", ", ".join(str(p.name) for p in md.products.values()))


def write_crmasks(md):
    """``<rootname>_crmask.fits`` per exposure: one CRMASK extension per chip, 1 = cosmic ray."""
    groups = {}
    for w in md.chips:
        groups.setdefault(w.exposure.rootname, []).append(w)
    for root, chips in groups.items():
        hdus = [fits.PrimaryHDU(header=provenance_cards(md))]
        for w in chips:
            h = fits.Header()
            h["EXTNAME"] = "CRMASK"
            h["EXTVER"] = w.chip.extver
            h["COMMENT"] = "non-zero where driz_cr detected a cosmic ray"
            if w.cr_noise_scale is not None:
                h["CRNOISE"] = (round(float(w.cr_noise_scale), 5),
                                "driz_cr: measured noise of D - B / its model")  # fmt: skip
            hdus.append(fits.ImageHDU(np.asarray(to_host(w.crmask), dtype=np.uint8), header=h))
        path = md.path(f"{root}_crmask.fits")
        atomic_write(fits.HDUList(hdus), path)
        md.products[f"crmask:{root}"] = path


def write_cor(md):
    """``<rootname>_cor.fits``: a copy of the input with cosmic-ray pixels replaced by the blot."""
    groups = {}
    for w in md.chips:
        groups.setdefault(w.exposure.path, []).append(w)
    for src, chips in groups.items():
        root = chips[0].exposure.rootname
        with fits.open(src, memmap=False) as h:
            hdul = fits.HDUList([hdu.copy() for hdu in h])
        for w in chips:
            hdul[w.chip.sci_ext].data = w.cor.astype(hdul[w.chip.sci_ext].data.dtype)
            if w.chip.has_dq and w.chip.crbit:
                dq = hdul[w.chip.dq_ext].data
                dq[to_host(w.crmask)] |= np.asarray(w.chip.crbit, dtype=dq.dtype)
        path = md.path(f"{root}_cor.fits")
        atomic_write(hdul, path)
        md.products[f"cor:{root}"] = path


def write_runfile(md):
    """The ``runfile``: the command that redoes this run (final drizzle included)."""
    if not md.pars["runfile"]:
        return
    args = ["gpudriz", str(md.pars["input"])]
    for name, value in md.pars.changed().items():
        if name == "input":
            continue
        args.append(f"{name}={P.format_value(value)}")
    path = md.path(md.pars["runfile"])
    text = (
        "# gpudriz runfile: the command below redoes this run, final drizzle included.\n"
        f"# Written {datetime.datetime.now().isoformat(timespec='seconds')} in {md.workdir}\n"
        + " ".join(shlex.quote(a) for a in args)
        + "\n"
    )
    atomic_write_text(path, text)
    md.products["runfile"] = path


def clean_intermediates(md):
    """Delete the intermediates (single drizzles, median, blots) when ``clean=yes``."""
    for path in md.intermediates:
        Path(path).unlink(missing_ok=True)
    md.intermediates = []


def read_ivm(path, chip):
    """The inverse-variance map of ``chip`` from its IVM file (EXTNAME IVM, or the matching image)."""
    from gpudriz.pipeline.io.inputs import InputError

    with fits.open(path, memmap=False) as h:
        candidates = [hdu for hdu in h if hdu.is_image and hdu.data is not None]
        named = [hdu for hdu in candidates if hdu.header.get("EXTNAME", "").upper() == "IVM"
                 and hdu.header.get("EXTVER", 1) == chip.extver]  # fmt: skip
        pick = named[0] if named else (candidates[chip.extver - 1] if len(candidates) >= chip.extver
                                        else None)  # fmt: skip
        if pick is None or pick.data.shape != chip.shape:
            raise InputError(f"IVM file '{path}' has no {chip.shape} image for chip {chip.extver}.")
        return np.asarray(pick.data, dtype=np.float32)
