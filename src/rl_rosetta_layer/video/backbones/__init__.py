"""Naming backbones (pure Python, no torch): what each family's published models are
(one module per family), their candidate blocks and the layer names ``BACKBONE:BLOCK``.

:mod:`.catalog` merges the families and answers every question about a name or a
checkpoint's config.json; the names most code needs are importable from here.
"""

from .catalog import (
    BACKBONES,
    BYPASS,
    FAMILIES,
    backbone_spec,
    candidate_blocks,
    compact_blocks,
    parse_layer_name,
)
from .spec import BackboneSpec

__all__ = ["BACKBONES", "BYPASS", "FAMILIES", "BackboneSpec", "backbone_spec",
           "candidate_blocks", "compact_blocks", "parse_layer_name"]
