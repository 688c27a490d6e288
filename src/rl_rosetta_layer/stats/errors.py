"""The one exception type raised by :mod:`rl_rosetta_layer.stats`."""

from __future__ import annotations

from ..errors import RosettaError

__all__ = ["StatsError"]


class StatsError(RosettaError, ValueError):
    """Bad input to a statistics function.

    The message names the offending value and says what is accepted.
    Well-formed input whose statistic is undefined (one seed, a constant
    score, ...) is *not* an error: row builders return an explicit
    ``'not computable: ...'`` note with NaN values instead.
    """
