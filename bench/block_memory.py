"""Memory of loading one block from a large sharded checkpoint: RSS above the baseline
against the block's own bytes (target: at most 1.5x, whatever the model's size), for any
backbone; and a table of every backbone's block sizes.

    python -m bench block_memory          # or: python bench/block_memory.py [--layers 6]
    python bench/block_memory.py --backbone wan2.1-t2v-1.3b --layers 6
    python bench/block_memory.py --backbone vjepa2-vitl --layers 24
    python bench/block_memory.py --table  # parameters and bytes per block, every backbone
    python bench/block_memory.py --quick  # a few-MB checkpoint: checks the code path only

1. Writes a synthetic checkpoint of ``--backbone`` (default cogvideox-2b) in its library's
   sharded layout (diffusers: config.json, ``diffusion_pytorch_model-0000i-of-0000n
   .safetensors`` and ``diffusion_pytorch_model.safetensors.index.json``; transformers:
   ``model-0000i-of-0000n.safetensors`` and ``model.safetensors.index.json``), shards of
   at most ``--shard-mb``, into a temporary folder: the backbone's published config with
   ``--layers`` blocks, float32 by default. Keys and shapes come from the model class built
   on the meta device; each shard's tensors are drawn from a seeded numpy generator and
   written before the next shard is drawn, so the whole model never exists in memory.
2. In a fresh Python process (started before the checkpoint is written, so that its
   ru_maxrss does not inherit this process's peak): imports torch, the library's model
   class and the loader, then reads the baseline (VmRSS and VmHWM from /proc/self/status,
   ru_maxrss); calls ``load_token_block`` for the middle block; sums every parameter of
   the block (touching every page); reads the same numbers again.
3. Prints the block's bytes, the conditioning embeddings read (in float32, freed before the
   block is read), the increase (peak resident set during the load minus the resident set
   before it, the most pessimistic reading) and its ratio to the block's bytes, with the
   steady increase (VmRSS after minus before) beside it.

``--table`` builds every backbone's published config on the meta device and prints, per
kind of block, its parameters and bytes in float32 and bfloat16, and the parameters of the
embeddings its conditioning reads. The temporary checkpoint is deleted at the end, also on
error. Ends with ``BLOCK MEMORY: ...``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.common import print_machine, print_table  # noqa: E402
from rl_rosetta_layer.io import write_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.5
MB = 1024 ** 2
DEFAULT_BACKBONE = "cogvideox-2b"
#: Config entries that shrink each family to a few MB for --quick (widths stay consistent).
QUICK = {"cogvideox": {"num_attention_heads": 2, "text_embed_dim": 64, "time_embed_dim": 64},
         "hunyuanvideo": {"num_attention_heads": 2, "text_embed_dim": 64},
         "wan": {"num_attention_heads": 2, "text_dim": 64, "ffn_dim": 512},
         "ltx": {"num_attention_heads": 2, "cross_attention_dim": 128, "caption_channels": 64},
         "cosmos": {"num_attention_heads": 2, "text_embed_dim": 64},
         "videomae": {"hidden_size": 128, "num_attention_heads": 2, "intermediate_size": 256},
         "vjepa2": {"hidden_size": 128, "num_attention_heads": 2}}
#: The config key holding the number of blocks, per family.
LAYER_KEYS = {"videomae": "num_hidden_layers", "vjepa2": "num_hidden_layers"}


# ----------------------------------------------------------------------- the checkpoint


def checkpoint_config(spec, layers: int | None, quick: bool = False) -> dict:
    """config.json of a model of ``spec``: its published config, ``layers`` blocks."""
    config = {"_class_name": spec.class_name} if spec.library == "diffusers" \
        else {"model_type": spec.model_type}
    config.update(spec.published_config)
    if quick:
        config.update(QUICK.get(spec.family, {}))
        if spec.family == "hunyuanvideo":
            config["num_single_layers"] = 1
    if layers is not None:
        config[LAYER_KEYS.get(spec.family, "num_layers")] = layers
        if spec.family == "hunyuanvideo":
            config["num_single_layers"] = layers
    return json.loads(json.dumps(config))          # tuples as lists, as config.json has them


def checkpoint_shapes(spec, config: dict) -> dict[str, tuple[int, ...]]:
    """{key: shape} of the model's state dict, from the meta device."""
    from rl_rosetta_layer.video.checkpoints.loader import build_meta_model

    model = build_meta_model(spec, config, Path("."))
    return {k: tuple(t.shape) for k, t in model.state_dict().items()}


def _shard_names(spec, n: int) -> tuple[list[str], str]:
    stem = "diffusion_pytorch_model" if spec.library == "diffusers" else "model"
    return ([f"{stem}-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)],
            f"{stem}.safetensors.index.json")


def write_checkpoint(folder: Path, spec, config: dict, dtype: str, shard_bytes: int,
                     seed: int = 0) -> dict:
    """Write a sharded checkpoint of random weights in the real layout; its summary."""
    import torch
    from safetensors.torch import save_file

    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    itemsize = torch.tensor([], dtype=torch_dtype).element_size()
    shapes = checkpoint_shapes(spec, config)
    shards: list[list[str]] = [[]]
    size = 0
    for key, shape in shapes.items():
        nbytes = int(np.prod(shape)) * itemsize
        if shards[-1] and size + nbytes > shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(key)
        size += nbytes
    names, index = _shard_names(spec, len(shards))
    rng = np.random.default_rng(seed)
    weight_map, total = {}, 0
    for name, keys in zip(names, shards):
        tensors = {}
        for key in keys:
            values = rng.standard_normal(shapes[key], dtype=np.float32) * np.float32(0.02)
            tensors[key] = torch.from_numpy(values).to(torch_dtype)
            weight_map[key] = name
            total += values.size * itemsize
        tmp = folder / f".{name}.tmp"
        save_file(tensors, str(tmp))
        os.replace(tmp, folder / name)
        del tensors
    write_json(folder / index, {"metadata": {"total_size": total}, "weight_map": weight_map})
    write_json(folder / "config.json", config)
    files = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
    return {"params": sum(int(np.prod(s)) for s in shapes.values()), "bytes": files,
            "shards": len(shards)}


# ------------------------------------------------------------------ the measuring child


def memory() -> dict[str, int]:
    """Resident set now and its peak (bytes) from /proc/self/status, and ru_maxrss."""
    out = {"ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) * 1024
    return out


def measure(folder: str, layer: str, grid: tuple[int, int, int], dtype: str) -> dict:
    """Runs in a fresh process: baseline, one block loaded and touched, the same again."""
    import importlib

    import safetensors.torch  # noqa: F401  (imports are in the baseline, not the load)
    import torch

    from rl_rosetta_layer.video.backbones.catalog import (
        backbone_spec,
        conditioning_prefixes,
        parse_layer_name,
        read_config,
    )
    from rl_rosetta_layer.video.candidates import devices  # noqa: F401
    from rl_rosetta_layer.video.checkpoints import (  # noqa: F401
        conditioning,
        loader,
        token_block,
        twins,
    )

    spec = backbone_spec(parse_layer_name(layer).backbone)
    prefixes = tuple(conditioning_prefixes(spec, read_config(Path(folder))))
    getattr(importlib.import_module(spec.library), spec.class_name)
    torch.set_num_threads(1)
    before = memory()
    start = time.perf_counter()
    block = loader.load_token_block(layer, grid=grid, weights=folder, dtype=dtype)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        touched = float(sum(float(p.sum()) for p in block.parameters()))   # no copies
    after = memory()
    return {"before": before, "after": after, "block_bytes": block.block_bytes,
            "params": block.n_params, "keys": len(block.keys_read),
            "conditioning_keys": sum(k.startswith(prefixes) for k in block.keys_read),
            "files_read": block.files_read, "seconds": seconds, "checksum": touched}


def start_child() -> subprocess.Popen:
    """The measuring process, started while this one is still small: Linux keeps a
    process's ru_maxrss across exec, so a child started later would inherit this one's
    peak (the shard writing) as its own. It waits for its arguments on stdin."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)]
                                        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--measure"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def run_child(child: subprocess.Popen, folder: Path, layer: str, grid: tuple[int, int, int],
              dtype: str) -> dict:
    request = {"folder": str(folder), "layer": layer, "grid": list(grid), "dtype": dtype}
    out, err = child.communicate(json.dumps(request) + "\n")
    if child.returncode != 0:
        raise RuntimeError(f"measuring process failed (exit {child.returncode}):\n{err}")
    return json.loads(out.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ the table


def block_table() -> list[list[str]]:
    """Rows (backbone, blocks, params per block, MiB fp32, MiB bf16, conditioning params)
    of every backbone with a published config, from the meta device."""
    from rl_rosetta_layer.video.backbones.catalog import (
        BACKBONES,
        compact_blocks,
        conditioning_prefixes,
    )
    from rl_rosetta_layer.video.checkpoints.loader import build_meta_model

    rows = []
    for spec in BACKBONES.values():
        if not spec.blocks:
            continue
        config = checkpoint_config(spec, None)
        model = build_meta_model(spec, config, Path("."))
        cond = sum(p.numel() for prefix in conditioning_prefixes(spec, config)
                   for p in (model.get_submodule(prefix.rstrip(".")).parameters()
                             if prefix.endswith(".") else [model.get_parameter(prefix)]))
        for prefix, _ in spec.block_params:
            blocks = [b for b in spec.blocks if b.rpartition(".")[0] == prefix]
            n = sum(p.numel() for p in model.get_submodule(blocks[0]).parameters())
            rows.append([spec.name, compact_blocks(blocks), f"{n / 1e6:.1f}M",
                         f"{4 * n / MB:.0f}", f"{2 * n / MB:.0f}", f"{cond / 1e6:.1f}M"])
    return rows


# ------------------------------------------------------------------------------- main


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default=DEFAULT_BACKBONE,
                        help="the backbone whose published config is written")
    parser.add_argument("--layers", type=int, default=6, help="blocks in the checkpoint")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                        help="dtype stored in the checkpoint (and loaded, unless --load-dtype)")
    parser.add_argument("--load-dtype", choices=("float32", "bfloat16"), default=None,
                        help="dtype the block is loaded in (default: --dtype); float32 "
                             "stored and bfloat16 loaded measures the cast")
    parser.add_argument("--shard-mb", type=int, default=500, help="largest shard, MiB")
    parser.add_argument("--grid", default="2,8,8", help="token grid F,h,w of the block")
    parser.add_argument("--table", action="store_true",
                        help="only the table of every backbone's block sizes")
    parser.add_argument("--quick", action="store_true", help="a few-MB checkpoint (smoke test)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _measure_block(args: argparse.Namespace) -> tuple[dict, dict, dict, str, int]:
    """Write the checkpoint, measure its middle block in a fresh process, delete it."""
    from rl_rosetta_layer.video.backbones.catalog import backbone_spec, blocks_from_config

    spec = backbone_spec(args.backbone)
    grid = tuple(int(g) for g in args.grid.split(","))
    config = checkpoint_config(spec, 2 if args.quick else args.layers, quick=args.quick)
    blocks = blocks_from_config(spec, config)
    layer = f"{spec.name}:{blocks[len(blocks) // 2]}"
    shard_bytes = (1 if args.quick else args.shard_mb) * MB
    child = start_child()
    tmp = Path(tempfile.mkdtemp(prefix="rosetta-block-memory-"))
    try:
        checkpoint_shapes(spec, config)                 # imports torch and the library
        start = time.perf_counter()
        ckpt = write_checkpoint(tmp, spec, config, args.dtype, shard_bytes)
        ckpt["write_s"] = time.perf_counter() - start
        result = run_child(child, tmp, layer, grid, args.load_dtype or args.dtype)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return ckpt, result, config, layer, shard_bytes


def _report(args, ckpt: dict, result: dict, layer: str, shard_bytes: int) -> None:
    before, after = result["before"], result["after"]
    block = result["block_bytes"]
    peak_rise = after["VmHWM"] - before["VmRSS"]
    steady_rise = after["VmRSS"] - before["VmRSS"]
    maxrss_rise = after["ru_maxrss"] - before["VmRSS"]
    print(f"checkpoint: {args.backbone}, {len(result['files_read'])} of {ckpt['shards']} "
          f"shards read; {args.dtype}"
          f"{f' loaded as {args.load_dtype}' if args.load_dtype else ''}, "
          f"{ckpt['params'] / 1e6:.1f}M parameters, "
          f"{ckpt['bytes'] / 1e9:.2f} GB in shards of at most {shard_bytes // MB} MiB "
          f"(written in {ckpt['write_s']:.1f} s, deleted since)")
    print(f"block: {layer}, {result['params'] / 1e6:.1f}M parameters, {result['keys']} keys "
          f"read ({result['conditioning_keys']} of them conditioning embeddings), loaded in "
          f"{result['seconds']:.2f} s")
    print()
    print_table(["reading", "before (MiB)", "after (MiB)", "increase (MiB)", "x block bytes"],
                [["VmRSS (resident now)", f"{before['VmRSS'] / MB:.0f}",
                  f"{after['VmRSS'] / MB:.0f}", f"{steady_rise / MB:.0f}",
                  f"{steady_rise / block:.2f}"],
                 ["VmHWM (peak) - VmRSS before", f"{before['VmRSS'] / MB:.0f}",
                  f"{after['VmHWM'] / MB:.0f}", f"{peak_rise / MB:.0f}",
                  f"{peak_rise / block:.2f}"],
                 ["ru_maxrss (peak) - VmRSS before", f"{before['ru_maxrss'] / MB:.0f}",
                  f"{after['ru_maxrss'] / MB:.0f}", f"{maxrss_rise / MB:.0f}",
                  f"{maxrss_rise / block:.2f}"],
                 ["of which file-backed (RssFile)", f"{before['RssFile'] / MB:.0f}",
                  f"{after['RssFile'] / MB:.0f}",
                  f"{(after['RssFile'] - before['RssFile']) / MB:.0f}", "-"]])
    print()
    ratio = peak_rise / block
    verdict = "met" if ratio <= TARGET else "MISSED"
    note = " (quick: too small for the ratio to mean anything)" if args.quick else ""
    print(f"BLOCK MEMORY: one {block / MB:.0f} MiB {args.backbone} block from a "
          f"{ckpt['bytes'] / 1e9:.2f} GB checkpoint raised peak RSS by {peak_rise / MB:.0f} "
          f"MiB: {ratio:.2f}x its bytes (target <= {TARGET}x: {verdict}){note}")


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.measure:        # the child: arguments come on stdin once the checkpoint exists
        request = json.loads(sys.stdin.readline())
        print(json.dumps(measure(request["folder"], request["layer"],
                                 tuple(request["grid"]), request["dtype"])))
        return 0
    missing = [m for m in ("torch", "diffusers", "safetensors")
               if importlib.util.find_spec(m) is None]
    if missing:
        print(f"{', '.join(missing)} not installed: pip install -e '.[video]'")
        print(f"BLOCK MEMORY: skipped ({', '.join(missing)} not installed)")
        return 0
    print_machine()
    if args.table:
        rows = block_table()
        print_table(["backbone", "blocks", "params per block", "MiB fp32", "MiB bf16",
                     "conditioning params"], rows)
        print()
        print(f"BLOCK MEMORY: {len(rows)} kinds of block of {len({r[0] for r in rows})} "
              f"backbones, from the meta device")
        return 0
    ckpt, result, _, layer, shard_bytes = _measure_block(args)
    _report(args, ckpt, result, layer, shard_bytes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
