"""gpudriz: MultiDrizzle's image combination on the GPU, with an identical CPU path.

The MultiDrizzle pipeline, as the manual's Python session runs it:

>>> import gpudriz                                            # doctest: +SKIP
>>> md = gpudriz.Multidrizzle(input='flt.fits', output=None)  # doctest: +SKIP
>>> md.build(); md.run()                                      # doctest: +SKIP

The core operations mirror STScI's ``drizzle`` package (3.x), so switching is a
change of import:

>>> from gpudriz import Drizzle, blot_image, calc_pixmap, decode_context  # doctest: +SKIP

Every operation takes ``backend=`` ("auto", "cpu", "cuda"; see
:func:`get_backend`): CUDA raw kernels through CuPy on a GPU, their Numba
twins on the CPU.  NumPy in, NumPy out; CuPy in, CuPy out.
"""

from importlib.metadata import PackageNotFoundError, version

from gpudriz.backend import (
    BackendUnavailableError,
    DeviceMemoryError,
    cuda_status,
    get_backend,
)
from gpudriz.blot import blot_image
from gpudriz.context import decode_context
from gpudriz.pipeline.multidrizzle import Multidrizzle, help
from gpudriz.pixmap import calc_pixmap, estimate_pixel_scale_ratio
from gpudriz.resample import Drizzle, FluxNotConservedWarning

try:
    __version__ = version("gpudriz")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Multidrizzle",
    "help",
    "Drizzle",
    "blot_image",
    "calc_pixmap",
    "estimate_pixel_scale_ratio",
    "decode_context",
    "get_backend",
    "cuda_status",
    "BackendUnavailableError",
    "DeviceMemoryError",
    "FluxNotConservedWarning",
    "__version__",
]
