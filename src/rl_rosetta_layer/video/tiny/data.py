"""The data ``tiny-video`` learns from: sprite videos in model space, noised, and the
trivial predictors its validation loss is read against (numpy; torch inside functions)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from .config import PretrainConfig
from .sprites import SHAPE_NAMES, sprite_videos

if TYPE_CHECKING:
    import torch

#: Videos drawn to measure the data's mean and standard deviation (the scaling factor).
STATS_VIDEOS = 20_000


def sprite_kwargs(config: PretrainConfig) -> dict:
    """Keyword arguments of :func:`.sprites.sprite_videos` for ``config``."""
    return asdict(config.sprites())


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
    videos = sprite_videos(STATS_VIDEOS, rng, **sprite_kwargs(config)).astype(np.float64)
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
        x0 = scaling.apply(sprite_videos(config.val_videos, rng, **sprite_kwargs(config)))
        x_t, t, target, _ = noisy_examples(x0, rng, scheduler, low, high)
        linear = linear_baseline_v(x_t, t, scheduler, mean, var)
        out.append({"band": [low, high], "x_t": x_t, "t": t, "target": target,
                    "zero_loss": float(target.pow(2).mean()),
                    "linear_loss": float((linear - target).pow(2).mean())})
    return out


def describe_data(config: PretrainConfig, scaling: DataScaling) -> dict:
    return {
        "generator": "rl_rosetta_layer.video.tiny.sprites.sprite_videos",
        "arguments": sprite_kwargs(config),
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
