"""CogVideoX (diffusers' ``CogVideoXTransformer3DModel``): the published specs (pure Python,
no torch)."""

from __future__ import annotations

from .spec import BackboneSpec, block_range

COG_TEXT = ("no text tokens (encoder_hidden_states of shape (B, 0, width)); timestep "
            "embedding time_embedding(time_proj(t)) of batch one")
_COG_COMMON = (("activation_fn", "gelu-approximate"), ("attention_bias", True),
               ("attention_head_dim", 64), ("in_channels", 16), ("max_text_seq_length", 226),
               ("out_channels", 16), ("patch_size", 2), ("text_embed_dim", 4096),
               ("time_embed_dim", 512))

#: Module paths of the blocks of this family.
PATTERNS = (r"transformer_blocks\.(\d+)",)

SPECS: dict[str, BackboneSpec] = {
    "cogvideox-2b": BackboneSpec(
        name="cogvideox-2b", family="cogvideox", library="diffusers",
        class_name="CogVideoXTransformer3DModel", model_type=None, width=1920, heads=30,
        blocks=block_range("transformer_blocks", 30),
        block_params=(("transformer_blocks", 56_081_536),), positions="sincos",
        conditioning=COG_TEXT + "; 3-D sin-cos positions added at the patch embedding "
                     "(pos_init)",
        repo="THUDM/CogVideoX-2b", subfolder="transformer",
        published_config=_COG_COMMON + (("num_attention_heads", 30), ("num_layers", 30)),
        notes="30 heads x 64, no rotary embedding; 1.69B parameters in all."),
    "cogvideox-5b": BackboneSpec(
        name="cogvideox-5b", family="cogvideox", library="diffusers",
        class_name="CogVideoXTransformer3DModel", model_type=None, width=3072, heads=48,
        blocks=block_range("transformer_blocks", 42),
        block_params=(("transformer_blocks", 132_197_632),), positions="rope",
        conditioning=COG_TEXT + "; 3-D rotary embedding over the token grid (crop grid of "
                     "the sample size, as the pipeline computes it)",
        repo="THUDM/CogVideoX-5b", subfolder="transformer",
        published_config=_COG_COMMON + (("num_attention_heads", 48), ("num_layers", 42),
                                        ("use_rotary_positional_embeddings", True)),
        notes="48 heads x 64; 5.57B parameters in all."),
    "cogvideox1.5-5b": BackboneSpec(
        name="cogvideox1.5-5b", family="cogvideox", library="diffusers",
        class_name="CogVideoXTransformer3DModel", model_type=None, width=3072, heads=48,
        blocks=block_range("transformer_blocks", 42),
        block_params=(("transformer_blocks", 132_197_632),), positions="rope-slice",
        conditioning=COG_TEXT + "; 3-D rotary embedding, 'slice' grid (h and w at most "
                     "sample_height/2 and sample_width/2)",
        repo="THUDM/CogVideoX1.5-5B", subfolder="transformer",
        published_config=_COG_COMMON + (
            ("num_attention_heads", 48), ("num_layers", 42), ("patch_bias", False),
            ("patch_size_t", 2), ("sample_frames", 81), ("sample_height", 300),
            ("sample_width", 300), ("use_rotary_positional_embeddings", True)),
        notes="48 heads x 64, patches of 2 latent frames (F counts token frames); "
              "5.57B parameters in all."),
}
