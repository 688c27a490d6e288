"""Wan 2.1 / 2.2 (diffusers' ``WanTransformer3DModel``): published specs (pure Python,
no torch)."""

from __future__ import annotations

from .spec import ONE_TEXT, BackboneSpec, block_range

_WAN_COND = (ONE_TEXT.format(proj="condition_embedder.text_embedder") + "; timestep "
             "projection condition_embedder(t) of batch one, (1, 6, width); rotary (cos, sin) "
             "of the (F, h, w) token grid from the model's WanRotaryPosEmbed")
_WAN_COMMON = (("attention_head_dim", 128), ("cross_attn_norm", True), ("eps", 1e-6),
               ("freq_dim", 256), ("patch_size", (1, 2, 2)),
               ("qk_norm", "rms_norm_across_heads"), ("text_dim", 4096))
def _wan(name: str, repo: str, heads: int, layers: int, ffn: int, params: int, total: int,
         channels: int = 16, notes: str = "") -> BackboneSpec:
    return BackboneSpec(
        name=name, family="wan", library="diffusers", class_name="WanTransformer3DModel",
        model_type=None, width=heads * 128, heads=heads, blocks=block_range("blocks", layers),
        block_params=(("blocks", params),), positions="wan-rope", conditioning=_WAN_COND,
        repo=repo, subfolder="transformer", total_params=total,
        published_config=_WAN_COMMON + (("ffn_dim", ffn), ("in_channels", channels),
                                         ("num_attention_heads", heads),
                                         ("num_layers", layers), ("out_channels", channels)),
        notes=notes)



#: Module paths of the blocks of this family.
PATTERNS = (r"blocks\.(\d+)",)

SPECS: dict[str, BackboneSpec] = {
    "wan2.1-t2v-1.3b": _wan("wan2.1-t2v-1.3b", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", 12, 30,
                            8960, 46_440_704, 1_418_996_800,
                            notes="12 heads x 128; 1.42B parameters in all."),
    "wan2.1-t2v-14b": _wan("wan2.1-t2v-14b", "Wan-AI/Wan2.1-T2V-14B-Diffusers", 40, 40,
                           13824, 351_394_304, 14_288_491_584,
                           notes="40 heads x 128; 14.3B parameters in all. The image-to-"
                                 "video 2.1 models (image_dim, added_kv_proj_dim) are "
                                 "refused: their cross-attention takes CLIP image tokens."),
    "wan2.2-ti2v-5b": _wan("wan2.2-ti2v-5b", "Wan-AI/Wan2.2-TI2V-5B-Diffusers", 24, 30,
                           14336, 163_656_704, 4_999_787_712, channels=48,
                           notes="24 heads x 128, the Wan2.2 VAE's 48 latent channels; "
                                 "5.0B parameters. Its pipeline gives every token the same "
                                 "timestep for text-to-video, which a batch-one timestep "
                                 "projection reproduces exactly."),
    "wan2.2-t2v-a14b": _wan("wan2.2-t2v-a14b", "Wan-AI/Wan2.2-T2V-A14B-Diffusers", 40, 40,
                            13824, 351_394_304, 14_288_491_584,
                            notes="two 14.3B experts of the 2.1-14B architecture: "
                                  "transformer/ (high noise, used by the pipeline for "
                                  "timesteps >= 875) and transformer_2/ (low noise, below "
                                  "875; pass --weights .../transformer_2). The I2V-A14B "
                                  "model (in_channels 36) has the same blocks."),
}
