"""Frozen candidate layers (one protocol) and the baselines beside them.

The names below are imported on first use, so that importing a module of this package
(:mod:`.families`, which the video family registers with when the package is imported)
costs no numpy.
"""

from ..lazy import lazy_exports

#: Name -> the module of this package that defines it.
_LAZY = {"FrozenLayer": "base", "NumpyLayer": "base", "TrainableBody": "baselines",
         "random_bank": "baselines", "IdentityLayer": "synthetic",
         "RandomTanhLayer": "synthetic", "StructuredLayer": "synthetic",
         **{name: "registry" for name in ("BANK_NAMES", "BASELINES", "GROUPS", "KNOWN",
                                            "SEED_CANDIDATES", "Observations", "build_layers",
                                            "expand_layer_names", "seed_candidates")}}
__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
