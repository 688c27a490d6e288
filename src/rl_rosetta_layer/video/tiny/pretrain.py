"""Pretrain ``tiny-video``: a small CogVideoX-architecture video diffusion transformer.

The model is diffusers' ``CogVideoXTransformer3DModel`` in a tiny CogVideoX-2b-style
configuration (sin-cos positions added at the patch embedding, no rotary embedding, zero
text tokens), trained to denoise procedural sprite videos (:mod:`.sprites`) with the
objective and noise schedule of CogVideoX-2b: v-prediction MSE on the ``CogVideoXDDIMScheduler``
(scaled-linear betas 0.00085-0.012, SNR shift 3, zero terminal SNR), at timesteps drawn
uniformly from ``[t_min, t_max)``.

Every random number comes from numpy generators derived from one seed: the parameters
(torch's default initialisation laws, drawn with numpy), the training videos, the noise and
timesteps, the validation set and the reference input. Same seed and thread count, same
weights.

``pretrain`` writes, in diffusers layout: ``config.json``, the weights as sharded
safetensors with their index, ``scheduler_config.json``, ``pretrain.json`` (config,
command, versions, wall time, loss curve, data), ``loss_curve.png`` and
``reference_outputs.npz`` (each ``transformer_blocks.i``'s input and output inside the full
model for a fixed input, so a block loaded alone can be checked against them).

One module per job: the settings (:mod:`.config`), the model
(:mod:`.model`), the data (:mod:`.data`), the checkpoint's files
(:mod:`.files`); this one runs them in order, and every name they export can be
imported from here. torch and diffusers are imported inside the functions, so
:class:`PretrainConfig` can be read (e.g. to build the command line) without torch.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ...errors import DivergedError
from .config import (
    SCHEDULER_CONFIG,
    SHIPPED_DIR,
    STREAMS,
    PretrainConfig,
    stream_generators,
)
from .data import (
    STATS_VIDEOS,
    DataScaling,
    data_scaling,
    describe_data,
    linear_baseline_v,
    noisy_examples,
    sprite_kwargs,
    validation_set,
)
from .files import plot_loss_curve, refuse_overwrite, versions, write_checkpoint
from .model import (
    block_reference,
    build_model,
    empty_text,
    evaluate,
    init_parameters,
    make_scheduler,
    parameter_counts,
)
from .sprites import sprite_videos

__all__ = ["SCHEDULER_CONFIG", "SHIPPED_DIR", "STATS_VIDEOS", "STREAMS", "DataScaling",
           "PretrainConfig", "block_reference", "build_model", "data_scaling", "evaluate",
           "init_parameters", "linear_baseline_v", "make_scheduler", "noisy_examples",
           "parameter_counts", "plot_loss_curve", "pretrain", "refuse_overwrite",
           "stream_generators", "validation_set"]


def _lr_factor(config: PretrainConfig, step: int) -> float:
    """Learning-rate multiplier at ``step``: linear warm-up, then cosine from 1 to 0.1."""
    if step < config.warmup:
        return (step + 1) / config.warmup
    span = max(config.steps - config.warmup, 1)
    progress = min((step - config.warmup) / span, 1.0)
    return 0.1 + 0.45 * (1.0 + math.cos(math.pi * progress))


def train(model, config: PretrainConfig, gens: dict[str, np.random.Generator], scheduler,
          scaling: DataScaling, val: list[dict], quiet: bool = False
          ) -> tuple[list[dict], list[float]]:
    """Train ``model`` for ``config.steps`` AdamW steps on fresh videos from ``gens["data"]``
    (noise and timesteps from ``gens["noise"]``), evaluating on ``val`` every
    ``eval_every`` steps. Returns the loss curve (step 0 included, before any update) and
    every step's training loss. Raises DivergedError when the loss is not finite."""
    import torch
    from tqdm import tqdm

    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optim = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                               {"params": no_decay, "weight_decay": 0.0}],
                              lr=config.lr, betas=(0.9, 0.95), eps=1e-8)
    model.eval()
    band_loss = evaluate(model, config, val)
    curve = [{"step": 0, "train_loss": None, "val_loss": float(np.mean(band_loss)),
              "val_band_loss": band_loss}]
    window, train_losses = [], []
    bar = tqdm(range(config.steps), desc="pretrain tiny-video", disable=quiet,
               dynamic_ncols=True)
    for step in bar:
        for group in optim.param_groups:
            group["lr"] = config.lr * _lr_factor(config, step)
        model.train()
        x0 = scaling.apply(sprite_videos(config.batch, gens["data"], **sprite_kwargs(config)))
        x_t, t, target, _ = noisy_examples(x0, gens["noise"], scheduler, config.t_min,
                                           config.t_max)
        pred = model(x_t, empty_text(config, config.batch), t).sample
        loss = (pred - target).pow(2).mean()
        optim.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optim.step()
        value = loss.item()
        if not math.isfinite(value):
            raise DivergedError(f"pretraining loss became {value} at step {step}")
        window.append(value)
        train_losses.append(round(value, 6))
        if (step + 1) % config.eval_every == 0 or step + 1 == config.steps:
            model.eval()
            band_loss = evaluate(model, config, val)
            curve.append({"step": step + 1, "train_loss": float(np.mean(window)),
                          "val_loss": float(np.mean(band_loss)), "val_band_loss": band_loss})
            window = []
            bar.set_postfix(loss=f"{curve[-1]['train_loss']:.4f}",
                            val=f"{curve[-1]['val_loss']:.4f}")
    bar.close()
    return curve, train_losses


def _record(config: PretrainConfig, command: str, model, scaling: DataScaling,
            curve: list[dict], train_losses: list[float], val: list[dict],
            train_seconds: float) -> dict:
    """What ``pretrain.json`` holds (the checkpoint's files add shards, sizes, wall time)."""
    from ...provenance import git_commit

    return {
        "config": asdict(config), "seed": config.seed, "command": command,
        "model_class": "diffusers.CogVideoXTransformer3DModel",
        "model_config": config.model_config(), "scheduler": dict(SCHEDULER_CONFIG),
        "objective": "v-prediction MSE (CogVideoX: loss on x0 weighted by 1/(1-abar_t), "
                     "which equals the v MSE); AdamW betas (0.9, 0.95)",
        "text_tokens": 0, "parameters": parameter_counts(model),
        "data": describe_data(config, scaling), "versions": versions(),
        "commit": git_commit(),
        "threads": config.threads, "train_seconds": round(train_seconds, 2),
        "loss_curve": curve, "train_loss_per_step": train_losses,
        "validation_bands": [{"band": b["band"], "zero_loss": b["zero_loss"],
                              "linear_loss": b["linear_loss"]} for b in val],
        "final_val_band_loss": curve[-1]["val_band_loss"],
        "reference": {"timestep": config.reference_timestep,
                      "videos": config.reference_videos,
                      "stream": "spawn(6)[4] ('reference')"},
    }


def pretrain(config: PretrainConfig, out_dir: str | os.PathLike, *, quiet: bool = False,
             force: bool = False, command: str = "") -> dict:
    """Pretrain on sprite videos and write the checkpoint folder ``out_dir``; return its record.

    Refuses (ConfigError) to replace a non-empty ``out_dir`` unless ``force``. Everything is
    written to a temporary sibling folder first and moved into place at the end, so an
    interrupted run leaves any earlier checkpoint intact. The record is what
    ``pretrain.json`` holds; ``command`` is stored in it as the command that made it.
    """
    import torch

    out_dir = Path(out_dir)
    refuse_overwrite(out_dir, force)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    start = time.perf_counter()
    try:
        gens = stream_generators(config.seed)
        scheduler = make_scheduler()
        model = build_model(config, gens["init"])
        scaling, pixel_mean, pixel_var = data_scaling(config, gens["stats"])
        val = validation_set(config, gens["val"], scheduler, scaling, pixel_mean, pixel_var)
        curve, train_losses = train(model, config, gens, scheduler, scaling, val, quiet)
        train_seconds = time.perf_counter() - start
        model.eval()
        x0 = scaling.apply(sprite_videos(config.reference_videos, gens["reference"],
                                         **sprite_kwargs(config)))
        ref_t = config.reference_timestep
        x_ref, _, _, _ = noisy_examples(x0, gens["reference"], scheduler, ref_t, ref_t + 1)
        reference = block_reference(model, config, x_ref, ref_t)
        record = _record(config, command, model, scaling, curve, train_losses, val,
                         train_seconds)
        write_checkpoint(out_dir, model, make_scheduler(), record,
                         shard_bytes=config.shard_bytes, reference=reference, curve=curve,
                         bands=val, train_losses=train_losses, start=start)
    finally:
        torch.set_num_threads(old_threads)
    return record
