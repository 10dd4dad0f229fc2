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

import logging
import os
import sys
import time
import uuid

import distributed
from tqdm import tqdm

from gpudriz.backend.memory import available_memory
from gpudriz.pipeline.state import PipelineError

__all__ = ["Execution", "worker_specs", "cluster_help"]

log = logging.getLogger("gpudriz")


def cluster_help() -> str:
    """How to run on a cluster (the module docstring's section)."""
    return __doc__.split("Running on a cluster\n--------------------\n", 1)[1]


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
        env["NUMBA_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // max(1, workers)))
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
        cluster = distributed.SpecCluster(workers=worker_specs(workers, backend, gpus, memory_budget),
                                          scheduler=scheduler_spec, silence_logs=logging.WARNING)  # fmt: skip
        c = distributed.Client(cluster)
        link = c.dashboard_link
        where = f"dashboard {link}" if link else "no dashboard: bokeh is not installed"
        description = f"a local Dask cluster of {workers} workers ({where})"
        log.info("Tasks run on %s.", description)
        return cls(c, [c, cluster], description, progress)

    def map(self, stage: str, fn, items, *common) -> list:
        """``fn(item, *common)`` for every item, results in the items' order; one progress display per stage.

        Raises
        ------
        Exception
            The first failing task's own exception (the other tasks are cancelled).
        """
        items = list(items)
        shown = sys.stderr.isatty() if self._progress is None else self._progress
        start = time.perf_counter()
        with tqdm(total=len(items), desc=stage, file=sys.stderr, disable=not shown) as bar:
            if self.client is None:
                results = []
                for item in items:
                    results.append(fn(item, *common))
                    bar.update()
            else:
                results = self._map_dask(stage, fn, items, common, bar)
        if not shown:
            log.info("%s: %d task(s) done in %.1f s (%s)", stage, len(items), time.perf_counter() - start,
                     self.description)  # fmt: skip
        return results

    def _map_dask(self, stage, fn, items, common, bar):
        if not items:
            return []
        # Common arguments go to every worker once, not once per task.
        # hash=False: each stage's own keys.  Hashed keys are shared with an earlier stage's scatter of
        # the same value, whose release when that stage's futures go loses the data under this one.
        shared = self.client.scatter(list(common), broadcast=True, hash=False) if common else []
        token = uuid.uuid4().hex[:8]  # re-runs of a stage must not clash with earlier keys
        keys = [f"{stage}-{i}-{token}" for i in range(len(items))]
        futures = self.client.map(fn, items, *[[s] * len(items) for s in shared], key=keys, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results = [None] * len(items)
        try:
            for future, result in distributed.as_completed(futures, with_results=True):
                results[index[future.key]] = result
                bar.update()
        except BaseException:
            self.client.cancel(futures)
            raise
        finally:
            self.client.cancel(shared)  # the stage's common arguments are no longer needed
        return results

    def close(self) -> None:
        """Close what :meth:`open` opened (never a client the caller passed)."""
        for thing in self._owned:
            thing.close()
        self._owned = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
