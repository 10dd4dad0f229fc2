"""Files the pipeline writes: drizzled products, cosmic-ray masks, intermediates, runfile.

Every file is written to a temporary name in the output folder and renamed
into place, so an interrupted run never leaves a half-written product.
Headers record the inputs, the parameters that differ from their defaults,
the gpudriz version and the backend.
"""

from __future__ import annotations

import datetime
import os
import shlex
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits

from gpudriz.backend.arrays import to_host
from gpudriz.pipeline.config import parameters as P
from gpudriz.pipeline.io.inputs import InputError
from gpudriz.pipeline.io.provenance import (
    Provenance,
    base_cards,
    header_text,
    inputs_table,
    parameter_history,
)
from gpudriz.pipeline.workfolder import temp_prefix

__all__ = [
    "atomic_write",
    "atomic_write_text",
    "atomic_write_array",
    "write_image",
    "write_drizzle_product",
    "write_crmasks",
    "write_cor",
    "write_runfile",
    "clean_intermediates",
    "read_ivm",
    "provenance_cards",
]


def atomic_write(hdul: fits.HDUList, path, *, checksum=False, verify=True):
    """Write ``hdul`` to ``path`` through a temporary file in the same folder, renamed into place.

    An interrupted write leaves the old file (or none), never a half-written
    one.  A file that is replaced keeps its permissions; a new one gets 0644.
    ``checksum`` writes CHECKSUM/DATASUM cards.  ``verify``: astropy checks
    (and silently fixes) every card first; False for the intermediates, whose
    headers this module makes (the check was 70% of writing one, ~3 ms).
    """
    check = "silentfix" if verify else "ignore"
    _replace_atomically(Path(path), lambda tmp: hdul.writeto(tmp, overwrite=True, output_verify=check,
                                                             checksum=checksum))  # fmt: skip


def atomic_write_text(path, text: str, *, sync: bool = True):
    """Write ``text`` (UTF-8) to ``path`` as :func:`atomic_write` does: a full disk leaves the old file.

    ``sync``: flush the text to the disk before the rename (``fsync``), so
    that a disk that fills up fails the write here rather than later, when
    the system writes it back.  False for the mosaic mode's task records
    (:mod:`gpudriz.pipeline.taskrecords`), one per task: a record that did
    not reach the disk reads as no record and its task runs again, and two
    workers syncing at once waited for each other (static and sky tasks of
    1,024 exposures 13% faster on two workers without it).
    """
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            if sync:
                f.flush()
                os.fsync(f.fileno())

    _replace_atomically(Path(path), write)


def atomic_write_array(path, array: np.ndarray):
    """Write ``array`` to ``path`` in NumPy's ``.npy`` format, as :func:`atomic_write` does.

    For the mosaic mode's working files that only gpudriz reads (the static
    masks): a FITS file's headers cost milliseconds to write and to read, the
    ``.npy`` header microseconds.
    """
    def write(tmp):
        with open(tmp, "wb") as f:
            np.save(f, array)

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


def provenance_cards(prov: Provenance) -> fits.Header:
    """Primary-header cards of every file written: software, backend, date, chip count.

    Fixed in size whatever the number of inputs (:mod:`gpudriz.pipeline.io.provenance`):
    the inputs themselves are listed once, in the final product's
    ``INPUTS`` table, and the parameters in its HISTORY.
    """
    return base_cards(prov)


def write_image(path, data, wcs_header, prov: Provenance, *, bunit=None, extname=None,
                provenance=False, cards=None, tables=(), inputs_note=None):  # fmt: skip
    """One image in a simple FITS file (primary HDU) with a WCS and provenance.

    ``prov``: the run's provenance record.  ``provenance``: also the
    parameters (HISTORY) and the ``INPUTS`` table extension, for a final
    product (:mod:`gpudriz.pipeline.io.provenance`).  ``cards``: more
    header cards (a tile's place, :mod:`gpudriz.pipeline.io.tile_products`);
    ``tables``: more table extensions, after ``INPUTS``; ``inputs_note``
    replaces the ``INPUTS`` table's COMMENT.
    """
    hdr = provenance_cards(prov)
    if provenance:
        parameter_history(prov, hdr)
    if cards is not None:
        hdr.extend(cards)
    hdr.extend(wcs_header, update=True)
    if bunit:
        hdr["BUNIT"] = bunit
    if extname:
        hdr["EXTNAME"] = extname
    hdus = [fits.PrimaryHDU(np.asarray(data), header=hdr)]
    if provenance:
        hdus.append(_inputs_hdu(prov, inputs_note))
    hdus.extend(tables)
    atomic_write(fits.HDUList(hdus), Path(path), verify=provenance)  # intermediates: headers made here


def _inputs_hdu(prov: Provenance, note=None) -> fits.BinTableHDU:
    """The ``INPUTS`` table, its COMMENT replaced by ``note`` when given."""
    hdu = inputs_table(prov)
    if note is not None:
        del hdu.header["COMMENT"]
        hdu.header["COMMENT"] = note
    return hdu


def write_drizzle_product(folder, output, planes, frame, prov: Provenance, *, build=True, cards=None,
                          tables=(), inputs_note=None) -> dict:  # fmt: skip
    """``<output>_drz.fits`` (SCI, WHT, CTX, ERR; build=yes) or ``_drz_sci/_wht/_ctx/_err.fits``.

    Parameters
    ----------
    folder : Path
        The output folder.
    output : str
        Rootname of the products.
    planes : mapping
        ``"SCI"``, ``"WHT"``, ``"CTX"``, ``"ERR"`` -> host array or None (not
        written): the final drizzle in electrons/s, its weights, its context
        planes (one plane as a 2-D image) and the propagated error of SCI.
    frame : gpudriz.pipeline.geometry.outframe.OutputFrame
        Their output frame (WCS of every extension).
    prov : Provenance
        The run's provenance record (parameters and the INPUTS table).
    build : bool
        One file with extensions (the ``build`` parameter), else one per plane.
    cards : astropy.io.fits.Header, optional
        More primary-header cards (of every file when ``build=no``).
    tables : sequence of BinTableHDU
        More table extensions, after ``INPUTS`` (in the CTX file when ``build=no``).
    inputs_note : str, optional
        The ``INPUTS`` table's COMMENT, when it is not "row k is context bit k".

    Returns
    -------
    dict
        The files written by kind: ``"drz"``, or ``"drz_sci"``, ``"drz_wht"``...
    """
    wcs_hdr = frame.header()
    prov_cards = provenance_cards(prov)
    parameter_history(prov, prov_cards)
    # ERR last: readers of HST's SCI, WHT, CTX by index still find them.
    units = {"SCI": "ELECTRONS/S", "WHT": None, "CTX": None, "ERR": "ELECTRONS/S"}
    layers = [(name, planes.get(name), unit) for name, unit in units.items()]
    written = {}
    if build:
        primary = fits.PrimaryHDU(header=prov_cards)
        primary.header["FILENAME"] = header_text(Path(f"{output}_drz.fits").name)
        if cards is not None:
            primary.header.extend(cards)
        hdus = [primary]
        for name, data, unit in layers:
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
        hdus.append(_inputs_hdu(prov, inputs_note))
        hdus.extend(tables)
        path = Path(folder) / f"{output}_drz.fits"
        atomic_write(fits.HDUList(hdus), path)
        written["drz"] = path
    else:
        for name, data, unit in layers:
            if data is None:
                continue
            path = Path(folder) / f"{output}_drz_{name.lower()}.fits"
            # The SCI file also carries the parameters and the INPUTS table.
            write_image(path, data, wcs_hdr, prov, bunit=unit, provenance=name == "SCI", cards=cards,
                        tables=tables if name == "CTX" else (), inputs_note=inputs_note)  # fmt: skip
            written[f"drz_{name.lower()}"] = path
    return written


def write_crmasks(masks, folder, prov: Provenance) -> dict:
    """``<rootname>_crmask.fits`` per exposure: one CRMASK extension per chip, 1 = cosmic ray.

    Parameters
    ----------
    masks : sequence of (str, int, array, float or None)
        Per chip: its exposure's rootname, its EXTVER, its cosmic-ray mask
        (True = CR) and driz_cr's noise scale (CRNOISE), in input order.
    folder : Path
    prov : Provenance

    Returns
    -------
    dict
        ``"crmask:<rootname>"`` -> the file written.
    """
    groups = {}
    for root, extver, crmask, noise in masks:
        groups.setdefault(root, []).append((extver, crmask, noise))
    written = {}
    for root, chips in groups.items():
        hdus = [fits.PrimaryHDU(header=provenance_cards(prov))]
        for extver, crmask, noise in chips:
            h = fits.Header()
            h["EXTNAME"] = "CRMASK"
            h["EXTVER"] = extver
            h["COMMENT"] = "non-zero where driz_cr detected a cosmic ray"
            if noise is not None:
                h["CRNOISE"] = (round(float(noise), 5),
                                "driz_cr: measured noise of D - B / its model")  # fmt: skip
            hdus.append(fits.ImageHDU(np.asarray(to_host(crmask), dtype=np.uint8), header=h))
        path = Path(folder) / f"{root}_crmask.fits"
        atomic_write(fits.HDUList(hdus), path)
        written[f"crmask:{root}"] = path
    return written


def write_cor(corrected, folder) -> dict:
    """``<rootname>_cor.fits``: a copy of the input with cosmic-ray pixels replaced by the blot.

    Parameters
    ----------
    corrected : sequence of (Path, str, Chip, ndarray, array)
        Per chip: its exposure file, rootname, the chip, its data with the
        cosmic rays replaced (file units) and its cosmic-ray mask.
    folder : Path

    Returns
    -------
    dict
        ``"cor:<rootname>"`` -> the file written.
    """
    groups = {}
    for src, root, chip, cor, crmask in corrected:
        groups.setdefault(src, []).append((root, chip, cor, crmask))
    written = {}
    for src, chips in groups.items():
        root = chips[0][0]
        with fits.open(src, memmap=False) as h:
            hdul = fits.HDUList([hdu.copy() for hdu in h])
        for _, chip, cor, crmask in chips:
            hdul[chip.sci_ext].data = cor.astype(hdul[chip.sci_ext].data.dtype)
            if chip.has_dq and chip.crbit:
                dq = hdul[chip.dq_ext].data
                dq[to_host(crmask)] |= np.asarray(chip.crbit, dtype=dq.dtype)
        path = Path(folder) / f"{root}_cor.fits"
        atomic_write(hdul, path)
        written[f"cor:{root}"] = path
    return written


def write_runfile(pars, folder) -> Path | None:
    """The ``runfile``: the command that redoes this run (final drizzle included).

    Parameters
    ----------
    pars : gpudriz.pipeline.config.parameters.Parameters
        The run's parameters (``runfile`` names the file; empty: none written).
    folder : Path
        The run's folder (relative names are in it).

    Returns
    -------
    Path or None
        The file written.
    """
    if not pars["runfile"]:
        return None
    args = ["gpudriz", str(pars["input"])]
    for name, value in pars.changed().items():
        if name == "input":
            continue
        args.append(f"{name}={P.format_value(value)}")
    path = Path(folder) / pars["runfile"]
    text = (
        "# gpudriz runfile: the command below redoes this run, final drizzle included.\n"
        f"# Written {datetime.datetime.now().isoformat(timespec='seconds')} in {folder}\n"
        + " ".join(shlex.quote(a) for a in args)
        + "\n"
    )
    atomic_write_text(path, text)
    return path


def clean_intermediates(paths) -> None:
    """Delete the intermediates (single drizzles, median, blots) when ``clean=yes``."""
    for path in paths:
        Path(path).unlink(missing_ok=True)


def read_ivm(path, chip):
    """The inverse-variance map of ``chip`` from its IVM file (EXTNAME IVM, or the matching image)."""
    with fits.open(path, memmap=False) as h:
        candidates = [hdu for hdu in h if hdu.is_image and hdu.data is not None]
        named = [hdu for hdu in candidates if hdu.header.get("EXTNAME", "").upper() == "IVM"
                 and hdu.header.get("EXTVER", 1) == chip.extver]  # fmt: skip
        pick = named[0] if named else (candidates[chip.extver - 1] if len(candidates) >= chip.extver
                                        else None)  # fmt: skip
        if pick is None or pick.data.shape != chip.shape:
            raise InputError(f"IVM file '{path}' has no {chip.shape} image for chip {chip.extver}.")
        return np.asarray(pick.data, dtype=np.float32)
