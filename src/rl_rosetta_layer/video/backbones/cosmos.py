"""NVIDIA Cosmos 1.0, Predict2 and Predict2.5 (diffusers' ``CosmosTransformer3DModel``):
published specs (pure Python, no torch)."""

from __future__ import annotations

from .spec import BackboneSpec, block_range

_COSMOS_COND = ("one text token of zeros (text_embed_dim), through crossattn_proj where the "
                "model has one; time_embed(t) of batch one (temb and embedded timestep), with "
                "t the model's own noise parameter for --timestep (see docs); rotary of the "
                "(F, h, w) grid from the model's rope at the pipeline's fps")
_COSMOS_2 = (("in_channels", 17), ("extra_pos_embed_type", None))
def _cosmos(name: str, repo: str, variant: str, heads: int, layers: int, params: int,
            total: int, config: tuple, constants: tuple, notes: str) -> BackboneSpec:
    learned = variant == "1.0"
    return BackboneSpec(
        name=name, family="cosmos", library="diffusers", class_name="CosmosTransformer3DModel",
        model_type=None, width=heads * 128, heads=heads,
        blocks=block_range("transformer_blocks", layers),
        block_params=(("transformer_blocks", params),),
        positions="cosmos-rope+learned" if learned else "cosmos-rope",
        conditioning=_COSMOS_COND + ("; the learned positions learnable_pos_embed of the grid, "
                                     "which every block adds to its input" if learned else ""),
        repo=repo, subfolder="transformer", variant=variant, constants=constants,
        total_params=total, notes=notes,
        published_config=(("num_attention_heads", heads), ("num_layers", layers)) + config)



#: Module paths of the blocks of this family.
PATTERNS = (r"transformer_blocks\.(\d+)",)

SPECS: dict[str, BackboneSpec] = {
    "cosmos-1.0-7b": _cosmos(
        "cosmos-1.0-7b", "nvidia/Cosmos-1.0-Diffusion-7B-Text2World", "1.0", 32, 28,
        255_853_056, 7_236_192_256, (), (("fps", 30), ("noise", "edm")),
        "32 heads x 128; 7.24B parameters. EDM model: --timestep T is noise level "
        "sigma = t/(1-t), t = T/1000 (clamped to 0.002-80), embedded as 0.25 ln(sigma)."),
    "cosmos-1.0-14b": _cosmos(
        "cosmos-1.0-14b", "nvidia/Cosmos-1.0-Diffusion-14B-Text2World", "1.0", 40, 36,
        393_216_512, 14_267_149_312, (("rope_scale", (2.0, 2.0, 2.0)),),
        (("fps", 30), ("noise", "edm")), "40 heads x 128; 14.3B parameters; EDM as 7B."),
    "cosmos-predict2-2b": _cosmos(
        "cosmos-predict2-2b", "nvidia/Cosmos-Predict2-2B-Video2World", "2", 16, 28,
        69_206_528, 1_956_413_440, _COSMOS_2 + (("rope_scale", (1.0, 3.0, 3.0)),),
        (("fps", 16), ("noise", "rf")),
        "16 heads x 128; 1.96B parameters. Rectified flow: --timestep T is t = T/1000."),
    "cosmos-predict2-14b": _cosmos(
        "cosmos-predict2-14b", "nvidia/Cosmos-Predict2-14B-Video2World", "2", 40, 36,
        393_216_512, 14_265_285_632, _COSMOS_2 + (("rope_scale", (20 / 24, 2.0, 2.0)),),
        (("fps", 16), ("noise", "rf")), "40 heads x 128; 14.3B parameters; as 2B."),
    "cosmos-predict2.5-2b": _cosmos(
        "cosmos-predict2.5-2b", "nvidia/Cosmos-Predict2.5-2B", "2.5", 16, 28, 69_206_528,
        2_059_174_912, _COSMOS_2 + (("rope_scale", (1.0, 3.0, 3.0)),
                                    ("use_crossattn_projection", True),
                                    ("crossattn_proj_in_channels", 100352)),
        (("fps", None), ("noise", "rf")),
        "16 heads x 128; 2.06B parameters with the 102.8M crossattn_proj (read for the "
        "text token). Diffusers weights: revision diffusers/base/post-trained. Its "
        "pipeline passes no fps (rotary without frame-rate scaling)."),
}
