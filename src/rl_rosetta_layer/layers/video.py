"""Video-model blocks as candidates, seen from the numpy side: names, groups and settings.

A video layer is named ``BACKBONE:BLOCK`` (``cogvideox-2b:transformer_blocks.14``), and its
random-initialised twin ``BACKBONE:BLOCK:random``. This module only parses names and holds
the settings; building one (torch, diffusers) happens in :func:`build_video_layer`, which
imports the ``video`` extra lazily, so the numpy path never pays for it.
"""

from __future__ import annotations

import importlib.util
import re
import zlib
from dataclasses import asdict, dataclass

import numpy as np

from ..checks import is_int
from ..errors import ConfigError

#: Groups that expand to layers of ``--backbone``: its blocks, their random twins, the
#: stacks of blocks 0..k (k > 0), and the bypass control (its adapters without a block).
VIDEO_GROUPS = ("blocks", "twins", "prefixes", "bypass")
#: Root of the seeds of random twins (one stream per block name, so a twin never changes).
TWIN_SEED = 4242
DTYPES = ("float32", "bfloat16")
#: Device names accepted (``cuda:N``: an index N that torch sees, checked when loading).
DEVICES = ("auto", "cpu", "cuda", "cuda:N")
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(?::\d+)?")
#: How the RL learner scales the read-out's values before its head (see TorchLearner).
FEATURE_NORMS = ("none", "running")
#: How a block's output tokens reach the head (``video/readout.py``); the first is the default.
READOUTS = ("project", "attention", "flatten", "mean")


@dataclass(frozen=True)
class VideoSettings:
    """How video blocks are loaded and run; saved with every run that uses one."""

    weights: str | None = None
    """Checkpoint folder or Hugging Face cache path (default: the backbone's own, if any)."""
    timestep: int = 500
    """Diffusion timestep of the block's fixed timestep embedding (0-999)."""
    device: str = "cpu"
    """Where the block and the adapters run: cpu, cuda, cuda:N or auto."""
    dtype: str = "float32"
    """The block's dtype (the adapters stay float32): float32 or bfloat16."""
    patch: int = 2
    """Side of the square patch of a frame that becomes one token."""
    chunk_size: int = 1024
    """Rows per block call in the analysis (bounds memory)."""
    feature_norm: str = "none"
    """'none': the head reads the read-out's values as they are; 'running': each seed
    standardises them per feature with running statistics of its update batches."""
    readout: str = "project"
    """How the block's output tokens reach the head: 'project' (per-token LayerNorm, a
    shared per-token projection to ``readout_dim`` values, concatenated), 'attention'
    (per-token LayerNorm, attention pooling with a learned query), 'flatten' (per-token
    LayerNorm, all tokens) or 'mean' (mean over tokens, as first shipped)."""
    readout_dim: int = 4
    """Values per token of the 'project' read-out."""

    def __post_init__(self) -> None:
        if not is_int(self.timestep) or not 0 <= self.timestep <= 999:
            raise ConfigError(f"--timestep must be an integer in 0-999, got {self.timestep!r}")
        if self.feature_norm not in FEATURE_NORMS:
            raise ConfigError(f"--feature-norm must be one of {', '.join(FEATURE_NORMS)}, got "
                              f"{self.feature_norm!r}")
        if self.readout not in READOUTS:
            raise ConfigError(f"--readout must be one of {', '.join(READOUTS)}, got "
                              f"{self.readout!r}")
        if not isinstance(self.device, str) \
                or not DEVICE_PATTERN.fullmatch(self.device.strip().lower()):
            raise ConfigError(f"--device must be one of {', '.join(DEVICES)}, got "
                              f"{self.device!r}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"--dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        for name in ("patch", "chunk_size", "readout_dim"):
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")

    def to_dict(self) -> dict:
        """Every setting, but ``feature_norm`` 'none', ``readout`` 'mean' (what runs made
        before these settings existed did, so their run ids are unchanged) and
        ``readout_dim`` unless the read-out is 'project'."""
        out = asdict(self)
        if out["feature_norm"] == "none":
            del out["feature_norm"]
        if out["readout"] == "mean":
            del out["readout"]
        if self.readout != "project":
            del out["readout_dim"]
        return out


#: Suffix of a numpy layer trained by the torch learner (the control that compares learners).
TORCH_SUFFIX = "@torch"


def is_video_layer(name: str) -> bool:
    """Whether ``name`` names a block of a backbone (it has a ``:``)."""
    return ":" in str(name)


def needs_torch(name: str) -> bool:
    """Whether layer ``name`` runs through torch: a video block, or ``NAME@torch``."""
    return is_video_layer(name) or str(name).endswith(TORCH_SUFFIX)


def build_torch_trained(layer, settings: VideoSettings):
    """``layer`` (a frozen numpy layer) trained by the torch learner (needs the video extra)."""
    try:
        from ..video.learner import TorchTrained
    except ImportError as exc:
        raise ConfigError(f"layer {layer.name}{TORCH_SUFFIX} needs the video extra (torch): "
                          f"pip install -e '.[video]' ({exc})") from exc
    return TorchTrained(layer, device=settings.device)


def check_video_layer(name: str, weights: str | None = None) -> str:
    """``name`` if it is a known backbone's candidate block (or its bypass), else an
    :class:`UnknownLayerError` listing the backbone's blocks."""
    from ..errors import UnknownLayerError
    from ..video.backbones import BYPASS, candidate_blocks, compact_blocks, parse_layer_name

    backbone, block, _ = parse_layer_name(name)
    if block == BYPASS:
        return name
    blocks = candidate_blocks(backbone, weights)
    if block not in blocks:
        raise UnknownLayerError(f"layer {name!r}: {backbone} has no candidate block {block!r}; "
                                f"accepted: {compact_blocks(blocks)}")
    return name


def backbone_group(group: str, backbone: str | None, weights: str | None = None) -> list[str]:
    """The layer names of a group of :data:`VIDEO_GROUPS` for ``backbone``."""
    if backbone is None:
        raise ConfigError(f"--layers {group} means layers of a backbone; give --backbone NAME")
    from ..video.backbones import BYPASS, candidate_blocks

    if group == "bypass":
        return [f"{backbone}:{BYPASS}"]
    blocks = candidate_blocks(backbone, weights)
    if group == "prefixes":
        return [f"{backbone}:{block}:prefix" for block in blocks[1:]]
    suffix = ":random" if group == "twins" else ""
    return [f"{backbone}:{block}{suffix}" for block in blocks]


def token_grid(obs_shape: tuple[int, ...], patch: int) -> tuple[int, int, int]:
    """(frames, rows, columns) of tokens for observations (F, C, H, W) and ``patch``."""
    frames, _, height, width = obs_shape
    return frames, -(-height // patch), -(-width // patch)


def twin_rng(name: str) -> np.random.Generator:
    """The generator of a random twin's weights: fixed per layer name."""
    return np.random.default_rng([TWIN_SEED, zlib.crc32(name.encode())])


#: Packages of the video extra that loading a block needs.
VIDEO_PACKAGES = ("torch", "safetensors", "diffusers")


def _video_extra(name: str):
    """The loader module, or a ConfigError saying that layer ``name`` needs the video extra
    (checked without importing torch)."""
    missing = [p for p in VIDEO_PACKAGES if importlib.util.find_spec(p) is None]
    try:
        if missing:
            raise ImportError(f"no module named {', '.join(missing)}")
        from ..video import loader
    except ImportError as exc:
        raise ConfigError(f"video layer {name!r} needs the video extra (torch, diffusers, "
                          f"transformers): pip install -e '.[video]' ({exc})") from exc
    return loader


def _check_frames(name: str, obs) -> None:
    if obs.obs_shape is None or len(obs.obs_shape) != 4:
        raise ConfigError(f"video layer {name!r} needs observations that are frames "
                          f"(frames, channels, height, width); {obs.source!r} gives "
                          f"{obs.obs_shape!r}")


def check_video_weights(name: str, obs, settings: VideoSettings) -> None:
    """What building ``name`` would fail on, checked without building it: the observations
    are frames, the extra is installed, and every checkpoint file the block reads exists
    and is complete (headers only: no tensor is read)."""
    _check_frames(name, obs)
    _video_extra(name).check_weights(name, settings.weights)


def build_video_layer(name: str, obs, settings: VideoSettings):
    """The candidate ``name`` for observations ``obs`` (needs the ``video`` extra)."""
    _check_frames(name, obs)
    load_token_block = _video_extra(name).load_token_block
    from ..video.backbones import parse_layer_name
    from ..video.candidate import VideoCandidate

    random = parse_layer_name(name).random
    block = load_token_block(name, grid=token_grid(obs.obs_shape, settings.patch),
                             weights=settings.weights, timestep=settings.timestep,
                             dtype=settings.dtype, device=settings.device,
                             twin_rng=twin_rng(name) if random else None)
    return VideoCandidate(block, tuple(obs.obs_shape), patch=settings.patch,
                          device=settings.device, dtype=settings.dtype,
                          chunk_size=settings.chunk_size, feature_norm=settings.feature_norm,
                          readout=settings.readout, readout_dim=settings.readout_dim)
