"""What went into a synthetic association (:class:`Truth`), and its ``_truth.fits`` file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

__all__ = ["Truth", "read_truth", "write_truth"]


@dataclass(eq=False)
class Truth:
    """Everything that went into a synthetic association.

    Pixel positions are 0-based (``image[y, x]``); ``chip`` is the EXTVER of
    the SCI extension (1 = WFC2, 2 = WFC1).

    Attributes
    ----------
    rootname : str
        Association rootname; also the product (output) rootname, as in
        ``<rootname>_asn.fits`` and ``<rootname>_drz.fits``.
    exposures : list of str
        File names of the exposures (``<exp>_flt.fits``), in ASN order.
    pointing : numpy.ndarray
        Pointing index (0 or 1) of each exposure.
    dither : numpy.ndarray
        ``(n_exposures, 2)`` offset (x, y) of each exposure's pointing, in
        undistorted detector pixels: a source at ``(x, y)`` in pointing 0 is
        near ``(x + dx, y + dy)`` in the others.
    sky : numpy.ndarray
        Sky of each exposure, e- per pixel (uniform in the ``flt`` frame).
    exptime : float
        Exposure time of every exposure, s.
    chip_shape : tuple of int
        ``(ny, nx)`` of each chip.
    gain, readnoise : dict
        Per amplifier ``"A"``..``"D"``: e-/ADU and e-.
    stars : astropy.table.Table
        ``ra``, ``dec`` (deg), ``flux`` (total, e-/s), ``isolated`` (no other
        star within 10 px, no galaxy's cut-off radius within 10 px).
    galaxies : astropy.table.Table
        ``ra``, ``dec``, ``flux`` (total of the truncated profile, e-/s),
        ``r_eff`` (arcsec, major axis), ``sersic_n``, ``axis_ratio``, ``pa``
        (major axis, deg east of north), ``r_trunc`` (arcsec, major axis).
    cosmic_rays : astropy.table.Table
        One row per hit pixel: ``exposure`` (index), ``chip``, ``x``, ``y``,
        ``energy`` (deposited e-, before the geometric flat field).
    hot_pixels : astropy.table.Table
        ``chip``, ``x``, ``y``, ``rate`` (excess dark, e-/s), ``flagged``
        (DQ 16 set).
    bad_columns : astropy.table.Table
        ``chip``, ``x``, ``y_min``, ``y_max`` (inclusive rows flagged DQ 4).
    seed : int
        The seed that made it.
    """

    rootname: str
    exposures: list[str]
    pointing: np.ndarray
    dither: np.ndarray
    sky: np.ndarray
    exptime: float
    chip_shape: tuple[int, int]
    gain: dict[str, float]
    readnoise: dict[str, float]
    stars: Table
    galaxies: Table
    cosmic_rays: Table
    hot_pixels: Table
    bad_columns: Table
    seed: int

    @property
    def asn_file(self) -> str:
        """File name of the association table."""
        return f"{self.rootname}_asn.fits"

    def cr_energy(self, exposure: int, chip: int) -> np.ndarray:
        """Deposited cosmic-ray energy of one exposure and chip, as an image.

        Parameters
        ----------
        exposure : int
            Index into ``exposures``.
        chip : int
            EXTVER of the chip (1 or 2).

        Returns
        -------
        numpy.ndarray
            ``chip_shape`` float64 image, e- before the geometric flat field
            (divide by :func:`gpudriz.demo.instrument.pixel_area_map` for ``flt`` units).
        """
        image = np.zeros(self.chip_shape)
        rows = self.cosmic_rays[(self.cosmic_rays["exposure"] == exposure) & (self.cosmic_rays["chip"] == chip)]
        image[np.asarray(rows["y"]), np.asarray(rows["x"])] = rows["energy"]
        return image

    def cr_mask(self, exposure: int, chip: int) -> np.ndarray:
        """Boolean image of the pixels a cosmic ray hit (arguments as :meth:`cr_energy`)."""
        return self.cr_energy(exposure, chip) > 0


def read_truth(path) -> Truth:
    """Read a ``<rootname>_truth.fits`` written by :func:`gpudriz.demo.synthetic.make_association`.

    Parameters
    ----------
    path : str or pathlib.Path
        The truth file.

    Returns
    -------
    Truth
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"truth file '{path}' does not exist.")
    try:
        with fits.open(path) as hdul:
            head = hdul[0].header
            tables = {n: Table(hdul[n].data) for n in ("EXPOSURES", "STARS", "GALAXIES", "CRAYS", "HOTPIX", "BADCOLS")}
            exposures = tables["EXPOSURES"]
            return Truth(
                rootname=head["ROOTNAME"],
                exposures=[str(n) for n in exposures["filename"]],
                pointing=np.asarray(exposures["pointing"], dtype=int),
                dither=np.column_stack([exposures["dither_x"], exposures["dither_y"]]).astype(float),
                sky=np.asarray(exposures["sky"], dtype=float),
                exptime=float(head["EXPTIME"]),
                chip_shape=(int(head["CHIPNY"]), int(head["CHIPNX"])),
                gain={a: float(head[f"ATODGN{a}"]) for a in "ABCD"},
                readnoise={a: float(head[f"READNSE{a}"]) for a in "ABCD"},
                stars=tables["STARS"],
                galaxies=tables["GALAXIES"],
                cosmic_rays=tables["CRAYS"],
                hot_pixels=tables["HOTPIX"],
                bad_columns=tables["BADCOLS"],
                seed=int(head["SEED"]),
            )
    except (OSError, KeyError) as exc:
        raise ValueError(f"'{path}' is not a truth file written by make_association ({exc}).") from None


def write_truth(path, truth):
    """Write ``truth`` to ``path`` as :func:`read_truth` reads it: a header and one table per kind."""
    head = fits.Header()
    head["ROOTNAME"] = truth.rootname
    head["SEED"] = truth.seed
    head["EXPTIME"] = truth.exptime
    head["CHIPNY"], head["CHIPNX"] = truth.chip_shape
    for amp in "ABCD":
        head[f"ATODGN{amp}"] = truth.gain[amp]
        head[f"READNSE{amp}"] = truth.readnoise[amp]
    exposures = Table(
        {
            "filename": truth.exposures,
            "pointing": truth.pointing,
            "dither_x": truth.dither[:, 0],
            "dither_y": truth.dither[:, 1],
            "sky": truth.sky,
        }
    )
    hdus = [fits.PrimaryHDU(header=head)]
    tables = {
        "EXPOSURES": exposures,
        "STARS": truth.stars,
        "GALAXIES": truth.galaxies,
        "CRAYS": truth.cosmic_rays,
        "HOTPIX": truth.hot_pixels,
        "BADCOLS": truth.bad_columns,
    }
    for name, table in tables.items():
        hdu = fits.table_to_hdu(table)
        hdu.name = name
        hdus.append(hdu)
    fits.HDUList(hdus).writeto(path, overwrite=True)
