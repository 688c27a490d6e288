"""Device and dtype names as the command line and configs spell them, checked once.

``resolve_device("auto")`` is the GPU when torch sees one, else the CPU. Every bad name
raises :class:`~rl_rosetta_layer.errors.ConfigError` naming the value and what is accepted.
"""

from __future__ import annotations

import re

import torch

from ...errors import ConfigError
from .settings import DEVICES

#: dtype names accepted. ``float64`` is there for gradient checks, not for training.
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float64": torch.float64}


def resolve_device(name: str | torch.device) -> torch.device:
    """The torch device for ``name``: 'cpu', 'cuda', 'cuda:N' or 'auto'.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(name, torch.device):
        name = str(name)
    if not isinstance(name, str):
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {name!r}")
    text = name.strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if match is None:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {name!r}")
    if not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but CUDA is not available "
                          f"(torch {torch.__version__}); accepted here: cpu, auto")
    if match.group(1) is None:
        return torch.device("cuda")
    index, count = int(match.group(1)), torch.cuda.device_count()
    if index >= count:
        raise ConfigError(f"device {name!r} does not exist: torch sees {count} CUDA "
                          f"device(s), cuda:0 to cuda:{count - 1}")
    return torch.device("cuda", index)


def resolve_dtype(name: str | torch.dtype) -> torch.dtype:
    """The torch dtype for ``name``: 'float32', 'bfloat16' or 'float64'.

    >>> resolve_dtype("bfloat16")
    torch.bfloat16
    """
    if isinstance(name, torch.dtype):
        for dtype in DTYPES.values():
            if name == dtype:
                return dtype
    elif isinstance(name, str) and name.strip().lower() in DTYPES:
        return DTYPES[name.strip().lower()]
    raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {name!r}")


def dtype_name(dtype: torch.dtype) -> str:
    """The name :func:`resolve_dtype` takes for ``dtype`` (e.g. 'bfloat16')."""
    return str(dtype).removeprefix("torch.")
