"""The PNG quicklook: the asinh stretch and a PNG file that decodes to it."""

import struct
import zlib

import numpy as np

from gpudriz.demo.quicklook import stretch, write_png


def _read_png(data):
    """(width, height, rows) of an 8-bit greyscale PNG, checking every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n : pos + 12 + n])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks.append((kind, body))
        pos += 12 + n
    assert [k for k, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    nx, ny, depth, colour, _, _, _ = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour) == (8, 0)
    raw = zlib.decompress(chunks[1][1])
    rows = np.frombuffer(raw, np.uint8).reshape(ny, nx + 1)
    assert not rows[:, 0].any()  # filter type 0 on every row
    return nx, ny, rows[:, 1:]


def test_stretch_maps_the_percentiles_to_black_and_white():
    image = np.linspace(0.0, 100.0, 10_000).reshape(100, 100)
    out = stretch(image)
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    assert np.all(np.diff(out.ravel().astype(int)) >= 0)  # monotonic
    # asinh lifts the faint end: the median pixel is well above mid-grey.
    assert out[50, 50] > 200


def test_stretch_of_flat_and_non_finite_images():
    assert not stretch(np.full((4, 5), 3.0)).any()
    assert not stretch(np.full((4, 5), np.nan)).any()
    image = np.arange(20.0).reshape(4, 5)
    image[0, 0] = np.nan
    out = stretch(image)
    assert out[0, 0] == 0  # a NaN is shown as the low limit


def test_write_png_decodes_to_the_stretch_with_row_zero_at_the_bottom(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.normal(size=(30, 40)).astype(np.float32)
    path = write_png(tmp_path / "q.png", image)
    assert path == tmp_path / "q.png"
    nx, ny, rows = _read_png(path.read_bytes())
    assert (nx, ny) == (40, 30)
    assert np.array_equal(rows, stretch(image)[::-1])
