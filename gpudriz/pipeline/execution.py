"""Where a run's tasks execute: this process, a local dask.distributed cluster, or an existing one.

The pipeline runs its steps as *stages*, batches of independent tasks; :meth:`Execution.map`
runs one stage and returns the results in the items' order.

Running on a cluster
--------------------
1. On one machine: ``dask scheduler`` (it prints its address, ``tcp://host:8786``).
2. On each machine that works: ``dask worker tcp://host:8786 --nworkers 1 --nthreads 1``.
3. Put the inputs and the output folder on a file system every worker sees.
4. Run ``gpudriz @inputs.lis tile_size=4096 scheduler=tcp://host:8786``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import pickle
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import dask
import distributed
from tqdm import tqdm

from gpudriz.backend.cpu_threads import limit_threads, start_numba
from gpudriz.backend.memory import available_memory
from gpudriz.pipeline.state import PipelineError

__all__ = ["Execution", "ExecutionStart", "worker_specs", "machine_cores", "cores_per_worker", "task_threads",
           "run_batch", "prepare_worker", "batch_bounds", "cluster_help", "release_freed_memory"]  # fmt: skip

log = logging.getLogger("gpudriz")


def cluster_help() -> str:
    """How to run on a cluster (the module docstring's section)."""
    return __doc__.split("Running on a cluster\n--------------------\n", 1)[1]


#: Dask settings of the local cluster's workers (``workers=N``), measured on this pipeline's tasks:
#:
#: - ``MALLOC_TRIM_THRESHOLD_``, which Dask sets in every worker's environment to return freed
#:   memory to the system at once, also stops glibc from raising its mmap threshold, so that
#:   every array above 128 KiB is mapped and unmapped afresh: tasks ran 1.45x slower with it.
#:   None removes it (worker memory stays bounded by the largest task, freed blocks are reused);
#: - the statistical profiler, which walks the task thread's stack every 10 ms, cost ~10%.
LOCAL_WORKER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
}

#: Fewest batches of a stage's tasks per task thread of the cluster, and most tasks in a batch
#: (:func:`batch_bounds`).
BATCHES_PER_SLOT = 16
MAX_BATCH = 16


def machine_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def cores_per_worker(workers: int) -> int:
    """This machine's cores shared among ``workers`` local worker processes (at least one each)."""
    return max(1, machine_cores() // max(1, workers))


def task_threads(host_threads: dict) -> int | None:
    """CPU threads for one task on this Dask worker: its machine's cores over the task threads it runs.

    ``host_threads``: per worker host, the task threads of all its workers
    (:meth:`Execution.host_threads`).  None outside a Dask worker.
    """
    try:
        worker = distributed.get_worker()
    except ValueError:  # not in a worker: this process's own setting stands
        return None
    share = host_threads.get(worker.ip) or worker.state.nthreads
    return max(1, machine_cores() // max(1, share))


def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, musl)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Give the memory freed by the tasks back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    Without Dask's ``MALLOC_TRIM_THRESHOLD_`` (see :data:`LOCAL_WORKER_CONFIG`) glibc keeps freed
    blocks in the middle of its heap, and a worker's resident memory crept up with the number of
    tasks it had run: 259 to 330 and 382 MiB over a 1,024-exposure mosaic.  Trimmed after each
    batch, it stays within the largest task of the run (~300 MiB); a trim takes a few milliseconds.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def run_batch(batch, fn, host_threads, *common) -> bytes:
    """Run a batch of tasks on a Dask worker: ``fn(pickle.loads(b), *common)`` for each ``b``, the list pickled.

    The tasks' CPU kernels are limited to the worker's share of its machine's
    cores: N worker processes each running Numba on every core oversubscribe
    it N times (spinning threads measured 2.5x slower tasks with two workers
    on two cores), and Numba's thread count is per calling thread
    (:func:`gpudriz.backend.cpu_threads.limit_threads`).  The items come pickled, so
    that the scheduler passes them on as bytes instead of unpickling and
    pickling every chip's WCS again.  The results go back pickled too: a
    worker holds a result until the client fetches it, which can be a while
    when the client's process is busy (the build reading its own share of
    the headers), and the bytes are a quarter of the objects' memory (a
    worker held 20-35 MiB more after reading 300-600 headers, kept by the
    heap's fragmentation for the rest of the run).  Afterwards the memory the
    batch freed goes back to the system (:func:`release_freed_memory`).
    """
    threads = task_threads(host_threads)
    if threads:
        limit_threads(threads)
    results = pickle.dumps([fn(pickle.loads(b), *common) for b in batch], protocol=pickle.HIGHEST_PROTOCOL)
    release_freed_memory()
    return results


def prepare_worker(backend: str) -> None:
    """What a new local worker does before its first task: import gpudriz, and start Numba for the CPU backend.

    A stage's first batches waited ~1 s for the import where the workers'
    main module had not imported gpudriz (``python -c``, notebooks), and
    ~1 s more for Numba's start (:func:`gpudriz.backend.cpu_threads.start_numba`).
    Done when the cluster opens, which the mosaic mode's ``build()`` starts:
    while the main process reads headers on one core, the workers use the other.
    (The worker imports gpudriz, the package, as it unpickles this function.)
    """
    if backend == "cpu":
        start_numba()


def batch_bounds(n: int, slots: int) -> list[int]:
    """Where ``n`` tasks are cut into batches for ``slots`` task threads (the batch ``k`` is ``[b[k], b[k+1])``).

    Each Dask task costs the client and the scheduler 5-7 ms (measured), as
    much as one small chip's step: with a task per chip they would take one
    of two cores from the workers.  Tasks are therefore cut into at most
    ``MAX_BATCH`` per batch, and never into fewer than ``BATCHES_PER_SLOT``
    batches per slot, so that the slots stay evenly loaded to the stage's end
    (a stage of a few heavy tasks, such as final tiles, keeps one per batch).
    """
    count = max(1, min(n, max(BATCHES_PER_SLOT * max(1, slots), -(-n // MAX_BATCH))))
    return [round(k * n / count) for k in range(count + 1)]


def worker_specs(workers: int, backend: str, gpu_ids, memory_limit) -> dict:
    """Specs of a local cluster's workers for :class:`distributed.SpecCluster`.

    Parameters
    ----------
    workers : int
        Worker processes, one thread each.
    backend : str
        ``"cuda"``: worker i sees only GPU ``gpu_ids[i % len(gpu_ids)]`` (``CUDA_VISIBLE_DEVICES``).
    gpu_ids : sequence of str
        The GPUs to share out (ignored for other backends).
    memory_limit : int or str
        Per worker, as distributed takes it.
    """
    specs = {}
    for i in range(workers):
        env = {}
        if backend == "cuda" and gpu_ids:
            env["CUDA_VISIBLE_DEVICES"] = str(gpu_ids[i % len(gpu_ids)])
        # The cores shared among the workers: N workers each running Numba on every core oversubscribe them.
        # Honoured where Numba is imported after it; run_batch makes sure of it for each task.
        env["NUMBA_NUM_THREADS"] = str(cores_per_worker(workers))
        options = {"nthreads": 1, "memory_limit": memory_limit, "env": env, "silence_logs": logging.WARNING}
        specs[i] = {"cls": distributed.Nanny, "options": options}
    return specs


def _gpu_ids() -> list[str]:
    """The GPUs this process may use: CUDA_VISIBLE_DEVICES if set, else those CuPy counts."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip()]
    try:
        import cupy

        return [str(i) for i in range(cupy.cuda.runtime.getDeviceCount())]
    except Exception:  # no CuPy or no driver: no GPU to share out
        return []


class Execution:
    """Where a run's tasks execute: this process, a local dask.distributed cluster, or an existing one.

    Build with :meth:`open`; a context manager (``__exit__`` closes).
    """

    def __init__(self, client, owned, description: str, progress: bool | None):
        self.client = client
        self._owned = owned  # what close() closes: never a client the caller passed
        self.description = description
        self.distributed = client is not None
        self._progress = progress

    @classmethod
    def open(cls, *, workers: int = 0, scheduler: str | None = None, client=None, backend: str = "cpu",
             memory_budget: int | None = None, progress: bool | None = None,
             timeout: float = 10.0) -> Execution:  # fmt: skip
        """Open where the tasks run.

        Parameters
        ----------
        workers : int
            0: this process.  N: a local cluster of N worker processes, one thread each; each
            gets ``memory_budget`` bytes, else a fair share (1/N) of the memory available.
        scheduler : str, optional
            Address of an existing Dask scheduler (``tcp://host:8786``).
        client : distributed.Client, optional
            An existing client; never closed here.
        backend : str
            ``"cuda"``: each local worker uses its own GPU (round robin).
        progress : bool, optional
            A tqdm bar per stage (True) or one log line (False); default: whether stderr is a terminal.
        timeout : float
            Seconds to wait for ``scheduler`` to answer.

        Raises
        ------
        PipelineError
            Conflicting arguments, or a scheduler that does not answer.
        """
        if sum([workers > 0, scheduler is not None, client is not None]) > 1:
            raise PipelineError("Give one of workers=N, scheduler= and client=, not several.")
        if client is not None:
            return cls(client, [], f"the Dask cluster at {client.scheduler.address}", progress)
        if scheduler is not None:
            try:
                c = distributed.Client(scheduler, timeout=timeout)
            except (OSError, TimeoutError) as exc:
                raise PipelineError(f"The Dask scheduler at {scheduler} did not answer within "
                                    f"{timeout:g} s ({exc}).") from None  # fmt: skip
            return cls(c, [c], f"the Dask cluster at {scheduler}", progress)
        if workers == 0:
            return cls(None, [], "this process", progress)
        if memory_budget is None:
            free = available_memory().bytes
            memory_budget = "auto" if free == float("inf") else int(free // workers)
        gpus = _gpu_ids() if backend == "cuda" else []
        if backend == "cuda" and workers > len(gpus):
            log.warning("%d workers on %d GPU(s): workers share GPUs.", workers, len(gpus))
        scheduler_spec = {"cls": distributed.Scheduler, "options": {"dashboard_address": ":8787"}}
        with dask.config.set(LOCAL_WORKER_CONFIG):  # read by each Nanny as it is made, kept for its restarts
            cluster = distributed.SpecCluster(workers=worker_specs(workers, backend, gpus, memory_budget),
                                              scheduler=scheduler_spec, silence_logs=logging.WARNING)  # fmt: skip
        c = distributed.Client(cluster)
        c.run(prepare_worker, backend)
        link = c.dashboard_link
        where = f"dashboard {link}" if link else "no dashboard: bokeh is not installed"
        description = f"a local Dask cluster of {workers} workers ({where})"
        log.info("Tasks run on %s.", description)
        return cls(c, [c, cluster], description, progress)

    def map(self, stage: str, fn, items, *common, meanwhile=None) -> list:
        """``fn(item, *common)`` for every item, results in the items' order; one progress display per stage.

        ``meanwhile``: a callable this process calls (without arguments) once
        the tasks are sent, while the cluster runs them; in this process, first.

        Raises
        ------
        Exception
            The first failing task's own exception (the other tasks are cancelled), or ``meanwhile``'s.
        """
        items = list(items)
        shown = sys.stderr.isatty() if self._progress is None else self._progress
        start = time.perf_counter()
        with tqdm(total=len(items), desc=stage, file=sys.stderr, disable=not shown) as bar:
            if self.client is None:
                if meanwhile is not None:
                    meanwhile()
                results = []
                for item in items:
                    results.append(fn(item, *common))
                    bar.update()
            else:
                results = self._map_dask(stage, fn, items, common, bar, meanwhile)
        if not shown:
            log.info("%s: %d task(s) done in %.1f s (%s)", stage, len(items), time.perf_counter() - start,
                     self.description)  # fmt: skip
        return results

    def _map_dask(self, stage, fn, items, common, bar, meanwhile=None):
        if not items:
            if meanwhile is not None:
                meanwhile()
            return []
        # Common arguments go to every worker once, not once per task.
        # hash=False: each stage's own keys.  Hashed keys are shared with an earlier stage's scatter of
        # the same value, whose release when that stage's futures go loses the data under this one.
        shared = self.client.scatter(list(common), broadcast=True, hash=False) if common else []
        threads = self.host_threads()
        bounds = batch_bounds(len(items), sum(threads.values()))
        token = uuid.uuid4().hex[:8]  # re-runs of a stage must not clash with earlier keys
        futures = []
        results = [None] * len(items)
        try:
            # Each batch goes as soon as it is pickled: the workers start on the first while the
            # next are pickled (a chip's first pickling, its WCS template, takes ~2 ms).
            for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
                batch = [pickle.dumps(it, protocol=pickle.HIGHEST_PROTOCOL) for it in items[a:b]]
                futures.append(self.client.submit(run_batch, batch, fn, threads, *shared,
                                                  key=f"{stage}-{i}-{token}", pure=False))  # fmt: skip
            if meanwhile is not None:
                meanwhile()
            index = {f.key: i for i, f in enumerate(futures)}
            for future, pickled in distributed.as_completed(futures, with_results=True):
                k = index[future.key]
                result = pickle.loads(pickled)  # run_batch's results come pickled
                results[bounds[k] : bounds[k + 1]] = result
                # Released once gathered: the worker drops its copy now, not at the stage's end (a build's
                # headers, read on the workers, held ~40 MiB of each worker's memory until then).
                futures[k] = future = None
                bar.update(len(result))
        except BaseException:
            self.client.cancel([f for f in futures if f is not None])
            raise
        finally:
            self.client.cancel(shared)  # the stage's common arguments are no longer needed
        return results

    def host_threads(self) -> dict:
        """Per host of the cluster's workers (IP address), the task threads of all its workers together."""
        counts = {}
        for info in self.client.scheduler_info(n_workers=-1)["workers"].values():
            counts[info["host"]] = counts.get(info["host"], 0) + int(info["nthreads"])
        return counts

    def close(self) -> None:
        """Close what :meth:`open` opened (never a client the caller passed)."""
        for thing in self._owned:
            thing.close()
        self._owned = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ExecutionStart:
    """:meth:`Execution.open` under way in a background thread.

    The mosaic mode's :meth:`~gpudriz.Multidrizzle.build` starts a local
    cluster this way, so that its workers spawn and import while this process
    reads the inputs' headers (one core of this process's machine is idle
    then).  :meth:`take` hands the execution over; :meth:`discard` closes it
    when it will not be used.

    Parameters
    ----------
    **options
        :meth:`Execution.open`'s keyword arguments.
    """

    def __init__(self, **options):
        self.options = options
        self._taken = False
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpudriz-cluster-start")
        self._future = pool.submit(Execution.open, **options)
        pool.shutdown(wait=False)  # the thread ends with the open

    def take(self, **options) -> Execution | None:
        """The execution, once open, if it was started with these ``options``; else None (it is closed).

        Raises
        ------
        PipelineError
            The start failed (its own error: arguments in conflict, a cluster that did not start).
        """
        if options != self.options:
            self.discard()
            return None
        self._taken = True
        return self._future.result()

    def map(self, stage: str, fn, items, *common) -> list:
        """``fn(item, *common)`` for every item, in order: here while the cluster starts, then with its workers.

        The mosaic mode's build reads its inputs' headers so (~20 ms an
        exposure, most of it astropy making each chip's WCS): this process
        works through the items from the first while the cluster starts;
        once it is open, the items left are shared between its task threads
        and this process, which keeps its share from the front.  A cluster
        that failed to start leaves every item to this process (the failure
        is :meth:`take`'s to report).

        Raises
        ------
        Exception
            The first failing item's exception found (from the front in this
            process; a worker's as it comes).
        """
        items = list(items)
        results = []
        while len(results) < len(items) and not self._future.done():
            results.append(fn(items[len(results)], *common))
        rest = items[len(results):]
        if not rest:
            return results
        try:
            execution = self._future.result()
        except Exception:  # take() reports it
            execution = None
        if execution is None or not execution.distributed:
            return results + [fn(item, *common) for item in rest]
        # This process's share: one task thread's, from the front (it also gathers the workers' results).
        mine = len(rest) // (sum(execution.host_threads().values()) + 1)
        front = []
        theirs = execution.map(stage, fn, rest[mine:], *common,
                               meanwhile=lambda: front.extend(fn(item, *common) for item in rest[:mine]))  # fmt: skip
        return results + front + theirs

    def discard(self) -> None:
        """Close the execution once it is open, unless :meth:`take` handed it over."""
        if self._taken:
            return
        self._taken = True
        try:
            execution = self._future.result()
        except Exception as exc:  # nobody will use it: its failure to start is not this caller's error
            log.debug("an unused cluster start failed: %s", exc)
            return
        execution.close()
