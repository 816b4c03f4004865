"""Thread pools sized for the work, and independent refits in parallel processes.

Notebook 05 refits small models many times (logistic regressions and heads on a few hundred rows,
per repeated split and per label-budget draw). On such matrices a BLAS or OpenMP pool sized for the
machine costs more in synchronisation than it computes, and beside PyTorch's own pool it
oversubscribes the cores (on 16 cores a 6-value ``C`` sweep took 12.4 s, on 2 cores 3.6 s). So:

- ``limited(threads)``: scikit-learn's BLAS/OpenMP pools (threadpoolctl) and PyTorch's intra-op
  pool set to ``threads`` for a block, then restored. Small fits (``SMALL_FIT_THREADS``, one thread)
  run this way wherever they run, in the notebook's process or in a worker, so a result does not
  depend on how many refits run beside it: thread counts change floating-point summation order,
  and with it the last digits of a fit.
- ``run(fn, tasks, n_jobs)``: independent tasks in ``n_jobs`` worker processes (joblib, loky),
  results in task order; ``n_jobs=1`` runs them here, one after the other, through the same code.
  Tasks must carry what they read (cached features), never an encoder. ``n_jobs=None`` (default):
  one process per core, fewer where memory would not hold them, and only where it pays: the first
  task runs here, timed, and the rest go to processes only if they would save more than starting
  the processes costs (an interpreter importing PyTorch and scikit-learn: seconds), so short work
  (the smoke profile, tests) stays in this process. An explicit ``n_jobs`` is obeyed as given.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import time
from collections.abc import Callable, Iterable

from . import timing

SMALL_FIT_THREADS: int | None = 1  # threads of one small fit (None: leave the pools as they are)
WORKER_BASE_BYTES = 700 * 2**20  # a worker with torch, scikit-learn and pandas imported
WORKER_START_S = 3.0  # starting workers: an interpreter importing torch and scikit-learn (idle CPU)
WARM_S = 200.0  # joblib keeps idle workers for 300 s: within this, a new batch finds them started
_warm = {"processes": 0, "until": 0.0}  # the workers this process started last, and till when


def cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def available_memory() -> int | None:
    """Bytes of memory available to new processes, or None where it cannot be read."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def workers(n_jobs: int | None, tasks: int, payload_bytes: int = 0) -> int:
    """Processes to start: ``n_jobs`` (None: every core), at most one per task, and no more than
    the available memory holds (each worker: an interpreter with the libraries, and the payload)."""
    n = cores() if n_jobs is None or n_jobs <= 0 else int(n_jobs)
    n = max(1, min(n, tasks))
    memory = available_memory()
    if memory is not None and n > 1:
        n = max(1, min(n, int(0.8 * memory // (WORKER_BASE_BYTES + payload_bytes))))
    return n


def thread_settings() -> dict:
    """This process's thread pools as they are now (threadpoolctl and PyTorch), for the record."""
    import torch
    from threadpoolctl import threadpool_info

    pools = sorted(
        {
            (p.get("internal_api"), p.get("num_threads"), p.get("version"))
            for p in threadpool_info()
        },
        key=str,
    )
    return {
        "cores": cores(),
        "torch_threads": torch.get_num_threads(),
        "pools": [{"api": a, "threads": t, "version": v} for a, t, v in pools],
        "small_fit_threads": SMALL_FIT_THREADS,
        "environment": {
            k: os.environ[k]
            for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            if k in os.environ
        },
    }


@contextlib.contextmanager
def limited(threads: int | None):
    """BLAS/OpenMP pools and PyTorch's intra-op pool at ``threads`` in the block (None: as is)."""
    if threads is None:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    with threadpool_limits(limits=threads):
        if before != threads:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)


@contextlib.contextmanager
def small_fit_threads(threads: int | None):
    """The block with another ``SMALL_FIT_THREADS`` in this process (benchmarks: the old way)."""
    global SMALL_FIT_THREADS
    old, SMALL_FIT_THREADS = SMALL_FIT_THREADS, threads
    try:
        yield
    finally:
        SMALL_FIT_THREADS = old


def start_cost(processes: int) -> float:
    """Seconds to get ``processes`` workers going: about nothing where a previous batch left as many
    running (joblib reuses them), else ``WORKER_START_S`` (they start side by side), longer on a
    machine already busier than its cores (the load average: imports share the cores too)."""
    if _warm["processes"] >= processes and time.monotonic() < _warm["until"]:
        return 0.2
    try:
        busy = max(1.0, os.getloadavg()[0] / cores())
    except (AttributeError, OSError):  # no load average (Windows)
        busy = 1.0
    return WORKER_START_S * busy


def pays(task_seconds: float, tasks: int, processes: int) -> bool:
    """Whether ``tasks`` more tasks of ``task_seconds`` each end sooner in ``processes`` workers."""
    saved = tasks * task_seconds * (1 - 1 / processes)
    return processes > 1 and saved > start_cost(processes)


def _timed(fn: Callable, args: tuple) -> tuple[object, dict]:
    """``fn(*args)`` in a worker, with the steps it timed (merged into the parent's recorder)."""
    with timing.Recorder() as recorder:
        out = fn(*args)
    return out, recorder.steps


def run(
    fn: Callable,
    tasks: Iterable[tuple],
    n_jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list, int]:
    """``[fn(*task) for task in tasks]`` in worker processes; returns ``(results, processes)``.

    ``fn`` must be importable (a module-level function) and every task picklable; results come back
    in task order, whatever order they finish in. ``progress(1)`` is called as each result arrives.
    ``n_jobs=None``: as many processes as cores and memory allow, where it pays (``pays``, judged on
    the first task, run here); 1: here, one after the other; more: that many processes at most.
    """
    tasks = list(tasks)
    if not tasks:
        return [], 0
    payload = len(pickle.dumps(tasks[0], protocol=pickle.HIGHEST_PROTOCOL))
    n = workers(n_jobs, len(tasks), payload)
    out = []
    if n > 1 and n_jobs is None:
        start = time.perf_counter()
        out.append(fn(*tasks[0]))
        if progress:
            progress(1)
        n = workers(None, len(tasks) - 1, payload)
        if not pays(time.perf_counter() - start, len(tasks) - 1, n):
            n = 1
    if n == 1:
        for task in tasks[len(out) :]:
            out.append(fn(*task))
            if progress:
                progress(1)
        return out, 1
    from joblib import Parallel, delayed

    results = Parallel(n_jobs=n, backend="loky", return_as="generator")(
        delayed(_timed)(fn, task) for task in tasks[len(out) :]
    )
    _warm.update(processes=n, until=time.monotonic() + WARM_S)
    recorders = list(timing._ACTIVE)
    prefix = timing.current()
    for value, steps in results:
        out.append(value)
        for r in recorders:
            r.merge(steps, prefix)
        if progress:
            progress(1)
    _warm["until"] = time.monotonic() + WARM_S
    return out, n
