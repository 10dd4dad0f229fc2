"""Row sections of FITS images, read one file at a time."""

import numpy as np
import pytest
from astropy.io import fits

from gpudriz.pipeline.io import sections
from gpudriz.pipeline.io.sections import read_box, read_rows, stack_rows


def _image(path, data, ext=0):
    hdus = [fits.PrimaryHDU(data if ext == 0 else None)]
    if ext:
        hdus.append(fits.ImageHDU(data, name="SCI"))
    fits.HDUList(hdus).writeto(path)
    return path


def test_read_rows_is_a_float32_copy_of_the_rows(tmp_path):
    data = np.arange(30, dtype=np.int16).reshape(6, 5)
    rows = read_rows(_image(tmp_path / "a.fits", data), 2, 5)
    assert rows.dtype == np.float32 and rows.flags.owndata and rows.flags.writeable
    np.testing.assert_array_equal(rows, data[2:5])


def test_stack_rows_keeps_the_order_of_the_files(tmp_path):
    images = [np.full((4, 3), k, np.float32) + np.arange(4, dtype=np.float32)[:, None] for k in range(3)]
    paths = [_image(tmp_path / f"{k}.fits", im, ext=1) for k, im in enumerate(images)]
    stack = stack_rows(paths, 1, 3, ext=1)
    assert stack.shape == (3, 2, 3) and stack.dtype == np.float32
    for k, im in enumerate(images):
        np.testing.assert_array_equal(stack[k], im[1:3])
    # a generator of paths works as a list does
    np.testing.assert_array_equal(stack_rows(iter(paths), 0, 4, ext=1)[2], images[2])


@pytest.mark.parametrize("whole_rows_bytes", [0, 1 << 30])  # row by row; whole rows then cut
@pytest.mark.parametrize("box", [(0, 6, 0, 9), (2, 5, 3, 4), (5, 6, 8, 9), (1, 4, 0, 9)])
def test_read_box_gives_those_pixels_read_either_way(tmp_path, monkeypatch, whole_rows_bytes, box):
    monkeypatch.setattr(sections, "WHOLE_ROWS_BYTES", whole_rows_bytes)  # read by section_box
    data = np.arange(54, dtype=np.float64).reshape(6, 9) * 1.5
    path = _image(tmp_path / "b.fits", data, ext=1)
    y0, y1, x0, x1 = box
    got = read_box(path, y0, y1, x0, x1, ext=1)
    assert got.dtype == np.float32 and got.flags.owndata and got.flags.writeable
    np.testing.assert_array_equal(got, data[y0:y1, x0:x1].astype(np.float32))
    flags = read_box(path, y0, y1, x0, x1, ext=1, dtype=np.int64)
    np.testing.assert_array_equal(flags, data[y0:y1, x0:x1].astype(np.int64))
