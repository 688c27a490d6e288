"""tiny-video, the project's own small model of CogVideoX's architecture
(:mod:`rl_rosetta_layer.video.tiny`): its spec, whose sizes and blocks come from its
checkpoint's config.json (pure Python, no torch)."""

from __future__ import annotations

from ..tiny import WEIGHTS
from .cogvideox import COG_TEXT
from .spec import BackboneSpec

SPECS: dict[str, BackboneSpec] = {
    "tiny-video": BackboneSpec(
        name="tiny-video", family="cogvideox", library="diffusers",
        class_name="CogVideoXTransformer3DModel", model_type=None, width=None, heads=None,
        blocks=(), block_params=(), positions="sincos",
        conditioning=COG_TEXT + "; its own patch embedding (embed_init) and sin-cos "
                     "positions (pos_init) when its config uses them",
        default_weights=WEIGHTS,
        notes="The project's own small CogVideoX-architecture model, pretrained on "
              "procedural sprite videos; sizes and blocks come from its config.json."),
}
