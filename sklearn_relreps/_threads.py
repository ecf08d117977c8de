"""The thread budget: how many threads the package may run, and its one pool.

Rules, as scikit-learn's own OpenMP code follows them:

- the budget is what OpenMP may use (``OMP_NUM_THREADS``, the limits of
  threadpoolctl, and the inner limits joblib/loky set in its workers, all seen
  through scikit-learn's ``_openmp_effective_n_threads``), capped by the
  current limit of the BLAS libraries (``threadpool_limits(1,
  user_api="blas")`` is honoured too) and by the number of CPUs;
- ``n_jobs`` (scikit-learn's glossary: None is 1 unless inside a
  :func:`joblib.parallel_config` context, -1 is all processors) is how many
  row chunks run at once; chunk workers never exceed the budget, and share it:
  each runs its compiled kernels and BLAS with ``budget // n_workers``
  threads;
- BLAS limits are process-wide: they are changed only when several chunk
  workers run, for the time they run, under a lock with a count of users, so
  that concurrent transforms restore the original limits exactly once, when
  the last one finishes;
- one pool of at most ``cpu_count()`` threads serves chunk workers and kernel
  helpers alike (created on first use, new after a fork). The calling thread
  always takes work itself, and a helper that has not started when the work
  is done is cancelled, not waited for: nested use (a transform inside a
  callable similarity inside a chunk worker) cannot deadlock.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from joblib import cpu_count, effective_n_jobs
from sklearn import config_context, get_config

from ._compat import _get_threadpool_controller, openmp_effective_n_threads

_local = threading.local()
_pool_lock = threading.Lock()
_pool = _pool_pid = None
_blas_lock = threading.Lock()
_blas_users = 0
_blas_limits = None


def thread_budget():
    """Return how many threads this thread's work may use in all."""
    local = getattr(_local, "budget", None)
    if local is not None:
        return local
    budget = openmp_effective_n_threads()
    for library in _get_threadpool_controller().select(user_api="blas").lib_controllers:
        if library.num_threads and library.num_threads > 0:
            budget = min(budget, library.num_threads)
    return max(1, min(budget, cpu_count()))


@contextmanager
def budget_of(n_threads):
    """Let the work of this thread use at most `n_threads` threads."""
    previous = getattr(_local, "budget", None)
    _local.budget = max(1, int(n_threads))
    try:
        yield
    finally:
        _local.budget = previous


def n_workers(n_jobs, n_chunks):
    """Return how many chunk workers run: `n_jobs` within the budget."""
    if n_chunks <= 1:
        return 1
    return max(1, min(effective_n_jobs(n_jobs), thread_budget(), n_chunks))


@contextmanager
def blas_limited(n_threads):
    """Limit BLAS to `n_threads` while at least one caller is inside.

    The first caller sets the limit, the last restores the original limits;
    callers that overlap share the first caller's limit.
    """
    global _blas_users, _blas_limits
    with _blas_lock:
        if _blas_users == 0:
            _blas_limits = _get_threadpool_controller().limit(
                limits=n_threads, user_api="blas"
            )
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limits.restore_original_limits()
                _blas_limits = None


def _shared_pool():
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(cpu_count(), "sklearn_relreps")
            _pool_pid = os.getpid()
        return _pool


def run_in_threads(task, items, n_threads, *, inner_threads=1):
    """Call ``task(item)`` for every item, in `n_threads` threads at most.

    The calling thread takes items too. Every thread runs with the caller's
    scikit-learn configuration and a budget of `inner_threads`.
    """
    items = list(items)
    n_threads = min(n_threads, len(items))
    if n_threads <= 1:
        with budget_of(inner_threads):
            for item in items:
                task(item)
        return
    queue = iter(items)  # next() on a list iterator is atomic
    config = get_config()

    def work():
        with config_context(**config), budget_of(inner_threads):
            for item in queue:
                task(item)

    helpers = [_shared_pool().submit(work) for _ in range(n_threads - 1)]
    try:
        work()
    finally:
        for helper in helpers:
            if not helper.cancel():  # started: wait for its last item
                helper.result()


def map_chunks(task, chunks, n_jobs):
    """Call ``task(chunk)`` for every chunk, `n_jobs` chunks at a time.

    The workers share the thread budget: with several, BLAS is limited to
    each one's share while they run.
    """
    workers = n_workers(n_jobs, len(chunks))
    if workers == 1:
        for chunk in chunks:
            task(chunk)
        return
    share = max(1, thread_budget() // workers)
    with blas_limited(share):
        run_in_threads(task, chunks, workers, inner_threads=share)


def on_row_blocks(n_rows, n_values, fill, *, multiple=1, min_values=2**16):
    """Call ``fill(rows)`` on slices covering ``range(n_rows)``, threaded.

    Slices start at multiples of `multiple`. Work of `n_values` values in all
    gets one thread per `min_values` values, within the budget; each thread
    takes several slices, so that faster threads take more.
    """
    by_size = -(-n_values // min_values)
    by_rows = -(-n_rows // multiple)
    n_threads = 1 if by_size <= 1 else min(thread_budget(), by_size, by_rows)
    if n_threads <= 1:
        fill(slice(0, n_rows))
        return
    n_blocks = min(n_threads * 8, by_rows)
    block = multiple * -(-n_rows // (n_blocks * multiple))
    slices = [slice(start, start + block) for start in range(0, n_rows, block)]
    run_in_threads(fill, slices, n_threads)
