"""Layer families the registry does not build itself, plugged in by the parts that own them.

The registry (:mod:`.registry`) knows the numpy layers and the frozen layers of your own.
Other kinds of candidate (the video blocks and torch blocks of your own:
:mod:`rl_rosetta_layer.video.family`) register a :class:`LayerFamily` here when their
package is imported (``rl_rosetta_layer/__init__.py`` imports the video family's
registration, which is pure Python), so ``layers`` never imports them: the dependency runs
one way, from the family to the layers. A new kind of layer (another backbone library, a
JAX bridge) is one more family registered the same way.

Pure Python, no numpy: registering costs nothing on the numpy path.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class LayerFamily(Protocol):
    """Layers named, checked and built outside :mod:`.registry`.

    ``obs`` is the registry's :class:`~.registry.Observations`; ``settings`` the family's
    own settings object (None: its defaults), passed through the registry untouched.
    """

    name: str
    """The family's name, for messages (``video``)."""
    groups: tuple[str, ...]
    """Groups of ``--layers`` it expands (given ``--backbone``)."""

    def owns(self, name: str) -> bool:
        """Whether ``name`` is one of its layers (from the name alone; nothing built)."""

    def reserved(self, module: str) -> bool:
        """Whether ``module`` (the text before a layer name's first ``:``) is one of its own
        names, never the import path of a layer of your own."""

    def expand(self, group: str, backbone: str | None, weights: Any) -> list[str]:
        """The layer names of ``group`` (one of :attr:`groups`)."""

    def check_name(self, name: str, weights: Any) -> str:
        """``name`` if it names a layer that exists, else UnknownLayerError."""

    def check(self, name: str, obs, settings) -> None:
        """What building ``name`` would fail on, checked without building it."""

    def build(self, name: str, obs, settings):
        """The candidate ``name`` for observations ``obs``."""

    def describe(self, name: str, obs, settings) -> Any:
        """What a run id records of a layer of your own that this family builds."""

    def fingerprint(self, name: str, obs, settings) -> str:
        """A hash of what that layer does (its weights, its outputs on fixed inputs), so
        that editing it gives its runs new ids."""

    def train_with_torch(self, layer, settings):
        """The numpy layer ``layer`` trained by the torch learner (``NAME@torch``)."""

    def factory_context(self, rng) -> AbstractContextManager:
        """The context a factory of your own is called in (the video family seeds torch's
        draws from ``rng`` there)."""


#: Suffix of a numpy layer trained by the torch learner (``NAME@torch``, the control that
#: compares learners; :meth:`LayerFamily.train_with_torch`).
TORCH_SUFFIX = "@torch"

_FAMILIES: list[LayerFamily] = []


def register_family(family: LayerFamily) -> None:
    """Add ``family`` (once per name: registering again replaces it)."""
    _FAMILIES[:] = [f for f in _FAMILIES if f.name != family.name] + [family]


def families() -> tuple[LayerFamily, ...]:
    """The registered families, in registration order."""
    return tuple(_FAMILIES)


def family_of(name: object) -> LayerFamily | None:
    """The family that owns layer ``name``, or None."""
    return next((f for f in _FAMILIES if f.owns(str(name))), None)


def family_groups() -> dict[str, LayerFamily]:
    """Group name -> the family that expands it."""
    return {g: f for f in _FAMILIES for g in f.groups}
