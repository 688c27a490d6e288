"""Video backbones by name, their candidate blocks, and layer names ``BACKBONE:BLOCK[:random]``.

Besides a block and its random twin, a layer name can ask for two controls: the model's
blocks 0..BLOCK as one frozen stack (``BACKBONE:BLOCK:prefix``, the model's own
intermediate representation) and no block at all (``BACKBONE:bypass``: the same token
adapters around an identity, the positive control).

Pure Python (no torch at import time): the numpy path may parse layer names and list
candidate blocks without the ``video`` extra. Loading a block is
:mod:`..checkpoints.loader`'s job.

A block name is the module path inside the model class built from ``config.json``
(``transformer_blocks.14`` in diffusers' ``CogVideoXTransformer3DModel``,
``encoder.layer.3`` in transformers' ``VideoMAEModel``). Each family's published specs are
in its own module (:mod:`.cogvideox`, :mod:`.hunyuanvideo`, :mod:`.videomae`, :mod:`.wan`,
:mod:`.ltx`, :mod:`.cosmos`, :mod:`.vjepa2`, and the project's own :mod:`.tiny_video`;
sizes from the released config.json files, parameter counts from building each published
config on the meta device) and merged into
:data:`BACKBONES` here; a checkpoint's own config.json decides which blocks it really has,
and what its conditioning reads (:func:`conditioning_prefixes`).

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

from ...errors import ConfigError, CorruptFileError, MissingInputError, UnknownLayerError
from . import cogvideox, cosmos, hunyuanvideo, ltx, tiny_video, videomae, vjepa2, wan
from .spec import BackboneSpec, block_range

_FAMILY_MODULES = {"cogvideox": cogvideox, "hunyuanvideo": hunyuanvideo,
                   "videomae": videomae, "wan": wan, "ltx": ltx, "cosmos": cosmos,
                   "vjepa2": vjepa2}
FAMILIES = tuple(_FAMILY_MODULES)
#: Families whose block count, width and conditioning embeddings come from the tables
#: :data:`_LAYERS` and :data:`_HEADS` (and :func:`conditioning_prefixes`).
TABLE_FAMILIES = ("wan", "ltx", "cosmos", "vjepa2")
#: Suffix of a layer name that asks for the random-initialised twin of the block.
RANDOM_SUFFIX = "random"
#: Suffix of a layer name that asks for the shuffled twin: the pretrained block with each
#: weight tensor's entries permuted (the same values and scale, no learned structure).
SHUFFLED_SUFFIX = "shuffled"
#: Suffix of a layer name that asks for the model's blocks 0..BLOCK as one frozen stack.
PREFIX_SUFFIX = "prefix"
#: The block name of the bypass control: the same adapters, no block.
BYPASS = "bypass"
#: (config key of the number of blocks, class default, block list prefix) per family.
_LAYERS = {"wan": ("num_layers", 40, "blocks"), "ltx": ("num_layers", 28, "transformer_blocks"),
           "cosmos": ("num_layers", 28, "transformer_blocks"),
           "vjepa2": ("num_hidden_layers", 24, "encoder.layer")}
#: Class defaults of (num_attention_heads, attention_head_dim) for the diffusers families.
_HEADS = {"wan": (40, 128), "ltx": (32, 64), "cosmos": (32, 128)}

BACKBONES: dict[str, BackboneSpec] = {
    name: spec for module in (cogvideox, hunyuanvideo, videomae, tiny_video, wan, ltx, cosmos,
                              vjepa2)
    for name, spec in module.SPECS.items()}
#: Module paths of the blocks each family offers (a block name must match one).
BLOCK_PATTERNS = {family: module.PATTERNS for family, module in _FAMILY_MODULES.items()}

def backbone_spec(name: str) -> BackboneSpec:
    """The spec of backbone ``name``; UnknownLayerError listing the known names otherwise."""
    if not isinstance(name, str) or name not in BACKBONES:
        raise UnknownLayerError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")
    return BACKBONES[name]


class LayerName(NamedTuple):
    """A parsed video layer name: ``backbone``, ``block`` (or ``bypass``) and ``variant``
    ('' for the pretrained block, 'random' for its re-initialised twin, 'shuffled' for its
    shuffled twin, 'prefix' for blocks 0..block)."""

    backbone: str
    block: str
    variant: str = ""

    @property
    def random(self) -> bool:
        return self.variant == RANDOM_SUFFIX

    @property
    def shuffled(self) -> bool:
        return self.variant == SHUFFLED_SUFFIX

    @property
    def twin(self) -> bool:
        """A twin (re-initialised or shuffled): its weights come from a generator."""
        return self.variant in (RANDOM_SUFFIX, SHUFFLED_SUFFIX)


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
    forms = (f"BACKBONE:BLOCK, BACKBONE:BLOCK:{RANDOM_SUFFIX}, "
             f"BACKBONE:BLOCK:{SHUFFLED_SUFFIX}, BACKBONE:BLOCK:{PREFIX_SUFFIX} or "
             f"BACKBONE:{BYPASS}")
    if len(parts) not in (2, 3) or not all(parts):
        raise UnknownLayerError(f"bad video layer name {text!r}; expected {forms}, e.g. "
                                f"cogvideox-2b:transformer_blocks.14")
    if len(parts) == 3 and parts[2] not in (RANDOM_SUFFIX, SHUFFLED_SUFFIX, PREFIX_SUFFIX):
        raise UnknownLayerError(f"bad suffix {parts[2]!r} in video layer name {text!r}; the "
                                f"suffixes accepted are :{RANDOM_SUFFIX}, :{SHUFFLED_SUFFIX} "
                                f"and :{PREFIX_SUFFIX}")
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

    if spec.family in TABLE_FAMILIES:
        key, default, prefix = _LAYERS[spec.family]
        return list(block_range(prefix, count(key, default)))
    if spec.family == "cogvideox":
        return list(block_range("transformer_blocks", count("num_layers", 30)))
    if spec.family == "hunyuanvideo":
        return list(block_range("transformer_blocks", count("num_layers", 20))
                    + block_range("single_transformer_blocks", count("num_single_layers", 40)))
    return list(block_range("encoder.layer", count("num_hidden_layers", 12)))


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
    if spec.family in ("wan", "cosmos"):
        _check_variant(spec, config, where)
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
    from ..checkpoints.folders import resolve_weights  # pure path logic: no torch import

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


def _check_variant(spec: BackboneSpec, config: dict, where) -> None:
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
        names = [s.name for s in BACKBONES.values()
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
    if spec.family == "cogvideox":
        prefixes = ["time_embedding."]
        if config.get("ofs_embed_dim"):
            prefixes.append("ofs_embedding.")
        if spec.name == "tiny-video":
            prefixes.append("patch_embed.proj.")
        return prefixes
    if spec.family == "hunyuanvideo":
        return ["time_text_embed."]
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


def token_width(spec: BackboneSpec, config: dict) -> int:
    """Token width of a model of ``spec`` built from ``config``."""
    if spec.family == "vjepa2":
        return int(config.get("hidden_size", 1024))
    if spec.family == "videomae":
        return int(config.get("hidden_size", 768))
    heads, head_dim = _HEADS.get(spec.family, (30, 64) if spec.family == "cogvideox"
                                 else (24, 128))
    return int(config.get("num_attention_heads", heads)) * int(
        config.get("attention_head_dim", head_dim))
