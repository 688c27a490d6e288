"""rosetta-layer: which frozen layer of a pretrained video model makes the best RL representation?

From Python (a notebook): ``import rl_rosetta_layer as rr``, then ``rr.analyze``,
``rr.train``, ``rr.report`` and ``rr.run`` (the commands, :mod:`.api`), ``rr.load`` and
``rr.to_rliable`` (the outputs as tables, :mod:`.results`) and ``rr.check_frozen_layer``
(does a layer of your own keep the protocol?). They are imported on first use.

The numpy core never imports torch; torch-backed layers live behind the ``video`` extra.
Importing the package registers the video blocks with the layer registry
(:mod:`.video.family`; pure Python, no torch).

Importing the package registers its Gymnasium ids (``rosetta/GridVideo-v0``,
``rosetta/MovingGoal-v0``, ``rosetta/Catch-v0``) when Gymnasium is already imported, which
is what Gymnasium's conventions need: ``gym.make("rl_rosetta_layer:rosetta/GridVideo-v0")``
imports this package first, and ``import gymnasium`` before ``import rl_rosetta_layer``
makes the plain ids work. It never imports Gymnasium itself (an optional extra, and 50-100
ms on every command otherwise); if the package was imported before Gymnasium, call
:func:`rl_rosetta_layer.envs.gym_registration.register_envs`.
"""

import sys
import types

from ._version import __version__
from .lazy import lazy_exports

#: What ``import rl_rosetta_layer as rr`` offers, and the module each comes from: imported
#: on first use, so importing the package stays cheap (no numpy work, never torch).
_LAZY = {"analyze": "api", "train": "api", "run": "api", "load": "results",
         "to_rliable": "results", "check_frozen_layer": "layers.base"}
__all__ = ["__version__", "report", *_LAZY]


class _ReportPackage(types.ModuleType):
    """The ``report`` subpackage, callable: ``rr.report(output_dir)`` is
    :func:`rl_rosetta_layer.api.report` (``rosetta report``), while ``rr.report.paper``
    and the other modules stay where they are."""

    def __call__(self, *args, **kwargs):
        from .api import report

        return report(*args, **kwargs)


class _Package(types.ModuleType):
    """This package: whoever imports the ``report`` subpackage first (the import system
    sets it as an attribute here), it becomes callable (:class:`_ReportPackage`)."""

    def __setattr__(self, name: str, value) -> None:
        if name == "report" and type(value) is types.ModuleType:
            value.__class__ = _ReportPackage
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


_exported, __dir__ = lazy_exports(__name__, _LAZY, globals())


def __getattr__(name: str):
    if name == "report":
        import importlib

        return importlib.import_module(".report", __name__)
    return _exported(name)


# The video blocks' family of layers registers with the layer registry (pure Python, no
# numpy, never torch): ``layers`` finds video layers through it and never imports ``video``.
from .video import family as _video_family  # noqa: E402, F401

if "gymnasium" in sys.modules:
    from .envs.gym_registration import register_envs as _register_envs

    _register_envs()
