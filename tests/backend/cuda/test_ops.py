"""The CUDA backend end to end, against the CPU backend, with and without a GPU.

Every test runs on the two "device" backends of the shared ``device_backend`` fixture:

``cuda-host``
    the CUDA drivers (:class:`gpudriz.backend.cuda.ops.KernelOps`) on the exact
    ``kernels/*.cu`` sources compiled by g++ through the host shim, with
    tiny launches (several blocks, several grid strides).  Runs in CI.
``cuda``
    the real backend (CuPy, NVRTC, a GPU); marked ``gpu`` and skipped with
    the reason where there is none.

and compares what :class:`gpudriz.Drizzle`, :func:`gpudriz.blot_image` and
:func:`gpudriz.calc_pixmap` give there with the CPU backend (Numba), over the
core engine's parameter matrix: sums within float32 rounding, context and
DQ exactly, and the counts returned.
"""

import warnings

import numpy as np
import pytest
from gpudriz.fallback.drizzle import KERNEL_NAMES
from helpers.cuda_host import gxx_available, host_backend
from helpers.pixmaps import distorted_pixmap
from numpy.testing import assert_allclose, assert_array_equal

import gpudriz
from gpudriz.backend import DeviceMemoryError, cuda_status

pytestmark = pytest.mark.skipif(not gxx_available(), reason="g++ is needed for the host shim")

KERNELS = KERNEL_NAMES
PIXFRACS = (1.0, 0.7, 0.3)
SCALES = (0.5, 1.0, 2.0)
FILLVALS = (None, 0.0)
IN_SHAPE = (20, 24)
OUT_SHAPE = (44, 48)

_CUDA_OK, _CUDA_WHY = cuda_status()


def _backend(name):
    if not _CUDA_OK:
        pytest.skip(f"no CUDA device: {_CUDA_WHY}")
    return gpudriz.get_backend(name)


def _pixmap(shape=IN_SHAPE, shift=(12.0, 6.0)):
    # Rotated, shifted and distorted; the corner at the far right falls off
    # the output, so edge drops and misses are exercised too.
    pm = distorted_pixmap(shape, angle_deg=23.0, shift=shift, quad=(2e-3, 1e-3))
    return pm


def _images(n, seed=0, shape=IN_SHAPE):
    rng = np.random.default_rng(seed)
    return [(1.0 + rng.random(shape)).astype(np.float32) for _ in range(n)]


def _drizzle(backend, kernel, pixfrac, scale, fillval, n=2, **add):
    pm = _pixmap()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # flux-not-conserved / pixfrac notes
        d = gpudriz.Drizzle(kernel=kernel, fillval=fillval, out_shape=OUT_SHAPE, backend=backend)
        counts = []
        for k, img in enumerate(_images(n)):
            shifted = pm + np.array([0.37 * k, -0.21 * k])
            counts.append(
                d.add_image(img, exptime=1.0 + k, pixmap=shifted, pixfrac=pixfrac,
                            pixel_scale_ratio=scale, **add)  # fmt: skip
            )
    return d, counts


def _assert_same_drizzle(dev, cpu, kernel):
    """Sums (img x wht) and weights within float32 rounding; context and fill pattern exactly."""
    w_c = cpu.out_wht.astype(np.float64)
    w_d = dev.out_wht.astype(np.float64)
    s_c = np.where(w_c != 0, cpu.out_img * w_c, 0.0)
    s_d = np.where(w_d != 0, dev.out_img * w_d, 0.0)
    wscale = np.abs(w_c).max()
    sscale = np.abs(s_c).max()
    assert_allclose(w_d, w_c, rtol=0, atol=2e-6 * wscale)
    assert_allclose(s_d, s_c, rtol=0, atol=2e-6 * sscale)
    assert_array_equal(dev.out_ctx, cpu.out_ctx)
    # Where the weight is clearly non-zero the images agree; elsewhere both filled alike.
    solid = np.abs(w_c) > 1e-3 * wscale
    assert_allclose(dev.out_img[solid], cpu.out_img[solid], rtol=2e-5, atol=2e-6 * sscale / wscale)
    if not kernel.startswith("lanczos"):  # cancelling lobes may leave +-1e-9 instead of 0
        assert_array_equal(np.isnan(dev.out_img), np.isnan(cpu.out_img))
        assert_array_equal(w_d == 0, w_c == 0)


@pytest.mark.parametrize("fillval", FILLVALS)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("pixfrac", PIXFRACS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_drizzle_matrix_matches_cpu(device_backend, kernel, pixfrac, scale, fillval):
    dev, counts_d = _drizzle(device_backend, kernel, pixfrac, scale, fillval)
    cpu, counts_c = _drizzle("cpu", kernel, pixfrac, scale, fillval)
    _assert_same_drizzle(dev, cpu, kernel)
    assert counts_d == counts_c


@pytest.mark.parametrize("kernel", KERNELS)
def test_drizzle_variance_dq_weights_nan(device_backend, kernel):
    rng = np.random.default_rng(3)
    weights = (0.5 + rng.random(IN_SHAPE)).astype(np.float32)
    weights[3, 4] = np.nan
    var = [(0.1 + rng.random(IN_SHAPE)).astype(np.float32) for _ in range(2)]
    var[1][5, 6] = np.inf
    dq = rng.integers(0, 2**20, IN_SHAPE).astype(np.uint32)
    results = []
    for be in (device_backend, "cpu"):
        data = _images(3, seed=5)
        data[1][7, 8] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = gpudriz.Drizzle(kernel=kernel, fillval=0.0, fillval2=-1.0, out_shape=OUT_SHAPE,
                                backend=be)  # fmt: skip
            counts = [
                d.add_image(img, exptime=2.0, pixmap=_pixmap() + 0.3 * k, data2=var, dq=dq,
                            weight_map=weights, wht_scale=1.5, iscale=0.8, in_units="counts")
                for k, img in enumerate(data)
            ]  # fmt: skip
        results.append((d, counts))
    (dev, cd), (cpu, cc) = results
    _assert_same_drizzle(dev, cpu, kernel)
    assert cd == cc
    assert dev.nonfinite_skipped == cpu.nonfinite_skipped > 0
    assert_array_equal(dev.out_dq, cpu.out_dq)
    for vd, vc in zip(dev.out_img2, cpu.out_img2):
        solid = np.abs(cpu.out_wht) > 1e-3 * np.abs(cpu.out_wht).max()
        scale = np.abs(vc[solid]).max()
        assert_allclose(vd[solid], vc[solid], rtol=5e-5, atol=1e-5 * scale)
        if not kernel.startswith("lanczos"):
            assert_array_equal(vd == -1.0, vc == -1.0)


def test_drizzle_context_beyond_32_images(device_backend):
    imgs = _images(35, seed=9, shape=(6, 7))
    pm = distorted_pixmap((6, 7), angle_deg=10.0, shift=(3.0, 2.0))
    outs = []
    for be in (device_backend, "cpu"):
        d = gpudriz.Drizzle(out_shape=(16, 16), backend=be)
        for k, img in enumerate(imgs):
            d.add_image(img, exptime=1.0, pixmap=pm + 0.05 * k)
        outs.append(d)
    dev, cpu = outs
    assert dev.out_ctx.shape[0] == 2
    _assert_same_drizzle(dev, cpu, "square")


def test_drizzle_input_box_and_misses(device_backend):
    off = _pixmap(shift=(30.0, 6.0))  # more of the chip falls off the output
    results = []
    for be in (device_backend, "cpu"):
        d = gpudriz.Drizzle(out_shape=OUT_SHAPE, backend=be)
        a = d.add_image(_images(1)[0], exptime=1.0, pixmap=off, xmin=2, xmax=20, ymin=1, ymax=17)
        far = np.full(IN_SHAPE + (2,), -500.0)  # entirely off the output
        b = d.add_image(_images(1)[0], exptime=1.0, pixmap=far)
        results.append((d, a, b))
    (dev, ad, bd), (cpu, ac, bc) = results
    _assert_same_drizzle(dev, cpu, "square")
    assert ad == ac and ad[0] > 0
    assert bd == bc == (IN_SHAPE[0] * IN_SHAPE[1], IN_SHAPE[0])


class _Budget:
    """A settable amount of 'free device memory' for the host backend."""

    def __init__(self, nbytes=None):
        self.nbytes = nbytes

    def __call__(self):
        return 10**12 if self.nbytes is None else self.nbytes


def _drizzle_with_budget(budget, nbytes, n=2):
    be = host_backend(free_memory=budget)
    d = gpudriz.Drizzle(kernel="square", fillval=0.0, out_shape=OUT_SHAPE, backend=be)
    budget.nbytes = nbytes  # the outputs exist; only the drizzle buffers are squeezed
    for k, img in enumerate(_images(n)):
        d.add_image(img, exptime=1.0, pixmap=_pixmap() + 0.3 * k, pixfrac=0.8)
    return d


def test_drizzle_bands_when_memory_is_short():
    """A small memory budget splits the rows into bands; the result does not change."""
    from helpers.cuda_host import host_module

    merge = host_module("drizzle").get_function("drizzle_merge")
    one = _drizzle_with_budget(_Budget(), None)
    before = merge.launches
    # About 2/3 of the one-band buffers: several bands, each merged on its own.
    banded = _drizzle_with_budget(_Budget(), 15000)
    assert merge.launches - before > 2 * 2
    _assert_same_drizzle(banded, one, "square")
    with pytest.raises(DeviceMemoryError, match="input row .* too large for this device"):
        _drizzle_with_budget(_Budget(), 200, n=1)


def test_drizzle_output_too_large_for_memory():
    tiny = host_backend(free_memory=lambda: 10**6)
    with pytest.raises(DeviceMemoryError, match=r"the 1000x1000 drizzle output .* needs 11.44 MiB of device memory but only 976.56 KiB"):
        gpudriz.Drizzle(out_shape=(1000, 1000), backend=tiny)


@pytest.mark.parametrize("launch", [(1, 1), (8, 3), (32, 2), (64, 64)])
def test_launch_shapes_do_not_matter(launch):
    block, grid = launch
    be = host_backend(block=block, max_grid=grid)
    dev = _drizzle(be, "square", 0.7, 1.0, None)[0]
    cpu = _drizzle("cpu", "square", 0.7, 1.0, None)[0]
    _assert_same_drizzle(dev, cpu, "square")


def test_index64_build_agrees():
    wide = host_backend(index64=True)
    dev = _drizzle(wide, "turbo", 0.7, 1.0, 0.0)[0]
    cpu = _drizzle("cpu", "turbo", 0.7, 1.0, 0.0)[0]
    _assert_same_drizzle(dev, cpu, "turbo")
    data = _images(1)[0]
    pm = np.dstack(np.meshgrid(np.linspace(-1, 24, 30), np.linspace(-1, 20, 26)))
    assert_allclose(
        gpudriz.blot_image(data, pm, backend=wide), gpudriz.blot_image(data, pm, backend="cpu"),
        rtol=2e-6, atol=1e-6,
    )  # fmt: skip


# --------------------------------------------------------------------------
# blot and pixmap
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fillval", (0.0, np.nan))
@pytest.mark.parametrize("interp", gpudriz.blot.INTERPOLANTS)
def test_blot_matches_cpu(device_backend, interp, fillval):
    rng = np.random.default_rng(11)
    data = (10.0 + rng.random((17, 23))).astype(np.float32)
    y, x = np.mgrid[-2:19:0.7, -2:25:0.8]
    pm = np.dstack([x + 0.1 * np.sin(y), y]).astype(np.float64)
    pm[3, 4] = np.nan
    kw = dict(fillval=fillval, iscale=0.5, interp=interp, sinscl=1.5)
    got = gpudriz.blot_image(data, pm, backend=device_backend, **kw)
    want = gpudriz.blot_image(data, pm, backend="cpu", **kw)
    assert isinstance(got, np.ndarray)
    assert_array_equal(np.isnan(got), np.isnan(want))
    assert_allclose(got, want, rtol=2e-6, atol=2e-6 * np.nanmax(np.abs(want)))


def test_calc_pixmap_matches_cpu(device_backend, wcs_dir):
    from astropy.io import fits
    from astropy.wcs import WCS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w_in = WCS(fits.getheader(wcs_dir / "j8bt06nyq_sip_flt.fits", 1))
    w_out = WCS(naxis=2)
    w_out.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w_out.wcs.crval = w_in.wcs.crval
    w_out.wcs.crpix = [600.0, 600.0]
    cd = np.sqrt(abs(np.linalg.det(w_in.wcs.cd)))
    w_out.wcs.cd = [[-cd, 0.0], [0.0, cd]]
    shape = (150, 130)
    got = gpudriz.calc_pixmap(w_in, w_out, shape, backend=device_backend)
    want = gpudriz.calc_pixmap(w_in, w_out, shape, backend="cpu")
    assert isinstance(got, np.ndarray)
    assert_allclose(got, want, rtol=0, atol=1e-9)


# --------------------------------------------------------------------------
# Real GPU only: array kinds in and out, memory errors
# --------------------------------------------------------------------------


@pytest.mark.gpu
def test_cupy_in_cupy_out_numpy_in_numpy_out():
    cuda = _backend("cuda")
    import cupy

    data = _images(1)[0]
    pm = _pixmap()
    d = gpudriz.Drizzle(out_shape=OUT_SHAPE, backend=cuda)
    d.add_image(cupy.asarray(data), exptime=1.0, pixmap=cupy.asarray(pm))
    assert isinstance(d.out_img, cupy.ndarray) and isinstance(d.out_ctx, cupy.ndarray)
    h = gpudriz.Drizzle(out_shape=OUT_SHAPE, backend=cuda)
    h.add_image(data, exptime=1.0, pixmap=pm)
    assert isinstance(h.out_img, np.ndarray)
    assert_allclose(cupy.asnumpy(d.out_img), h.out_img, equal_nan=True)
    # Host output arrays given by the caller are updated in place.
    out_img = np.zeros(OUT_SHAPE, np.float32)
    r = gpudriz.Drizzle(out_img=out_img, backend=cuda)
    r.add_image(data, exptime=1.0, pixmap=pm)
    assert r.out_img is out_img
    assert_allclose(out_img[h.out_wht > 0], h.out_img[h.out_wht > 0])
    b = gpudriz.blot_image(cupy.asarray(data), cupy.asarray(pm), backend=cuda)
    assert isinstance(b, cupy.ndarray)
    assert isinstance(gpudriz.blot_image(data, pm, backend=cuda), np.ndarray)


@pytest.mark.gpu
def test_device_memory_error_is_clear():
    cuda = _backend("cuda")
    with pytest.raises(DeviceMemoryError, match="GiB of device memory"):
        gpudriz.Drizzle(out_shape=(200_000, 200_000), backend=cuda)
