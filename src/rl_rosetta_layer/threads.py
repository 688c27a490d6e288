"""One BLAS thread (and one torch thread, when torch is loaded) inside a block.

Numbers that sum in BLAS can change in their last bits with the number of threads, and two
threads per process collapse whenever another process shares the cores; so probes,
benchmarks and workers run with one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits


@contextmanager
def one_thread() -> Iterator[None]:
    """One BLAS thread for every library threadpoolctl sees, and one torch thread when
    torch is already imported (it is never imported here); both restored on exit."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        if torch is not None and before is not None:
            torch.set_num_threads(before)
