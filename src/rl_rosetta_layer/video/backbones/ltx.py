"""LTX-Video (diffusers' ``LTXVideoTransformer3DModel``): published specs (pure Python,
no torch)."""

from __future__ import annotations

from .spec import ONE_TEXT, BackboneSpec, block_range

_LTX_COND = (ONE_TEXT.format(proj="caption_projection") + "; time_embed(t) of batch one, "
             "(1, 1, 6 x width); rotary of the (F, h, w) grid from the model's rope with the "
             "pipeline's rope_interpolation_scale (8/25, 32, 32)")

#: Module paths of the blocks of this family.
PATTERNS = (r"transformer_blocks\.(\d+)",)

SPECS: dict[str, BackboneSpec] = {
    "ltx-video": BackboneSpec(
        name="ltx-video", family="ltx", library="diffusers",
        class_name="LTXVideoTransformer3DModel", model_type=None, width=2048, heads=32,
        blocks=block_range("transformer_blocks", 28),
        block_params=(("transformer_blocks", 67_155_968),), positions="ltx-rope",
        conditioning=_LTX_COND, repo="Lightricks/LTX-Video", subfolder="transformer",
        constants=(("frame_rate", 25), ("vae_compression", (8, 32))),
        total_params=1_923_385_472, published_config=(),
        notes="32 heads x 64 (the 2B models 0.9.0-0.9.6: the class defaults); 1.92B "
              "parameters in all."),
    "ltx-video-13b": BackboneSpec(
        name="ltx-video-13b", family="ltx", library="diffusers",
        class_name="LTXVideoTransformer3DModel", model_type=None, width=4096, heads=32,
        blocks=block_range("transformer_blocks", 48),
        block_params=(("transformer_blocks", 268_529_664),), positions="ltx-rope",
        conditioning=_LTX_COND, repo="Lightricks/LTX-Video-0.9.7-dev",
        subfolder="transformer", constants=(("frame_rate", 25), ("vae_compression", (8, 32))),
        total_params=13_042_569_344,
        published_config=(("attention_head_dim", 128), ("cross_attention_dim", 4096),
                          ("num_layers", 48)),
        notes="32 heads x 128 (0.9.7 and 0.9.8 13B); 13.0B parameters in all."),
}
