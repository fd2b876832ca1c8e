"""Chunked execution of per-frame stages on a Dask cluster, with resumable parts.

One home for three ideas that ``segment``, ``features`` and ``sweep`` share:

- **where work runs**: :func:`parse_scheduler` reads ``--scheduler`` (absent: in
  process; ``local[:N]``: a Dask ``LocalCluster`` of ``N`` single-threaded worker
  processes on this machine; ``tcp://HOST:PORT``: a running Dask scheduler whose
  workers see the same file system) and :func:`dask_client` opens the client;
- **how work is split**: :func:`frame_spans` cuts ``N`` frames into spans that
  are whole Zarr chunks, so a task reads its frames straight from the store and
  writes its own output (a Zarr region or a Parquet file) without touching a
  neighbour's chunks;
- **which outputs are trusted**: :class:`PartStore` keeps the parts of one run
  in a hidden folder beside the output, ``.OUT.parts/``. A part's files are
  written to temporaries and renamed; then its manifest entry
  ``manifest/part-NNNNNN.json`` records the SHA-256 digest of every file it
  wrote (and the Zarr chunks it left empty). A part counts as done only when
  its entry exists, belongs to the same run key and every digest still
  matches, so a part half-written by a killed worker is recomputed. An
  interrupted run therefore resumes from the parts already written; the
  folder is removed once the final output is in place.

A killed worker's tasks are rescheduled by Dask on the remaining or restarted
workers (``retries`` below); tasks are idempotent (a rerun rewrites the same
region and entry).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import InputError
from ._io import atomic_file, read_json, write_json

__all__ = [
    "SchedulerSpec", "parse_scheduler", "dask_client", "frame_spans", "PartStore", "run_tasks",
    "run_parts", "worker_cohort", "peak_rss_mb", "SCHEDULER_HELP",
]

logger = logging.getLogger(__name__)

#: Help text of every ``--scheduler`` option.
SCHEDULER_HELP = ("Where per-frame work runs: omit for in-process; local[:N] for N worker processes "
                  "on this machine (default N: the CPU count); tcp://HOST:PORT for a running Dask "
                  "scheduler whose workers share this file system.")

#: How often a task is retried after its worker died or it failed (Dask ``retries``).
TASK_RETRIES = 3
PARTS_FORMAT = "lusfeat-parts"
PARTS_VERSION = 1
_LOCAL = re.compile(r"^local(?::(\d+))?$")
_TCP = re.compile(r"^(tcp|tls)://([A-Za-z0-9.\-\[\]:]+):(\d{1,5})$")


@dataclass(frozen=True)
class SchedulerSpec:
    """A parsed ``--scheduler`` value.

    Attributes
    ----------
    kind : {"local", "tcp"}
    workers : int or None
        Worker processes of a local cluster (``None``: the CPU count).
    address : str or None
        Scheduler address for ``tcp``.
    """

    kind: str
    workers: int | None = None
    address: str | None = None

    def __str__(self) -> str:
        if self.kind == "local":
            return "local" if self.workers is None else f"local:{self.workers}"
        return str(self.address)


def parse_scheduler(text: str | SchedulerSpec | None, option: str = "--scheduler") -> SchedulerSpec | None:
    """Parse ``local``, ``local:N`` or ``tcp://HOST:PORT``; ``None``/``""``/``inprocess`` -> ``None``.

    Raises
    ------
    InputError
        For any other value; the message names ``option`` and the accepted forms.

    Examples
    --------
    >>> parse_scheduler("local:2")
    SchedulerSpec(kind='local', workers=2, address=None)
    >>> parse_scheduler(None) is None
    True
    """
    if text is None or isinstance(text, SchedulerSpec):
        return text
    value = str(text).strip()
    if value in ("", "inprocess", "in-process", "none"):
        return None
    m = _LOCAL.match(value)
    if m:
        n = None if m.group(1) is None else int(m.group(1))
        if n is not None and n < 1:
            raise InputError(f"{option} {value!r}: the worker count must be >= 1, e.g. local:2")
        return SchedulerSpec("local", workers=n)
    m = _TCP.match(value)
    if m and 0 < int(m.group(3)) < 65536:
        return SchedulerSpec("tcp", address=value)
    raise InputError(f"{option} {value!r} is not understood; use local, local:N (e.g. local:2) or "
                     "tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786), or omit it to run in process")


@contextlib.contextmanager
def dask_client(spec: SchedulerSpec | Any, *, gpu: bool = False, option: str = "--scheduler") -> Iterator[Any]:
    """A ``distributed.Client`` for ``spec``; a local cluster is closed on exit.

    Parameters
    ----------
    spec : SchedulerSpec or distributed.Client
        A client passed in is yielded as is (and left open).
    gpu : bool
        For ``local``: start ``dask_cuda.LocalCUDACluster``, one worker per GPU
        (``N`` of them: the first ``N`` GPUs), each seeing only its own GPU as
        ``cuda:0`` (a local CPU cluster, with a warning, when dask-cuda is not
        installed).
    option : str
        Option name used in error messages.

    Raises
    ------
    InputError
        When no scheduler answers at a ``tcp`` address within 5 s.
    """
    from distributed import Client

    if isinstance(spec, Client):
        yield spec
        return
    if spec.kind == "local":
        cluster = _local_cluster(spec.workers, gpu)
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
        return
    try:
        client = Client(spec.address, timeout="5s")
    except (OSError, TimeoutError) as exc:
        raise InputError(f"{option} {spec.address}: no Dask scheduler answered ({type(exc).__name__}); "
                         "start one (`dask scheduler`, then `dask worker ADDRESS` on each machine) or use "
                         "--scheduler local:N") from None
    n = len(client.scheduler_info().get("workers", {}))
    logger.info("connected to the Dask scheduler at %s (%d worker(s))", spec.address, n)
    try:
        yield client
    finally:
        client.close()


def _local_cluster(workers: int | None, gpu: bool) -> Any:
    """A ``LocalCUDACluster`` (``gpu`` and dask-cuda installed) or a ``LocalCluster`` of
    single-threaded worker processes."""
    if gpu:
        try:
            from dask_cuda import LocalCUDACluster
        except ImportError:
            logger.warning("dask-cuda is not installed: a plain local cluster shares the GPU between its "
                           "workers (pip install dask-cuda for one worker per GPU)")
        else:
            kw = {} if workers is None else {"CUDA_VISIBLE_DEVICES": list(range(workers))}
            cluster = LocalCUDACluster(threads_per_worker=1, dashboard_address=None, silence_logs=logging.CRITICAL, **kw)
            logger.info("started a local Dask CUDA cluster: %d worker(s), one GPU each", len(cluster.workers))
            return cluster
    import dask
    from distributed import LocalCluster

    n = workers or os.cpu_count() or 1
    # One thread per worker: parallelism comes from processes (numba, torch and the
    # Blosc codec release the GIL only part of the time); Zarr decodes in the task's
    # own thread instead of a thread pool per worker. Dask's nanny sets
    # MALLOC_TRIM_THRESHOLD_=65536 in its workers, which makes glibc return every
    # freed frame batch to the system and fault it in again on the next one: that
    # doubled the CPU seconds of a feature task. lusfeat's own workers instead keep
    # freed buffers in the heap (mmap off, no trimming, one arena: lusfeat._memory),
    # so a batch reuses the pages of the one before (their memory stays bounded by
    # the batch size).
    from ._memory import MALLOC_ENV, malloc_tuning_enabled

    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
    if malloc_tuning_enabled():
        environ.update(MALLOC_ENV)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.CRITICAL,
                               env={"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
                                    "ZARR_THREADING__MAX_WORKERS": "1"})
    logger.info("started a local Dask cluster: %d worker process(es), 1 thread each", n)
    return cluster


def frame_spans(n_frames: int, chunk_frames: int, min_frames: int = 1) -> list[tuple[int, int]]:
    """Cut ``0..n_frames`` into ``[start, stop)`` spans of whole chunks.

    Parameters
    ----------
    n_frames : int
    chunk_frames : int
        Frames per Zarr chunk of the output (spans never split a chunk).
    min_frames : int
        Each span holds a multiple of ``lcm(chunk_frames, min_frames)`` frames
        (the last one may be shorter), e.g. to keep inference batches aligned.

    Returns
    -------
    list of (int, int)

    Examples
    --------
    >>> frame_spans(10, 4)
    [(0, 4), (4, 8), (8, 10)]
    """
    import math

    step = math.lcm(max(1, int(chunk_frames)), max(1, int(min_frames)))
    return [(s, min(n_frames, s + step)) for s in range(0, int(n_frames), step)]


@functools.lru_cache(maxsize=4)
def worker_cohort(path: str, expected: str) -> Any:
    """The cohort at ``path``, opened once per worker process and checked against the
    client's fingerprint ``expected``.

    Raises
    ------
    InputError
        When the cohort changed since the client opened it.
    """
    from .data import open_cohort

    c = open_cohort(path)
    if c.fingerprint != expected:
        raise InputError(f"cohort {path} changed while the command ran (fingerprint {c.fingerprint}, "
                         f"expected {expected}); run the command again")
    return c


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    On Linux this is ``VmHWM`` of ``/proc/self/status``: the high-water mark of the
    process's own address space. ``ru_maxrss`` is not used there because the kernel
    carries it across ``exec``, so a worker spawned by a large client process
    reports the client's size at the fork instead of its own. Elsewhere
    ``ru_maxrss`` (kilobytes on Linux, bytes on macOS).
    """
    import resource
    import sys

    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


class PartStore:
    """The parts of one chunked run, in ``.OUT.parts/`` beside the output ``OUT``.

    Parameters
    ----------
    out : path-like
        The final output the parts are gathered into.
    key : str
        Fingerprint of everything the parts depend on (inputs, options, spans,
        code). Parts written under another key are discarded by :meth:`open`.
    """

    def __init__(self, out: str | os.PathLike, key: str) -> None:
        out = Path(out)
        self.root = out.parent / f".{out.name}.parts"
        self.key = str(key)

    @property
    def manifest(self) -> Path:
        """Folder of the per-part manifest entries."""
        return self.root / "manifest"

    def open(self) -> set[int]:
        """Create or reuse the parts folder; return the ids of the parts that can be trusted.

        A folder of another key is removed; entries whose files are missing or
        changed are dropped (their parts are recomputed).
        """
        head = self.root / "parts.json"
        if self.root.exists():
            old = read_json(head) if head.exists() else {}
            if old.get("key") != self.key:
                logger.info("discarding parts of another run in %s", self.root)
                shutil.rmtree(self.root)
        self.manifest.mkdir(parents=True, exist_ok=True)
        if not head.exists():
            write_json(head, {"format": PARTS_FORMAT, "format_version": PARTS_VERSION, "key": self.key})
        done = set()
        for entry in sorted(self.manifest.glob("part-*.json")):
            part = int(entry.stem.split("-")[1])
            if self.verify(part):
                done.add(part)
            else:
                logger.info("part %d in %s is incomplete or changed; it will be recomputed", part, self.root)
                entry.unlink(missing_ok=True)
        if done:
            logger.info("resuming: %d part(s) already written in %s", len(done), self.root)
        return done

    def verify(self, part: int) -> bool:
        """Whether part ``part`` has an entry of this key whose files all match."""
        try:
            entry = read_json(self.manifest / f"part-{part:06d}.json")
        except InputError:
            return False
        if entry.get("key") != self.key:
            return False
        for rel, digest in entry.get("files", {}).items():
            path = self.root / rel
            if digest is None:
                if path.exists():
                    return False
            elif not path.is_file() or _digest(path) != digest:
                return False
        return True

    def entry(self, part: int) -> dict[str, Any]:
        """The manifest entry of a committed part."""
        return read_json(self.manifest / f"part-{part:06d}.json")

    def commit(self, part: int, files: Sequence[Path], absent: Sequence[Path] = (), **info: Any) -> None:
        """Record part ``part`` as done: digests of ``files``, paths that must stay ``absent``.

        Call after every file of the part was renamed into place.
        """
        listing: dict[str, str | None] = {str(Path(f).relative_to(self.root)): _digest(Path(f)) for f in files}
        listing.update({str(Path(f).relative_to(self.root)): None for f in absent})
        write_json(self.manifest / f"part-{part:06d}.json", {"part": int(part), "key": self.key,
                                                             "files": listing, **info})

    def file(self, part: int, name: str) -> Path:
        """Where a file of a part lives: ``.OUT.parts/part-NNNNNN.NAME``."""
        return self.root / f"part-{part:06d}.{name}"

    def write_parquet(self, part: int, name: str, table: Any) -> Path:
        """Write a pandas DataFrame as file ``name`` of part ``part`` (temporary, then rename)."""
        path = self.file(part, name)
        with atomic_file(path) as tmp:
            table.to_parquet(tmp, index=False)
        return path

    def discard_if_empty(self) -> None:
        """Delete the parts folder when no part was committed (e.g. no scheduler answered)."""
        if not any(self.manifest.glob("part-*.json")):
            self.remove()

    def remove(self) -> None:
        """Delete the parts folder (after the final output is in place)."""
        shutil.rmtree(self.root, ignore_errors=True)


def run_tasks(
    client: Any, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], *, label: str,
    progress: bool = True, total: int | None = None, done: int = 0,
) -> list[Any]:
    """Run ``fn(*args)`` for every ``args`` in ``calls`` on the cluster; results in call order.

    Parameters
    ----------
    client : distributed.Client
    fn : callable
        A module-level function (it is pickled by reference).
    calls : sequence of tuple
        Positional arguments of each task.
    label : str
        Progress description and task-key prefix.
    progress : bool
        Show a progress bar (frames or tasks, whatever ``total`` counts).
    total, done : int, optional
        Progress units: the total and those already done (resumed parts). Each
        finished task advances by its result's ``"frames"`` entry when it has
        one, else by 1.

    Raises
    ------
    LusfeatError
        The first error a task raised (after Dask's retries), unchanged.
    """
    from distributed import as_completed

    from ._progress import progress_bar

    futures = [client.submit(fn, *args, retries=TASK_RETRIES, pure=False, key=f"{label}-{i}-{os.urandom(4).hex()}")
               for i, args in enumerate(calls)]
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    try:
        with progress_bar(enabled=progress, transient=True) as bar:
            task = bar.add_task(label, total=total if total is not None else len(futures), completed=done)
            for fut in as_completed(futures):
                res = fut.result()
                results[index[fut.key]] = res
                step = res.get("frames", 1) if isinstance(res, dict) else 1
                bar.advance(task, step)
    except BaseException:
        client.cancel(futures)
        raise
    return results


def run_parts(
    store: PartStore, spec: Any, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], *, label: str,
    progress: bool, total: int, done: int, gpu: bool = False,
) -> None:
    """Run the missing parts of ``store`` on the cluster of ``spec`` (see :func:`run_tasks`).

    Nothing is connected when ``calls`` is empty (every part was resumed). On any
    failure a parts folder that holds no committed part is removed, so a bad
    ``--scheduler`` leaves nothing behind; committed parts are kept for a rerun.
    """
    if not calls:
        return
    try:
        with dask_client(spec, gpu=gpu) as client:
            run_tasks(client, fn, calls, label=label, progress=progress, total=total, done=done)
    except BaseException:
        store.discard_if_empty()
        raise
