"""Amplifier regions of a chip: which pixels each readout amplifier read, with its gain and read noise.

Instrument models (from the primary header's INSTRUME and DETECTOR):

- ACS/WFC and WFC3/UVIS: two CCDs.  ``SCI,1`` is CCDCHIP 2 (ACS WFC2,
  WFC3 UVIS2), read by amplifiers C (left half of the columns) and D (right
  half); ``SCI,2`` is CCDCHIP 1 (WFC1, UVIS1), amplifiers A (left) and B
  (right).  Only the amplifiers listed in CCDAMP are used: one amplifier on
  a chip reads all of it.  Gains are ATODGN[A-D], read noises READNSE[A-D].
- ACS/HRC: one CCD read by the amplifier in CCDAMP.
- WFC3/IR: one chip in four 512 x 512 quadrants of the 1024 x 1024 detector
  (the 1014 x 1014 image plus 5 reference pixels each side), with calwf3's
  layout, rows counted upwards as in a FITS display: A upper left, B lower
  left, C lower right, D upper right.
- Anything else: one region, gain CCDGAIN (or 1), read noise 0, with a
  logged warning.

Amplifier boundaries are placed in detector (physical) pixels and mapped to
the image with the LTV/LTM keywords, so subarrays and binned images split
where their pixels were actually read (full frames: at the middle column or
row); an image without LTV keywords is split at its middle.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from gpudriz.backend.validate import is_real
from gpudriz.pipeline.io.fits import InputError
from gpudriz.pipeline.io.headers import header_value, keyword_number, keyword_text

__all__ = [
    "AmpRegion",
    "INSTRUMENT_MODELS",
    "amp_split",
    "amp_boundary",
    "regions_two_chip",
    "regions_single_amp",
    "regions_ir",
    "regions_generic",
    "amp_values",
    "amp_regions",
]

log = logging.getLogger("gpudriz")


@dataclass(frozen=True)
class AmpRegion:
    """The pixels of a chip read by one amplifier (0-based, end exclusive).

    Attributes
    ----------
    name : str
        Amplifier letter(s) (``"A"`` .. ``"D"``), or ``""`` for the generic model.
    y0, y1, x0, x1 : int
        Row and column bounds in the chip's image.
    gain : float
        Gain in electrons per count.
    rdnoise : float
        Read noise in electrons.
    """

    name: str
    y0: int
    y1: int
    x0: int
    x1: int
    gain: float
    rdnoise: float

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(rows, columns)`` slices selecting the region in a chip array."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def npix(self) -> int:
        """Number of pixels in the region."""
        return (self.y1 - self.y0) * (self.x1 - self.x0)


def amp_split(n: int, ltv: float, ltm: float, half: int) -> int:
    """Image index of the first pixel past detector pixel ``half`` (1-based).

    IRAF's logical-to-physical transform is ``image = ltm * physical + ltv``
    (1-based); the amplifier boundary is the edge at physical ``half + 0.5``.
    """
    edge = ltm * (half + 0.5) + ltv
    return min(max(int(math.floor(edge - 0.5 + 1e-6)), 0), n)


def amp_boundary(n: int, sci, axis: int, half: int) -> int:
    """Where amplifiers meet along ``axis`` (1: x, 2: y) of an ``n``-pixel image.

    With the LTV keyword (every calibrated HST image) the boundary is placed
    in detector pixels, so subarrays and binned images split where they were
    read; without it (hand-made files) at the middle of the image.
    """
    ltv = sci.get(f"LTV{axis}")
    ltm = sci.get(f"LTM{axis}_{axis}", 1.0)
    numeric = all(is_real(v) for v in (ltv, ltm))
    if not numeric or not ltm:
        return n // 2
    return amp_split(n, float(ltv), float(ltm), half)


def regions_two_chip(ctx) -> list[tuple[str, int, int, int, int]]:
    """ACS/WFC and WFC3/UVIS: amps A, B on CCDCHIP 1 and C, D on CCDCHIP 2, split in x."""
    ny, nx = ctx.shape
    sci = ctx.sci
    ccdchip = header_value("CCDCHIP", sci, ctx.primary)
    if ccdchip is None:
        ccdchip = 2 if ctx.extver == 1 else 1  # SCI,1 is always the second CCD
    chip_amps = {1: "AB", 2: "CD"}.get(ccdchip)
    if chip_amps is None:
        raise InputError(f"'{ctx.path}' SCI,{ctx.extver} has CCDCHIP={ccdchip!r}; expected 1 or 2.")
    listed = keyword_text(ctx.primary, "CCDAMP") or "ABCD"
    used = [a for a in chip_amps if a in listed]
    if not used:
        raise InputError(
            f"'{ctx.path}' CCDAMP={listed!r} lists no amplifier of SCI,{ctx.extver} "
            f"(CCDCHIP {ccdchip}: {chip_amps[0]} or {chip_amps[1]})."
        )
    if len(used) == 1:
        return [(used[0], 0, ny, 0, nx)]
    xs = amp_boundary(nx, sci, 1, half=2048)
    return [(used[0], 0, ny, 0, xs), (used[1], 0, ny, xs, nx)]


def regions_single_amp(ctx):
    """ACS/HRC: the amplifier(s) in CCDAMP read the whole chip."""
    ny, nx = ctx.shape
    listed = "".join(a for a in keyword_text(ctx.primary, "CCDAMP") if a in "ABCD")
    if not listed:
        raise InputError(f"'{ctx.path}' has no CCDAMP keyword naming the readout amplifier (A-D).")
    if len(listed) > 1:
        log.warning("%s: CCDAMP=%s on a one-amplifier detector; using the amplifiers' mean gain and read noise",
                    ctx.path.name, listed)  # fmt: skip
    return [(listed, 0, ny, 0, nx)]


def regions_ir(ctx):
    """WFC3/IR: quadrants of 512 detector pixels; A upper left, B lower left, C lower right, D upper right."""
    ny, nx = ctx.shape
    xs = amp_boundary(nx, ctx.sci, 1, half=512)
    ys = amp_boundary(ny, ctx.sci, 2, half=512)
    return [
        ("A", ys, ny, 0, xs),
        ("B", 0, ys, 0, xs),
        ("C", 0, ys, xs, nx),
        ("D", ys, ny, xs, nx),
    ]


def regions_generic(ctx):
    """Any other detector: one region, the whole chip."""
    ny, nx = ctx.shape
    return [("", 0, ny, 0, nx)]


#: (INSTRUME, DETECTOR) -> (amplifier layout, units when BUNIT is absent).
INSTRUMENT_MODELS = {
    ("ACS", "WFC"): (regions_two_chip, "electrons"),
    ("WFC3", "UVIS"): (regions_two_chip, "electrons"),
    ("ACS", "HRC"): (regions_single_amp, "electrons"),
    ("WFC3", "IR"): (regions_ir, "electrons/s"),
}


def amp_values(letters, ctx, prefix, *, positive):
    """Mean of the per-amplifier keywords (ATODGNx or READNSEx) over ``letters``."""
    what = "gain" if prefix == "ATODGN" else "read noise"
    other = "gain or gnkeyword" if what == "gain" else "rdnoise or rnkeyword"
    values = [
        keyword_number(f"{prefix}{a}", ctx.path, (ctx.sci, ctx.primary),
                        positive=positive, nonnegative=not positive,
                        why=f" (the {what} of amplifier {a}, listed in CCDAMP); pass {other}")
        for a in letters
    ]  # fmt: skip
    return sum(values) / len(values)


def amp_regions(ctx, layout, overrides) -> tuple[AmpRegion, ...]:
    """Regions with gain and read noise from the header or the overrides."""
    path, headers = ctx.path, (ctx.sci, ctx.primary)
    gain = overrides.get("gain")
    if "gnkeyword" in overrides:
        gain = keyword_number(overrides["gnkeyword"], path, headers, positive=True, why=" named by gnkeyword")
    rdnoise = overrides.get("rdnoise")
    if "rnkeyword" in overrides:
        rdnoise = keyword_number(overrides["rnkeyword"], path, headers, nonnegative=True, why=" named by rnkeyword")
    assumed = []
    regions = []
    for name, y0, y1, x0, x1 in layout(ctx):
        if y1 <= y0 or x1 <= x0:
            continue  # an amplifier whose pixels lie outside this subarray
        g, r = gain, rdnoise
        if name:
            g = amp_values(name, ctx, "ATODGN", positive=True) if g is None else g
            r = amp_values(name, ctx, "READNSE", positive=False) if r is None else r
        else:
            if g is None:
                ccdgain = header_value("CCDGAIN", *headers)
                if is_real(ccdgain) and ccdgain > 0:
                    g = float(ccdgain)
                else:
                    g = 1.0
                    assumed.append("gain 1")
            if r is None:
                r = 0.0
                assumed.append("read noise 0")
        regions.append(AmpRegion(name, y0, y1, x0, x1, float(g), float(r)))
    if assumed:
        log.warning("%s[SCI,%d]: no instrument model for INSTRUME=%r DETECTOR=%r; assuming %s (set gain/rdnoise "
                    "to override)", path.name, ctx.extver, ctx.instrument, ctx.detector,
                    " and ".join(assumed))  # fmt: skip
    return tuple(regions)
