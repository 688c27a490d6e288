"""Any frozen torch module as a candidate layer on the project's numpy protocol.

:class:`TorchLayer` wraps a module mapping (N, input_dim) -> (N, output_dim): numpy float32
in, numpy float32 out, run on a chosen device and dtype in chunks of rows (so memory stays
bounded whatever N is), and ``backward`` is the gradient with respect to the *input*
through autograd; the module's weights are frozen (eval mode, ``requires_grad`` off) and
never change. :func:`chunked_forward` and :func:`chunked_input_grad` are the two loops,
shared with :class:`~rl_rosetta_layer.video.candidates.candidate.VideoCandidate`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ...checks import is_int
from ...errors import ConfigError
from ...layers.base import NumpyLayer
from .devices import dtype_name, resolve_device, resolve_dtype
from .settings import VideoSettings as V

#: A function of a (n, input_dim) tensor on the device to a (n, output_dim) tensor.
TensorFn = Callable[[torch.Tensor], torch.Tensor]


def check_chunk_size(chunk_size: object) -> int:
    if not is_int(chunk_size) or chunk_size < 1:
        raise ConfigError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    return int(chunk_size)


def host_dtype(dtype: torch.dtype) -> np.dtype:
    """numpy dtype observations are fed in for a module of ``dtype``: float64 stays float64
    (gradient checks), everything else is fed float32 and cast on the device."""
    return np.dtype(np.float64 if dtype == torch.float64 else np.float32)


def _rows(x: np.ndarray, dim: int, what: str, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[-1] != dim:
        raise ConfigError(f"{name}: {what} must have shape (..., {dim}), got {x.shape}")
    return x.reshape(-1, dim)


def as_tensor(a: np.ndarray, dtype: np.dtype) -> torch.Tensor:
    """A host tensor of ``a`` as ``dtype``; copies read-only arrays (torch warns on them)."""
    a = np.ascontiguousarray(a, dtype)
    return torch.from_numpy(a if a.flags.writeable else a.copy())


def _checked(y: torch.Tensor, n: int, out_dim: int, name: str) -> torch.Tensor:
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (n, out_dim):
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ConfigError(f"{name}: the module returned {got}, expected ({n}, {out_dim})")
    return y


def chunked_forward(fn: TensorFn, x: np.ndarray, input_dim: int, output_dim: int, *,
                    chunk_size: int, device: torch.device, in_dtype: np.dtype,
                    name: str = "layer") -> np.ndarray:
    """``fn`` over ``x`` (..., input_dim) in chunks of rows -> (..., output_dim) float32."""
    rows = _rows(x, input_dim, "input", name)
    out = np.empty((rows.shape[0], output_dim), np.float32)
    with torch.no_grad():
        for lo in range(0, rows.shape[0], chunk_size):
            xc = as_tensor(rows[lo:lo + chunk_size], in_dtype)
            y = _checked(fn(xc.to(device)), xc.shape[0], output_dim, name)
            out[lo:lo + xc.shape[0]] = y.float().cpu().numpy()
    return out.reshape(*np.shape(x)[:-1], output_dim)


def chunked_input_grad(fn: TensorFn, x: np.ndarray, grad_out: np.ndarray, input_dim: int,
                       output_dim: int, *, chunk_size: int, device: torch.device,
                       in_dtype: np.dtype, name: str = "layer") -> np.ndarray:
    """d(sum(fn(x) * grad_out))/dx: (..., input_dim) float32, computed chunk by chunk."""
    rows = _rows(x, input_dim, "input", name)
    g_rows = _rows(grad_out, output_dim, "grad_out", name)
    if g_rows.shape[0] != rows.shape[0]:
        raise ConfigError(f"{name}: grad_out {np.shape(grad_out)} does not match input "
                          f"{np.shape(x)}; expected {(*np.shape(x)[:-1], output_dim)}")
    out = np.empty(rows.shape, np.float32)
    with torch.enable_grad():
        for lo in range(0, rows.shape[0], chunk_size):
            xc = as_tensor(rows[lo:lo + chunk_size], in_dtype)
            xc = xc.to(device).requires_grad_(True)
            y = _checked(fn(xc), xc.shape[0], output_dim, name)
            gc = as_tensor(g_rows[lo:lo + chunk_size], in_dtype)
            (dx,) = torch.autograd.grad(y, xc, gc.to(device=device, dtype=y.dtype))
            out[lo:lo + xc.shape[0]] = dx.float().cpu().numpy()
    return out.reshape(np.shape(x))


def freeze(module: torch.nn.Module, device: torch.device,
           dtype: torch.dtype) -> torch.nn.Module:
    """Move ``module`` (in place) to ``device`` and ``dtype``, eval mode, no weight grads."""
    module.to(device=device, dtype=dtype)
    module.eval()
    module.requires_grad_(False)
    return module


class TorchLayer(NumpyLayer):
    """A frozen torch module (N, input_dim) -> (N, output_dim) on the numpy layer protocol.

    The module is moved in place to ``device`` and cast to ``dtype`` ('float32',
    'bfloat16'; 'float64' for gradient checks), put in eval mode with ``requires_grad``
    off. ``forward`` and ``backward`` take float32 arrays of any leading shape, cast them
    to ``dtype`` on the device, run ``chunk_size`` rows at a time and return float32.
    """

    def __init__(self, name: str, module: torch.nn.Module, input_dim: int, output_dim: int,
                 *, device: str = V.device, dtype: str = V.dtype, chunk_size: int = 4096) -> None:
        if not isinstance(module, torch.nn.Module):
            raise ConfigError(f"TorchLayer {name!r} needs a torch.nn.Module, got "
                              f"{type(module).__name__}")
        for what, dim in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not is_int(dim) or dim < 1:
                raise ConfigError(f"TorchLayer {name!r}: {what} must be a positive integer, "
                                  f"got {dim!r}")
        self.name, self.input_dim, self.output_dim = name, int(input_dim), int(output_dim)
        self.device, self.dtype = resolve_device(device), resolve_dtype(dtype)
        self.chunk_size = check_chunk_size(chunk_size)
        self.module = freeze(module, self.device, self.dtype)
        self._in_dtype = host_dtype(self.dtype)

    def _fn(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.to(self.dtype))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(..., input_dim) -> (..., output_dim) float32, under ``torch.no_grad``."""
        return chunked_forward(self._fn, x, self.input_dim, self.output_dim,
                               chunk_size=self.chunk_size, device=self.device,
                               in_dtype=self._in_dtype, name=self.name)

    def backward(self, x: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        """Gradient with respect to ``x`` (..., input_dim) given dL/dy (..., output_dim)."""
        return chunked_input_grad(self._fn, x, grad_out, self.input_dim, self.output_dim,
                                  chunk_size=self.chunk_size, device=self.device,
                                  in_dtype=self._in_dtype, name=self.name)

    def n_params(self) -> int:
        """Frozen parameters of the module."""
        return sum(p.numel() for p in self.module.parameters())

    def describe(self) -> dict:
        return {**super().describe(), "module": type(self.module).__name__,
                "frozen_params": self.n_params(), "device": str(self.device),
                "dtype": dtype_name(self.dtype), "chunk_size": self.chunk_size}
