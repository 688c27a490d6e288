"""Load ONE block of a video backbone from (sharded) safetensors, without the model.

Recipe (docs/video-backbones.md): find the folder holding config.json and the
safetensors (:func:`resolve_weights`), build the model class from config.json on the meta
device (no memory), take the block with ``get_submodule``, read only the block's keys
(prefix ending with a dot) plus the small embeddings its conditioning needs, from just the
shards that hold them (``safetensors.safe_open``, read into fresh memory with ``pread``
where the installed safetensors offers it), ``load_state_dict(strict=True, assign=True)``,
cast, move, freeze. Pickled checkpoints are never opened and no remote code runs.

Accepted ``--weights PATH`` layouts:

- a diffusers model folder: config.json + ``diffusion_pytorch_model.safetensors`` (single
  file), or shards + ``diffusion_pytorch_model.safetensors.index.json``, or a variant
  (``diffusion_pytorch_model.fp16.safetensors``, ``...safetensors.index.fp16.json``);
- a diffusers pipeline folder whose ``transformer/`` subfolder is such a model folder;
- a Hugging Face cache repository folder ``models--ORG--NAME`` (the snapshot named by
  ``refs/main``, or its only snapshot), or a ``snapshots/<hash>`` folder inside it;
- for VideoMAE a transformers folder: config.json + ``model.safetensors`` (or sharded with
  ``model.safetensors.index.json``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checks import is_int
from ..errors import ConfigError, CorruptFileError, MissingInputError, UnknownLayerError
from .backbones import (
    BYPASS,
    PREFIX_SUFFIX,
    BackboneSpec,
    LayerName,
    backbone_spec,
    blocks_from_config,
    check_model_type,
    compact_blocks,
    default_weights,
    parse_layer_name,
    prefix_blocks,
    read_config,
)
from .folders import resolve_weights

#: Weight files, in order of preference: diffusers, then transformers names (index before
#: single file), then variants (``.fp16.`` ...) in name order.
INDEX_NAMES = ("diffusion_pytorch_model.safetensors.index.json", "model.safetensors.index.json")
SINGLE_NAMES = ("diffusion_pytorch_model.safetensors", "model.safetensors")
SHARD = re.compile(r".*-\d{5}-of-\d{5}\.safetensors$")
#: VideoMAE checkpoints store these names; the layer module expects the ones on the right.
VIDEOMAE_RENAMES = {"attention.attention.q_bias": "attention.attention.query.bias",
                    "attention.attention.v_bias": "attention.attention.value.bias"}
VIDEOMAE_PREFIX = "videomae."


# ----------------------------------------------------------------------------- the folder


# ------------------------------------------------------------------------- the checkpoint


@dataclass(frozen=True)
class Checkpoint:
    """Which safetensors file holds each key of a model folder (nothing loaded yet)."""

    folder: Path
    files: dict[str, Path]
    """checkpoint key -> the file that holds it."""
    layout: str
    """'single file NAME' or 'sharded (N files, INDEX)'."""

    @classmethod
    def open(cls, folder: Path) -> Checkpoint:
        """Read the index (or the single file's header) of the weights in ``folder``."""
        folder = Path(folder)
        variant_indexes = sorted(f.name for f in folder.glob("*.safetensors.index*.json")
                                 if f.name not in INDEX_NAMES)
        variant_singles = sorted(f.name for f in folder.glob("*.safetensors")
                                 if f.name not in SINGLE_NAMES and not SHARD.match(f.name))
        order = [(INDEX_NAMES[0], True), (SINGLE_NAMES[0], False), (INDEX_NAMES[1], True),
                 (SINGLE_NAMES[1], False), *((n, True) for n in variant_indexes),
                 *((n, False) for n in variant_singles)]
        for name, is_index in order:
            path = folder / name
            if not path.is_file():
                continue
            if is_index:
                return cls._from_index(folder, path)
            return cls(folder, {k: path for k in _header_keys(path)}, f"single file {name}")
        raise MissingInputError(f"no safetensors index or single weights file in {folder}; "
                                f"found {sorted(f.name for f in folder.iterdir())}")

    @classmethod
    def _from_index(cls, folder: Path, index: Path) -> Checkpoint:
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            files = {str(k): folder / str(v) for k, v in weight_map.items()}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
                AttributeError) as err:
            raise CorruptFileError(f"{index} is not a safetensors index (a JSON object with "
                                   f"a weight_map): {err}") from err
        shards = len(set(files.values()))
        return cls(folder, files, f"sharded ({shards} files, {index.name})")

    def keys_under(self, prefix: str) -> list[str]:
        """Checkpoint keys that start with ``prefix`` (which should end with a dot)."""
        return sorted(k for k in self.files if k.startswith(prefix))

    def read(self, keys: list[str], *, dtype=None, device=None) -> dict:
        """{key: tensor} for ``keys``, opening only the files that hold them; floating
        tensors cast to ``dtype``; all moved to ``device`` one tensor at a time."""
        from safetensors import SafetensorError, safe_open

        by_file: dict[Path, list[str]] = {}
        for key in keys:
            by_file.setdefault(self.files[key], []).append(key)
        out = {}
        for path, file_keys in by_file.items():
            if not path.is_file():
                raise MissingInputError(f"shard {path.name} listed in the index of "
                                        f"{self.folder} does not exist")
            try:
                with _safe_open(safe_open, path) as f:
                    for key in file_keys:
                        tensor = f.get_tensor(key)
                        if dtype is not None and tensor.is_floating_point():
                            tensor = tensor.to(dtype)
                        out[key] = tensor if device is None else tensor.to(device)
            except SafetensorError as err:
                raise CorruptFileError(f"cannot read {path}: {err}") from err
        return out

    def files_for(self, keys: list[str]) -> list[str]:
        return sorted({self.files[k].name for k in keys})


def _safe_open(safe_open, path: Path):
    """safe_open reading with pread(2) into fresh memory where supported (no mapping of
    the shard stays in the process), else the default memory map."""
    try:
        return safe_open(str(path), framework="pt", device="cpu", backend="pread")
    except TypeError:          # safetensors < 0.8 has no backend argument
        return safe_open(str(path), framework="pt", device="cpu")


def _header_keys(path: Path) -> list[str]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return list(f.keys())
    except SafetensorError as err:
        raise CorruptFileError(f"{path} is not a safetensors file: {err}") from err


# ---------------------------------------------------------------------------- the model


def build_meta_model(spec: BackboneSpec, config: dict, folder: Path):
    """The model class of ``spec`` built from ``config`` on the meta device (no memory)."""
    import torch

    try:
        with torch.device("meta"):
            if spec.library == "diffusers":
                import diffusers

                return getattr(diffusers, spec.class_name).from_config(config)
            import transformers

            cfg_class = getattr(transformers, spec.class_name.replace("Model", "Config"))
            cfg = cfg_class.from_dict({k: v for k, v in config.items()
                                       if k not in ("architectures", "auto_map")})
            # VideoMAE's embeddings build their position table in pure Python (6 s for the
            # base config); no layer depends on it, so build it for a single patch.
            cfg.image_size, cfg.num_frames = cfg.patch_size, cfg.tubelet_size
            return getattr(transformers, spec.class_name)(cfg)
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        raise CorruptFileError(f"{folder}/config.json does not build a {spec.class_name}: "
                               f"{err}") from err


def _key_map(spec: BackboneSpec, block: str, ckpt: Checkpoint) -> tuple[str, dict[str, str]]:
    """(checkpoint prefix, {checkpoint key: key inside the block}) for ``block``."""
    base = ""
    if spec.family == "videomae" and any(k.startswith(VIDEOMAE_PREFIX + "encoder.")
                                         for k in ckpt.files):
        base = VIDEOMAE_PREFIX
    prefix = f"{base}{block}."
    mapping = {}
    for key in ckpt.keys_under(prefix):
        inner = key[len(prefix):]
        if spec.family == "videomae":
            inner = VIDEOMAE_RENAMES.get(inner, inner)
        mapping[key] = inner
    return prefix, mapping


def _read_into(module, mapping: dict[str, str], ckpt: Checkpoint, what: str, *, dtype,
               device) -> None:
    """Read the keys of ``mapping`` and load them into ``module`` (strict, assign)."""
    expected = module.state_dict()
    got = set(mapping.values())
    missing = [k for k in expected if k not in got]
    if missing:
        prefix = what + "."
        raise CorruptFileError(f"{ckpt.folder} lacks key {prefix + missing[0]!r}"
                               f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}"
                               f" of {what}; found {len(got)} of its {len(expected)} keys")
    extra = sorted(k for k, v in mapping.items() if v not in expected)
    if extra:
        raise CorruptFileError(f"{ckpt.folder} has key {extra[0]!r}, which {what} "
                               f"({type(module).__name__}) does not have")
    tensors = ckpt.read(list(mapping), dtype=dtype, device=device)
    state = {}
    for key, inner in mapping.items():
        tensor = tensors.pop(key)
        if tuple(tensor.shape) != tuple(expected[inner].shape):
            raise CorruptFileError(f"{ckpt.folder}: {key!r} has shape {tuple(tensor.shape)}, "
                                   f"config.json implies {tuple(expected[inner].shape)}")
        state[inner] = tensor
    module.load_state_dict(state, strict=True, assign=True)


def conditioning_prefixes(spec: BackboneSpec, config: dict) -> list[str]:
    """Module paths of the embeddings the conditioning of ``spec`` reads (with a dot)."""
    if spec.family == "cogvideox":
        prefixes = ["time_embedding."]
        if config.get("ofs_embed_dim"):
            prefixes.append("ofs_embedding.")
        if spec.name == "tiny-video":
            prefixes.append("patch_embed.proj.")
        return prefixes
    if spec.family == "hunyuanvideo":
        return ["time_text_embed."]
    return []


# --------------------------------------------------------------------------- the checks


def check_grid(grid: object) -> tuple[int, int, int]:
    ok = isinstance(grid, (tuple, list)) and len(grid) == 3 and all(
        is_int(g) and g >= 1 for g in grid)
    if not ok:
        raise ConfigError(f"grid must be (frames, rows, columns) of tokens, three positive "
                          f"integers, got {grid!r}")
    return tuple(int(g) for g in grid)


def check_timestep(timestep: object) -> int:
    if not is_int(timestep) or not 0 <= timestep <= 999:
        raise ConfigError(f"timestep must be an integer in 0-999, got {timestep!r}")
    return int(timestep)


def _open_layer(layer_name: str, weights) -> tuple[LayerName, BackboneSpec, Path, dict,
                                                   list[str]]:
    """(parsed name, backbone, weights folder, its config, its blocks) of ``layer_name``,
    checked: the folder holds that backbone and the block is one of its blocks."""
    name = parse_layer_name(layer_name)
    spec = backbone_spec(name.backbone)
    folder = resolve_weights(default_weights(spec) if weights is None else weights)
    config = read_config(folder)
    check_model_type(spec, config, folder)
    valid = blocks_from_config(spec, config)
    if name.block != BYPASS and name.block not in valid:
        raise UnknownLayerError(f"{spec.name} has no block {name.block!r} in {folder}; "
                                f"valid: {compact_blocks(valid)}")
    return name, spec, folder, config, valid


def check_weights(layer_name: str, weights=None) -> list[Path]:
    """The safetensors files that loading ``layer_name`` reads, each checked to exist and
    to hold a complete header and data (a missing or truncated shard fails here, before any
    worker starts, not in every worker). Reads headers only: no tensor, no torch model."""
    name, spec, folder, config, valid = _open_layer(layer_name, weights)
    ckpt = Checkpoint.open(folder)
    keys = [k for prefix in conditioning_prefixes(spec, config) for k in ckpt.keys_under(prefix)]
    if name.block != BYPASS and not name.random:
        blocks = prefix_blocks(name.block, valid) if name.variant == PREFIX_SUFFIX \
            else [name.block]
        keys += [k for b in blocks for k in _key_map(spec, b, ckpt)[1]]
    files = sorted({ckpt.files[k] for k in keys})
    for path in files:
        if not path.is_file():
            raise MissingInputError(f"shard {path.name} listed in the index of {folder} "
                                    f"does not exist")
        _header_keys(path)
    return files


# ---------------------------------------------------------------------------- the entry


def load_token_block(layer_name: str, *, grid: tuple[int, int, int], weights=None,
                     timestep: int = 500, dtype="float32", device="cpu",
                     twin_rng: np.random.Generator | None = None):
    """The layer ``layer_name`` as a frozen token module over a token grid ``grid`` =
    (F, h, w): a :class:`~.conditioning.TokenBlock` for ``BACKBONE:BLOCK[:random]``, a
    :class:`~.conditioning.TokenStack` of blocks 0..BLOCK for ``BACKBONE:BLOCK:prefix``
    and an empty stack (the identity) for ``BACKBONE:bypass``.

    ``weights``: a path :func:`resolve_weights` accepts (default: the backbone's own, for
    tiny-video). ``timestep`` (0-999) picks the timestep embedding. ``dtype``: 'float32' or
    'bfloat16'; ``device``: 'cpu', 'cuda', 'cuda:N' or 'auto'. A ``:random`` twin needs
    ``twin_rng``: its block weights are drawn from it (:func:`.twins.random_twin`) and none
    of the block's keys are read; the conditioning embeddings stay pretrained. Every layer
    of a backbone, the bypass included, gets the same embeddings (``embed_init``,
    ``pos_init``) for its input adapter.
    """
    name = parse_layer_name(layer_name)
    grid = check_grid(grid)
    timestep = check_timestep(timestep)
    if name.random and not isinstance(twin_rng, np.random.Generator):
        raise ConfigError(f"{layer_name!r} is a random twin: pass twin_rng, a "
                          f"numpy.random.Generator, got {type(twin_rng).__name__}")
    import torch

    from .conditioning import (
        TokenBlock,
        TokenStack,
        cogvideox_conditioning,
        hunyuan_conditioning,
        videomae_conditioning,
    )
    from .devices import resolve_device, resolve_dtype
    from .twins import random_twin

    torch_dtype, torch_device = resolve_dtype(dtype), resolve_device(device)
    name, spec, folder, config, valid = _open_layer(layer_name, weights)
    ckpt = Checkpoint.open(folder)
    model = build_meta_model(spec, config, folder)
    keys_read: list[str] = []
    for prefix in conditioning_prefixes(spec, config):
        sub = model.get_submodule(prefix.rstrip("."))
        mapping = {k: k[len(prefix):] for k in ckpt.keys_under(prefix)}
        _read_into(sub, mapping, ckpt, prefix.rstrip("."), dtype=torch.float32, device="cpu")
        keys_read += list(mapping)
    width = _width(spec, config)
    if spec.family == "cogvideox":
        cond = cogvideox_conditioning(model, config, grid, timestep, width)
    elif spec.family == "hunyuanvideo":
        cond = hunyuan_conditioning(model, config, grid, timestep, width)
    else:
        cond = videomae_conditioning()
    info = {"backbone": spec.name, "block": name.block, "random_twin": name.random,
            "weights": str(folder), "layout": ckpt.layout, "device": str(torch_device)}
    embed_init = _embed_init(spec, model)
    if name.block == BYPASS:
        names = []
    elif name.variant == PREFIX_SUFFIX:
        names = prefix_blocks(name.block, valid)
    else:
        names = [name.block]
    blocks = []
    for block_name in names:
        block = model.get_submodule(block_name)
        block_keys: list[str] = []
        if name.random:
            random_twin(block, twin_rng)
        else:
            prefix, mapping = _key_map(spec, block_name, ckpt)
            _read_into(block, mapping, ckpt, prefix.rstrip("."), dtype=torch_dtype,
                       device=torch_device)
            block_keys = list(mapping)
        meta_left = [n for n, t in (*block.named_parameters(), *block.named_buffers())
                     if t.device.type == "meta"]
        if meta_left:
            raise CorruptFileError(f"{folder}: block {block_name} still has unloaded tensors "
                                   f"{meta_left[:3]} after reading its keys")
        kind = _block_kind(spec, block_name)
        blocks.append(TokenBlock(
            layer_name if len(names) == 1 and name.variant != PREFIX_SUFFIX
            else f"{spec.name}:{block_name}", kind, block, cond, grid=grid, width=width,
            dtype=torch_dtype, device=torch_device, keys_read=block_keys + keys_read,
            files_read=ckpt.files_for(block_keys + keys_read), embed_init=embed_init,
            info={**info, "block": block_name}))
    if len(blocks) == 1 and name.variant != PREFIX_SUFFIX:
        return blocks[0]
    return TokenStack(layer_name, blocks, cond, grid=grid, width=width, dtype=torch_dtype,
                      embed_init=embed_init, keys_read=keys_read,
                      files_read=ckpt.files_for(keys_read), info=info)


def _block_kind(spec: BackboneSpec, block_name: str) -> str:
    if spec.family == "hunyuanvideo":
        return "hunyuan-single" if block_name.startswith("single_") else "hunyuan-dual"
    return spec.family


def _width(spec: BackboneSpec, config: dict) -> int:
    if spec.family == "videomae":
        return int(config.get("hidden_size", 768))
    heads = config.get("num_attention_heads", 30 if spec.family == "cogvideox" else 24)
    head_dim = config.get("attention_head_dim", 64 if spec.family == "cogvideox" else 128)
    return int(heads) * int(head_dim)


def _embed_init(spec: BackboneSpec, model):
    """tiny-video's own patch embedding as numpy float32 (weight (width, C, p, p), bias)."""
    if spec.name != "tiny-video":
        return None
    proj = model.patch_embed.proj
    if proj.weight.dim() != 4 or proj.bias is None:   # CogVideoX 1.5 patches are a Linear
        return None
    return (proj.weight.detach().float().numpy().copy(),
            proj.bias.detach().float().numpy().copy())
