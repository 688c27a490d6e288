"""Memory of loading one block from a large sharded checkpoint: RSS above the baseline
against the block's own bytes (target: at most 1.5x, whatever the model's size).

    python -m bench block_memory          # or: python bench/block_memory.py [--layers 6]
    python bench/block_memory.py --quick  # a few-MB checkpoint: checks the code path only

1. Writes a synthetic CogVideoX checkpoint in diffusers' sharded layout (config.json,
   ``diffusion_pytorch_model-0000i-of-0000n.safetensors`` of at most ``--shard-mb`` each,
   and the index) into a temporary folder: CogVideoX-2b's width (30 heads x 64 = 1920,
   sin-cos positions) with ``--layers`` blocks, float32 by default, at least 1 GB. Keys
   and shapes come from the model class built on the meta device; each shard's tensors are
   drawn from a seeded numpy generator and written before the next shard is drawn, so the
   whole model never exists in memory.
2. In a fresh Python process (started before the checkpoint is written, so that its
   ru_maxrss does not inherit this process's peak): imports torch, diffusers' model class
   and the loader, then reads the baseline (VmRSS and VmHWM from /proc/self/status,
   ru_maxrss); calls ``load_token_block`` for the middle block; sums every parameter of
   the block (touching every page); reads the same numbers again.
3. Prints the block's bytes, the increase (peak resident set during the load minus the
   resident set before it, the most pessimistic reading) and its ratio to the block's
   bytes, with the steady increase (VmRSS after minus before) beside it.

The temporary checkpoint is deleted at the end, also on error. Ends with ``BLOCK MEMORY: ...``.
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
#: CogVideoX-2b's published config, less the number of blocks (set by --layers).
CONFIG_2B = {"_class_name": "CogVideoXTransformer3DModel", "activation_fn": "gelu-approximate",
             "attention_bias": True, "attention_head_dim": 64, "in_channels": 16,
             "max_text_seq_length": 226, "num_attention_heads": 30, "out_channels": 16,
             "patch_size": 2, "text_embed_dim": 4096, "time_embed_dim": 512}
QUICK_CONFIG = {**CONFIG_2B, "num_attention_heads": 2, "text_embed_dim": 64,
                "time_embed_dim": 64}


# ----------------------------------------------------------------------- the checkpoint


def checkpoint_shapes(config: dict) -> dict[str, tuple[tuple[int, ...], object]]:
    """{key: (shape, torch dtype)} of the model's state dict, from the meta device."""
    import torch
    from diffusers import CogVideoXTransformer3DModel

    with torch.device("meta"):
        model = CogVideoXTransformer3DModel.from_config(config)
    return {k: (tuple(t.shape), t.dtype) for k, t in model.state_dict().items()}


def write_checkpoint(folder: Path, config: dict, dtype: str, shard_bytes: int,
                     seed: int = 0) -> dict:
    """Write a sharded diffusers checkpoint of random weights; return its summary."""
    import torch
    from safetensors.torch import save_file

    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    itemsize = torch.tensor([], dtype=torch_dtype).element_size()
    shapes = checkpoint_shapes(config)
    shards: list[list[str]] = [[]]
    size = 0
    for key, (shape, _) in shapes.items():
        nbytes = int(np.prod(shape)) * itemsize
        if shards[-1] and size + nbytes > shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(key)
        size += nbytes
    rng = np.random.default_rng(seed)
    weight_map, total = {}, 0
    for i, keys in enumerate(shards, start=1):
        name = f"diffusion_pytorch_model-{i:05d}-of-{len(shards):05d}.safetensors"
        tensors = {}
        for key in keys:
            shape = shapes[key][0]
            values = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
            tensors[key] = torch.from_numpy(values).to(torch_dtype)
            weight_map[key] = name
            total += values.size * itemsize
        tmp = folder / f".{name}.tmp"
        save_file(tensors, str(tmp))
        os.replace(tmp, folder / name)
        del tensors
    write_json(folder / "diffusion_pytorch_model.safetensors.index.json",
               {"metadata": {"total_size": total}, "weight_map": weight_map})
    write_json(folder / "config.json", config)
    files = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
    return {"params": sum(int(np.prod(s)) for s, _ in shapes.values()), "bytes": files,
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
    import safetensors.torch  # noqa: F401  (imports are in the baseline, not the load)
    import torch
    from diffusers import CogVideoXTransformer3DModel  # noqa: F401

    from rl_rosetta_layer.video import conditioning, devices, loader, twins  # noqa: F401

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


# ------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=6, help="blocks in the checkpoint")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                        help="dtype stored in the checkpoint and loaded")
    parser.add_argument("--shard-mb", type=int, default=500, help="largest shard, MiB")
    parser.add_argument("--grid", default="2,8,8", help="token grid F,h,w of the block")
    parser.add_argument("--quick", action="store_true", help="a few-MB checkpoint (smoke test)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
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
    grid = tuple(int(g) for g in args.grid.split(","))
    config = dict(QUICK_CONFIG if args.quick else CONFIG_2B)
    config["num_layers"] = 2 if args.quick else args.layers
    shard_bytes = (1 if args.quick else args.shard_mb) * MB
    layer = f"cogvideox-2b:transformer_blocks.{config['num_layers'] // 2}"

    print_machine()
    child = start_child()
    tmp = Path(tempfile.mkdtemp(prefix="rosetta-block-memory-"))
    try:
        checkpoint_shapes(config)                     # imports torch and diffusers
        start = time.perf_counter()
        ckpt = write_checkpoint(tmp, config, args.dtype, shard_bytes)
        write_s = time.perf_counter() - start
        result = run_child(child, tmp, layer, grid, args.dtype)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    before, after = result["before"], result["after"]
    block = result["block_bytes"]
    peak_rise = after["VmHWM"] - before["VmRSS"]
    steady_rise = after["VmRSS"] - before["VmRSS"]
    maxrss_rise = after["ru_maxrss"] - before["VmRSS"]
    print(f"checkpoint: {config['num_layers']} blocks of width "
          f"{config['num_attention_heads'] * 64}, {args.dtype}, {ckpt['params'] / 1e6:.1f}M "
          f"parameters, {ckpt['bytes'] / 1e9:.2f} GB in {ckpt['shards']} shards of at most "
          f"{shard_bytes // MB} MiB (written in {write_s:.1f} s, deleted since)")
    print(f"block: {layer}, {result['params'] / 1e6:.1f}M parameters, {result['keys']} keys "
          f"read from {len(result['files_read'])} shard(s), loaded in "
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
    print(f"BLOCK MEMORY: one {block / MB:.0f} MiB block from a {ckpt['bytes'] / 1e9:.2f} GB "
          f"checkpoint raised peak RSS by {peak_rise / MB:.0f} MiB: {ratio:.2f}x its bytes "
          f"(target <= {TARGET}x: {verdict}){note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
