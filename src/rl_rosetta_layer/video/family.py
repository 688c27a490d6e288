"""Video blocks as a family of candidate layers, registered with the layer registry.

A video layer is named ``BACKBONE:BLOCK`` (``cogvideox-2b:transformer_blocks.14``), its
random-initialised twin ``BACKBONE:BLOCK:random``, its shuffled twin
``BACKBONE:BLOCK:shuffled`` (each weight tensor's entries permuted), the model's blocks
0..BLOCK ``BACKBONE:BLOCK:prefix`` and the bypass control ``BACKBONE:bypass``; a torch
block of your own (``MODULE:FACTORY``, see :mod:`rl_rosetta_layer.layers.custom`) is one
too. Importing this module registers :data:`VIDEO` with :mod:`rl_rosetta_layer.layers.families`
(``rl_rosetta_layer/__init__.py`` does, so every process has it): the registry then asks
it about those names, and ``layers`` never imports ``video``.

Importing this module costs nothing (pure Python, no numpy): names are parsed by
:mod:`.backbones`, and building a block (torch, diffusers) imports the ``video`` extra
lazily, so the numpy path never pays for it.
"""

from __future__ import annotations

import importlib.util
from contextlib import nullcontext

from ..errors import ConfigError
from ..layers.families import TORCH_SUFFIX, register_family

#: Groups that expand to layers of ``--backbone``: its blocks, their random twins, their
#: shuffled twins, the stacks of blocks 0..k (k > 0), and the bypass control (its adapters
#: without a block).
VIDEO_GROUPS = ("blocks", "twins", "shuffled", "prefixes", "bypass")
#: Packages of the video extra that loading a block needs.
VIDEO_PACKAGES = ("torch", "safetensors", "diffusers")


def is_video_layer(name: str) -> bool:
    """Whether ``name`` names a block of a backbone (it has a ``:``), or a torch block of
    your own (:mod:`rl_rosetta_layer.layers.custom`; a frozen layer of your own is not
    one)."""
    from ..layers.custom import custom_kind

    kind = custom_kind(name)
    if kind is not None:
        return kind == "block"
    return ":" in str(name)


def needs_torch(name: str) -> bool:
    """Whether layer ``name`` runs through torch: a video block, or ``NAME@torch``."""
    return is_video_layer(name) or str(name).endswith(TORCH_SUFFIX)


def _settings(settings):
    from .candidates.settings import VideoSettings

    return settings if settings is not None else VideoSettings()


def _video_extra(name: str):
    """The loader module, or a ConfigError saying that layer ``name`` needs the video extra
    (checked without importing torch)."""
    missing = [p for p in VIDEO_PACKAGES if importlib.util.find_spec(p) is None]
    try:
        if missing:
            raise ImportError(f"no module named {', '.join(missing)}")
        from .checkpoints import loader
    except ImportError as exc:
        raise ConfigError(f"video layer {name!r} needs the video extra (torch, diffusers, "
                          f"transformers): pip install -e '.[video]' ({exc})") from exc
    return loader


def _own_block(name: str):
    """(parsed name, factory) of a torch block of your own, or None for a backbone's."""
    from ..layers.custom import parse_custom, resolve

    custom = parse_custom(name)
    return None if custom is None else (custom, resolve(custom))


def _check_torch(name: str) -> None:
    if importlib.util.find_spec("torch") is None:
        raise ConfigError(f"torch block {name!r} needs torch (the video extra): "
                          f"pip install -e '.[video]'")


class VideoFamily:
    """The video blocks (and torch blocks of your own), as a
    :class:`~rl_rosetta_layer.layers.families.LayerFamily`."""

    name = "video"
    groups = VIDEO_GROUPS

    def owns(self, name: str) -> bool:
        return is_video_layer(name)

    def reserved(self, module: str) -> bool:
        from .backbones.catalog import BACKBONES

        return module in BACKBONES

    def expand(self, group: str, backbone: str | None, weights=None) -> list[str]:
        """The layer names of a group of :data:`VIDEO_GROUPS` for ``backbone``."""
        if backbone is None:
            raise ConfigError(f"--layers {group} means layers of a backbone; give "
                              f"--backbone NAME")
        from .backbones.catalog import BYPASS, candidate_blocks

        if group == "bypass":
            return [f"{backbone}:{BYPASS}"]
        blocks = candidate_blocks(backbone, weights)
        if group == "prefixes":
            return [f"{backbone}:{block}:prefix" for block in blocks[1:]]
        suffix = {"twins": ":random", "shuffled": ":shuffled"}.get(group, "")
        return [f"{backbone}:{block}{suffix}" for block in blocks]

    def check_name(self, name: str, weights=None) -> str:
        """``name`` if it is a torch block of your own, or a known backbone's candidate
        block (or its bypass), else an UnknownLayerError listing the backbone's blocks."""
        from ..errors import UnknownLayerError
        from ..layers.custom import parse_custom
        from .backbones.catalog import BYPASS, candidate_blocks, compact_blocks, parse_layer_name

        if parse_custom(name) is not None:
            return name
        backbone, block, _ = parse_layer_name(name)
        if block == BYPASS:
            return name
        blocks = candidate_blocks(backbone, weights)
        if block not in blocks:
            raise UnknownLayerError(f"layer {name!r}: {backbone} has no candidate block "
                                    f"{block!r}; accepted: {compact_blocks(blocks)}")
        return name

    def check(self, name: str, obs, settings=None) -> None:
        """What building ``name`` would fail on, checked without building it: the
        observations are frames, the extra is installed, and every checkpoint file the
        block reads exists and is complete (headers only: no tensor is read). A torch block
        of your own is built and its tokens checked."""
        from .candidates.settings import check_frames

        own = _own_block(name)
        if own is not None:
            self.build(name, obs, settings)
            return
        check_frames(name, obs)
        _video_extra(name).check_weights(name, _settings(settings).weights)

    def build(self, name: str, obs, settings=None):
        """The candidate ``name`` for observations ``obs`` (needs the ``video`` extra)."""
        from .candidates.settings import check_frames, token_grid, twin_rng

        settings = _settings(settings)
        check_frames(name, obs)
        own = _own_block(name)
        if own is not None:
            _check_torch(name)
            from .candidates.custom_block import build_candidate

            return build_candidate(*own, obs, settings)
        load_token_block = _video_extra(name).load_token_block
        from .backbones.catalog import parse_layer_name
        from .candidates.candidate import VideoCandidate

        twin = parse_layer_name(name).twin
        block = load_token_block(name, grid=token_grid(obs.obs_shape, settings.patch),
                                 weights=settings.weights, timestep=settings.timestep,
                                 dtype=settings.dtype, device=settings.device,
                                 twin_rng=twin_rng(name) if twin else None)
        return VideoCandidate(block, tuple(obs.obs_shape), patch=settings.patch,
                              device=settings.device, dtype=settings.dtype,
                              chunk_size=settings.chunk_size,
                              feature_norm=settings.feature_norm,
                              readout=settings.readout,
                              readout_dim=settings.readout_dim, learner=settings.learner)

    def describe(self, name: str, obs, settings=None):
        """A torch block of your own as a run id records it (:func:`block_description`)."""
        from .candidates.settings import check_frames

        check_frames(name, obs)
        _check_torch(name)
        from .candidates.custom_block import block_description

        return block_description(*_own_block(name), obs, _settings(settings))

    def fingerprint(self, name: str, obs, settings=None) -> str:
        """A torch block of your own's :func:`block_fingerprint`."""
        from .candidates.settings import check_frames

        check_frames(name, obs)
        _check_torch(name)
        from .candidates.custom_block import block_fingerprint

        return block_fingerprint(*_own_block(name), obs, _settings(settings))

    def train_with_torch(self, layer, settings=None):
        """``layer`` (a frozen numpy layer) trained by the torch learner (needs the video
        extra)."""
        try:
            from .candidates.torch_trained import TorchTrained
        except ImportError as exc:
            raise ConfigError(f"layer {layer.name}{TORCH_SUFFIX} needs the video extra "
                              f"(torch): pip install -e '.[video]' ({exc})") from exc
        return TorchTrained(layer, device=_settings(settings).device)

    def factory_context(self, rng):
        """Torch's draws seeded from ``rng`` while a factory runs, once torch is loaded."""
        import sys

        if "torch" not in sys.modules:
            return nullcontext()
        from .candidates.custom_block import SeededTorch

        return SeededTorch(rng)


#: The registered video family.
VIDEO = VideoFamily()
register_family(VIDEO)
