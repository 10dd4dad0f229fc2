"""Records of finished tasks, so that a rerun redoes only what is missing or stale (mosaic mode).

Each task of :mod:`gpudriz.pipeline.graph` has a *key*: a digest of
everything its result depends on (the run's changed parameters, the backend,
its inputs' files by name, size and modification time, the chips' skies and
static masks, the frame, the keys of the tasks whose products it reads).
When a task ends, :func:`run_recorded` writes a small JSON record beside the
products, ``<output>_tasks/<stage>/<name>.json`` (atomically, after the
products, which are themselves written atomically), holding the key and
what the task returned.

Before submitting a task the orchestrator asks :meth:`TaskRecords.done`:
a record with the same key whose files all exist is the task's result, and
the task is not run again.  A killed run leaves no record for the tasks it
did not finish, so the rerun redoes exactly those; a changed input or
parameter changes the keys of the tasks it affects and of every task
downstream of them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np

from gpudriz.pipeline.io.products import atomic_write_text

__all__ = ["task_key", "TaskRecords", "run_recorded", "result_files"]


def _canonical(value):
    """``value`` as plain, deterministic data for hashing (arrays by digest, files by name, size and time)."""
    if isinstance(value, np.ndarray):
        return ["ndarray", str(value.dtype), list(value.shape), hashlib.sha256(np.ascontiguousarray(value)).hexdigest()]
    if hasattr(value, "__cuda_array_interface__"):  # a CuPy array: its host copy
        return _canonical(value.get())
    if isinstance(value, Path):
        try:
            st = value.stat()
            return ["file", str(value), st.st_size, st.st_mtime_ns]
        except OSError:
            return ["file", str(value), None, None]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [type(value).__name__, _canonical(dataclasses.asdict(value))]
    if isinstance(value, dict):
        return [[str(k), _canonical(v)] for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))]
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def task_key(*parts) -> str:
    """A digest of ``parts`` (nested lists, dicts, dataclasses, arrays, paths, numbers, strings)."""
    text = json.dumps(_canonical(list(parts)), separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def result_files(result) -> list[str]:
    """The files a task's result names: every string ending in ``.fits`` or ``.npy`` in it.

    A tile table's ``row`` holds the tile's file name (in the output folder),
    not a path: it is not one of the files.
    """
    found = []
    if isinstance(result, dict):
        for k, v in result.items():
            if k != "row":
                found += result_files(v)
    elif isinstance(result, (list, tuple)):
        for v in result:
            found += result_files(v)
    elif isinstance(result, str) and result.endswith((".fits", ".npy")):
        found.append(result)
    return found


class TaskRecords:
    """The records of one run's tasks, in ``folder`` (``<output>_tasks`` in the output folder)."""

    def __init__(self, folder):
        self.folder = Path(folder)

    def path(self, stage: str, name: str) -> Path:
        """Where task ``name`` of ``stage`` records its result."""
        return self.folder / stage / f"{name}.json"

    def done(self, stage: str, name: str, key: str):
        """The recorded result of the task if it finished with this ``key`` and its files exist, else None."""
        path = self.path(stage, name)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if record.get("key") != key:
            return None
        result = record.get("result")
        if not all(Path(f).exists() for f in result_files(result)):
            return None
        return result


def run_recorded(item, fn, *common):
    """Run one task and record it: ``item`` is ``(record_path, key, args)``; returns ``fn(*args, *common)``.

    A top-level function, so that a Dask worker can run it; the record is
    written only after the task's products (:mod:`gpudriz.pipeline.taskrecords`).
    """
    record_path, key, args = item
    result = fn(*args, *common)
    record_path = Path(record_path)
    record_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(record_path, json.dumps({"key": key, "result": result}, indent=1), sync=False)
    return result
