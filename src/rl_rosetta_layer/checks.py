"""The one test of "is this an integer" that every setting's check uses: a Python or numpy
integer, never a bool (``True`` is an ``int`` to Python, but never a count or a size here)."""

from __future__ import annotations

import numpy as np


def is_int(value: object) -> bool:
    """Whether ``value`` is an integer (Python or numpy), a bool excluded.

    >>> is_int(3), is_int(np.int64(3)), is_int(True), is_int(3.0)
    (True, True, False, False)
    """
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
