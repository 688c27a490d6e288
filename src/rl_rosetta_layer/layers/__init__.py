"""Frozen candidate layers (one protocol) and the baselines beside them.

The names below are imported on first use, so that importing a module of this package
(:mod:`.families`, which the video family registers with when the package is imported)
costs no numpy.
"""

import importlib

#: Name -> the module of this package that defines it.
_LAZY = {"FrozenLayer": "base", "NumpyLayer": "base", "TrainableBody": "baselines",
         "random_bank": "baselines", "IdentityLayer": "synthetic",
         "RandomTanhLayer": "synthetic", "StructuredLayer": "synthetic",
         **{name: "registry" for name in ("BANK_NAMES", "BASELINES", "GROUPS", "KNOWN",
                                            "SEED_CANDIDATES", "Observations", "build_layers",
                                            "expand_layer_names", "seed_candidates")}}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
