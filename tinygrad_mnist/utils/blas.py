"""BLAS on one thread: the one place that decides how many threads NumPy's BLAS uses.

    with blas_on_one_thread():                          # a search trial: always one thread
        ...
    with blas_on_one_thread(unless_environment_says=True):  # `train`: unless OMP_NUM_THREADS...
        ...

Why one: on 2 cores shared with any other work, OpenBLAS's second thread waits for a busy
core: a batch's 128x784 by 784x256 product took 0.36 ms on one thread and 19 ms on two, and
an epoch of the default model 0.9 s against 2.5 to 24 s (measured). And OpenBLAS results
differ in the last bit between thread counts: a search's trials must not depend on n_jobs.
"""

from __future__ import annotations

import contextlib
import os
import threading

#: Set one of these to choose the BLAS threads of `train` and `kfold` yourself.
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def blas_on_one_thread(unless_environment_says: bool = False):
    """A context manager that holds BLAS to one thread while any holder is inside it.

    With `unless_environment_says`, it does nothing when one of `BLAS_THREAD_VARIABLES`
    is set: the user chose a number.
    """
    if unless_environment_says and any(os.environ.get(name) for name in BLAS_THREAD_VARIABLES):
        return contextlib.nullcontext()
    return _OneBlasThread()


class _OneBlasThread:
    """Thread pools are per process, and a Dask worker may run several trials at once in
    threads: the first holder to enter sets the limit, the last to leave restores it. (A
    plain per-holder limit would let one trial restore the old thread count while another
    still runs, changing its numbers.)"""

    _lock = threading.Lock()
    _active = 0
    _limiter = None

    def __enter__(self):
        from threadpoolctl import threadpool_limits  # here: only a training run needs it

        cls = type(self)
        with cls._lock:
            if cls._active == 0:
                cls._limiter = threadpool_limits(limits=1, user_api="blas")
            cls._active += 1
        return self

    def __exit__(self, *exc_info):
        cls = type(self)
        with cls._lock:
            cls._active -= 1
            if cls._active == 0:
                cls._limiter.restore_original_limits()
                cls._limiter = None
