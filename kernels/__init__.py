"""CUDA sources of gpudriz's kernels (package data, read with importlib.resources).

Each ``X.cu`` here has a Numba twin ``gpudriz/fallback/X.py`` with the same entry
names, argument order and constants.
"""
