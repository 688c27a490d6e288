"""Video backbones by name, their candidate blocks, and layer names ``BACKBONE:BLOCK[:random]``.

Besides a block and its random twin, a layer name can ask for two controls: the model's
blocks 0..BLOCK as one frozen stack (``BACKBONE:BLOCK:prefix``, the model's own
intermediate representation) and no block at all (``BACKBONE:bypass``: the same token
adapters around an identity, the positive control).

Pure Python (no torch at import time): the numpy path may parse layer names and list
candidate blocks without the ``video`` extra. Loading a block is :mod:`.loader`'s job.

A block name is the module path inside the model class built from ``config.json``
(``transformer_blocks.14`` in diffusers' ``CogVideoXTransformer3DModel``,
``encoder.layer.3`` in transformers' ``VideoMAEModel``). The published candidate lists and
sizes below come from the released config.json files (parameter counts from building each
published config on the meta device); a checkpoint's own config.json decides which blocks
it really has. Wan, LTX-Video, Cosmos and V-JEPA 2 are defined in
:mod:`.recent_backbones` and merged into :data:`BACKBONES` here.

>>> tuple(parse_layer_name("cogvideox-2b:transformer_blocks.14"))
('cogvideox-2b', 'transformer_blocks.14', '')
>>> compact_blocks(candidate_blocks("hunyuanvideo"))
'transformer_blocks.0-19, single_transformer_blocks.0-39'
>>> compact_blocks(candidate_blocks("wan2.1-t2v-14b"))
'blocks.0-39'
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NamedTuple

from ..errors import ConfigError, CorruptFileError, MissingInputError, UnknownLayerError
from .recent_backbones import (
    RECENT_BACKBONES,
    RECENT_BLOCK_PATTERNS,
    RECENT_FAMILIES,
    check_recent_model,
    recent_blocks_from_config,
)
from .spec import BackboneSpec, block_range

FAMILIES = ("cogvideox", "hunyuanvideo", "videomae", *RECENT_FAMILIES)
#: Where the project's own small model lives (written by its pretraining, diffusers layout).
TINY_VIDEO_WEIGHTS = Path(__file__).resolve().parent / "weights" / "tiny-video"
#: Suffix of a layer name that asks for the random-initialised twin of the block.
RANDOM_SUFFIX = "random"
#: Suffix of a layer name that asks for the model's blocks 0..BLOCK as one frozen stack.
PREFIX_SUFFIX = "prefix"
#: The block name of the bypass control: the same adapters, no block.
BYPASS = "bypass"


_COG_TEXT = ("no text tokens (encoder_hidden_states of shape (B, 0, width)); timestep "
             "embedding time_embedding(time_proj(t)) of batch one")
_COG_COMMON = (("activation_fn", "gelu-approximate"), ("attention_bias", True),
               ("attention_head_dim", 64), ("in_channels", 16), ("max_text_seq_length", 226),
               ("out_channels", 16), ("patch_size", 2), ("text_embed_dim", 4096),
               ("time_embed_dim", 512))


_range = block_range

BACKBONES: dict[str, BackboneSpec] = {
    "cogvideox-2b": BackboneSpec(
        name="cogvideox-2b", family="cogvideox", library="diffusers",
        class_name="CogVideoXTransformer3DModel", model_type=None, width=1920, heads=30,
        blocks=_range("transformer_blocks", 30),
        block_params=(("transformer_blocks", 56_081_536),), positions="sincos",
        conditioning=_COG_TEXT + "; 3-D sin-cos positions added at the patch embedding "
                     "(pos_init)",
        repo="THUDM/CogVideoX-2b", subfolder="transformer",
        published_config=_COG_COMMON + (("num_attention_heads", 30), ("num_layers", 30)),
        notes="30 heads x 64, no rotary embedding; 1.69B parameters in all."),
    "cogvideox-5b": BackboneSpec(
        name="cogvideox-5b", family="cogvideox", library="diffusers",
        class_name="CogVideoXTransformer3DModel", model_type=None, width=3072, heads=48,
        blocks=_range("transformer_blocks", 42),
        block_params=(("transformer_blocks", 132_197_632),), positions="rope",
        conditioning=_COG_TEXT + "; 3-D rotary embedding over the token grid (crop grid of "
                     "the sample size, as the pipeline computes it)",
        repo="THUDM/CogVideoX-5b", subfolder="transformer",
        published_config=_COG_COMMON + (("num_attention_heads", 48), ("num_layers", 42),
                                        ("use_rotary_positional_embeddings", True)),
        notes="48 heads x 64; 5.57B parameters in all."),
    "cogvideox1.5-5b": BackboneSpec(
        name="cogvideox1.5-5b", family="cogvideox", library="diffusers",
        class_name="CogVideoXTransformer3DModel", model_type=None, width=3072, heads=48,
        blocks=_range("transformer_blocks", 42),
        block_params=(("transformer_blocks", 132_197_632),), positions="rope-slice",
        conditioning=_COG_TEXT + "; 3-D rotary embedding, 'slice' grid (h and w at most "
                     "sample_height/2 and sample_width/2)",
        repo="THUDM/CogVideoX1.5-5B", subfolder="transformer",
        published_config=_COG_COMMON + (
            ("num_attention_heads", 48), ("num_layers", 42), ("patch_bias", False),
            ("patch_size_t", 2), ("sample_frames", 81), ("sample_height", 300),
            ("sample_width", 300), ("use_rotary_positional_embeddings", True)),
        notes="48 heads x 64, patches of 2 latent frames (F counts token frames); "
              "5.57B parameters in all."),
    "hunyuanvideo": BackboneSpec(
        name="hunyuanvideo", family="hunyuanvideo", library="diffusers",
        class_name="HunyuanVideoTransformer3DModel", model_type=None, width=3072, heads=24,
        blocks=_range("transformer_blocks", 20) + _range("single_transformer_blocks", 40),
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
    "videomae-base": BackboneSpec(
        name="videomae-base", family="videomae", library="transformers",
        class_name="VideoMAEModel", model_type="videomae", width=768, heads=12,
        blocks=_range("encoder.layer", 12), block_params=(("encoder.layer", 7_087_104),),
        positions="sincos",
        conditioning="none (positions are added in the embeddings, before the first layer)",
        repo="MCG-NJU/videomae-base",
        published_config=(("hidden_size", 768), ("num_hidden_layers", 12),
                          ("num_attention_heads", 12), ("intermediate_size", 3072)),
        notes="12 heads x 64; checkpoints store attention q_bias/v_bias (renamed on load) "
              "and, for pre-training and classification models, a 'videomae.' prefix."),
    "tiny-video": BackboneSpec(
        name="tiny-video", family="cogvideox", library="diffusers",
        class_name="CogVideoXTransformer3DModel", model_type=None, width=None, heads=None,
        blocks=(), block_params=(), positions="sincos",
        conditioning=_COG_TEXT + "; its own patch embedding (embed_init) and sin-cos "
                     "positions (pos_init) when its config uses them",
        default_weights=TINY_VIDEO_WEIGHTS,
        notes="The project's own small CogVideoX-architecture model, pretrained on "
              "procedural sprite videos; sizes and blocks come from its config.json."),
    **RECENT_BACKBONES,
}

#: Module paths of the blocks each family offers (a block name must match one).
BLOCK_PATTERNS = {
    "cogvideox": (r"transformer_blocks\.(\d+)",),
    "hunyuanvideo": (r"transformer_blocks\.(\d+)", r"single_transformer_blocks\.(\d+)"),
    "videomae": (r"encoder\.layer\.(\d+)",),
    **RECENT_BLOCK_PATTERNS,
}


def backbone_spec(name: str) -> BackboneSpec:
    """The spec of backbone ``name``; UnknownLayerError listing the known names otherwise."""
    if not isinstance(name, str) or name not in BACKBONES:
        raise UnknownLayerError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")
    return BACKBONES[name]


class LayerName(NamedTuple):
    """A parsed video layer name: ``backbone``, ``block`` (or ``bypass``) and ``variant``
    ('' for the pretrained block, 'random' for its twin, 'prefix' for blocks 0..block)."""

    backbone: str
    block: str
    variant: str = ""

    @property
    def random(self) -> bool:
        return self.variant == RANDOM_SUFFIX


def parse_layer_name(text: str) -> LayerName:
    """``BACKBONE:BLOCK``, ``BACKBONE:BLOCK:random``, ``BACKBONE:BLOCK:prefix`` or
    ``BACKBONE:bypass`` -> :class:`LayerName`.

    Checks the backbone and the block's form (``transformer_blocks.N`` ...); whether the
    index exists is checked against the checkpoint's config when the block is loaded.

    >>> parse_layer_name("tiny-video:transformer_blocks.1:random")
    LayerName(backbone='tiny-video', block='transformer_blocks.1', variant='random')
    >>> parse_layer_name("tiny-video:bypass").block
    'bypass'
    """
    if not isinstance(text, str):
        raise UnknownLayerError(f"a video layer name must be a string 'BACKBONE:BLOCK', "
                                f"got {text!r}")
    parts = text.strip().split(":")
    forms = (f"BACKBONE:BLOCK, BACKBONE:BLOCK:{RANDOM_SUFFIX}, BACKBONE:BLOCK:{PREFIX_SUFFIX} "
             f"or BACKBONE:{BYPASS}")
    if len(parts) not in (2, 3) or not all(parts):
        raise UnknownLayerError(f"bad video layer name {text!r}; expected {forms}, e.g. "
                                f"cogvideox-2b:transformer_blocks.14")
    if len(parts) == 3 and parts[2] not in (RANDOM_SUFFIX, PREFIX_SUFFIX):
        raise UnknownLayerError(f"bad suffix {parts[2]!r} in video layer name {text!r}; the "
                                f"suffixes accepted are :{RANDOM_SUFFIX} and :{PREFIX_SUFFIX}")
    spec = backbone_spec(parts[0])
    if parts[1] == BYPASS:
        if len(parts) == 3:
            raise UnknownLayerError(f"bad video layer name {text!r}: {BYPASS} takes no "
                                    f"suffix; expected {forms}")
        return LayerName(spec.name, BYPASS)
    patterns = BLOCK_PATTERNS[spec.family]
    if not any(re.fullmatch(p, parts[1]) for p in patterns):
        block_forms = ", ".join(p.replace(r"\.", ".").replace(r"(\d+)", "N") for p in patterns)
        raise UnknownLayerError(f"unknown block {parts[1]!r} of {spec.name}; its blocks are "
                                f"named {block_forms} (or {BYPASS}: no block)")
    return LayerName(spec.name, parts[1], parts[2] if len(parts) == 3 else "")


def prefix_blocks(block: str, blocks: list[str]) -> list[str]:
    """The blocks of a ``:prefix`` layer: every block of ``blocks`` (model order) up to and
    including ``block``."""
    return blocks[:blocks.index(block) + 1]


def blocks_from_config(spec: BackboneSpec, config: dict) -> list[str]:
    """The blocks a model of ``spec`` built from ``config`` (config.json as a dict) has."""
    def count(key: str, default: int) -> int:
        value = config.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CorruptFileError(f"config.json of {spec.name}: {key} must be a "
                                   f"non-negative integer, got {value!r}")
        return value

    if spec.family in RECENT_FAMILIES:
        return recent_blocks_from_config(spec, config)
    if spec.family == "cogvideox":
        return list(_range("transformer_blocks", count("num_layers", 30)))
    if spec.family == "hunyuanvideo":
        return list(_range("transformer_blocks", count("num_layers", 20))
                    + _range("single_transformer_blocks", count("num_single_layers", 40)))
    return list(_range("encoder.layer", count("num_hidden_layers", 12)))


def compact_blocks(blocks: list[str] | tuple[str, ...]) -> str:
    """``['a.0', 'a.1', 'a.2', 'b.0']`` -> ``'a.0-2, b.0'`` (runs of consecutive indices).

    >>> compact_blocks(["transformer_blocks.0", "transformer_blocks.1", "transformer_blocks.3"])
    'transformer_blocks.0-1, transformer_blocks.3'
    """
    parts: list[str] = []
    run: tuple[str, int, int] | None = None
    for block in blocks:
        prefix, _, index = block.rpartition(".")
        i = int(index)
        if run is not None and run[0] == prefix and run[2] == i - 1:
            run = (prefix, run[1], i)
            continue
        if run is not None:
            parts.append(_run_text(run))
        run = (prefix, i, i)
    if run is not None:
        parts.append(_run_text(run))
    return ", ".join(parts) if parts else "(none)"


def _run_text(run: tuple[str, int, int]) -> str:
    prefix, a, b = run
    return f"{prefix}.{a}" if a == b else f"{prefix}.{a}-{b}"


def read_config(folder: Path) -> dict:
    """config.json of a model folder as a dict (MissingInputError / CorruptFileError)."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise MissingInputError(f"no config.json in {folder}; a model folder holds config.json "
                                f"and its safetensors weights")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CorruptFileError(f"{path} is not valid JSON ({err})") from err
    if not isinstance(config, dict):
        raise CorruptFileError(f"{path} must hold a JSON object, got {type(config).__name__}")
    return config


def check_model_type(spec: BackboneSpec, config: dict, where: Path) -> None:
    """ConfigError unless ``config`` (config.json in ``where``) is a model of ``spec``."""
    if spec.library == "diffusers":
        found = config.get("_class_name")
        if found != spec.class_name:
            raise ConfigError(f"{where}/config.json is a {found!r} model (_class_name), not "
                              f"{spec.class_name} as backbone {spec.name} needs")
    else:
        found = config.get("model_type")
        if found != spec.model_type:
            raise ConfigError(f"{where}/config.json has model_type {found!r}, not "
                              f"{spec.model_type!r} as backbone {spec.name} needs")
    if spec.family == "cogvideox":
        rotary = bool(config.get("use_rotary_positional_embeddings", False))
        sliced = config.get("patch_size_t") is not None
        expected = {"cogvideox-2b": (False, False), "cogvideox-5b": (True, False),
                    "cogvideox1.5-5b": (True, True)}.get(spec.name)
        if expected is not None and (rotary, sliced) != expected:
            kind = {(False, False): "cogvideox-2b", (True, False): "cogvideox-5b",
                    (True, True): "cogvideox1.5-5b"}.get((rotary, sliced), "another variant")
            raise ConfigError(f"{where}/config.json (use_rotary_positional_embeddings="
                              f"{rotary}, patch_size_t={config.get('patch_size_t')}) is a "
                              f"{kind}-style model, not {spec.name}; use --backbone {kind}")
    if spec.family in RECENT_FAMILIES:
        check_recent_model(spec, config, where)
    if spec.family == "hunyuanvideo" and config.get("image_condition_type") == "token_replace":
        raise ConfigError(f"{where}/config.json is HunyuanVideo image-to-video "
                          f"(image_condition_type='token_replace'), whose blocks take other "
                          f"inputs; accepted: the text-to-video model")


def candidate_blocks(name: str, weights: str | Path | None = None) -> list[str]:
    """Candidate blocks of backbone ``name``.

    Without ``weights``: the published config's blocks (tiny-video: its own checkpoint's
    config.json). With ``weights`` (a path :func:`.folders.resolve_weights` accepts): the
    blocks that checkpoint's config.json defines.
    """
    spec = backbone_spec(name)
    if weights is None and spec.blocks:
        return list(spec.blocks)
    from .folders import resolve_weights  # pure path logic: no torch import

    folder = resolve_weights(weights if weights is not None else default_weights(spec))
    config = read_config(folder)
    check_model_type(spec, config, folder)
    return blocks_from_config(spec, config)


def default_weights(spec: BackboneSpec) -> Path:
    """The weights of ``spec`` when no ``--weights`` is given (only tiny-video has some)."""
    if spec.default_weights is None:
        raise MissingInputError(f"backbone {spec.name} needs --weights PATH: download "
                                f"{spec.repo} (see docs/video-backbones.md)")
    if not spec.default_weights.exists():
        raise MissingInputError(f"{spec.name} weights not found at {spec.default_weights} "
                                f"(not trained yet?); pass --weights PATH")
    return spec.default_weights
