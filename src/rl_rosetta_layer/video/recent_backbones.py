"""Today's leading open video models as named backbones: Wan 2.1 / 2.2, LTX-Video, NVIDIA
Cosmos (diffusers) and V-JEPA 2 (transformers). Pure Python (no torch at import time).

Each entry's sizes come from the released config.json (as diffusers' and transformers'
conversion scripts write them) and its parameter counts from building that config on the
meta device (``tests/video/test_recent_backbones.py`` rebuilds every one). Block names are
module paths of the library's model class:

- Wan (``WanTransformer3DModel``): ``blocks.N`` (``WanTransformerBlock``);
- LTX-Video (``LTXVideoTransformer3DModel``): ``transformer_blocks.N``;
- Cosmos (``CosmosTransformer3DModel``): ``transformer_blocks.N``;
- V-JEPA 2 (``VJEPA2Model``): ``encoder.layer.N`` (``vjepa2.encoder.layer.N`` in the
  classification checkpoints, handled on load).

Which config entries each block's fixed conditioning needs, and which embeddings it reads,
is decided here from config.json alone (:func:`conditioning_prefixes`); building it is
:mod:`.recent_conditioning`'s job.

>>> compact = ", ".join(name for name in RECENT_BACKBONES if name.startswith("wan"))
>>> compact
'wan2.1-t2v-1.3b, wan2.1-t2v-14b, wan2.2-ti2v-5b, wan2.2-t2v-a14b'
"""

from __future__ import annotations

from ..errors import ConfigError, CorruptFileError
from .spec import BackboneSpec, block_range

RECENT_FAMILIES = ("wan", "ltx", "cosmos", "vjepa2")

#: Module paths of the blocks each family offers.
RECENT_BLOCK_PATTERNS = {
    "wan": (r"blocks\.(\d+)",),
    "ltx": (r"transformer_blocks\.(\d+)",),
    "cosmos": (r"transformer_blocks\.(\d+)",),
    "vjepa2": (r"encoder\.layer\.(\d+)",),
}
#: (config key of the number of blocks, class default, block list prefix) per family.
_LAYERS = {"wan": ("num_layers", 40, "blocks"), "ltx": ("num_layers", 28, "transformer_blocks"),
           "cosmos": ("num_layers", 28, "transformer_blocks"),
           "vjepa2": ("num_hidden_layers", 24, "encoder.layer")}
#: Class defaults of (num_attention_heads, attention_head_dim) for the diffusers families.
_HEADS = {"wan": (40, 128), "ltx": (32, 64), "cosmos": (32, 128)}

_ONE_TEXT = "one text token: {proj} of a zero text-encoder vector (the empty prompt's padding)"
_WAN_COND = (_ONE_TEXT.format(proj="condition_embedder.text_embedder") + "; timestep "
             "projection condition_embedder(t) of batch one, (1, 6, width); rotary (cos, sin) "
             "of the (F, h, w) token grid from the model's WanRotaryPosEmbed")
_LTX_COND = (_ONE_TEXT.format(proj="caption_projection") + "; time_embed(t) of batch one, "
             "(1, 1, 6 x width); rotary of the (F, h, w) grid from the model's rope with the "
             "pipeline's rope_interpolation_scale (8/25, 32, 32)")
_COSMOS_COND = ("one text token of zeros (text_embed_dim), through crossattn_proj where the "
                "model has one; time_embed(t) of batch one (temb and embedded timestep), with "
                "t the model's own noise parameter for --timestep (see docs); rotary of the "
                "(F, h, w) grid from the model's rope at the pipeline's fps")
_VJEPA2_COND = ("none but positions: the rotary position ids of the (F, h, w) token grid "
                "placed in the top-left corner of the model's crop_size/patch_size grid")
_WAN_COMMON = (("attention_head_dim", 128), ("cross_attn_norm", True), ("eps", 1e-6),
               ("freq_dim", 256), ("patch_size", (1, 2, 2)),
               ("qk_norm", "rms_norm_across_heads"), ("text_dim", 4096))
_COSMOS_2 = (("in_channels", 17), ("extra_pos_embed_type", None))
_VJEPA2_G = (("hidden_size", 1408), ("num_attention_heads", 22), ("num_hidden_layers", 40),
             ("mlp_ratio", 48 / 11))


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


def _vjepa2(name: str, repo: str, width: int, heads: int, layers: int, params: int,
            total: int, config: tuple) -> BackboneSpec:
    return BackboneSpec(
        name=name, family="vjepa2", library="transformers", class_name="VJEPA2Model",
        model_type="vjepa2", width=width, heads=heads,
        blocks=block_range("encoder.layer", layers),
        block_params=(("encoder.layer", params),), positions="vjepa2-rope",
        conditioning=_VJEPA2_COND, repo=repo, total_params=total, published_config=config,
        notes=f"{heads} heads x {width // heads}; the encoder's layers (the predictor's "
              f"predictor.layer.N are not candidates); classification checkpoints store "
              f"them under 'vjepa2.'.")


RECENT_BACKBONES: dict[str, BackboneSpec] = {
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
    "vjepa2-vitl": _vjepa2("vjepa2-vitl", "facebook/vjepa2-vitl-fpc64-256", 1024, 16, 24,
                           12_596_224, 325_971_328, ()),
    "vjepa2-vith": _vjepa2("vjepa2-vith", "facebook/vjepa2-vith-fpc64-256", 1280, 16, 32,
                           19_677_440, 653_930_880,
                           (("hidden_size", 1280), ("num_hidden_layers", 32))),
    "vjepa2-vitg": _vjepa2("vjepa2-vitg", "facebook/vjepa2-vitg-fpc64-256", 1408, 22, 40,
                           25_250_176, 1_034_555_264, _VJEPA2_G),
    "vjepa2-vitg-384": _vjepa2("vjepa2-vitg-384", "facebook/vjepa2-vitg-fpc64-384", 1408, 22,
                               40, 25_250_176, 1_034_555_264,
                               _VJEPA2_G + (("crop_size", 384),)),
}


def recent_blocks_from_config(spec: BackboneSpec, config: dict) -> list[str]:
    """The blocks a model of ``spec`` (a family of :data:`RECENT_FAMILIES`) built from
    ``config`` has."""
    key, default, prefix = _LAYERS[spec.family]
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CorruptFileError(f"config.json of {spec.name}: {key} must be a non-negative "
                               f"integer, got {value!r}")
    return list(block_range(prefix, value))


def cosmos_variant(config: dict) -> str:
    """``1.0`` (learned positions in every block), ``2.5`` (a text projection) or ``2``.

    >>> cosmos_variant({"extra_pos_embed_type": "learnable"})
    '1.0'
    >>> cosmos_variant({"extra_pos_embed_type": None, "use_crossattn_projection": True})
    '2.5'
    """
    if config.get("extra_pos_embed_type", "learnable") == "learnable":
        return "1.0"
    return "2.5" if config.get("use_crossattn_projection", False) else "2"


def check_recent_model(spec: BackboneSpec, config: dict, where) -> None:
    """ConfigError when config.json (in ``where``) is a variant whose blocks take inputs
    this backbone's conditioning does not build, or another variant than ``spec`` names."""
    if spec.family == "wan" and (config.get("image_dim") or config.get("added_kv_proj_dim")):
        raise ConfigError(f"{where}/config.json is a Wan 2.1 image-to-video model (image_dim="
                          f"{config.get('image_dim')}, added_kv_proj_dim="
                          f"{config.get('added_kv_proj_dim')}), whose cross-attention takes "
                          f"CLIP image tokens; accepted: the text-to-video models and Wan 2.2")
    if spec.family != "cosmos":
        return
    if config.get("img_context_dim_in"):
        raise ConfigError(f"{where}/config.json is a Cosmos model with image context "
                          f"(img_context_dim_in={config.get('img_context_dim_in')}), whose "
                          f"blocks take image tokens; accepted: Cosmos 1.0, Predict2, "
                          f"Predict2.5")
    found = cosmos_variant(config)
    if spec.variant is not None and found != spec.variant:
        names = [s.name for s in RECENT_BACKBONES.values()
                 if s.family == "cosmos" and s.variant == found]
        raise ConfigError(f"{where}/config.json (extra_pos_embed_type="
                          f"{config.get('extra_pos_embed_type')!r}, use_crossattn_projection="
                          f"{config.get('use_crossattn_projection', False)}) is a Cosmos "
                          f"{found} model, not {spec.name} (Cosmos {spec.variant}); use "
                          f"--backbone {' or '.join(names)}")


def conditioning_prefixes(spec: BackboneSpec, config: dict) -> list[str]:
    """Module paths (ending with a dot) of the embeddings a block's conditioning reads, or
    single keys (no final dot): Cosmos Predict2.5's text projection meets a zero vector, so
    of its 1024 x 100352 Linear only the bias is read."""
    if spec.family == "wan":
        return ["condition_embedder.time_embedder.", "condition_embedder.time_proj.",
                "condition_embedder.text_embedder."]
    if spec.family == "ltx":
        return ["time_embed.", "caption_projection."]
    if spec.family == "cosmos":
        prefixes = ["time_embed."]
        if cosmos_variant(config) == "1.0":
            prefixes.append("learnable_pos_embed.")
        if config.get("use_crossattn_projection", False):
            prefixes.append("crossattn_proj.0.bias")
        return prefixes
    return []


def recent_width(spec: BackboneSpec, config: dict) -> int:
    """Token width of a model of ``spec`` built from ``config``."""
    if spec.family == "vjepa2":
        return int(config.get("hidden_size", 1024))
    heads, head_dim = _HEADS[spec.family]
    return int(config.get("num_attention_heads", heads)) * int(
        config.get("attention_head_dim", head_dim))
