"""V-JEPA 2 (transformers' ``VJEPA2Model``): published specs of its encoders (pure
Python, no torch)."""

from __future__ import annotations

from .spec import BackboneSpec, block_range

_VJEPA2_COND = ("none but positions: the rotary position ids of the (F, h, w) token grid "
                "placed in the top-left corner of the model's crop_size/patch_size grid")
_VJEPA2_G = (("hidden_size", 1408), ("num_attention_heads", 22), ("num_hidden_layers", 40),
             ("mlp_ratio", 48 / 11))
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



#: Module paths of the blocks of this family.
PATTERNS = (r"encoder\.layer\.(\d+)",)

SPECS: dict[str, BackboneSpec] = {
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
