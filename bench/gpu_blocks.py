"""Real-size video-model blocks on a GPU: forward + input gradient in bfloat16 as a fraction
of the GPU's bf16 peak, and one full agent update with such a block.

    python -m bench gpu_blocks               # or: python bench/gpu_blocks.py
    python bench/gpu_blocks.py --device cpu --tiny    # the same code path, tiny blocks, CPU
    python bench/gpu_blocks.py --quick    # tiny blocks on the GPU (a smoke test; no GPU: skip)

Blocks (diffusers 0.42, random weights, real sizes from the released configs):

- ``cogvideox-2b``: ``CogVideoXBlock`` (30 heads x 64 = 1920, time embedding 512,
  attention bias, no rotary embedding), zero text tokens.
- ``hunyuanvideo-single``: ``HunyuanVideoSingleTransformerBlock`` (24 heads x 128 = 3072,
  MLP ratio 4, RMS qk-norm), one dummy text token (zero text tokens crash it: the block
  slices its output with ``x[:, :-0]``, which is empty), no rotary embedding and no
  attention mask (neither changes the count of matrix products).

Input: batch 64 x 16 tokens, bfloat16, a timestep embedding of batch one (it broadcasts).
Forward + gradient with respect to the input (weights frozen), timed with CUDA events after
warm-up; FLOPs counted by ``torch.utils.flop_counter.FlopCounterMode`` on one call. The
peak is the data-sheet dense bf16 figure for the GPU's name (``--peak-tflops`` overrides);
a large bf16 matmul measured in the same run is shown too.

Agent update: the project's own path. The block is wrapped with the token-block attributes
(name, width, grid, n_params, embed_init, pos_init, describe) and given to
``rl_rosetta_layer.video.candidates.candidate.VideoCandidate`` with observations of shape
(F, C, H, W) = (4, 4, 4, 4) (D = 256) and patch 2, so each observation is 16 tokens of
C*p*p = 16 values; the timed call is ``TorchLearner.update`` (from
``agent.learner.make_learner``) on a replay batch of 64: patch-embedding adapter -> frozen bf16
block -> mean over tokens -> 64-unit tanh head -> 5 Q-values, Double DQN with a target
network, Huber gradient, per-seed clipping, SGD on the input adapter and Adam on the head.
Per update the batch goes host -> device and the (S,) norms and flags come back (that copy
waits for the GPU, so the time is the real end-to-end time); every state tensor is checked
to be on the device. ``--seeds S`` trains S seeds in lockstep. FLOPs are counted the same
way as for the block.

``--batch 64,256,1024`` times the blocks at several batch sizes (the share of peak grows with
the tokens per call) and ``--compile`` also through ``torch.compile``. All weights and data
are drawn with numpy generators (no torch random state). Without torch, CUDA or diffusers
it says so and exits 0. Measured on an H200 (bench/README.md, section 5): the 40 % target
is met compiled at 1,024 x 16 tokens, missed eager and at the agent's batch of 64.
``--device cpu --tiny`` runs the same code on tiny blocks (its numbers check the code
path, nothing more).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.common import one_thread, print_machine, print_table  # noqa: E402

TARGET = 0.40
BATCH, TOKENS = 64, 16
#: Agent observations (F, C, H, W) and patch: 4 frames of 2 x 2 patches = 16 tokens.
OBS_SHAPE, PATCH, GRID, N_ACTIONS = (4, 4, 4, 4), 2, (4, 2, 2), 5

#: Dense (no sparsity) bf16 tensor-core peaks from NVIDIA's data sheets, TFLOP/s; the first
#: name fragment found in torch.cuda.get_device_name() wins, so specific names come first.
BF16_PEAK_TFLOPS = (
    ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("GH200", 989.0), ("H200", 989.0),
    ("H100", 989.0), ("H800", 989.0), ("B200", 2250.0), ("A100", 312.0), ("A800", 312.0),
    ("L40S", 362.0), ("L40", 181.0), ("L4", 121.0), ("A10G", 70.0), ("A10", 125.0),
    ("RTX 4090", 165.0), ("RTX 3090", 71.0),
)

BLOCKS = {
    # name: (diffusers class, constructor kwargs, hidden dim, temb dim, text tokens)
    "cogvideox-2b": ("CogVideoXBlock",
                     dict(dim=1920, num_attention_heads=30, attention_head_dim=64,
                          time_embed_dim=512, dropout=0.0, activation_fn="gelu-approximate",
                          attention_bias=True, norm_elementwise_affine=True, norm_eps=1e-5),
                     1920, 512, 0),
    "hunyuanvideo-single": ("HunyuanVideoSingleTransformerBlock",
                            dict(num_attention_heads=24, attention_head_dim=128, mlp_ratio=4.0,
                                 qk_norm="rms_norm"),
                            3072, 3072, 1),
}
TINY = {
    "cogvideox-2b": (dict(dim=32, num_attention_heads=2, attention_head_dim=16,
                          time_embed_dim=16), 32, 16),
    "hunyuanvideo-single": (dict(num_attention_heads=2, attention_head_dim=16), 32, 32),
}


def skip(short: str, detail: str) -> int:
    print(f"{short}: {detail}")
    print(f"GPU BLOCKS: skipped ({short})")
    return 0


def peak_for(name: str) -> float | None:
    for fragment, tflops in BF16_PEAK_TFLOPS:
        if fragment.lower() in name.lower():
            return tflops
    return None


class Timer:
    """Median seconds per call of ``fn`` on ``device`` (CUDA events on a GPU)."""

    def __init__(self, torch, device: str) -> None:
        self.torch, self.device = torch, device

    def __call__(self, fn, iters: int = 20, rounds: int = 5, warmup: int = 3) -> float:
        torch = self.torch
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(rounds):
            if self.device == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(
                    enable_timing=True)
                torch.cuda.synchronize()
                start.record()
                for _ in range(iters):
                    fn()
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end) / 1e3 / iters)
            else:
                t = time.perf_counter()
                for _ in range(iters):
                    fn()
                times.append((time.perf_counter() - t) / iters)
        return statistics.median(times)


def count_flops(torch, fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def draw_weights(torch, module, rng) -> None:
    """Fill every parameter of ``module`` from numpy: N(0, 1/sqrt(fan_in)) for matrices,
    N(0, 0.02) for vectors (norm scales, biases)."""
    with torch.no_grad():
        for p in module.parameters():
            std = 1.0 / np.sqrt(p[0].numel()) if p.ndim > 1 else 0.02
            a = rng.standard_normal(tuple(p.shape), dtype=np.float32)
            a *= std
            p.copy_(torch.from_numpy(a))


def token_block(torch, name: str, tiny: bool, device: str):
    """The block ``name`` with random weights as a *token block*: a frozen bf16 module on
    ``device`` mapping tokens (B, T, d) -> (B, T, d), its fixed extra inputs (timestep
    embedding, text tokens) held as buffers, with the attributes VideoCandidate reads
    (name, width, grid, n_params, embed_init, pos_init, describe)."""
    from diffusers.models.transformers import cogvideox_transformer_3d as cog
    from diffusers.models.transformers import transformer_hunyuan_video as hun

    cls_name, kwargs, dim, temb_dim, text = BLOCKS[name]
    if tiny:
        kwargs, dim, temb_dim = {**kwargs, **TINY[name][0]}, TINY[name][1], TINY[name][2]
    cls = getattr(cog if cls_name.startswith("CogVideoX") else hun, cls_name)
    rng = np.random.default_rng(0)
    with torch.device("meta"):              # no torch init (and no torch random state)
        inner = cls(**kwargs)
    inner = inner.to_empty(device="cpu")
    draw_weights(torch, inner, rng)

    class TokenBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner
            self.register_buffer("temb", torch.from_numpy(
                rng.standard_normal((1, temb_dim), dtype=np.float32)))
            self.register_buffer("text", torch.from_numpy(
                rng.standard_normal((1, text, dim), dtype=np.float32)))
            self.name = f"{name}{'-tiny' if tiny else ''}:random"
            self.width, self.grid = dim, GRID
            self.n_params = sum(p.numel() for p in inner.parameters())
            self.embed_init = self.pos_init = None

        def forward(self, x):
            enc = self.text.expand(x.shape[0], -1, -1)
            if cls_name == "CogVideoXBlock":
                out, _ = self.inner(hidden_states=x, encoder_hidden_states=enc, temb=self.temb)
            else:
                out, _ = self.inner(hidden_states=x, encoder_hidden_states=enc,
                                    temb=self.temb, attention_mask=None,
                                    image_rotary_emb=None)
            return out

        def describe(self):
            return {"name": self.name, "class": cls_name, "width": self.width,
                    "grid": list(self.grid), "n_params": self.n_params}

    block = TokenBlock().to(device=device, dtype=torch.bfloat16).eval()
    return block.requires_grad_(False)


def bench_block(torch, timer: Timer, name: str, tiny: bool, device: str,
                batch: int = BATCH, compiled: bool = False) -> dict:
    """Forward and forward + input gradient of block ``name`` on (batch, TOKENS, width);
    with ``compiled`` the timed calls go through ``torch.compile`` (FLOPs are counted on
    the eager block: the same products)."""
    eager = token_block(torch, name, tiny, device)
    block = torch.compile(eager) if compiled else eager
    rng = np.random.default_rng(1)
    x, g = (torch.from_numpy(rng.standard_normal((batch, TOKENS, block.width),
                                                 dtype=np.float32)).to(device, torch.bfloat16)
            for _ in range(2))
    x.requires_grad_(True)

    def fwd():
        with torch.no_grad():
            return block(x)

    def fwd_grad():
        # backward() rather than autograd.grad: FlopCounterMode's module hooks refuse the
        # latter on a leaf input. Only x requires a gradient, so only x.grad is computed.
        x.grad = None
        block(x).backward(g)
        return x.grad

    def counted(fn):
        nonlocal block
        block, saved = eager, block
        try:
            return count_flops(torch, fn)
        finally:
            block = saved

    res = {"name": name, "params": eager.n_params, "dim": eager.width, "batch": batch,
           "compiled": compiled, "fwd_flops": counted(fwd), "fb_flops": counted(fwd_grad)}
    res["fwd_s"] = timer(fwd)
    res["fb_s"] = timer(fwd_grad)
    return res


def bench_agent_update(torch, timer: Timer, name: str, tiny: bool, device: str,
                       n_seeds: int = 1) -> dict:
    """``TorchLearner.update`` of a VideoCandidate around the frozen bf16 block ``name``
    for ``n_seeds`` seeds, batch 64, every state tensor on ``device``."""
    from rl_rosetta_layer.agent.config import DQNConfig
    from rl_rosetta_layer.agent.learner import make_learner
    from rl_rosetta_layer.video.candidates.candidate import VideoCandidate

    block = token_block(torch, name, tiny, device)
    cand = VideoCandidate(block, OBS_SHAPE, patch=PATCH, device=device, dtype="bfloat16")
    assert cand.layout.tokens == TOKENS
    config = DQNConfig(batch_size=BATCH, head="mlp", head_hidden=64)
    learner = make_learner(cand, cand.input_dim, N_ACTIONS, config,
                                [np.random.default_rng(s) for s in range(n_seeds)])
    rng = np.random.default_rng(2)
    both = rng.random((n_seeds, 2 * BATCH, cand.input_dim), dtype=np.float32)
    actions = rng.integers(N_ACTIONS, size=(n_seeds, BATCH))
    returns = rng.normal(size=(n_seeds, BATCH)).astype(np.float32)
    discounts = np.full((n_seeds, BATCH), config.gamma ** config.n_step, np.float32)

    def update():
        return learner.update(both, actions, returns, discounts)

    norms, finite = update()
    dev = torch.device(device).type
    res = {"flops": count_flops(torch, update), "trainable": learner.n_params(),
           "on_device": all(t.device.type == dev for t in learner.state_tensors()),
           "finite": bool(np.isfinite(norms).all() and finite.all()), "seeds": n_seeds}
    res["s"] = timer(update, iters=10)
    return res


def matmul_tflops(torch, timer: Timer, device: str, n: int) -> float:
    rng = np.random.default_rng(3)
    a, b = (torch.from_numpy(rng.standard_normal((n, n), dtype=np.float32)).to(
        device, torch.bfloat16) for _ in range(2))
    t = timer(lambda: a @ b, iters=10, rounds=3)
    return 2 * n ** 3 / t / 1e12


def main(argv: list[str] | None = None) -> int:
    with one_thread():       # one BLAS thread for the host side, as every bench script
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--tiny", action="store_true", help="tiny blocks (a smoke test)")
    parser.add_argument("--quick", action="store_true",
                        help="the same as --tiny (what `python -m bench --quick` passes)")
    parser.add_argument("--blocks", default=",".join(BLOCKS), help="comma list of blocks")
    parser.add_argument("--batch", default=str(BATCH),
                        help=f"comma list of block batch sizes (default {BATCH}, the agent's "
                             f"replay batch; larger ones show how the share of peak grows)")
    parser.add_argument("--compile", action="store_true",
                        help="also time each block through torch.compile (default mode)")
    parser.add_argument("--agent-block", default="cogvideox-2b",
                        help="block used in the agent update ('' to skip)")
    parser.add_argument("--seeds", type=int, default=1,
                        help="seeds trained in lockstep in the agent update (default 1)")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="bf16 peak of this GPU, TFLOP/s (default: from its name)")
    args = parser.parse_args(argv)
    args.tiny = args.tiny or args.quick
    names = [b for b in args.blocks.split(",") if b]
    unknown = sorted(set(names + ([args.agent_block] if args.agent_block else [])) - set(BLOCKS))
    if unknown:
        parser.error(f"unknown block(s) {unknown}; accepted: {', '.join(BLOCKS)}")
    try:
        batches = [int(b) for b in args.batch.split(",") if b]
    except ValueError:
        batches = []
    if not batches or min(batches) < 1:
        parser.error(f"--batch must be a comma list of positive integers, got {args.batch!r}")
    if args.seeds < 1:
        parser.error(f"--seeds must be a positive integer, got {args.seeds}")

    print_machine()
    try:
        import torch
    except ImportError:
        return skip("torch is not installed", "pip install torch==2.13.0 (a CUDA build on "
                    "a GPU machine)")
    if args.device == "cuda" and not torch.cuda.is_available():
        return skip("no CUDA GPU", f"torch {torch.__version__} (CUDA build "
                    f"{torch.version.cuda}) sees no GPU; nothing to measure here. Run it on a "
                    f"GPU machine, or with `--device cpu --tiny` to check the code path")
    try:
        import diffusers
    except ImportError:
        return skip("diffusers is not installed", "pip install -e '.[video]'")

    device = args.device
    timer = Timer(torch, device)
    if device == "cuda":
        gpu = torch.cuda.get_device_name()
        torch.backends.cuda.matmul.allow_tf32 = False
        print(f"GPU: {gpu}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
              f"diffusers {diffusers.__version__}")
        peak = args.peak_tflops or peak_for(gpu)
        measured = matmul_tflops(torch, timer, device, 1024 if args.tiny else 8192)
        print(f"bf16 matmul {1024 if args.tiny else 8192}^3 measured: {measured:.0f} TFLOP/s; "
              f"data-sheet dense bf16 "
              f"peak: {'unknown (using the measured matmul)' if peak is None else peak}")
        peak = peak or measured
    else:
        torch.set_num_threads(1)
        print(f"CPU run (torch {torch.__version__}, diffusers {diffusers.__version__}, one "
              f"thread){', tiny blocks' if args.tiny else ''}: checks the code path, not a "
              f"GPU number")
        measured = matmul_tflops(torch, timer, device, 256 if args.tiny else 1024)
        peak = args.peak_tflops or measured
        print(f"bf16 matmul measured: {measured * 1e3:.1f} GFLOP/s (used as the peak)")
    print()

    rows, blocks = [], {}
    for name in names:
        for batch in batches:
            for compiled in (False, True) if args.compile else (False,):
                r = bench_block(torch, timer, name, args.tiny, device, batch, compiled)
                blocks.setdefault(name, []).append(r)
                for what, flops, s in (("forward", r["fwd_flops"], r["fwd_s"]),
                                       ("forward + input grad", r["fb_flops"], r["fb_s"])):
                    rows.append([name, f"{r['params'] / 1e6:.1f}M", f"{batch} x {TOKENS}",
                                 "compiled" if compiled else "eager", what,
                                 f"{flops / 1e9:.2f}", f"{s * 1e3:.3f}",
                                 f"{flops / s / 1e12:.2f}", f"{flops / s / 1e12 / peak:.1%}"])
    print("bfloat16, weights frozen; tokens = batch x tokens per observation")
    print_table(["block", "params", "tokens", "mode", "pass", "GFLOP", "ms", "TFLOP/s",
                 "of bf16 peak"], rows)
    print()

    agent = None
    if args.agent_block:
        agent = bench_agent_update(torch, timer, args.agent_block, args.tiny, device,
                                   args.seeds)
        print(f"agent update: VideoCandidate + TorchLearner.update with a {args.agent_block}"
              f"{' (tiny)' if args.tiny else ''} block in bf16, obs {OBS_SHAPE} -> {TOKENS} "
              f"tokens, Double DQN, batch {BATCH}, {agent['seeds']} seed(s), "
              f"{agent['trainable']:,} trainable parameters per seed; every state tensor on "
              f"the device: {agent['on_device']}; norms and TD errors finite: "
              f"{agent['finite']}")
        print_table(["GFLOP / update", "ms / update", "updates/s", "TFLOP/s", "of bf16 peak"],
                    [[f"{agent['flops'] / 1e9:.2f}", f"{agent['s'] * 1e3:.3f}",
                      f"{1 / agent['s']:.0f}", f"{agent['flops'] / agent['s'] / 1e12:.2f}",
                      f"{agent['flops'] / agent['s'] / 1e12 / peak:.1%}"]])
        print()

    parts = []
    real_gpu = device == "cuda" and not args.tiny
    for name, results in blocks.items():
        for r in results:
            frac = r["fb_flops"] / r["fb_s"] / 1e12 / peak
            verdict = f" (target {TARGET:.0%}: {'met' if frac >= TARGET else 'MISSED'})" \
                if real_gpu else ""
            mode = " compiled" if r["compiled"] else ""
            parts.append(f"{name} batch {r['batch']}{mode} forward+input grad {frac:.1%} of "
                         f"bf16 peak{verdict}")
    if agent is not None:
        parts.append(f"agent update {agent['s'] * 1e3:.2f} ms "
                     f"({agent['flops'] / agent['s'] / 1e12 / peak:.1%} of peak)")
    where = "" if real_gpu else " [CPU/tiny code-path check]"
    print("GPU BLOCKS: " + "; ".join(parts) + where)
    return 0


if __name__ == "__main__":
    sys.exit(main())
