"""The pixmap cache between driz_separate and blot: its budget, and the blot it feeds."""

import numpy as np

from gpudriz.pipeline.steps.pixmap_cache import PIXMAP_CACHE_FRACTION, PixmapCache


def pixmap(n):
    return np.zeros((n, n, 2))  # 16 n**2 bytes


def test_keeps_within_the_budget_and_gives_back_once():
    cache = PixmapCache(lambda: None, budget=3 * 16 * 100)
    assert cache.offer("a", pixmap(10)) and cache.offer("b", pixmap(10))
    assert not cache.offer("c", pixmap(15))  # 3,600 more bytes than fit
    assert cache.nbytes == 2 * 1600 and (cache.kept, cache.refused) == (2, 1)
    assert cache.take("a") is not None
    assert cache.take("a") is None and cache.take("c") is None
    assert cache.nbytes == 1600


def test_never_takes_more_than_a_fraction_of_the_free_memory():
    free = 10_000
    cache = PixmapCache(lambda: free, budget=10**9)
    small, large = pixmap(10), pixmap(20)  # 1,600 and 6,400 bytes
    assert small.nbytes <= PIXMAP_CACHE_FRACTION * free < large.nbytes
    assert cache.offer("s", small) and not cache.offer("l", large)


def test_clear_drops_everything():
    cache = PixmapCache(lambda: None)
    cache.offer("a", pixmap(4))
    cache.clear()
    assert cache.nbytes == 0 and cache.take("a") is None


def test_the_run_blots_with_driz_separates_pixmaps(whole_run):
    """Every chip's pixmap was kept by driz_separate and taken back by the blot."""
    cache = whole_run.state.pixmaps
    assert cache.kept == len(whole_run.chips) and cache.refused == 0 and cache.nbytes == 0
