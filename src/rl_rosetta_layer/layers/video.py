"""Video-model blocks as candidates, seen from the numpy side: names, groups and settings.

A video layer is named ``BACKBONE:BLOCK`` (``cogvideox-2b:transformer_blocks.14``), and its
random-initialised twin ``BACKBONE:BLOCK:random``. This module only parses names and
re-exports the settings (:mod:`rl_rosetta_layer.video.settings`, pure Python); building
one (torch, diffusers) happens in :func:`build_video_layer`, which imports the ``video``
extra lazily, so the numpy path never pays for it.
"""

from __future__ import annotations

import importlib.util

from ..errors import ConfigError
from ..video.settings import (  # noqa: F401 - re-exported: the settings live in video.settings
    DEVICE_PATTERN,
    DEVICES,
    DTYPES,
    FEATURE_NORMS,
    READOUTS,
    TWIN_SEED,
    VideoSettings,
    check_frames,
    token_grid,
    twin_rng,
)
from .names import VIDEO_GROUPS  # noqa: F401 - re-exported

#: Suffix of a numpy layer trained by the torch learner (the control that compares learners).
TORCH_SUFFIX = "@torch"


def is_video_layer(name: str) -> bool:
    """Whether ``name`` names a block of a backbone (it has a ``:``), or a torch block of
    your own (:mod:`.custom`; a frozen layer of your own is not one)."""
    from .custom import custom_kind

    kind = custom_kind(name)
    if kind is not None:
        return kind == "block"
    return ":" in str(name)


def needs_torch(name: str) -> bool:
    """Whether layer ``name`` runs through torch: a video block, or ``NAME@torch``."""
    return is_video_layer(name) or str(name).endswith(TORCH_SUFFIX)


def build_torch_trained(layer, settings: VideoSettings):
    """``layer`` (a frozen numpy layer) trained by the torch learner (needs the video extra)."""
    try:
        from ..video.torch_trained import TorchTrained
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


def check_video_weights(name: str, obs, settings: VideoSettings) -> None:
    """What building ``name`` would fail on, checked without building it: the observations
    are frames, the extra is installed, and every checkpoint file the block reads exists
    and is complete (headers only: no tensor is read)."""
    check_frames(name, obs)
    _video_extra(name).check_weights(name, settings.weights)


def build_video_layer(name: str, obs, settings: VideoSettings):
    """The candidate ``name`` for observations ``obs`` (needs the ``video`` extra)."""
    check_frames(name, obs)
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
