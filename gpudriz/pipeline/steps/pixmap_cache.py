"""The separate frame's pixmaps, kept from driz_separate for the blot under a memory budget.

driz_separate and blot both need each chip's pixmap to the separate frame (16 bytes per chip
pixel, 134 MB for an ACS/WFC chip, a quarter of a second to compute on two cores).  The
orchestrator hands both steps one :class:`PixmapCache`: driz_separate keeps the pixmaps it
computed while they fit the budget, the blot takes them back (and frees them) and computes the
others.  The budget is :data:`PIXMAP_CACHE_BYTES`, and never more than
:data:`PIXMAP_CACHE_FRACTION` of the memory the backend says is free when a pixmap is offered,
so a run that is short of memory recomputes rather than holds.
"""

from __future__ import annotations

__all__ = ["PixmapCache", "PIXMAP_CACHE_BYTES", "PIXMAP_CACHE_FRACTION"]

#: Most bytes of pixmaps held between driz_separate and blot.
PIXMAP_CACHE_BYTES = 2 * 2**30
#: Most fraction of the backend's free memory (when a pixmap is offered) the cache may take.
PIXMAP_CACHE_FRACTION = 0.25


class PixmapCache:
    """Pixmaps keyed by chip, held while they fit the budget.

    Parameters
    ----------
    free_bytes : callable
        Returns the backend's free memory in bytes, or None when unknown (``Backend.ops.free_bytes``).
    budget : int
        Most bytes held (:data:`PIXMAP_CACHE_BYTES`).
    """

    def __init__(self, free_bytes, budget=PIXMAP_CACHE_BYTES):
        self._free_bytes = free_bytes
        self.budget = int(budget)
        self._held = {}
        self.kept = 0
        self.refused = 0

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        return sum(int(a.nbytes) for a in self._held.values())

    def offer(self, key, pixmap) -> bool:
        """Keep ``pixmap`` under ``key`` if it fits the budget; True if kept."""
        size = int(pixmap.nbytes)
        free = self._free_bytes()
        fits = self.nbytes + size <= self.budget
        if free is not None:
            fits = fits and size <= PIXMAP_CACHE_FRACTION * free
        if fits:
            self._held[key] = pixmap
            self.kept += 1
        else:
            self.refused += 1
        return fits

    def take(self, key):
        """The pixmap kept under ``key`` (no longer held), or None."""
        return self._held.pop(key, None)

    def clear(self) -> None:
        """Drop every pixmap held."""
        self._held.clear()
