"""The tiny CogVideoX transformer of ``tiny-video``: built, initialised from numpy, evaluated.

torch and diffusers are imported inside the functions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .config import SCHEDULER_CONFIG, PretrainConfig

if TYPE_CHECKING:
    import torch
    from diffusers import CogVideoXDDIMScheduler, CogVideoXTransformer3DModel


def init_parameters(model: torch.nn.Module, rng: np.random.Generator) -> None:
    """Set every parameter from ``rng`` with torch's default laws, in ``named_parameters`` order.

    Linear and Conv weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (what
    ``kaiming_uniform_(a=sqrt(5))`` and the bias rule give); LayerNorm: weight 1, bias 0.
    """
    import torch

    for name, param in model.named_parameters():
        module_name, _, kind = name.rpartition(".")
        module = model.get_submodule(module_name)
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.Conv3d)):
            bound = 1.0 / math.sqrt(module.weight[0].numel())
            values = rng.uniform(-bound, bound, size=tuple(param.shape))
        elif isinstance(module, torch.nn.LayerNorm):
            values = np.full(tuple(param.shape), 1.0 if kind == "weight" else 0.0)
        else:
            raise TypeError(f"no initialisation rule for {name} in {type(module).__name__}")
        with torch.no_grad():
            param.copy_(torch.from_numpy(values.astype(np.float32)))


def build_model(config: PretrainConfig, rng: np.random.Generator
                ) -> CogVideoXTransformer3DModel:
    """A tiny ``CogVideoXTransformer3DModel`` with every parameter drawn from ``rng``.

    Input (B, frames, channels, size, size), text (B, 0, text_dim), timesteps (B,);
    output ``.sample`` of the input's shape. torch's global generator is left untouched.
    """
    import torch
    from diffusers import CogVideoXTransformer3DModel

    with torch.random.fork_rng(devices=[]):   # the constructor's own init draws are discarded
        model = CogVideoXTransformer3DModel(**config.model_config())
    init_parameters(model, rng)
    return model


def make_scheduler() -> CogVideoXDDIMScheduler:
    """CogVideoX-2b's noise schedule (see :data:`SCHEDULER_CONFIG`)."""
    from diffusers import CogVideoXDDIMScheduler

    return CogVideoXDDIMScheduler(**SCHEDULER_CONFIG)


def empty_text(config: PretrainConfig, batch: int) -> torch.Tensor:
    import torch

    return torch.zeros(batch, 0, config.text_dim)


def evaluate(model, config: PretrainConfig, val: list[dict], batch: int = 256) -> list[float]:
    """Validation v-MSE per band (no gradients)."""
    import torch

    losses = []
    with torch.no_grad():
        for band in val:
            total, n = 0.0, len(band["t"])
            for i in range(0, n, batch):
                x, t = band["x_t"][i:i + batch], band["t"][i:i + batch]
                pred = model(x, empty_text(config, len(t)), t).sample
                total += float((pred - band["target"][i:i + batch]).pow(2).sum())
            losses.append(total / band["target"].numel())
    return losses


def block_reference(model, config: PretrainConfig, x_t: torch.Tensor, timestep: int
                    ) -> dict[str, np.ndarray]:
    """Run the full model once on ``x_t`` at ``timestep`` and record every block.

    Keys: ``sample`` (B, F, C, H, W) input, ``timestep`` (), ``temb`` (1, time_embed_dim),
    ``output`` (the model's prediction), and for each i ``transformer_blocks.{i}.input`` /
    ``.output``: the block's hidden states (B, tokens, heads * head_dim) entering and leaving
    it (its text stream has zero tokens).
    """
    import torch

    record: dict[str, np.ndarray] = {}
    handles = []
    for i, block in enumerate(model.transformer_blocks):
        name = f"transformer_blocks.{i}"

        def pre(module, args, kwargs, name=name):
            record[f"{name}.input"] = kwargs["hidden_states"].detach().numpy().copy()
            record["temb"] = kwargs["temb"].detach().numpy().copy()

        def post(module, args, kwargs, output, name=name):
            record[f"{name}.output"] = output[0].detach().numpy().copy()

        handles.append(block.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(block.register_forward_hook(post, with_kwargs=True))
    try:
        with torch.no_grad():
            t = torch.tensor([timestep], dtype=torch.int64)
            out = model(x_t, empty_text(config, len(x_t)), t).sample
    finally:
        for h in handles:
            h.remove()
    record.update(sample=x_t.numpy().copy(), timestep=np.array(timestep, dtype=np.int64),
                  output=out.numpy().copy())
    return record


def parameter_counts(model) -> dict:
    """Parameters in total, per block, and in the parts outside the blocks."""
    per_block = [sum(p.numel() for p in b.parameters()) for b in model.transformer_blocks]
    total = sum(p.numel() for p in model.parameters())
    parts = {}
    for name, p in model.named_parameters():
        if not name.startswith("transformer_blocks."):
            top = name.split(".")[0]
            parts[top] = parts.get(top, 0) + p.numel()
    return {"total": total, "per_block": per_block, "outside_blocks": parts}
