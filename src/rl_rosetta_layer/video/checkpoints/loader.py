"""Load ONE block of a video backbone from (sharded) safetensors, without the model.

Recipe (docs/video-backbones.md): find the folder holding config.json and the
safetensors (:func:`resolve_weights`), build the model class from config.json on the meta
device (no memory), take the block with ``get_submodule``, read only the block's keys
(prefix ending with a dot) plus the small embeddings its conditioning needs, from just the
shards that hold them (``safetensors.safe_open``, read into fresh memory with ``pread``
where the installed safetensors offers it), ``load_state_dict(strict=True, assign=True)``,
cast, move, freeze (the file reading is :mod:`.shards`'s). Pickled checkpoints are
never opened and no remote code runs.

Accepted ``--weights PATH`` layouts:

- a diffusers model folder: config.json + ``diffusion_pytorch_model.safetensors`` (single
  file), or shards + ``diffusion_pytorch_model.safetensors.index.json``, or a variant
  (``diffusion_pytorch_model.fp16.safetensors``, ``...safetensors.index.fp16.json``);
- a diffusers pipeline folder whose ``transformer/`` subfolder is such a model folder;
- a Hugging Face cache repository folder ``models--ORG--NAME`` (the snapshot named by
  ``refs/main``, or its only snapshot), or a ``snapshots/<hash>`` folder inside it;
- for VideoMAE and V-JEPA 2 a transformers folder: config.json + ``model.safetensors`` (or
  sharded ``model-0000i-of-0000n.safetensors`` with ``model.safetensors.index.json``).

Wan, LTX-Video, Cosmos and V-JEPA 2 blocks load the same way; which embeddings their
conditioning reads and how it is built is in :mod:`..backbones.catalog` and
:mod:`.conditioning`. Parameters that the library keeps in float32 when it loads a
model in a lower precision (its ``_keep_in_fp32_modules``: Wan's ``scale_shift_table`` and
norms) are read and kept in float32 here too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...checks import is_int
from ...errors import ConfigError, CorruptFileError, MissingInputError, UnknownLayerError
from ..backbones.catalog import (
    BYPASS,
    PREFIX_SUFFIX,
    RANDOM_SUFFIX,
    SHUFFLED_SUFFIX,
    BackboneSpec,
    LayerName,
    backbone_spec,
    blocks_from_config,
    check_model_type,
    compact_blocks,
    conditioning_prefixes,
    default_weights,
    parse_layer_name,
    prefix_blocks,
    read_config,
    token_width,
)
from .folders import resolve_weights
from .shards import Checkpoint, header_keys, read_into

#: VideoMAE checkpoints store these names; the layer module expects the ones on the right.
VIDEOMAE_RENAMES = {"attention.attention.q_bias": "attention.attention.query.bias",
                    "attention.attention.v_bias": "attention.attention.value.bias"}
VIDEOMAE_PREFIX = "videomae."
#: Key prefix of the base model in transformers checkpoints of a model with a head.
BASE_PREFIXES = {"videomae": VIDEOMAE_PREFIX, "vjepa2": "vjepa2."}


# ---------------------------------------------------------------------------- the model


def library_class(spec: BackboneSpec, class_name: str | None = None):
    """``class_name`` (default: the model class of ``spec``) from its library; ConfigError
    naming the installed version when the library or the class is missing."""
    import importlib

    name = class_name or spec.class_name
    try:
        library = importlib.import_module(spec.library)
    except ImportError as err:
        raise ConfigError(f"backbone {spec.name} needs {spec.library}.{name}, and "
                          f"{spec.library} is not installed: pip install -e '.[video]' "
                          f"({err})") from err
    found = getattr(library, name, None)
    if found is None:
        raise ConfigError(f"backbone {spec.name} needs {spec.library}.{name}, which the "
                          f"installed {spec.library} {getattr(library, '__version__', '?')} "
                          f"lacks; upgrade it: pip install -U {spec.library}")
    return found


def build_meta_model(spec: BackboneSpec, config: dict, folder: Path):
    """The model class of ``spec`` built from ``config`` on the meta device (no memory)."""
    import torch

    model_class = library_class(spec)
    config_class = None if spec.library == "diffusers" else \
        library_class(spec, spec.class_name.replace("Model", "Config"))
    try:
        with torch.device("meta"):
            if config_class is None:
                return model_class.from_config(config)
            cfg = config_class.from_dict({k: v for k, v in config.items()
                                          if k not in ("architectures", "auto_map")})
            if spec.family == "videomae":
                # VideoMAE's embeddings build their position table in pure Python (6 s for
                # the base config); no layer depends on it, so build it for a single patch.
                cfg.image_size, cfg.num_frames = cfg.patch_size, cfg.tubelet_size
            return model_class(cfg)
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        raise CorruptFileError(f"{folder}/config.json does not build a {spec.class_name}: "
                               f"{err}") from err


def _key_map(spec: BackboneSpec, block: str, ckpt: Checkpoint) -> tuple[str, dict[str, str]]:
    """(checkpoint prefix, {checkpoint key: key inside the block}) for ``block``."""
    base = BASE_PREFIXES.get(spec.family, "")
    if not any(k.startswith(base + "encoder.") for k in ckpt.files):
        base = ""
    prefix = f"{base}{block}."
    mapping = {}
    for key in ckpt.keys_under(prefix):
        inner = key[len(prefix):]
        if spec.family == "videomae":
            inner = VIDEOMAE_RENAMES.get(inner, inner)
        mapping[key] = inner
    return prefix, mapping


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
        header_keys(path)
    return files


# ---------------------------------------------------------------------------- the entry


def load_token_block(layer_name: str, *, grid: tuple[int, int, int], weights=None,
                     timestep: int = 500, dtype="float32", device="cpu",
                     twin_rng: np.random.Generator | None = None):
    """The layer ``layer_name`` as a frozen token module over a token grid ``grid`` =
    (F, h, w): a :class:`~.token_block.TokenBlock` for ``BACKBONE:BLOCK[:random]``, a
    :class:`~.token_block.TokenStack` of blocks 0..BLOCK for ``BACKBONE:BLOCK:prefix``
    and an empty stack (the identity) for ``BACKBONE:bypass``.

    ``weights``: a path :func:`resolve_weights` accepts (default: the backbone's own, for
    tiny-video). ``timestep`` (0-999) picks the timestep embedding. ``dtype``: 'float32' or
    'bfloat16'; ``device``: 'cpu', 'cuda', 'cuda:N' or 'auto'. A twin needs ``twin_rng``:
    a ``:random`` twin's block weights are drawn from it (:func:`.twins.random_twin`) and
    none of the block's keys are read; a ``:shuffled`` twin's are read and then permuted
    with it (:func:`.twins.shuffled_twin`); the conditioning embeddings stay pretrained. Every layer
    of a backbone, the bypass included, gets the same embeddings (``embed_init``,
    ``pos_init``) for its input adapter.
    """
    name = parse_layer_name(layer_name)
    grid = check_grid(grid)
    timestep = check_timestep(timestep)
    if name.twin and not isinstance(twin_rng, np.random.Generator):
        raise ConfigError(f"{layer_name!r} is a {name.variant} twin: pass twin_rng, a "
                          f"numpy.random.Generator, got {type(twin_rng).__name__}")
    from ..candidates.devices import resolve_device, resolve_dtype
    from .conditioning import build_conditioning
    from .token_block import TokenBlock, TokenStack

    torch_dtype, torch_device = resolve_dtype(dtype), resolve_device(device)
    name, spec, folder, config, valid = _open_layer(layer_name, weights)
    ckpt = Checkpoint.open(folder)
    model = build_meta_model(spec, config, folder)
    keys_read = _read_conditioning(spec, config, model, ckpt)
    width = token_width(spec, config)
    cond = build_conditioning(spec, model, config, grid, timestep, width)
    keep_fp32 = tuple(getattr(type(model), "_keep_in_fp32_modules", None) or ())
    info = {"backbone": spec.name, "block": name.block, "random_twin": name.random,
            **({"shuffled_twin": True} if name.shuffled else {}),
            "weights": str(folder), "layout": ckpt.layout, "device": str(torch_device)}
    embed_init = _embed_init(spec, model)
    for prefix in conditioning_prefixes(spec, config):   # used: free them before the blocks
        model.get_submodule(_owner(prefix)).to("meta")
    if name.block == BYPASS:
        names = []
    elif name.variant == PREFIX_SUFFIX:
        names = prefix_blocks(name.block, valid)
    else:
        names = [name.block]
    blocks = []
    for block_name in names:
        block, block_keys = _load_block(spec, model, block_name, ckpt,
                                        twin_rng if name.twin else None, name.variant,
                                        dtype=torch_dtype, device=torch_device,
                                        keep_fp32=keep_fp32)
        blocks.append(TokenBlock(
            layer_name if len(names) == 1 and name.variant != PREFIX_SUFFIX
            else f"{spec.name}:{block_name}", _block_kind(spec, block_name), block, cond,
            grid=grid, width=width, dtype=torch_dtype, device=torch_device,
            keys_read=block_keys + keys_read, files_read=ckpt.files_for(block_keys + keys_read),
            embed_init=embed_init, info={**info, "block": block_name}, keep_fp32=keep_fp32))
    if len(blocks) == 1 and name.variant != PREFIX_SUFFIX:
        return blocks[0]
    return TokenStack(layer_name, blocks, cond, grid=grid, width=width, dtype=torch_dtype,
                      embed_init=embed_init, keys_read=keys_read,
                      files_read=ckpt.files_for(keys_read), info=info)


def _read_conditioning(spec: BackboneSpec, config: dict, model, ckpt: Checkpoint) -> list[str]:
    """Load the embeddings the conditioning reads (stored dtype, CPU, computing in float32:
    :mod:`.embeddings`); the keys read."""
    from .embeddings import compute_in_float32

    keep_fp32 = tuple(getattr(type(model), "_keep_in_fp32_modules", None) or ())
    keys_read: list[str] = []
    for prefix in conditioning_prefixes(spec, config):
        if not prefix.endswith("."):            # one tensor, read alone
            _read_tensor(model, prefix, ckpt)
            keys_read.append(prefix)
            continue
        name = prefix.rstrip(".")
        sub = model.get_submodule(name)
        mapping = {k: k[len(prefix):] for k in ckpt.keys_under(prefix)}
        read_into(sub, mapping, ckpt, name, dtype=None, device="cpu")
        compute_in_float32(sub, name, keep_fp32)
        keys_read += list(mapping)
    return keys_read


def _read_tensor(model, key: str, ckpt: Checkpoint) -> None:
    """Read checkpoint key ``key`` (float32) into the model's parameter of that name."""
    import torch

    if key not in ckpt.files:
        raise CorruptFileError(f"{ckpt.folder} lacks key {key!r}, which the conditioning reads")
    path, _, attr = key.rpartition(".")
    owner = model.get_submodule(path)
    tensor = ckpt.read([key], dtype=torch.float32)[key]
    if tuple(tensor.shape) != tuple(getattr(owner, attr).shape):
        raise CorruptFileError(f"{ckpt.folder}: {key!r} has shape {tuple(tensor.shape)}, "
                               f"config.json implies {tuple(getattr(owner, attr).shape)}")
    setattr(owner, attr, torch.nn.Parameter(tensor, requires_grad=False))


def _owner(prefix: str) -> str:
    """The module a conditioning prefix (``a.b.``) or single key (``a.b.bias``) is in."""
    return prefix.rstrip(".") if prefix.endswith(".") else prefix.rpartition(".")[0]


def _load_block(spec: BackboneSpec, model, block_name: str, ckpt: Checkpoint, twin_rng,
                variant: str = "", *, dtype, device, keep_fp32: tuple[str, ...]):
    """(block module with its weights, checkpoint keys read): read from ``ckpt``, or drawn
    from ``twin_rng`` for a random twin (no key read), or read and then permuted with
    ``twin_rng`` for a shuffled twin."""
    from .twins import random_twin, shuffled_twin

    block = model.get_submodule(block_name)
    block_keys: list[str] = []
    if variant == RANDOM_SUFFIX:
        random_twin(block, twin_rng)
    else:
        prefix, mapping = _key_map(spec, block_name, ckpt)
        read_into(block, mapping, ckpt, prefix.rstrip("."), dtype=dtype, device=device,
                   keep_fp32=keep_fp32)
        block_keys = list(mapping)
    meta_left = [n for n, t in (*block.named_parameters(), *block.named_buffers())
                 if t.device.type == "meta"]
    if meta_left:
        raise CorruptFileError(f"{ckpt.folder}: block {block_name} still has unloaded "
                               f"tensors {meta_left[:3]} after reading its keys")
    if variant == SHUFFLED_SUFFIX:
        shuffled_twin(block, twin_rng)
    return block, block_keys


def _block_kind(spec: BackboneSpec, block_name: str) -> str:
    if spec.family == "hunyuanvideo":
        return "hunyuan-single" if block_name.startswith("single_") else "hunyuan-dual"
    return spec.family


def _embed_init(spec: BackboneSpec, model):
    """tiny-video's own patch embedding as numpy float32 (weight (width, C, p, p), bias)."""
    if spec.name != "tiny-video":
        return None
    proj = model.patch_embed.proj
    if proj.weight.dim() != 4 or proj.bias is None:   # CogVideoX 1.5 patches are a Linear
        return None
    return (proj.weight.detach().float().numpy().copy(),
            proj.bias.detach().float().numpy().copy())
