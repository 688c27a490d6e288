"""The settings of one ``tiny-video`` pretraining run, and its random streams (no torch).

:class:`PretrainConfig` is read by the command line (:mod:`.command`) without
torch; :data:`SCHEDULER_CONFIG` is CogVideoX-2b's noise schedule, whose timestep count
bounds the config's timesteps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from ...errors import ConfigError
from ...seeding import check_seed
from . import WEIGHTS
from .sprites import SpriteConfig

#: Independent numpy streams of one pretraining run, spawned from the seed in this order.
STREAMS = ("init", "data", "noise", "val", "reference", "stats")

#: CogVideoX-2b's released scheduler configuration (the schedule it was trained on).
SCHEDULER_CONFIG = {
    "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "prediction_type": "v_prediction",
    "rescale_betas_zero_snr": True, "snr_shift_scale": 3.0, "clip_sample": False,
    "set_alpha_to_one": True, "steps_offset": 0, "timestep_spacing": "trailing",
}

#: The shipped checkpoint's folder (the default output of ``rosetta pretrain``).
SHIPPED_DIR = WEIGHTS


@dataclass(frozen=True)
class PretrainConfig:
    """Settings of one pretraining run (defaults: the shipped ``tiny-video``; the data's are
    :class:`.sprites.SpriteConfig`'s)."""

    seed: int = 0
    """Seed of every random draw (parameters, videos, noise, timesteps, validation)."""
    frames: int = SpriteConfig.frames
    """Frames per video (the model's ``sample_frames``; no temporal compression)."""
    size: int = SpriteConfig.size
    """Side of each frame in cells (the model's ``sample_height`` and ``sample_width``)."""
    channels: int = SpriteConfig.channels
    """Channels per frame (the model's ``in_channels`` and ``out_channels``)."""
    max_sprites: int = SpriteConfig.max_sprites
    """Sprites per channel of a training video are drawn from 1..max_sprites."""
    max_speed: int = SpriteConfig.max_speed
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


