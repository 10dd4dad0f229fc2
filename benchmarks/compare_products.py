"""Compare two folders of pipeline products file by file, FITS HDU by HDU.

Used to show that a change which should not alter the science (a refactoring, a new execution
path) leaves the products as they were::

    python benchmarks/compare_products.py BEFORE_DIR AFTER_DIR

Data (image and table) must be bit-for-bit equal (NaNs in the same places).  Header cards must be
equal except those that record when or where a run happened (dates, the run's folder, the
software version, checksums that cover them), which are listed as ignored.  Files other than
FITS are compared byte for byte, except the runfile and the quicklook PNG, which name folders.
Exit status 0 when everything matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from astropy.io import fits

#: Cards that differ between two identical runs made at other times or in other folders.
VOLATILE_CARDS = {"DATE", "IRAF-TLM", "CHECKSUM", "DATASUM"}
#: Non-FITS products that name the run's folder or time.
VOLATILE_FILES = {".run", ".png", ".log", ".lock"}


def _same_array(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, fits.FITS_rec) or a.dtype.names:
        return a.dtype == b.dtype and a.tobytes() == b.tobytes()
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def compare_fits(a: Path, b: Path) -> list[str]:
    """Differences between two FITS files, one sentence each (empty when they match)."""
    out = []
    with fits.open(a) as ha, fits.open(b) as hb:
        if len(ha) != len(hb):
            return [f"{a.name}: {len(ha)} HDUs against {len(hb)}"]
        for i, (x, y) in enumerate(zip(ha, hb)):
            where = f"{a.name}[{i}] {x.name}"
            if not _same_array(x.data, y.data):
                out.append(f"{where}: data differ")
            cards_x = [(c.keyword, c.value) for c in x.header.cards if c.keyword not in VOLATILE_CARDS]
            cards_y = [(c.keyword, c.value) for c in y.header.cards if c.keyword not in VOLATILE_CARDS]
            for cx, cy in zip(cards_x, cards_y):
                if cx != cy:
                    out.append(f"{where}: card {cx} against {cy}")
            if len(cards_x) != len(cards_y):
                out.append(f"{where}: {len(cards_x)} header cards against {len(cards_y)}")
    return out


def compare_folders(before: Path, after: Path) -> tuple[list[str], int]:
    """Differences between two product folders, and the number of files compared."""
    diffs = []
    names_a = {p.name for p in before.iterdir() if p.is_file()}
    names_b = {p.name for p in after.iterdir() if p.is_file()}
    for name in sorted(names_a ^ names_b):
        diffs.append(f"{name}: only in {'the first' if name in names_a else 'the second'} folder")
    n = 0
    for name in sorted(names_a & names_b):
        a, b = before / name, after / name
        if name.endswith((".fits", ".fits.gz")):
            diffs += compare_fits(a, b)
            n += 1
        elif a.suffix not in VOLATILE_FILES:
            n += 1
            if a.read_bytes() != b.read_bytes():
                diffs.append(f"{name}: bytes differ")
    return diffs, n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    args = ap.parse_args(argv)
    diffs, n = compare_folders(args.before, args.after)
    for d in diffs:
        print(d)
    print(f"{n} files compared: {'identical' if not diffs else f'{len(diffs)} differences'} "
          f"(ignoring the cards {', '.join(sorted(c for c in VOLATILE_CARDS if c))})")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
