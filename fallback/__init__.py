"""Numba CPU twins of gpudriz's CUDA kernels.

Every module ``X.py`` here implements the same math as ``gpudriz/kernels/X.cu``:
same entry names, argument order and constants.  Functions are compiled with
``cache=True`` so that a second process pays no compilation, release the GIL,
and parallelise over all cores without unsynchronised writes to shared output
(private per-band buffers, then a row-parallel reduction).
"""
