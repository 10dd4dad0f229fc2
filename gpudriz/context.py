"""Decoding of drizzle context images."""

import numpy as np

__all__ = ["decode_context"]


def decode_context(context, x, y):
    """Return the 0-based IDs of the input images that contributed to output pixels.

    Parameters
    ----------
    context : ndarray of int32 or uint32, shape (nplanes, ny, nx)
        Context image: bit ``k`` of plane ``p`` is set where image ``32 p + k``
        contributed (see :class:`gpudriz.Drizzle`).
    x, y : int or 1-D sequence of int
        Column and row of the pixels to decode.

    Returns
    -------
    list of ndarray
        For each (x, y) pair, the sorted IDs of the contributing images.

    Examples
    --------
    >>> import numpy as np
    >>> ctx = np.zeros((2, 1, 1), dtype=np.int32)
    >>> ctx[0, 0, 0] = 0b101
    >>> ctx[1, 0, 0] = 1
    >>> decode_context(ctx, 0, 0)
    [array([ 0,  2, 32])]
    """
    context = np.asarray(context)
    if context.ndim != 3:
        raise ValueError(f"'context' must be a 3-D array; got {context.ndim} dimension(s).")
    if context.dtype.kind not in "iu":
        raise TypeError(f"'context' must be an integer array; got dtype {context.dtype}.")
    x = np.atleast_1d(x)
    y = np.atleast_1d(y)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError("'x' and 'y' must be integers or 1-D sequences of integers.")
    if x.size != y.size:
        raise ValueError(f"'x' and 'y' differ in length ({x.size} and {y.size}).")
    if not (np.issubdtype(x.dtype, np.integer) and np.issubdtype(y.dtype, np.integer)):
        raise ValueError("'x' and 'y' must be integer pixel coordinates.")
    _, ny, nx = context.shape
    if x.size and (x.min() < 0 or x.max() >= nx or y.min() < 0 or y.max() >= ny):
        raise ValueError(f"pixel coordinates fall outside the context image of shape {(ny, nx)}.")
    nbits = 8 * context.dtype.itemsize
    bits = context.view(np.dtype(f"u{context.dtype.itemsize}"))
    out = []
    for xi, yi in zip(x, y):
        planes = bits[:, yi, xi].astype(np.uint64)
        flags = (planes[:, None] >> np.arange(nbits, dtype=np.uint64)) & np.uint64(1)
        out.append(np.flatnonzero(flags.ravel()))
    return out
