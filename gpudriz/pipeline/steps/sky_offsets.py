"""The sky levels of sky matching from the pairwise differences: a weighted least-squares solve.

Steps 3 and 4 of :mod:`gpudriz.pipeline.steps.skymatch` (algorithms.md, "Sky"): the offsets that
best fit the measured sky differences between overlapping exposures, per connected group of
exposures (:func:`solve_offsets`), and the constant that fixes each group's level on the
``localmin`` estimates (:func:`anchor_levels`).  Pure NumPy on a few numbers per exposure.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import numpy as np

__all__ = ["SkyPair", "solve_offsets", "anchor_levels"]


class SkyPair(NamedTuple):
    """The measured sky difference of two overlapping exposures.

    Attributes
    ----------
    i, j : int
        Exposure indices.
    difference : float
        Sky of ``i`` minus sky of ``j`` (surface-brightness rate).
    weight : float
        Inverse variance of ``difference``.
    ncells : int
        Common cells that gave it (after clipping).
    """

    i: int
    j: int
    difference: float
    weight: float
    ncells: int


# -- solver ------------------------------------------------------------------------------


def _check_pair(pair, k: int, n: int):
    try:
        i, j, diff, weight = pair[0], pair[1], pair[2], pair[3]
    except (TypeError, IndexError):
        raise ValueError(f"'pairs' item {k} must be (i, j, difference, weight); got {pair!r}.") from None
    for v in (i, j):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 0 <= v < n:
            raise ValueError(f"'pairs' item {k} names exposure {v!r}; expected an index in [0, {n}).")
    if i == j:
        raise ValueError(f"'pairs' item {k} pairs exposure {i} with itself.")
    if isinstance(diff, bool) or not isinstance(diff, numbers.Real) or not math.isfinite(diff):
        raise ValueError(f"'pairs' item {k} has difference {diff!r}; expected a finite number.")
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not (0 < weight < math.inf):
        raise ValueError(f"'pairs' item {k} has weight {weight!r}; expected a positive finite number.")
    return int(i), int(j), float(diff), float(weight)


def _connected_groups(n: int, edges) -> list[list[int]]:
    """Connected components of ``n`` nodes (union-find), each sorted, ordered by first node."""
    parent = list(range(n))

    def root(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, j in edges:
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for a in range(n):
        groups.setdefault(root(a), []).append(a)
    return sorted(groups.values(), key=lambda g: g[0])


def solve_offsets(n, pairs) -> tuple[np.ndarray, list[list[int]]]:
    """Per-exposure sky offsets that best fit pairwise sky differences.

    Minimises ``sum w_k (x_i - x_j - d_k)**2`` over the pairs
    ``(i, j, d_k, w_k)``, separately in each connected group of exposures
    (differences say nothing about how two unconnected groups relate).
    Each group's first exposure is held at 0 (the group's constant is set
    later, :func:`anchor_levels`).

    Parameters
    ----------
    n : int
        Number of exposures.
    pairs : iterable of sequences
        ``(i, j, difference, weight)`` (e.g. :class:`SkyPair`):
        ``difference`` estimates sky ``i`` minus sky ``j``; ``weight`` is
        positive (an inverse variance).  A pair may appear more than once.

    Returns
    -------
    offsets : numpy.ndarray
        ``(n,)`` float64; 0 for the first exposure of every group (and for
        an exposure in no pair).
    groups : list of list of int
        The connected groups, each sorted; an exposure in no pair is a group
        of its own.

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer or a pair is malformed (index out
        of range, an exposure paired with itself, non-finite difference,
        weight not positive).
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"'n' must be a positive number of exposures; got {n!r}.")
    n = int(n)
    checked = [_check_pair(p, k, n) for k, p in enumerate(pairs)]
    groups = _connected_groups(n, [(i, j) for i, j, _, _ in checked])
    offsets = np.zeros(n)
    if not checked:
        return offsets, groups
    # Rescaled weights keep the normal equations well away from overflow.
    wmax = max(w for _, _, _, w in checked)
    for group in groups:
        if len(group) < 2:
            continue
        where = {e: k for k, e in enumerate(group)}
        m = len(group)
        normal = np.zeros((m, m))
        rhs = np.zeros(m)
        for i, j, d, w in checked:
            if i not in where:
                continue
            a, b, w = where[i], where[j], w / wmax
            normal[a, a] += w
            normal[b, b] += w
            normal[a, b] -= w
            normal[b, a] -= w
            rhs[a] += w * d
            rhs[b] -= w * d
        # The Laplacian of a connected graph is singular only along the
        # constant; fixing the first offset at 0 leaves a definite system.
        offsets[group[1:]] = np.linalg.solve(normal[1:, 1:], rhs[1:])
    return offsets, groups


def anchor_levels(offsets, groups, local) -> np.ndarray:
    """Sky levels from relative offsets, anchored on the localmin estimates.

    For each group the levels are ``offsets + c`` with the largest ``c`` that
    keeps every level at or below the exposure's localmin estimate:
    ``c = min(local - offsets)`` over the group, so at least one exposure
    gets exactly its localmin sky and none gets more (no exposure is
    over-subtracted; extended light only raises a localmin estimate).

    Parameters
    ----------
    offsets : array_like
        ``(n,)`` relative offsets (:func:`solve_offsets`).
    groups : list of list of int
        The connected groups; together they must hold every index once.
    local : array_like
        ``(n,)`` localmin estimate of every exposure, in the units of
        ``offsets``.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64 levels; a group of one exposure gets its localmin.

    Raises
    ------
    ValueError
        If the lengths differ, a value is not finite, or ``groups`` is not a
        partition of the indices.
    """
    x = np.asarray(offsets, dtype=float)
    ref = np.asarray(local, dtype=float)
    if x.ndim != 1 or x.shape != ref.shape:
        raise ValueError(f"'offsets' {x.shape} and 'local' {ref.shape} must be 1-D of one length.")
    if not (np.isfinite(x).all() and np.isfinite(ref).all()):
        raise ValueError("'offsets' and 'local' must hold finite numbers.")
    members = sorted(e for g in groups for e in g)
    if members != list(range(x.size)):
        raise ValueError(f"'groups' must hold every exposure index 0..{x.size - 1} exactly once.")
    levels = np.empty_like(x)
    for group in groups:
        idx = np.asarray(group)
        levels[idx] = x[idx] + np.min(ref[idx] - x[idx])
    return levels


# -- measurement ----------------------------------------------------------------------------
