"""VideoMAE (transformers' ``VideoMAEModel``): its published spec (pure Python, no torch)."""

from __future__ import annotations

from .spec import BackboneSpec, block_range

#: Module paths of the blocks of this family.
PATTERNS = (r"encoder\.layer\.(\d+)",)

SPECS: dict[str, BackboneSpec] = {
    "videomae-base": BackboneSpec(
        name="videomae-base", family="videomae", library="transformers",
        class_name="VideoMAEModel", model_type="videomae", width=768, heads=12,
        blocks=block_range("encoder.layer", 12), block_params=(("encoder.layer", 7_087_104),),
        positions="sincos",
        conditioning="none (positions are added in the embeddings, before the first layer)",
        repo="MCG-NJU/videomae-base",
        published_config=(("hidden_size", 768), ("num_hidden_layers", 12),
                          ("num_attention_heads", 12), ("intermediate_size", 3072)),
        notes="12 heads x 64; checkpoints store attention q_bias/v_bias (renamed on load) "
              "and, for pre-training and classification models, a 'videomae.' prefix."),
}
