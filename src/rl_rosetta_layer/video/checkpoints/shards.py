"""Which safetensors file holds each key of a model folder, and reading keys into a module.

:class:`Checkpoint` reads a sharded checkpoint's index (or a single file's header) and then
only the keys asked for, from only the files that hold them (``safetensors.safe_open``,
with ``pread`` into fresh memory where the installed safetensors offers it).
:func:`read_into` loads such keys into a module built on the meta device (strict, assign).
Pickled checkpoints are never opened.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import CorruptFileError, MissingInputError

#: Weight files, in order of preference: diffusers, then transformers names (index before
#: single file), then variants (``.fp16.`` ...) in name order.
INDEX_NAMES = ("diffusion_pytorch_model.safetensors.index.json", "model.safetensors.index.json")
SINGLE_NAMES = ("diffusion_pytorch_model.safetensors", "model.safetensors")
SHARD = re.compile(r".*-\d{5}-of-\d{5}\.safetensors$")

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
            return cls(folder, {k: path for k in header_keys(path)}, f"single file {name}")
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
                        tensor = _narrowed(path, f, key, dtype)
                        if tensor is None:
                            tensor = f.get_tensor(key)
                            if dtype is not None and tensor.is_floating_point():
                                tensor = tensor.to(dtype)
                        out[key] = tensor if device is None else tensor.to(device)
            except SafetensorError as err:
                raise CorruptFileError(f"cannot read {path}: {err}") from err
        return out

    def files_for(self, keys: list[str]) -> list[str]:
        return sorted({self.files[k].name for k in keys})


#: Bytes of a stored tensor read at a time when it is cast to a narrower dtype.
CAST_CHUNK_BYTES = 4 * 2 ** 20


def _narrowed(path: Path, f, key: str, dtype):
    """Float32 tensor ``key`` of the safetensors file ``path`` (open as ``f``) cast to the
    narrower floating ``dtype`` (bfloat16, float16), or None for any other case.

    The stored bytes are read ``CAST_CHUNK_BYTES`` at a time into one reused buffer and
    cast into the new tensor, so no float32 copy of the whole tensor ever exists beside its
    cast copy: loading a block in bfloat16 from a float32 checkpoint then peaks near the
    block's bfloat16 bytes plus one chunk, not plus its largest tensor in float32 (a
    CogVideoX feed-forward weight is 59 MB). The offsets come from the file's own header
    (8 bytes of length, then JSON: ``dtype``, ``shape``, ``data_offsets`` after it)."""
    import torch

    if dtype is None or not dtype.is_floating_point or dtype.itemsize >= 4:
        return None
    rows = f.get_slice(key)
    if rows.get_dtype() != "F32":
        return None
    shape = tuple(rows.get_shape())
    with open(path, "rb") as fh:
        size = int(np.frombuffer(fh.read(8), "<u8")[0])
        header = json.loads(fh.read(size))
        begin, end = header[key]["data_offsets"]
        count = (end - begin) // 4
        if count != math.prod(shape):
            raise CorruptFileError(f"{path}: {key} holds {count} values, its shape {shape} "
                                   f"needs {math.prod(shape)}")
        out = torch.empty(count, dtype=dtype)
        buf = np.empty(min(count, CAST_CHUNK_BYTES // 4), "<f4")
        fh.seek(8 + size + begin)
        for start in range(0, count, len(buf)):
            n = min(len(buf), count - start)
            got = fh.readinto(memoryview(buf[:n]).cast("B"))
            if got != 4 * n:
                raise CorruptFileError(f"{path} is cut short inside {key}")
            out[start:start + n] = torch.from_numpy(buf[:n])
    return out.view(shape)


def _safe_open(safe_open, path: Path):
    """safe_open reading with pread(2) into fresh memory where supported (no mapping of
    the shard stays in the process), else the default memory map."""
    try:
        return safe_open(str(path), framework="pt", device="cpu", backend="pread")
    except TypeError:          # safetensors < 0.8 has no backend argument
        return safe_open(str(path), framework="pt", device="cpu")


def header_keys(path: Path) -> list[str]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return list(f.keys())
    except SafetensorError as err:
        raise CorruptFileError(f"{path} is not a safetensors file: {err}") from err


def read_into(module, mapping: dict[str, str], ckpt: Checkpoint, what: str, *, dtype,
               device, keep_fp32: tuple[str, ...] = ()) -> None:
    """Read the keys of ``mapping`` and load them into ``module`` (strict, assign); keys
    whose name inside ``module`` has a dotted component in ``keep_fp32`` are read in at
    least float32."""
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
    kept = [k for k, inner in mapping.items() if any(p in inner.split(".") for p in keep_fp32)]
    tensors = ckpt.read([k for k in mapping if k not in set(kept)], dtype=dtype, device=device)
    if kept:
        import torch

        wide = dtype if dtype is None or dtype.itemsize >= 4 else torch.float32
        tensors.update(ckpt.read(kept, dtype=wide, device=device))
    state = {}
    for key, inner in mapping.items():
        tensor = tensors.pop(key)
        if tuple(tensor.shape) != tuple(expected[inner].shape):
            raise CorruptFileError(f"{ckpt.folder}: {key!r} has shape {tuple(tensor.shape)}, "
                                   f"config.json implies {tuple(expected[inner].shape)}")
        state[inner] = tensor
    module.load_state_dict(state, strict=True, assign=True)
