"""Layers of your own, no fork: a factory named by import path or declared by a package.

A layer name ``MODULE:FACTORY`` (``my_pkg.my_module:make_layer``) imports ``MODULE`` and
calls ``FACTORY`` (a function or a class; ``FACTORY`` may be dotted, ``Outer.make``). A
package can declare layers under the entry-point group :data:`ENTRY_POINT_GROUP`; the entry
point's name is then the layer's name. Either way the layer is rebuilt from its name in
every worker process (or Ray task), never pickled.

What the factory returns decides the kind of layer:

- a **frozen layer** (the protocol of :mod:`.base`: ``input_dim``, ``output_dim``,
  ``forward(x)``, ``backward(x, grad_out)``), trained by the numpy learner like the seed's
  candidates; ``MODULE:FACTORY@torch`` trains it with the torch learner instead;
- a **torch block**, a ``torch.nn.Module`` mapping tokens (B, T, width) to the same shape,
  put between the project's token adapters like a video backbone's block, built by the
  video family (:mod:`.families`, :mod:`rl_rosetta_layer.video.candidates.custom_block`);
  ``MODULE:FACTORY:random`` is its random twin, re-initialised by the module's own
  initialisers.

The factory is called with the keyword arguments it names among :data:`LAYER_ARGS`
(``input_dim``, ``obs_shape``, ``rng``: a frozen layer) or :data:`BLOCK_ARGS` (``grid``,
``tokens``: a torch block). Which kind a name is must be known before any observation is
(to put a torch block's settings in its run id), so it is decided from the factory alone:
a class is a torch block when it subclasses ``torch.nn.Module``; a function naming a frozen
layer's arguments builds one, one naming a block's arguments builds a block, and one naming
neither is called once, with none, and what it returns decides.

Nothing here imports torch or ``video``: a torch block is its family's to build. The pure
pieces (parsing names, calling a factory, descriptions) are in :mod:`.factory`; they are
importable from here too.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from contextlib import ExitStack
from typing import Any

import numpy as np

from ..errors import ConfigError, UnknownLayerError
from .base import NumpyLayer, check_frozen_layer, output_fingerprint
from .factory import (  # noqa: F401 - re-exported: names and factories live in .factory
    BLOCK_ARGS,
    CUSTOM_SEED,
    ENTRY_POINT_GROUP,
    FORMS,
    LAYER_ARGS,
    RANDOM_SUFFIX,
    TORCH_SUFFIX,
    CustomName,
    call_factory,
    declared_layers,
    factory_args,
    factory_rng,
    is_custom_layer,
    own_description,
    parse_custom,
)
from .families import families, family_of


# ------------------------------------------------------------------------------ import
def _on_path(folder: str) -> bool:
    here = os.path.realpath(folder)
    return any(os.path.realpath(p or os.curdir) == here for p in sys.path)


def _import(module: str, layer: str):
    """Import ``module``; when it is not found, look in the current folder too (as
    ``python -m`` does), and pass that folder on to worker processes through PYTHONPATH."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (module + ".").startswith(exc.name + "."):
            raise _import_error(layer, module, exc) from exc
        cwd = os.getcwd()
        if _on_path(cwd):
            raise _not_found(layer, exc.name, cwd) from exc
        sys.path.append(cwd)
        importlib.invalidate_caches()
        try:
            found = importlib.import_module(module)
        except ModuleNotFoundError as again:
            sys.path.remove(cwd)
            raise _not_found(layer, again.name, cwd) from again
        except Exception as again:  # noqa: BLE001 - the user's module, named in one line
            raise _import_error(layer, module, again) from again
        paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        os.environ["PYTHONPATH"] = os.pathsep.join([*paths, cwd])
        return found
    except Exception as exc:  # noqa: BLE001 - the user's module, named in one line
        raise _import_error(layer, module, exc) from exc


def _not_found(layer: str, module: str | None, cwd: str) -> ConfigError:
    return ConfigError(f"layer {layer!r}: no module named {module!r} (looked on sys.path and "
                       f"in {cwd}); install it or add its folder to PYTHONPATH")


def _import_error(layer: str, module: str, exc: BaseException) -> ConfigError:
    text = " ".join(str(exc).split())
    return ConfigError(f"layer {layer!r}: importing {module} raised {type(exc).__name__}: "
                       f"{text}")


def resolve(custom: CustomName) -> Any:
    """The factory (function or class) ``custom.target`` names, imported."""
    module_name, _, attr = custom.target.partition(":")
    if not attr:
        raise ConfigError(f"layer {custom.base!r}: the entry point names module "
                          f"{module_name!r}, not a factory in it; declare it as "
                          f"{custom.base} = '{module_name}:FACTORY'")
    obj = _import(module_name, custom.name)
    for part in attr.split("."):
        if not hasattr(obj, part):
            where = "" if part == attr else \
                f" ({getattr(obj, '__name__', type(obj).__name__)} lacks {part!r})"
            raise ConfigError(f"layer {custom.name!r}: {module_name} has no {attr!r}{where}; "
                              f"name a function or class in it")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"layer {custom.name!r}: {custom.target} is a "
                          f"{type(obj).__name__}, not a factory; name a function or class "
                          f"that returns the layer")
    return obj


def is_torch_module(obj: Any, *, cls: bool = False) -> bool:
    """Whether ``obj`` is a ``torch.nn.Module`` (subclass, with ``cls``), without importing
    torch: a module of torch exists only once torch was imported."""
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    if cls:
        return isinstance(obj, type) and issubclass(obj, torch.nn.Module)
    return isinstance(obj, torch.nn.Module)


# ------------------------------------------------------------------------------ kinds
_KINDS: dict[str, str] = {}


def _kind(custom: CustomName) -> str:
    if custom.target in _KINDS:
        return _KINDS[custom.target]
    factory = resolve(custom)
    if isinstance(factory, type):
        kind = "block" if is_torch_module(factory, cls=True) else "layer"
    else:
        args = set(factory_args(factory))
        if args & set(LAYER_ARGS) and args & set(BLOCK_ARGS):
            raise ConfigError(f"layer {custom.name!r}: {custom.target} names arguments of a "
                              f"frozen layer ({', '.join(LAYER_ARGS)}) and of a torch block "
                              f"({', '.join(BLOCK_ARGS)}); name those of one kind")
        if args & set(LAYER_ARGS):
            kind = "layer"
        elif args & set(BLOCK_ARGS):
            kind = "block"
        else:
            kind = "block" if is_torch_module(seeded_call(custom, factory, {})) else "layer"
    _KINDS[custom.target] = kind
    return kind


def custom_kind(name: object) -> str | None:
    """'layer' (a frozen layer), 'block' (a torch block) or None (not a layer of your own).

    Imports the factory's module (and may call a factory that takes no argument once, see
    the module docstring); checks that ``:random`` names a block and ``@torch`` a layer."""
    custom = parse_custom(name)
    if custom is None:
        return None
    kind = _kind(custom)
    if custom.random and kind != "block":
        raise UnknownLayerError(f"layer {custom.name!r}: {RANDOM_SUFFIX} is the random twin of "
                                f"a torch block, but {custom.target} builds a frozen layer")
    if custom.torch and kind != "layer":
        raise UnknownLayerError(f"layer {custom.name!r}: NAME{TORCH_SUFFIX} trains a frozen "
                                f"numpy layer with the torch learner, but {custom.target} "
                                f"builds a torch block (trained by the torch learner already)")
    return kind


def seeded_call(custom: CustomName, factory: Any, available: dict[str, Any]) -> Any:
    """:func:`call_factory`, within every registered family's factory context (the video
    family's takes torch's draws, when torch is loaded, from a generator seeded from
    :func:`factory_rng`, never from torch's global generator): a factory that draws its
    weights gives the same module every time, in every process."""
    with ExitStack() as stack:
        for family in families():
            stack.enter_context(family.factory_context(factory_rng(custom.target)))
        return call_factory(custom, factory, available)


# ------------------------------------------------------------------------------ layers
def _float32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


class CustomLayer(NumpyLayer):
    """A frozen layer of your own, named as the registry names it; outputs as float32.

    ``forward_train`` / ``backward_from`` are the layer's own when it has both (a
    :class:`NumpyLayer` subclass keeps its cached pair), else the defaults; so are
    ``input_map`` / ``forward_pre`` / ``backward_pre`` (checked when the layer is built).
    """

    def __init__(self, name: str, inner: Any, target: str) -> None:
        self.name, self.inner, self.target = name, inner, target
        self.input_dim, self.output_dim = int(inner.input_dim), int(inner.output_dim)
        self._pair = all(callable(getattr(inner, m, None))
                         for m in ("forward_train", "backward_from"))

    def forward(self, x: np.ndarray) -> np.ndarray:
        return _float32(self.inner.forward(x))

    def backward(self, x: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        return _float32(self.inner.backward(x, grad_out))

    def forward_train(self, x: np.ndarray):
        if not self._pair:
            return self.forward(x), x
        y, ctx = self.inner.forward_train(x)
        return _float32(y), ctx

    def backward_from(self, ctx, grad_out: np.ndarray) -> np.ndarray:
        if not self._pair:
            return self.backward(ctx, grad_out)
        return _float32(self.inner.backward_from(ctx, grad_out))

    def input_map(self):
        get = getattr(self.inner, "input_map", None)
        return get() if callable(get) else None

    def forward_pre(self, pre: np.ndarray):
        y, ctx = self.inner.forward_pre(pre)
        return _float32(y), ctx

    def backward_pre(self, ctx, grad_out: np.ndarray) -> np.ndarray:
        return _float32(self.inner.backward_pre(ctx, grad_out))

    def describe(self) -> dict:
        return {**super().describe(), "target": self.target,
                "layer": own_description(self.name, self.inner)}


def build_custom_layer(custom: CustomName, obs) -> CustomLayer:
    """The frozen layer of ``custom`` for observations ``obs``, its protocol checked."""
    factory = resolve(custom)
    inner = call_factory(custom, factory, {"input_dim": obs.obs_dim, "obs_shape": obs.obs_shape,
                                           "rng": factory_rng(custom.target)})
    if is_torch_module(inner):
        raise ConfigError(f"layer {custom.name!r}: {custom.target} returned a torch.nn.Module "
                          f"although it names {', '.join(LAYER_ARGS)} arguments; a torch "
                          f"block's factory names only {', '.join(BLOCK_ARGS)} (or nothing)")
    check_frozen_layer(inner, obs.obs_dim, name=custom.base,
                       source=f"observations of {obs.source!r}")
    return CustomLayer(custom.base, inner, custom.target)


def build_custom(name: str, obs):
    """The layer ``name`` (of your own) for observations ``obs``: a :class:`CustomLayer`,
    or a torch block built by its family (:mod:`.families`) with default settings.
    ``@torch`` is the caller's (the registry's)."""
    custom = parse_custom(name)
    if custom is None:
        raise UnknownLayerError(f"unknown layer {name!r}; a layer of your own is {FORMS}")
    if custom_kind(name) != "layer":
        return _block_family(name).build(name, obs, None)
    return build_custom_layer(custom, obs)


def _block_family(name: str):
    """The family that builds torch block ``name`` (the video family)."""
    family = family_of(name)
    if family is None:
        raise ConfigError(f"layer {name!r} is a torch block, which the video family "
                          f"(rl_rosetta_layer.video.family) builds; none is registered")
    return family


_SOURCES: dict[tuple, str] = {}


def layer_source(name: str, obs, video=None) -> str:
    """What a run id records of a layer of your own, as canonical JSON text: its
    ``MODULE:FACTORY``, its kind, its own ``describe()`` (for a torch block, the module's;
    without one its class, width and parameter count) and a fingerprint of what it does
    (:func:`~.base.output_fingerprint` of its outputs on a fixed batch; for a torch block,
    of its weights and its outputs on fixed tokens): editing the layer's code gives its runs
    new ids, even when ``describe()`` stays the same. Built once per process."""
    key = (name, obs, video)
    if key not in _SOURCES:
        custom = parse_custom(name)
        kind = custom_kind(name)
        if kind == "layer":
            layer = build_custom_layer(custom, obs)
            described = layer.describe()["layer"]
            fingerprint = output_fingerprint(layer.forward, layer.input_dim)
        else:
            family = _block_family(name)
            described = family.describe(name, obs, video)
            fingerprint = family.fingerprint(name, obs, video)
        _SOURCES[key] = json.dumps({"target": custom.target, "kind": kind,
                                    "describe": described, "fingerprint": fingerprint},
                                   sort_keys=True)
    return _SOURCES[key]
