"""Layers of your own, named but not imported: their names, their factories' arguments and
calls, and their descriptions (the pure half of :mod:`.custom`).

:mod:`.custom` imports the factories and builds the frozen layers; the torch side
(:mod:`rl_rosetta_layer.video.candidates.custom_block`, reached through the video family)
builds a torch block from the pieces here. Nothing here imports torch or a factory's
module.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import ConfigError, RosettaError, UnknownLayerError
from .families import TORCH_SUFFIX, families
from .names import builtin_names

#: The entry-point group under which a package declares layers (name = the layer's name).
ENTRY_POINT_GROUP = "rl_rosetta_layer.layers"
#: Keyword arguments a frozen layer's factory may name.
LAYER_ARGS = ("input_dim", "obs_shape", "rng")
#: Keyword arguments a torch block's factory may name.
BLOCK_ARGS = ("grid", "tokens")
RANDOM_SUFFIX = ":random"
#: Root of the seed of the generator a factory gets (``rng``; a torch block's own draws).
CUSTOM_SEED = 5151
#: The forms a layer of your own takes, for messages.
FORMS = "MODULE:FACTORY, MODULE:FACTORY:random (a torch block's twin) or MODULE:FACTORY@torch"
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
#: An entry point's name that can be a layer name (no ``:``, ``,``, ``@`` or space).
_ENTRY_NAME = re.compile(r"[A-Za-z_][\w.\-]*")


@dataclass(frozen=True)
class CustomName:
    """A layer of your own, parsed from its name."""

    name: str
    """The name as given (``my_pkg.blocks:make_block:random``)."""
    base: str
    """The name without ``:random`` and ``@torch``: the factory's own layer."""
    target: str
    """``MODULE:FACTORY``, what is imported and called."""
    random: bool = False
    """``:random``: the random twin of a torch block."""
    torch: bool = False
    """``@torch``: a frozen layer trained by the torch learner."""
    entry_point: bool = False
    """Declared by a package under :data:`ENTRY_POINT_GROUP` (``base`` is its name)."""


# ------------------------------------------------------------------------------ names
@lru_cache(maxsize=8)
def _entry_points(path_key: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    from importlib.metadata import entry_points

    found: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in found and _ENTRY_NAME.fullmatch(ep.name):
            found[ep.name] = f"{ep.module}:{ep.attr}" if ep.attr else ep.module
    return tuple(found.items())


def declared_layers() -> dict[str, str]:
    """Layers declared by installed packages: entry-point name -> ``MODULE:FACTORY``
    (looked up again whenever ``sys.path`` changes). Names of built-in layers and groups
    are left out: those always mean the built-in ones."""
    taken = _builtins()
    return {k: v for k, v in _entry_points(tuple(sys.path)) if k not in taken}


@lru_cache(maxsize=1)
def _builtins() -> frozenset[str]:
    return builtin_names()


def _reserved(module: str) -> bool:
    """Whether ``module`` is a name a layer family keeps for itself (a backbone's)."""
    return any(family.reserved(module) for family in families())


def parse_custom(name: object) -> CustomName | None:
    """The layer of your own that ``name`` names, or None when it names a built-in layer,
    a backbone's block or nothing known. Nothing is imported; a name that can only be an
    import path but is malformed raises :class:`UnknownLayerError`.

    >>> parse_custom("my_pkg.blocks:make_block:random")
    CustomName(name='my_pkg.blocks:make_block:random', base='my_pkg.blocks:make_block', \
target='my_pkg.blocks:make_block', random=True, torch=False, entry_point=False)
    >>> parse_custom("tiny-video:transformer_blocks.1") is None
    True
    """
    text = str(name)
    core = text.removesuffix(TORCH_SUFFIX)
    torch_ = core != text
    parts = core.split(":")
    if len(parts) == 1 and parts[0] in _builtins():
        return None
    if len(parts) == 1 or (len(parts) == 2 and parts[1] == RANDOM_SUFFIX[1:]):
        declared = declared_layers() if _ENTRY_NAME.fullmatch(parts[0]) else {}
        if parts[0] not in declared:
            return None
        return CustomName(text, parts[0], declared[parts[0]], random=len(parts) == 2,
                          torch=torch_, entry_point=True)
    if _reserved(parts[0]) or not _DOTTED.fullmatch(parts[0]):
        return None                      # a backbone's block (or a bad one: its parser says)
    random = len(parts) == 3 and parts[2] == RANDOM_SUFFIX[1:]
    if len(parts) > 3 or (len(parts) == 3 and not random) or not _DOTTED.fullmatch(parts[1]):
        raise UnknownLayerError(
            f"bad layer name {text!r}: a layer of your own is {FORMS}, with MODULE an "
            f"importable module and FACTORY a name in it; a backbone's block is BACKBONE:BLOCK "
            f"with BACKBONE a known backbone (docs/video-backbones.md)")
    base = ":".join(parts[:2])
    return CustomName(text, base, base, random=random, torch=torch_)


def is_custom_layer(name: object) -> bool:
    """Whether ``name`` names a layer of your own (see :func:`parse_custom`)."""
    return parse_custom(name) is not None


# ------------------------------------------------------------------------------ factories
def factory_args(factory: Any) -> dict[str, bool]:
    """Keyword parameters of ``factory``: name -> whether it is required."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return {}
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    out = {p.name: p.default is inspect.Parameter.empty for p in params if p.kind in keyword}
    for p in params:
        if p.kind is inspect.Parameter.POSITIONAL_ONLY and p.default is inspect.Parameter.empty:
            out[p.name] = True
    return out


def call_factory(custom: CustomName, factory: Any, available: dict[str, Any]) -> Any:
    """``factory`` called with the arguments of ``available`` it names; a required
    argument not among them, or anything the factory raises, becomes one ConfigError."""
    args = factory_args(factory)
    needed = [a for a, required in args.items() if required and a not in available]
    if needed:
        raise ConfigError(f"layer {custom.name!r}: {custom.target} needs argument(s) "
                          f"{', '.join(needed)}; a factory gets only those it names of "
                          f"{', '.join(LAYER_ARGS)} (a frozen layer) or "
                          f"{', '.join(BLOCK_ARGS)} (a torch block)")
    kwargs = {a: available[a] for a in args if a in available}
    try:
        return factory(**kwargs)
    except RosettaError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's factory, named in one line
        text = " ".join(str(exc).split())
        raise ConfigError(f"layer {custom.name!r}: {custom.target}({', '.join(kwargs)}) "
                          f"raised {type(exc).__name__}: {text}") from exc


def factory_rng(target: str) -> np.random.Generator:
    """The generator a factory gets as ``rng``: fixed per ``MODULE:FACTORY``."""
    return np.random.default_rng([CUSTOM_SEED, zlib.crc32(target.encode())])


def own_description(name: str, obj: Any, **fallback) -> dict:
    """``obj.describe()`` when it has one, else its class and ``fallback``; checked to be
    JSON-ready (it enters the run id) and returned as JSON reads it back."""
    own = getattr(obj, "describe", None)
    if callable(own):
        try:
            described = own()
        except Exception as exc:  # noqa: BLE001 - the user's method, named in one line
            raise ConfigError(f"layer {name!r}: describe() raised {type(exc).__name__}: "
                              f"{' '.join(str(exc).split())}") from exc
    else:
        cls = type(obj)
        described = {"class": f"{cls.__module__}.{cls.__qualname__}", **fallback}
    try:
        if not isinstance(described, dict):
            raise TypeError(f"got {type(described).__name__}")
        return json.loads(json.dumps(described, sort_keys=True, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"layer {name!r}: describe() must return a JSON-ready dict (strings, "
                          f"numbers, lists, dicts; it enters the run id): {exc}") from exc

