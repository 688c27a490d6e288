"""Real-size video-model blocks on a GPU: forward + input gradient in bfloat16 as a fraction
of the GPU's bf16 peak, and one full agent update with such a block.

    python -m bench gpu_blocks               # or: python bench/gpu_blocks.py
    python bench/gpu_blocks.py --device cpu --tiny    # the same code path, tiny blocks, CPU

Blocks (diffusers 0.42, random weights, real sizes from the released configs):

- ``cogvideox-2b``: ``CogVideoXBlock`` (30 heads x 64 = 1920, time embedding 512,
  attention bias, no rotary embedding), zero text tokens.
- ``hunyuanvideo-single``: ``HunyuanVideoSingleTransformerBlock`` (24 heads x 128 = 3072,
  MLP ratio 4, RMS qk-norm), one dummy text token (zero text tokens crash it; see
  shared/spec/video-backbones.md), no rotary embedding and no attention mask (neither
  changes the count of matrix products).

Input: batch 64 x 16 tokens, bfloat16, a timestep embedding of batch one (it broadcasts).
Forward + gradient with respect to the input (weights frozen), timed with CUDA events after
warm-up; FLOPs counted by ``torch.utils.flop_counter.FlopCounterMode`` on one call. The
peak is the data-sheet dense bf16 figure for the GPU's name (``--peak-tflops`` overrides);
a large bf16 matmul measured in the same run is shown too.

Agent update: observation (64, 256) -> 16 tokens of 16 values -> a trainable linear token
adapter -> the frozen block -> mean over tokens -> a trainable 64-unit head -> 5 Q-values;
Double DQN target from a target copy of the adapters, Huber loss, gradient clipping, Adam,
every tensor on the device. Its FLOPs are counted the same way.

Without torch, CUDA or diffusers it says so and exits 0. Written on a machine without a
GPU: the CUDA path has not been run yet; ``--device cpu --tiny`` runs the same code on
tiny blocks.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import one_thread, print_machine, print_table  # noqa: E402

TARGET = 0.40
BATCH, TOKENS = 64, 16

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


def build_block(torch, name: str, tiny: bool, device: str):
    """A block of ``name`` with random weights, frozen, bf16, on ``device``; and a function
    ``call(x)`` that runs it on hidden states (B, T, d) with the fixed extra inputs."""
    from diffusers.models.transformers import cogvideox_transformer_3d as cog
    from diffusers.models.transformers import transformer_hunyuan_video as hun

    cls_name, kwargs, dim, temb_dim, text = BLOCKS[name]
    if tiny:
        kwargs, dim, temb_dim = {**kwargs, **TINY[name][0]}, TINY[name][1], TINY[name][2]
    cls = getattr(cog if cls_name.startswith("CogVideoX") else hun, cls_name)
    torch.manual_seed(0)
    block = cls(**kwargs).to(device=device, dtype=torch.bfloat16).eval()
    block.requires_grad_(False)
    dt = torch.bfloat16
    temb = torch.randn(1, temb_dim, device=device, dtype=dt)
    text_states = torch.randn(1, text, dim, device=device, dtype=dt)

    def call(x):
        enc = text_states.expand(x.shape[0], -1, -1)
        if cls_name == "CogVideoXBlock":
            out, _ = block(hidden_states=x, encoder_hidden_states=enc, temb=temb)
        else:
            out, _ = block(hidden_states=x, encoder_hidden_states=enc, temb=temb,
                           attention_mask=None, image_rotary_emb=None)
        return out

    params = sum(p.numel() for p in block.parameters())
    return block, call, dim, params


def bench_block(torch, timer: Timer, name: str, tiny: bool, device: str) -> dict:
    block, call, dim, params = build_block(torch, name, tiny, device)
    x = torch.randn(BATCH, TOKENS, dim, device=device, dtype=torch.bfloat16,
                    requires_grad=True)
    g = torch.randn(BATCH, TOKENS, dim, device=device, dtype=torch.bfloat16)

    def fwd():
        with torch.no_grad():
            return call(x)

    def fwd_grad():
        # backward() rather than autograd.grad: FlopCounterMode's module hooks refuse the
        # latter on a leaf input. Only x requires a gradient, so only x.grad is computed.
        x.grad = None
        call(x).backward(g)
        return x.grad

    res = {"name": name, "params": params, "dim": dim,
           "fwd_flops": count_flops(torch, fwd), "fb_flops": count_flops(torch, fwd_grad)}
    res["fwd_s"] = timer(fwd)
    res["fb_s"] = timer(fwd_grad)
    del block
    return res


def bench_agent_update(torch, timer: Timer, name: str, tiny: bool, device: str) -> dict:
    """One Double DQN update of adapters around the frozen block, all on ``device``."""
    nn, F = torch.nn, torch.nn.functional
    block, call, dim, _ = build_block(torch, name, tiny, device)
    obs_dim, n_actions, patch = 256, 5, 256 // TOKENS

    class Agent(nn.Module):
        def __init__(self):
            super().__init__()
            self.adapter = nn.Linear(patch, dim)                    # per-token input adapter
            self.head = nn.Sequential(nn.Linear(dim, 64), nn.Tanh(), nn.Linear(64, n_actions))

        def forward(self, obs):
            tokens = self.adapter(obs.view(obs.shape[0], TOKENS, patch))
            z = call(tokens.to(torch.bfloat16)).float().mean(dim=1)
            return self.head(z)

    online = Agent().to(device)
    target = copy.deepcopy(online).requires_grad_(False)
    opt = torch.optim.Adam(online.parameters(), lr=1e-3)
    gen = torch.Generator(device=device).manual_seed(0)
    obs = torch.rand(BATCH, obs_dim, device=device, generator=gen)
    nxt = torch.rand(BATCH, obs_dim, device=device, generator=gen)
    act = torch.randint(n_actions, (BATCH,), device=device, generator=gen)
    rew = torch.rand(BATCH, device=device, generator=gen)
    done = torch.zeros(BATCH, device=device)

    def update():
        q_both = online(torch.cat([obs, nxt]))
        q, q_next_online = q_both[:BATCH], q_both[BATCH:].detach()
        with torch.no_grad():
            q_next = target(nxt).gather(1, q_next_online.argmax(1, keepdim=True))[:, 0]
            y = rew + 0.98 * (1.0 - done) * q_next
        loss = F.smooth_l1_loss(q.gather(1, act[:, None])[:, 0], y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(online.parameters(), 10.0)
        opt.step()

    update()
    on_device = all(t.device.type == torch.device(device).type
                    for t in [*online.parameters(), *target.parameters(),
                              *(s for st in opt.state.values() for s in st.values()
                                if torch.is_tensor(s))])
    res = {"flops": count_flops(torch, update), "on_device": on_device,
           "trainable": sum(p.numel() for p in online.parameters())}
    res["s"] = timer(update, iters=10)
    return res


def matmul_tflops(torch, timer: Timer, device: str, n: int) -> float:
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    t = timer(lambda: a @ b, iters=10, rounds=3)
    return 2 * n ** 3 / t / 1e12


def main(argv: list[str] | None = None) -> int:
    with one_thread():       # one BLAS thread for the host side, as every bench script
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--tiny", action="store_true", help="tiny blocks (a smoke test)")
    parser.add_argument("--blocks", default=",".join(BLOCKS), help="comma list of blocks")
    parser.add_argument("--agent-block", default="cogvideox-2b",
                        help="block used in the agent update ('' to skip)")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="bf16 peak of this GPU, TFLOP/s (default: from its name)")
    args = parser.parse_args(argv)
    names = [b for b in args.blocks.split(",") if b]
    unknown = sorted(set(names + ([args.agent_block] if args.agent_block else [])) - set(BLOCKS))
    if unknown:
        parser.error(f"unknown block(s) {unknown}; accepted: {', '.join(BLOCKS)}")

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
        measured = matmul_tflops(torch, timer, device, 8192)
        print(f"bf16 matmul 8192^3 measured: {measured:.0f} TFLOP/s; data-sheet dense bf16 "
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
        r = bench_block(torch, timer, name, args.tiny, device)
        blocks[name] = r
        for what, flops, s in (("forward", r["fwd_flops"], r["fwd_s"]),
                               ("forward + input grad", r["fb_flops"], r["fb_s"])):
            rows.append([name, f"{r['params'] / 1e6:.1f}M", what, f"{flops / 1e9:.2f}",
                         f"{s * 1e3:.3f}", f"{flops / s / 1e12:.2f}",
                         f"{flops / s / 1e12 / peak:.1%}"])
    print(f"batch {BATCH} x {TOKENS} tokens, bfloat16, weights frozen")
    print_table(["block", "params", "pass", "GFLOP", "ms", "TFLOP/s", "of bf16 peak"], rows)
    print()

    agent = None
    if args.agent_block:
        agent = bench_agent_update(torch, timer, args.agent_block, args.tiny, device)
        print(f"agent update with a {args.agent_block} block (Double DQN, batch {BATCH}, "
              f"{agent['trainable']:,} trainable parameters; every tensor on the device: "
              f"{agent['on_device']})")
        print_table(["GFLOP / update", "ms / update", "updates/s", "TFLOP/s", "of bf16 peak"],
                    [[f"{agent['flops'] / 1e9:.2f}", f"{agent['s'] * 1e3:.3f}",
                      f"{1 / agent['s']:.0f}", f"{agent['flops'] / agent['s'] / 1e12:.2f}",
                      f"{agent['flops'] / agent['s'] / 1e12 / peak:.1%}"]])
        print()

    parts = []
    for name, r in blocks.items():
        frac = r["fb_flops"] / r["fb_s"] / 1e12 / peak
        verdict = f" (target {TARGET:.0%}: {'met' if frac >= TARGET else 'MISSED'})" \
            if name == "cogvideox-2b" and device == "cuda" and not args.tiny else ""
        parts.append(f"{name} forward+input grad {frac:.1%} of bf16 peak{verdict}")
    if agent is not None:
        parts.append(f"agent update {agent['s'] * 1e3:.2f} ms "
                     f"({agent['flops'] / agent['s'] / 1e12 / peak:.1%} of peak)")
    where = "" if device == "cuda" and not args.tiny else " [CPU/tiny code-path check]"
    print("GPU BLOCKS: " + "; ".join(parts) + where)
    return 0


if __name__ == "__main__":
    sys.exit(main())
