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

torch and diffusers are imported inside the functions, so :class:`PretrainConfig` can be
read (e.g. to build the command line) without torch.
"""

from __future__ import annotations

import io
import math
import os
import platform
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError, DivergedError
from ..io import atomic_write_bytes, umask_mode, write_json
from ..seeding import check_seed
from .sprites import SHAPE_NAMES, SpriteConfig, sprite_videos

if TYPE_CHECKING:
    import torch
    from diffusers import CogVideoXDDIMScheduler, CogVideoXTransformer3DModel

#: Independent numpy streams of one pretraining run, spawned from the seed in this order.
STREAMS = ("init", "data", "noise", "val", "reference", "stats")

#: CogVideoX-2b's released scheduler configuration (the schedule it was trained on).
SCHEDULER_CONFIG = {
    "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "prediction_type": "v_prediction",
    "rescale_betas_zero_snr": True, "snr_shift_scale": 3.0, "clip_sample": False,
    "set_alpha_to_one": True, "steps_offset": 0, "timestep_spacing": "trailing",
}

#: Videos drawn to measure the data's mean and standard deviation (the scaling factor).
STATS_VIDEOS = 20_000

SHIPPED_DIR = Path(__file__).resolve().parent / "weights" / "tiny-video"


@dataclass(frozen=True)
class PretrainConfig:
    """Settings of one pretraining run (defaults: the shipped ``tiny-video``)."""

    seed: int = 0
    """Seed of every random draw (parameters, videos, noise, timesteps, validation)."""
    frames: int = 4
    """Frames per video (the model's ``sample_frames``; no temporal compression)."""
    size: int = 8
    """Side of each frame in cells (the model's ``sample_height`` and ``sample_width``)."""
    channels: int = 2
    """Channels per frame (the model's ``in_channels`` and ``out_channels``)."""
    max_sprites: int = 2
    """Sprites per channel of a training video are drawn from 1..max_sprites."""
    max_speed: int = 1
    """Sprite velocity components are drawn from -max_speed..max_speed."""
    patch: int = 2
    """Spatial patch side; a video becomes frames * (size / patch)^2 tokens."""
    heads: int = 4
    """Attention heads per block."""
    head_dim: int = 16
    """Channels per head; the hidden width is heads * head_dim."""
    layers: int = 4
    """Transformer blocks (``transformer_blocks.0`` .. ``layers - 1``)."""
    time_embed_dim: int = 64
    """Width of the timestep embedding that modulates every block."""
    text_dim: int = 8
    """Input width of the (unused) text projection; training uses zero text tokens."""
    steps: int = 2500
    """Optimiser steps; each sees ``batch`` fresh videos."""
    batch: int = 64
    """Videos per step."""
    lr: float = 3e-3
    """Peak AdamW learning rate (linear warm-up, then cosine decay to lr / 10)."""
    warmup: int = 200
    """Steps of linear learning-rate warm-up."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    grad_clip: float = 1.0
    """Maximum global gradient norm (0 disables clipping)."""
    t_min: int = 0
    """Smallest diffusion timestep drawn for training (inclusive)."""
    t_max: int = 1000
    """Largest diffusion timestep drawn for training (exclusive; at most 1000)."""
    bands: int = 4
    """Equal timestep bands of [t_min, t_max) for the validation loss."""
    val_videos: int = 256
    """Held-out videos per timestep band (their own stream, never trained on)."""
    eval_every: int = 250
    """Steps between validation evaluations."""
    reference_timestep: int = 500
    """Timestep at which ``reference_outputs.npz`` records every block."""
    reference_videos: int = 2
    """Videos in the fixed reference input."""
    shard_bytes: int = 1_000_000
    """``max_shard_size`` of ``save_pretrained`` in bytes (small, so weights are sharded)."""
    threads: int = 2
    """torch threads while pretraining (restored afterwards)."""

    def __post_init__(self) -> None:
        check_seed(self.seed)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(f"{f.name} must be an integer, got {value!r}")
            if f.type == "float" and (isinstance(value, bool)
                                      or not isinstance(value, (int, float))
                                      or not math.isfinite(value)):
                raise ConfigError(f"{f.name} must be a finite number, got {value!r}")
        for name in ("frames", "size", "channels", "patch", "heads", "head_dim", "layers",
                     "time_embed_dim", "text_dim", "steps", "batch", "bands", "val_videos",
                     "eval_every", "reference_videos", "shard_bytes", "threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive integer, "
                                  f"got {getattr(self, name)!r}")
        for name in ("warmup", "t_min"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be an integer >= 0, got {getattr(self, name)!r}")
        if self.size % self.patch:
            raise ConfigError(f"size must be a multiple of patch={self.patch}, got {self.size}")
        steps = SCHEDULER_CONFIG["num_train_timesteps"]
        if not self.t_min < self.t_max <= steps:
            raise ConfigError(f"timesteps need 0 <= t_min < t_max <= {steps}, got "
                              f"t_min={self.t_min}, t_max={self.t_max}")
        if self.bands > self.t_max - self.t_min:
            raise ConfigError(f"bands must be <= t_max - t_min = {self.t_max - self.t_min}, "
                              f"got {self.bands}")
        if not 0 <= self.reference_timestep < steps:
            raise ConfigError(f"reference_timestep must be in [0, {steps}), got "
                              f"{self.reference_timestep}")
        for name in ("lr", "weight_decay", "grad_clip"):
            low_ok = getattr(self, name) > 0 if name == "lr" else getattr(self, name) >= 0
            if not low_ok:
                raise ConfigError(f"{name} must be {'> 0' if name == 'lr' else '>= 0'}, "
                                  f"got {getattr(self, name)!r}")
        self.sprites()   # validates the data settings

    def sprites(self) -> SpriteConfig:
        """The sprite generator's settings."""
        return SpriteConfig(frames=self.frames, size=self.size, channels=self.channels,
                            max_sprites=self.max_sprites, max_speed=self.max_speed)

    def model_config(self) -> dict:
        """Keyword arguments of ``CogVideoXTransformer3DModel`` for this config.

        ``max_text_seq_length=0``: the joint positional table then covers exactly the video
        tokens, so the full model runs with ``encoder_hidden_states`` of shape (B, 0,
        text_dim). ``temporal_compression_ratio=1`` makes diffusers' latent-frame count
        ``(sample_frames - 1) // 1 + 1`` equal ``frames``.
        """
        return {
            "num_attention_heads": self.heads, "attention_head_dim": self.head_dim,
            "in_channels": self.channels, "out_channels": self.channels,
            "time_embed_dim": self.time_embed_dim, "text_embed_dim": self.text_dim,
            "num_layers": self.layers, "dropout": 0.0, "attention_bias": True,
            "sample_width": self.size, "sample_height": self.size,
            "sample_frames": self.frames, "patch_size": self.patch, "patch_size_t": None,
            "temporal_compression_ratio": 1, "max_text_seq_length": 0,
            "use_rotary_positional_embeddings": False,
            "use_learned_positional_embeddings": False,
        }

    def band_edges(self) -> list[tuple[int, int]]:
        """The validation bands as half-open ``(low, high)`` timestep ranges."""
        edges = np.linspace(self.t_min, self.t_max, self.bands + 1).round().astype(int)
        return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def stream_generators(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per name in :data:`STREAMS` for ``seed``."""
    children = np.random.SeedSequence(check_seed(seed)).spawn(len(STREAMS))
    return {name: np.random.Generator(np.random.PCG64(s)) for name, s in zip(STREAMS, children)}


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


@dataclass(frozen=True)
class DataScaling:
    """The model sees ``(video - mean) / std``: zero mean, unit variance over the data.

    This plays the part of CogVideoX's VAE scaling factor, which brings latents to about
    unit variance before noise is added; ``mean`` and ``std`` are measured once per run
    (:func:`data_scaling`) and saved in ``pretrain.json``.
    """

    mean: float
    std: float

    def apply(self, videos: np.ndarray) -> np.ndarray:
        """0/1 videos (..., F, C, H, W) -> model space, same shape, float32."""
        return ((videos - self.mean) / self.std).astype(np.float32)


def data_scaling(config: PretrainConfig, rng: np.random.Generator
                 ) -> tuple[DataScaling, np.ndarray, np.ndarray]:
    """Measure the data on :data:`STATS_VIDEOS` videos from ``rng``.

    Returns the scaling and, in model space, each pixel's mean and variance (F, C, H, W)
    for the trivial predictor (:func:`linear_baseline_v`).
    """
    videos = sprite_videos(STATS_VIDEOS, rng, **_sprite_kwargs(config)).astype(np.float64)
    scaling = DataScaling(mean=round(float(videos.mean()), 6), std=round(float(videos.std()), 6))
    model_space = (videos - scaling.mean) / scaling.std
    return scaling, model_space.mean(axis=0), model_space.var(axis=0)


def noisy_examples(x0: np.ndarray, rng: np.random.Generator, scheduler, low: int, high: int
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Noise clean videos ``x0`` (B, F, C, H, W) at timesteps drawn from [low, high).

    Returns (x_t, timesteps (B,) int64, v target, noise), all torch tensors; the noise
    (standard normal) and timesteps (uniform) come from ``rng``.
    """
    import torch

    noise = torch.from_numpy(rng.standard_normal(x0.shape, dtype=np.float32))
    t = torch.from_numpy(rng.integers(low, high, size=len(x0)).astype(np.int64))
    clean = torch.from_numpy(x0)
    return (scheduler.add_noise(clean, noise, t), t, scheduler.get_velocity(clean, noise, t),
            noise)


def _empty_text(config: PretrainConfig, batch: int) -> torch.Tensor:
    import torch

    return torch.zeros(batch, 0, config.text_dim)


def linear_baseline_v(x_t: torch.Tensor, t: torch.Tensor, scheduler, mean: np.ndarray,
                      var: np.ndarray) -> torch.Tensor:
    """The trivial predictor: the best per-pixel linear guess of v from x_t alone.

    It knows each pixel's mean and variance over the data (``mean``, ``var``: (F, C, H, W))
    but no structure (shapes, motion, other pixels): v_hat = E[v] + Cov(v, x_t) / Var(x_t)
    * (x_t - E[x_t]). A model that beats it has learned more than pixel statistics.
    """
    import torch

    abar = scheduler.alphas_cumprod.to(torch.float64)[t].reshape(-1, 1, 1, 1, 1)
    a, b = abar.sqrt(), (1 - abar).sqrt()
    m, s2 = torch.from_numpy(mean).double(), torch.from_numpy(var).double()
    gain = a * b * (1 - s2) / (a * a * s2 + b * b)
    return (-b * m + gain * (x_t.double() - a * m)).float()


def validation_set(config: PretrainConfig, rng: np.random.Generator, scheduler,
                   scaling: DataScaling, mean: np.ndarray, var: np.ndarray) -> list[dict]:
    """Per band: fixed held-out noisy videos, their v targets and the trivial predictors' losses.

    ``mean`` and ``var`` are the per-pixel statistics from :func:`data_scaling`; the zero
    predictor's loss is recorded beside the linear one.
    """
    out = []
    for low, high in config.band_edges():
        x0 = scaling.apply(sprite_videos(config.val_videos, rng, **_sprite_kwargs(config)))
        x_t, t, target, _ = noisy_examples(x0, rng, scheduler, low, high)
        linear = linear_baseline_v(x_t, t, scheduler, mean, var)
        out.append({"band": [low, high], "x_t": x_t, "t": t, "target": target,
                    "zero_loss": float(target.pow(2).mean()),
                    "linear_loss": float((linear - target).pow(2).mean())})
    return out


def evaluate(model, config: PretrainConfig, val: list[dict], batch: int = 256) -> list[float]:
    """Validation v-MSE per band (no gradients)."""
    import torch

    losses = []
    with torch.no_grad():
        for band in val:
            total, n = 0.0, len(band["t"])
            for i in range(0, n, batch):
                x, t = band["x_t"][i:i + batch], band["t"][i:i + batch]
                pred = model(x, _empty_text(config, len(t)), t).sample
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
            out = model(x_t, _empty_text(config, len(x_t)), t).sample
    finally:
        for h in handles:
            h.remove()
    record.update(sample=x_t.numpy().copy(), timestep=np.array(timestep, dtype=np.int64),
                  output=out.numpy().copy())
    return record


def plot_loss_curve(path: Path, curve: list[dict], bands: list[dict],
                    train_losses: list[float]) -> Path:
    """Train and validation loss against step (log scale), per-band panel with baselines.

    ``curve`` holds the evaluations (step 0 included, before any update), ``train_losses``
    the loss of every step.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    steps = [row["step"] for row in curve]
    left.plot(np.arange(1, len(train_losses) + 1), train_losses, color="tab:blue", alpha=0.25,
              lw=0.5, label="train (each step)")
    trained = [row for row in curve if row["train_loss"] is not None]
    left.plot([row["step"] for row in trained], [row["train_loss"] for row in trained],
              color="tab:blue", marker=".", label="train (mean since last evaluation)")
    left.plot(steps, [row["val_loss"] for row in curve], color="tab:orange", marker=".",
              label="validation (all bands)")
    left.axhline(np.mean([b["linear_loss"] for b in bands]), ls="--", color="gray",
                 label="trivial per-pixel linear predictor")
    left.set(xlabel="step", ylabel="v-prediction MSE", yscale="log", title="tiny-video loss")
    left.legend()
    for k, band in enumerate(bands):
        line, = right.plot(steps, [row["val_band_loss"][k] for row in curve],
                           label=f"t in [{band['band'][0]}, {band['band'][1]})")
        right.axhline(band["linear_loss"], ls="--", color=line.get_color())
    right.set(xlabel="step", ylabel="validation v-MSE", yscale="log",
              title="validation per band (dashed: trivial predictor)")
    right.legend(fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return atomic_write_bytes(path, buf.getvalue())


def _sprite_kwargs(config: PretrainConfig) -> dict:
    return {"frames": config.frames, "size": config.size, "channels": config.channels,
            "max_sprites": config.max_sprites, "max_speed": config.max_speed}


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("rl-rosetta-layer", "numpy", "torch", "diffusers", "transformers",
                "safetensors", "matplotlib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


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


def _lr_factor(config: PretrainConfig, step: int) -> float:
    """Learning-rate multiplier at ``step``: linear warm-up, then cosine from 1 to 0.1."""
    if step < config.warmup:
        return (step + 1) / config.warmup
    span = max(config.steps - config.warmup, 1)
    progress = min((step - config.warmup) / span, 1.0)
    return 0.1 + 0.45 * (1.0 + math.cos(math.pi * progress))


def _describe_data(config: PretrainConfig, scaling: DataScaling) -> dict:
    return {
        "generator": "rl_rosetta_layer.video.sprites.sprite_videos",
        "arguments": _sprite_kwargs(config),
        "shapes": list(SHAPE_NAMES),
        "model_input": f"x0 = (video - {scaling.mean}) / {scaling.std} (zero mean, unit "
                       f"variance; mean and std of {STATS_VIDEOS} videos from the 'stats' "
                       "stream)",
        "data_mean": scaling.mean, "data_std": scaling.std,
        "train_videos": config.steps * config.batch,
        "train_stream": "numpy SeedSequence(seed).spawn(6)[1] ('data'), fresh videos each step",
        "noise_and_timesteps_stream": "spawn(6)[2] ('noise'): standard normal noise, "
                                      f"timesteps uniform in [{config.t_min}, {config.t_max})",
        "validation": f"{config.val_videos} held-out videos per band from spawn(6)[3] "
                      "('val')",
        "rl_rollouts": False,
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
    from tqdm import tqdm

    from ..provenance import git_commit

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
            x0 = scaling.apply(sprite_videos(config.batch, gens["data"], **_sprite_kwargs(config)))
            x_t, t, target, _ = noisy_examples(x0, gens["noise"], scheduler, config.t_min,
                                               config.t_max)
            pred = model(x_t, _empty_text(config, config.batch), t).sample
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
        train_seconds = time.perf_counter() - start
        model.eval()
        x0 = scaling.apply(sprite_videos(config.reference_videos, gens["reference"],
                                         **_sprite_kwargs(config)))
        ref_t = config.reference_timestep
        x_ref, _, _, _ = noisy_examples(x0, gens["reference"], scheduler, ref_t, ref_t + 1)
        reference = block_reference(model, config, x_ref, ref_t)
        record = {
            "config": asdict(config), "seed": config.seed, "command": command,
            "model_class": "diffusers.CogVideoXTransformer3DModel",
            "model_config": config.model_config(), "scheduler": dict(SCHEDULER_CONFIG),
            "objective": "v-prediction MSE (CogVideoX: loss on x0 weighted by 1/(1-abar_t), "
                         "which equals the v MSE); AdamW betas (0.9, 0.95)",
            "text_tokens": 0, "parameters": parameter_counts(model),
            "data": _describe_data(config, scaling), "versions": _versions(),
            "commit": git_commit(),
            "threads": config.threads, "train_seconds": round(train_seconds, 2),
            "loss_curve": curve, "train_loss_per_step": train_losses,
            "validation_bands": [{"band": b["band"], "zero_loss": b["zero_loss"],
                                  "linear_loss": b["linear_loss"]} for b in val],
            "final_val_band_loss": curve[-1]["val_band_loss"],
            "reference": {"timestep": ref_t, "videos": config.reference_videos,
                          "stream": "spawn(6)[4] ('reference')"},
        }
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=_parent(out_dir)))
        try:
            model.save_pretrained(tmp, safe_serialization=True, max_shard_size=config.shard_bytes)
            make_scheduler().save_pretrained(tmp)
            buf = io.BytesIO()
            np.savez(buf, **reference)
            atomic_write_bytes(tmp / "reference_outputs.npz", buf.getvalue())
            plot_loss_curve(tmp / "loss_curve.png", curve, val, train_losses)
            record["shards"] = len(list(tmp.glob("*.safetensors")))
            record["wall_seconds"] = round(time.perf_counter() - start, 2)
            write_json(tmp / "pretrain.json", record)
            record["files_bytes"] = sum(p.stat().st_size for p in tmp.iterdir())
            for path in tmp.iterdir():                # temp names are private: make readable
                path.chmod(umask_mode())
            tmp.chmod(umask_mode(folder=True))
            _move_into_place(tmp, out_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        torch.set_num_threads(old_threads)
    return record


def _parent(out_dir: Path) -> Path:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return out_dir.parent


def refuse_overwrite(out_dir: Path, force: bool) -> None:
    """Raise ConfigError if ``out_dir`` is a file, or a non-empty folder and not ``force``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"output {out_dir} is a file; give a folder for the checkpoint")
    if not force and out_dir.is_dir() and any(out_dir.iterdir()):
        raise ConfigError(f"output {out_dir} already holds a checkpoint; refusing to overwrite "
                          "it (pass --force to replace it, or choose another --output)")


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by the finished folder ``tmp`` (old one kept until the move)."""
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        os.replace(out_dir, old / out_dir.name)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
