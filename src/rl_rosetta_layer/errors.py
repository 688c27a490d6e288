"""Exception hierarchy. Every message names the bad value and what would be accepted."""


class RosettaError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(RosettaError, ValueError):
    """A setting, flag or argument has a value that is not accepted."""


class UnknownLayerError(ConfigError):
    """A layer name is not among the known candidates."""


class MissingInputError(RosettaError, FileNotFoundError):
    """A file an earlier step should have written is missing."""


class CorruptFileError(RosettaError, ValueError):
    """A file exists but its content is not what this package writes."""


class DiskFullError(RosettaError, OSError):
    """An output could not be written: no space is left on its disk (or in the quota)."""


class DivergedError(RosettaError, FloatingPointError):
    """Training produced a NaN or an overflow."""


class RunsFailedError(RosettaError):
    """Every run of a command raised: there is no result to write (exit status 3)."""

    exit_status = 3
