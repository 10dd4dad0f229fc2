"""limit_threads: the Numba threads of the calling thread's kernels."""

import threading

import numba

from gpudriz.backend.cpu_threads import limit_threads


def _in_a_thread(fn):
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_the_limit_holds_for_the_calling_thread_only():
    before = numba.get_num_threads()
    assert _in_a_thread(lambda: (limit_threads(1), numba.get_num_threads())) == (1, 1)
    assert numba.get_num_threads() == before


def test_a_limit_above_numba_s_pool_is_the_pool():
    pool = numba.config.NUMBA_NUM_THREADS
    assert _in_a_thread(lambda: limit_threads(pool + 7)) == pool
    assert _in_a_thread(lambda: limit_threads(0)) == 1
