"""HunyuanVideo (diffusers' ``HunyuanVideoTransformer3DModel``): its published spec (pure
Python, no torch)."""

from __future__ import annotations

from .spec import BackboneSpec, block_range

#: Module paths of the blocks of this family: dual-stream, then single-stream.
PATTERNS = (r"transformer_blocks\.(\d+)", r"single_transformer_blocks\.(\d+)")

SPECS: dict[str, BackboneSpec] = {
    "hunyuanvideo": BackboneSpec(
        name="hunyuanvideo", family="hunyuanvideo", library="diffusers",
        class_name="HunyuanVideoTransformer3DModel", model_type=None, width=3072, heads=24,
        blocks=block_range("transformer_blocks", 20) + block_range("single_transformer_blocks", 40),
        block_params=(("transformer_blocks", 339_831_296),
                      ("single_transformer_blocks", 141_591_808)),
        positions="hunyuan-rope",
        conditioning="one dummy text token (zeros) hidden by a boolean attention mask; "
                     "time_text_embed(t, zero pooled projection, guidance 6.0 x 1000) of "
                     "batch one; rotary embedding of the (F, h, w) token grid",
        repo="hunyuanvideo-community/HunyuanVideo", subfolder="transformer",
        published_config=(("num_layers", 20), ("num_single_layers", 40),
                          ("guidance_embeds", True)),
        notes="24 heads x 128; dual-stream transformer_blocks.i, single-stream "
              "single_transformer_blocks.i; 12.8B parameters in all. Zero text tokens crash "
              "both block kinds, hence the masked dummy token. The image-to-video variant "
              "(image_condition_type='token_replace') is refused."),
}
