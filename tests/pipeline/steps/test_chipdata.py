"""Per-chip helpers of the steps: the input box a tile reads, the margin, the static mask files."""

import numpy as np

from gpudriz.pipeline.steps.chipdata import drizzle_margin, input_box, read_static


def _pixmap(ny, nx, dx=0.0, dy=0.0, scale=1.0):
    y, x = np.mgrid[0:ny, 0:nx].astype(np.float64)
    return np.stack([x * scale + dx, y * scale + dy], axis=-1)


def test_the_box_holds_exactly_the_pixels_that_land_on_the_output():
    pm = _pixmap(50, 80, dx=-30.0, dy=-10.0)  # input x lands at x - 30
    # A 20 x 10 output, no margin: output x in -0.5 .. 19.5 <- input x 30 .. 49; y 10 .. 19.
    assert input_box(pm, (10, 20), 0.0, np) == (30, 49, 10, 19)
    assert input_box(pm, (10, 20), 2.0, np) == (28, 51, 8, 21)


def test_no_pixel_on_the_output_gives_none_and_nan_is_never_in():
    pm = _pixmap(5, 5, dx=100.0)
    assert input_box(pm, (10, 10), 3.0, np) is None
    pm = _pixmap(5, 5)
    pm[:, 3:] = np.nan
    assert input_box(pm, (10, 10), 0.0, np) == (0, 2, 0, 4)


def test_the_margin_covers_the_widest_kernel():
    assert drizzle_margin(1.0, 1.0) == 8.0  # Lanczos5's 5 / s, the drop, 2 for distortion
    assert drizzle_margin(0.8, 0.5) == (5.8 / 0.5) + 2.0


def test_a_static_mask_file_is_read_once_and_shared_read_only(tmp_path):
    path = tmp_path / "static_sci1_abc.npy"
    np.save(path, np.array([[True, False]]))
    a = read_static(str(path))
    assert read_static(str(path)) is a and not a.flags.writeable
    np.testing.assert_array_equal(a, [[True, False]])
