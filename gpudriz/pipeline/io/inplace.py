"""``workinplace=yes``: the sky and the cosmic-ray flags written into the input files.

MultiDrizzle's manual (section 1.4, Initialization): with ``workinplace``
set, "the original input will be modified directly": the sky step subtracts
its sky from every SCI array and records it as MDRIZSKY, and driz_cr sets
``crbit`` in the DQ arrays where it found cosmic rays.  With the default
``workinplace=no`` gpudriz never opens an input for writing (tested by
checksums).

Each input file is rewritten whole through a temporary file in its folder
and renamed into place, so an interrupted run leaves either the old or the
new file, never a half-written one; its permissions are kept.

Two rules make a re-run behave:

- MDRIZSKY holds the sky subtracted by the run that wrote it.  Running again
  on files processed in place, ``skyuser=MDRIZSKY`` says the sky is already
  gone (the noise model of driz_cr then adds it back); otherwise the sky
  step measures what is left, about zero.
- Cosmic-ray flags of an earlier run stay bad unless ``bits`` counts
  ``crbit`` as good (the manual's "reset pixels to good if they had been
  flagged as cosmic rays during a previous run"); then the old flags are
  cleared before this run's are set, so the DQ arrays hold this run's
  cosmic rays only.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from astropy.io import fits

from gpudriz.backend.arrays import to_host
from gpudriz.pipeline.io.inputs import InputError
from gpudriz.pipeline.io.products import atomic_write

__all__ = ["write_sky", "write_cr_flags"]

log = logging.getLogger("gpudriz")


def _by_file(chips):
    groups = {}
    for w in chips:
        groups.setdefault(w.exposure.path, []).append(w)
    return groups


def _rewrite(path: Path, hdul: fits.HDUList):
    # Keep CHECKSUM/DATASUM valid where the file had them; add none otherwise.
    atomic_write(hdul, path, checksum=any("CHECKSUM" in h.header for h in hdul))


def _open_copy(path: Path) -> fits.HDUList:
    try:
        with fits.open(path, mode="readonly", memmap=False) as h:
            return fits.HDUList([hdu.copy() for hdu in h])
    except Exception as exc:
        raise InputError(f"workinplace: '{path}' cannot be read back to update it ({exc}).") from None


def write_sky(chips):
    """Subtract each chip's sky from its input SCI array and record it as MDRIZSKY.

    ``chips``: the run's chips (:class:`gpudriz.pipeline.state.ChipWork`), each
    with its sky; each is marked ``sky_written`` once its file is rewritten.

    The sky is written in the file's units (electrons, counts or
    electrons/s).  Chips whose sky the user had already subtracted
    (``skyuser``) are left alone.  Afterwards the steps read the inputs
    without sky (``ChipWork.sky_written``).

    Raises
    ------
    InputError
        If a SCI array is not floating point (the sky cannot be subtracted
        without changing its type) or a file cannot be rewritten.
    """
    for path, group in _by_file(chips).items():
        todo = [w for w in group if not w.sky_by_user and not w.sky_written]
        if not todo:
            continue
        hdul = _open_copy(path)
        for w in todo:
            hdu = hdul[w.chip.sci_ext]
            if hdu.data is None or hdu.data.dtype.kind != "f":
                kind = "no data" if hdu.data is None else f"{hdu.data.dtype} data"
                raise InputError(
                    f"workinplace: {w.chip.name} holds {kind}; the sky can only be subtracted in "
                    "place from floating-point SCI arrays (run with workinplace=no)."
                )
            in_file_units = w.sky / w.to_electrons
            hdu.data = hdu.data - np.asarray(in_file_units, dtype=hdu.data.dtype)
            hdu.header["MDRIZSKY"] = (float(in_file_units), "sky subtracted by gpudriz (file units)")
        _rewrite(Path(path), hdul)
        for w in todo:
            w.sky_written = True
        log.info("workinplace: subtracted the sky from %s", Path(path).name)


def write_cr_flags(chips):
    """Set ``crbit`` in the input DQ arrays where driz_cr found cosmic rays.

    ``chips``: the run's chips (:class:`gpudriz.pipeline.state.ChipWork`),
    each with its cosmic-ray mask.

    When ``bits`` counts ``crbit`` as good, flags of an earlier run are
    cleared first.  A chip without a DQ extension gets one (EXTNAME DQ, the
    chip's EXTVER).  ``crbit = 0`` leaves the DQ arrays untouched.
    """
    for path, group in _by_file(chips).items():
        todo = [w for w in group if w.crmask is not None and w.chip.crbit]
        if not todo:
            continue
        hdul = _open_copy(path)
        for w in todo:
            chip = w.chip
            crbit = int(chip.crbit)
            if chip.has_dq:
                dq = hdul[chip.dq_ext].data
                if dq.dtype.kind not in "iu":
                    raise InputError(
                        f"workinplace: '{path}' DQ,{chip.extver} holds {dq.dtype} values; "
                        "cosmic-ray flags can only be set in integer DQ arrays."
                    )
                if np.iinfo(dq.dtype).max < crbit:
                    raise InputError(
                        f"workinplace: crbit {crbit} does not fit the {dq.dtype} DQ,{chip.extver} "
                        f"of '{path}'."
                    )
            else:
                dq = np.zeros(chip.shape, dtype=np.int16 if crbit < 2**15 else np.int32)
                header = fits.Header([("EXTNAME", "DQ"), ("EXTVER", chip.extver)])
                hdul.append(fits.ImageHDU(dq, header=header))
                chip.dq_ext, chip.has_dq = len(hdul) - 1, True
                dq = hdul[chip.dq_ext].data
            flag = np.asarray(crbit, dtype=dq.dtype)
            if chip.good_bits & crbit:
                dq &= ~flag
            dq[to_host(w.crmask)] |= flag
        _rewrite(Path(path), hdul)
        log.info("workinplace: cosmic-ray flags (crbit %d) set in %s", todo[0].chip.crbit,
                 Path(path).name)  # fmt: skip
