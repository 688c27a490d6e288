"""The names of the built-in layers and of the groups ``--layers`` accepts, as plain data.

Both :mod:`.registry` (which builds the layers) and :mod:`.factory` (which tells a layer of
your own from a built-in one) read these, so this module imports neither.
"""

from __future__ import annotations

from .baselines import BANK_SIZE
from .families import family_groups

#: The seed's four candidates, in the order their random weights are drawn.
SEED_CANDIDATES = ("random_wide", "random_narrow", "bottleneck", "structured_mid")
BANK_NAMES = tuple(f"random_bank_{k}" for k in range(BANK_SIZE))
BASELINES = ("identity", "mlp_full")
GROUPS = {
    "candidates": SEED_CANDIDATES,
    "baselines": BASELINES + BANK_NAMES,
    "bank": BANK_NAMES,
    "all": SEED_CANDIDATES + BASELINES + BANK_NAMES,
}
KNOWN = SEED_CANDIDATES + BASELINES + BANK_NAMES


def builtin_names() -> frozenset[str]:
    """Names that always mean the built-in layers and groups, the registered families'
    groups among them (a package's entry point of the same name is ignored)."""
    return frozenset((*KNOWN, *GROUPS, *family_groups(), "selected"))
