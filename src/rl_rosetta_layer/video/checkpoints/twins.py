"""Twins of a block: the same architecture with weights that carry no learned structure.

Two kinds, each answering "is it the pretrained weights, or something less?":

- the **random twin** (``:random``, :func:`random_twin`): freshly initialised weights. A
  freshly initialised residual block is close to the identity, so it is close to the
  bypass; it removes the weights' values and scale together;
- the **shuffled twin** (``:shuffled``, :func:`shuffled_twin`): the pretrained block with
  each parameter tensor's entries permuted by a seeded generator: the same values and
  scale, no learned structure (a LayerNorm's weight of ones stays ones).

The random twin has every
parameter of the block, in the same shapes, redrawn the way torch's default initialisation
would draw it, but from a ``numpy.random.Generator`` (never torch's global generator), so
the same generator state always gives the same twin. Rules, by the module that owns a
parameter:

- ``nn.Linear`` and convolutions (``nn.Conv1d/2d/3d``): weight and bias each
  U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_features (convolutions: in_channels /
  groups x kernel size). This is torch's ``kaiming_uniform_(a=sqrt(5))`` and bias rule.
- Normalisations (any module whose class name contains ``Norm``: LayerNorm, GroupNorm,
  torch and diffusers RMSNorm, ...): weight 1, bias 0.
- ``nn.Embedding``: N(0, 1).
- A modulation table ``scale_shift_table`` (Wan and LTX-Video blocks: (1, 6, dim) and
  (6, dim)): N(0, 1/dim), dim its last dimension, as diffusers draws it
  (``torch.randn(...) / dim ** 0.5``).
- Any other parameter (none in the blocks of the supported backbones): with two or more
  dimensions the Linear rule with fan_in = product of all dimensions but the first; with one
  or none, U(-1/sqrt(n), 1/sqrt(n)) with n its number of elements.

Parameters are visited in ``named_modules()`` order, then in each module's own parameter
order, so the draws are reproducible. Every parameter is replaced by a new tensor (on the
module's device, or on the CPU for a module on the meta device), with requires_grad off.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ...errors import ConfigError


def init_rule(module: torch.nn.Module, param_name: str, shape: tuple[int, ...]) -> tuple:
    """How torch would initialise parameter ``param_name`` of ``module``:
    ('uniform', bound) | ('const', value) | ('normal', std)."""
    if isinstance(module, (torch.nn.Linear, torch.nn.modules.conv._ConvNd)):
        weight = module.weight
        fan_in = weight.shape[1] * math.prod(weight.shape[2:])
        return ("uniform", 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0)
    if "Norm" in type(module).__name__ and param_name in ("weight", "bias"):
        return ("const", 1.0 if param_name == "weight" else 0.0)
    if isinstance(module, torch.nn.Embedding):
        return ("normal", 1.0)
    if param_name == "scale_shift_table" and shape:
        return ("normal", 1.0 / math.sqrt(shape[-1]))
    fan_in = math.prod(shape[1:]) if len(shape) >= 2 else math.prod(shape)
    return ("uniform", 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0)


def draw(rule: tuple, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """float32 array of ``shape`` drawn by ``rule`` from ``rng``."""
    kind, value = rule
    if kind == "uniform":
        out = rng.uniform(-value, value, size=shape)
    elif kind == "normal":
        out = rng.normal(0.0, value, size=shape)
    else:
        out = np.full(shape, value)
    return np.asarray(out, dtype=np.float32)


def random_twin(module: torch.nn.Module, rng: np.random.Generator) -> torch.nn.Module:
    """Redraw every parameter of ``module`` in place (see the module docstring); return it.

    The dtype of each parameter is kept; a module on the meta device gets CPU tensors.
    """
    if not isinstance(rng, np.random.Generator):
        raise ConfigError(f"a random twin needs a numpy.random.Generator, got "
                          f"{type(rng).__name__}")
    for _, sub in module.named_modules():
        for name, param in list(sub.named_parameters(recurse=False)):
            shape = tuple(param.shape)
            values = torch.from_numpy(draw(init_rule(sub, name, shape), shape, rng))
            device = torch.device("cpu") if param.device.type == "meta" else param.device
            new = torch.nn.Parameter(values.to(device=device, dtype=param.dtype),
                                     requires_grad=False)
            setattr(sub, name, new)
    return module


def shuffled_twin(module: torch.nn.Module, rng: np.random.Generator) -> torch.nn.Module:
    """Permute the entries of every parameter of ``module`` (loaded, not on the meta device)
    in place, one permutation per tensor drawn from ``rng`` in ``named_parameters()``
    order; return it. Shapes, dtypes, devices and the multiset of each tensor's values are
    kept."""
    if not isinstance(rng, np.random.Generator):
        raise ConfigError(f"a shuffled twin needs a numpy.random.Generator, got "
                          f"{type(rng).__name__}")
    with torch.no_grad():
        for name, param in module.named_parameters():
            if param.device.type == "meta":
                raise ConfigError(f"parameter {name} is on the meta device: load the block's "
                                  f"weights before shuffling them")
            order = torch.from_numpy(rng.permutation(param.numel())).to(param.device)
            param.copy_(param.reshape(-1)[order].reshape(param.shape))
    return module
