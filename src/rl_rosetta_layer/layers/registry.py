"""Candidate layers by name, and the name groups the command line accepts (:mod:`.names`)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np

from ..envs.grid import GridConfig
from ..errors import ConfigError, UnknownLayerError
from .base import NumpyLayer
from .baselines import TrainableBody, random_bank
from .custom import FORMS, build_custom, custom_kind, declared_layers, is_custom_layer
from .families import TORCH_SUFFIX, LayerFamily, families, family_groups, family_of
from .names import (  # noqa: F401 - re-exported: the names live in .names
    BANK_NAMES,
    BASELINES,
    GROUPS,
    KNOWN,
    SEED_CANDIDATES,
    builtin_names,
)
from .synthetic import IdentityLayer, RandomTanhLayer, StructuredLayer

#: Shape and scale of the seed's random candidates: (output_dim, scale).
RANDOM_SHAPES = {"random_wide": (128, 0.20), "random_narrow": (16, 0.30),
                 "bottleneck": (4, 0.35)}
RANDOM_SEED = 7
#: Layers the torch learner can train as ``NAME@torch`` (frozen numpy layers; and any frozen
#: layer of your own, see :mod:`.custom`).
TORCH_TRAINABLE = SEED_CANDIDATES + ("identity",)


def _accepted() -> str:
    """The accepted names, for messages."""
    declared = ", ".join(declared_layers())
    return (f"{', '.join(KNOWN)}, BACKBONE:BLOCK, {FORMS} (a layer of your own), "
            + (f"the installed packages' layers {declared}, " if declared else "")
            + f"or the groups {', '.join((*GROUPS, *family_groups()))}, selected")


@dataclass(frozen=True)
class Observations:
    """What layers need to know about observations that are not the seed's grid."""

    obs_dim: int
    source: str = "environment"
    """The environment's name, for messages."""
    obs_shape: tuple[int, ...] | None = None
    """(frames, channels, height, width) of one flat observation, when it is frames."""
    maps: bool = False
    """Frames are the grid's two one-hot maps (agent, goal), which structured_mid reads."""

    @classmethod
    def of_grid(cls, grid: GridConfig, source: str = "grid") -> Observations:
        """The grid's observations (or a task drawn in the grid's format)."""
        return cls(grid.obs_dim, source, (grid.history, 2, grid.size, grid.size), maps=True)


def as_observations(obs: GridConfig | Observations) -> Observations:
    return Observations.of_grid(obs) if isinstance(obs, GridConfig) else obs


def seed_candidates(obs: GridConfig | Observations) -> dict[str, NumpyLayer]:
    """The seed's candidates for observations ``obs``, seeded as the prototype.

    ``structured_mid`` reads the grid's agent and goal maps, so it exists only when ``obs``
    is in the grid's format (a :class:`GridConfig`, or :class:`Observations` with ``maps``).
    """
    obs = as_observations(obs)
    rng = np.random.default_rng(RANDOM_SEED)
    layers: dict[str, NumpyLayer] = {}
    for name, (out, scale) in RANDOM_SHAPES.items():
        layers[name] = RandomTanhLayer(name, obs.obs_dim, out, scale, rng)
    if obs.maps:
        frames, _, size, _ = obs.obs_shape
        layers["structured_mid"] = StructuredLayer("structured_mid", size, frames)
    return {name: layers[name] for name in SEED_CANDIDATES if name in layers}


def expand_layer_names(spec: str, selected: str | None = None,
                       unavailable: tuple[str, ...] = (), *, backbone: str | None = None,
                       weights: str | None = None) -> list[str]:
    """Turn ``--layers`` text into candidate names, in order and without repeats.

    ``spec`` is a comma list of names and groups (``candidates``, ``baselines``, ``bank``,
    ``all``) and ``selected`` (the layer in ``selected_layer.txt``). Groups leave out the
    ``unavailable`` layers (e.g. ``structured_mid`` off the grid); named ones are kept, so
    building them gives the error that says why. Video blocks are named
    ``BACKBONE:BLOCK[:random]``; the groups ``blocks`` and ``twins`` are the blocks of
    ``backbone`` and their random twins (the video family's, :mod:`.families`).
    ``NAME@torch`` is the numpy layer NAME trained by
    the torch learner (the learners' agreement control). ``MODULE:FACTORY[:random]`` and
    the names packages declare are layers of your own (:mod:`.custom`): their factory is
    imported here, so a typo fails now.

    >>> expand_layer_names("structured_mid,identity")
    ['structured_mid', 'identity']
    """
    names: list[str] = []
    groups = family_groups()
    parts = [p.strip() for p in str(spec).split(",")]
    if not spec or any(not p for p in parts):
        raise ConfigError(f"--layers must be a comma list of layer names, got {spec!r}; "
                          f"accepted: {_accepted()}")
    for part in parts:
        if part == "selected":
            if selected is None:
                raise ConfigError("--layers selected needs a selected layer")
            group = (selected,)
        elif part in groups:
            group = tuple(groups[part].expand(part, backbone, weights))
        elif custom_kind(part) is not None:        # imports the factory: a typo fails here
            group = (part,)
        elif (family := family_of(part)) is not None:
            group = (family.check_name(part, weights),)
        else:
            group = tuple(n for n in GROUPS[part] if n not in unavailable) \
                if part in GROUPS else (part,)
        for name in group:
            owner = family_of(name)
            if name.endswith(TORCH_SUFFIX) and owner is None:
                base = name.removesuffix(TORCH_SUFFIX)
                if base not in TORCH_TRAINABLE and custom_kind(name) is None:
                    raise UnknownLayerError(
                        f"unknown layer {name!r}: NAME{TORCH_SUFFIX} needs a frozen numpy "
                        f"layer; accepted: {', '.join(t + TORCH_SUFFIX for t in TORCH_TRAINABLE)}"
                        f", MODULE:FACTORY{TORCH_SUFFIX}")
            elif name not in KNOWN and owner is None and not is_custom_layer(name):
                raise UnknownLayerError(f"unknown layer {name!r}; accepted: {_accepted()}")
            if name not in names:
                names.append(name)
    return names


def build_layers(names: list[str], grid: GridConfig | Observations,
                 selected: str | None = None, video=None
                 ) -> dict[str, NumpyLayer | TrainableBody]:
    """Build the candidates ``names`` for observations ``grid`` (the seed's grid, or any
    :class:`Observations`); the random bank takes the selected layer's shape; video blocks
    are built by their family (:mod:`.families`) with ``video``, its settings
    (:class:`~rl_rosetta_layer.video.candidates.settings.VideoSettings`; its defaults when
    None)."""
    grid = as_observations(grid)
    seed = seed_candidates(grid)
    if "structured_mid" in names and "structured_mid" not in seed:
        raise ConfigError(
            f"structured_mid reads the grid's agent and goal maps, but the observations come "
            f"from {grid.source!r}; accepted layers there: "
            f"{', '.join(n for n in KNOWN if n != 'structured_mid')}")
    out: dict[str, NumpyLayer | TrainableBody] = {}
    bank = None
    for name in names:
        owner = family_of(name)
        if name.endswith(TORCH_SUFFIX) and owner is None:
            base = name.removesuffix(TORCH_SUFFIX)
            out[name] = _torch_family(name).train_with_torch(
                build_layers([base], grid, selected, video)[base], video)
        elif name in seed:
            out[name] = seed[name]
        elif owner is not None:
            out[name] = owner.build(name, grid, video)
        elif is_custom_layer(name):
            out[name] = build_custom(name, grid)
        elif name == "identity":
            out[name] = IdentityLayer("identity", grid.obs_dim)
        elif name == "mlp_full":
            wide_out, wide_scale = RANDOM_SHAPES["random_wide"]
            out[name] = TrainableBody("mlp_full", grid.obs_dim, wide_out, wide_scale)
        elif name in BANK_NAMES:
            if bank is None:
                shapeable = SEED_CANDIDATES + ("identity", "mlp_full")
                if selected not in shapeable:
                    raise ConfigError(
                        f"the random layer bank copies the selected layer's shape, but the "
                        f"selected layer is {selected!r}; accepted: one of "
                        f"{', '.join(shapeable)} (run `rosetta analyze` first)")
                ref = build_layers([selected], grid)[selected]
                bank = {b.name: b for b in random_bank(ref.input_dim, ref.output_dim)}
            out[name] = bank[name]
        else:
            raise UnknownLayerError(f"unknown layer {name!r}; accepted: {', '.join(KNOWN)}")
    return out


def check_layer(name: str, grid: GridConfig | Observations, selected: str | None = None,
                video=None) -> None:
    """Fail now, with the message building ``name`` in a worker would give: a numpy layer is
    built (cheap); a video block's checkpoint files are checked, headers only; ``NAME@torch``
    needs torch installed (not imported here). A layer of your own is built and its protocol
    checked (:func:`~.base.check_frozen_layer`; a torch block's tokens too)."""
    owner = family_of(name)
    if owner is not None:
        owner.check(name, as_observations(grid), video)
        return
    if is_custom_layer(name) and not name.endswith(TORCH_SUFFIX):
        build_custom(name, as_observations(grid))
        return
    base = name.removesuffix(TORCH_SUFFIX)
    build_layers([base], grid, selected, video)
    if base != name and importlib.util.find_spec("torch") is None:
        raise ConfigError(f"layer {name!r} needs the video extra (torch): "
                          f"pip install -e '.[video]'")


def _torch_family(name: str) -> LayerFamily:
    """The family that trains numpy layers with the torch learner (``NAME@torch``)."""
    found = families()
    if not found:
        raise ConfigError(f"layer {name!r} needs the torch learner, which the video family "
                          f"(rl_rosetta_layer.video.family) provides; none is registered")
    return found[0]
