"""The files of a tiled final product (``tile_size``): one product per tile, and the tile table.

Each tile is written as the untiled product is
(:func:`gpudriz.pipeline.io.products.write_drizzle_product`), under the
rootname ``<output>_x<ix>y<iy>``: ``<output>_x<ix>y<iy>_drz.fits`` with SCI,
WHT, CTX, ERR on the tile's WCS and the run's ``INPUTS`` table
(``build=yes``), or its ``_drz_sci/_wht/_ctx/_err.fits`` (``build=no``).  Its
primary header(s) add where the tile lies in the frame (``TILEIX``,
``TILEIY``, ``TILEX0``, ``TILEY0``, ``FRAMENX``, ``FRAMENY``); with context
planes, a ``CTXBITS`` table says which input chip each bit of the tile is
(after ``INPUTS``; in the CTX file when ``build=no``).

``<output>_tiles.ecsv`` (an astropy Table in ECSV) lists every tile written,
one row each: ``file`` (the tile's product, its SCI file when ``build=no``),
``ix``, ``iy``, ``x0``, ``y0`` (the tile is the frame's pixels
``[y0:y0 + ny, x0:x0 + nx]``, 0-based), ``nx``, ``ny``, ``nchips`` (the input
chips that put data on the tile) and ``chips`` (those chips, space-separated
rows of the ``INPUTS`` table from 0, in context-bit order: the k-th is bit k).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from gpudriz.pipeline.io.products import atomic_write_text, write_drizzle_product
from gpudriz.pipeline.io.provenance import Provenance

__all__ = ["TileRow", "tile_rootname", "tile_cards", "context_bits_table", "write_tile", "write_tile_table",
           "read_tile_table", "TILE_TABLE_SUFFIX"]  # fmt: skip

#: The tile table's name after the output rootname.
TILE_TABLE_SUFFIX = "_tiles.ecsv"

#: The COMMENT of a tile's ``INPUTS`` table (the run's inputs, not the tile's bits).
INPUTS_NOTE = "one row per input chip of the run; CTXBITS says which row each context bit of this tile is"


@dataclass(frozen=True)
class TileRow:
    """One row of the tile table: the file, the tile's place and its chips (rows of ``INPUTS``)."""

    file: str
    ix: int
    iy: int
    x0: int
    y0: int
    nx: int
    ny: int
    chips: tuple


def tile_rootname(output: str, ix: int, iy: int) -> str:
    """``<output>_x<ix>y<iy>``: the rootname of tile ``(ix, iy)``'s product."""
    return f"{output}_x{ix}y{iy}"


def tile_cards(tile, frame) -> fits.Header:
    """Primary-header cards of a tile's product: its indices, origin and the frame's size."""
    h = fits.Header()
    h["TILEIX"] = (tile.ix, "tile column (from 0)")
    h["TILEIY"] = (tile.iy, "tile row (from 0)")
    h["TILEX0"] = (tile.x0, "first frame column of the tile (from 0)")
    h["TILEY0"] = (tile.y0, "first frame row of the tile (from 0)")
    h["FRAMENX"] = (frame.shape[1], "width of the whole final frame")
    h["FRAMENY"] = (frame.shape[0], "height of the whole final frame")
    return h


def context_bits_table(chips, prov: Provenance) -> fits.BinTableHDU:
    """``CTXBITS``: per context bit of a tile, the input chip (its ``INPUTS`` row, file and EXTVER)."""
    rows = [prov.inputs[k] for k in chips] if prov.inputs else []
    names = [str(Path(r.path).name).encode("utf-8", "surrogateescape") for r in rows]
    width = max([1] + [len(n) for n in names])
    cols = [
        fits.Column("BIT", format="J", array=np.arange(len(chips), dtype=np.int32)),
        fits.Column("INPUT", format="J", array=np.array(chips, dtype=np.int32)),
        fits.Column("FILENAME", format=f"{width}A", array=np.array(names, dtype=f"S{width}")),
        fits.Column("EXTVER", format="J", array=np.array([r.extver for r in rows], dtype=np.int32)),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="CTXBITS")
    hdu.header["COMMENT"] = "context bit BIT of this tile is row INPUT (from 0) of the INPUTS table"
    return hdu


def write_tile(folder, output, tile, planes, tile_frame, frame, chips, prov: Provenance, *, build=True) -> dict:
    """Write one tile's product; returns its files, keyed ``"<kind>:x<ix>y<iy>"``.

    ``tile``: its :class:`~gpudriz.pipeline.steps.tiles.Tile`; ``planes``: its
    SCI, WHT, CTX, ERR; ``tile_frame``: its frame (WCS of every plane);
    ``frame``: the whole final frame; ``chips``: the ``INPUTS`` rows of its
    context bits.
    """
    tables = [context_bits_table(chips, prov)] if planes.get("CTX") is not None else []
    files = write_drizzle_product(folder, tile_rootname(output, tile.ix, tile.iy), planes, tile_frame, prov,
                                  build=build, cards=tile_cards(tile, frame), tables=tables,
                                  inputs_note=INPUTS_NOTE)  # fmt: skip
    return {f"{kind}:x{tile.ix}y{tile.iy}": path for kind, path in files.items()}


def write_tile_table(folder, output, rows, frame, tile_size) -> Path:
    """``<output>_tiles.ecsv``: one row per tile written (see the module's description)."""
    t = Table(
        rows=[(r.file, r.ix, r.iy, r.x0, r.y0, r.nx, r.ny, len(r.chips), " ".join(map(str, r.chips)))
              for r in rows],
        names=("file", "ix", "iy", "x0", "y0", "nx", "ny", "nchips", "chips"),
        dtype=(str, np.int64, np.int64, np.int64, np.int64, np.int64, np.int64, np.int64, str),
    )  # fmt: skip
    t.meta["tile_size"] = int(tile_size)
    t.meta["frame_nx"], t.meta["frame_ny"] = int(frame.shape[1]), int(frame.shape[0])
    t.meta["comments"] = [
        "One row per tile written; tiles that no input touches are not written.",
        "x0, y0: the tile is the frame's pixels [y0:y0+ny, x0:x0+nx] (0-based).",
        "chips: rows (0-based) of the INPUTS table of the products; the k-th is context bit k of the tile.",
    ]
    buf = io.StringIO()
    t.write(buf, format="ascii.ecsv")
    path = Path(folder) / f"{output}{TILE_TABLE_SUFFIX}"
    atomic_write_text(path, buf.getvalue())
    return path


def read_tile_table(path) -> Table:
    """The tile table at ``path``, its ``chips`` column as tuples of int."""
    t = Table.read(path, format="ascii.ecsv")
    t["chips"] = [tuple(int(k) for k in str(s).split()) for s in t["chips"]]
    return t
