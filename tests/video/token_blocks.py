"""A tiny token block for the candidate and learner tests (imported by them; not a test)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")      # collected for doctests too: skip without torch
pytest.importorskip("diffusers")

from diffusers.models.transformers.cogvideox_transformer_3d import CogVideoXBlock  # noqa: E402

#: Tolerances of "a block read alone equals the full model's", and the timestep they use.
ATOL, RTOL = 2e-5, 1e-4
T = 321


class _Stop(Exception):
    """Raised by a hook to end a full-model forward once what it needs is recorded."""


def record_stack(model, first, last, run, edit_kwargs=None):
    """(input of block ``first``, output of block ``last``) in one full forward, which
    stops there; ``edit_kwargs`` may change block ``first``'s keyword inputs."""
    seen = {}

    def pre(module, args, kwargs):
        if edit_kwargs is not None:
            kwargs = edit_kwargs(dict(kwargs))
        seen["in"] = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
        return args, kwargs

    def post(module, args, kwargs, out):
        seen["out"] = out[0] if isinstance(out, tuple) else out
        raise _Stop

    handles = [model.get_submodule(first).register_forward_pre_hook(pre, with_kwargs=True),
               model.get_submodule(last).register_forward_hook(post, with_kwargs=True)]
    try:
        with torch.no_grad():
            run()
    except _Stop:
        pass
    finally:
        for h in handles:
            h.remove()
    return seen["in"], seen["out"]


def random_tokens(shape, seed=0):
    """Standard-normal float32 tokens of ``shape``, drawn by numpy."""
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


class CogTokenBlock(torch.nn.Module):
    """A tiny diffusers CogVideoXBlock as a token block: zero text tokens, a fixed timestep
    embedding buffer, weights drawn by numpy."""

    def __init__(self, seed=0, grid=(2, 2, 2), width=32, embed_init=None, pos_init=None):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.inner = CogVideoXBlock(dim=width, num_attention_heads=2, attention_head_dim=16,
                                    time_embed_dim=16, attention_bias=True)
        with torch.no_grad():
            for p in self.inner.parameters():
                std = 1.0 / np.sqrt(p.shape[1]) if p.ndim > 1 else 0.1
                p.copy_(torch.from_numpy(rng.normal(0.0, std, tuple(p.shape))))
        self.register_buffer("temb", torch.from_numpy(rng.normal(size=(1, 16))).float())
        self.name, self.width, self.grid = "tiny-cog:transformer_blocks.0", width, grid
        self.n_params = sum(p.numel() for p in self.inner.parameters())
        self.embed_init, self.pos_init = embed_init, pos_init

    def forward(self, x):
        enc = x.new_zeros(x.shape[0], 0, self.width)
        out, _ = self.inner(hidden_states=x, encoder_hidden_states=enc, temb=self.temb)
        return out

    def describe(self):
        return {"name": self.name, "width": self.width, "grid": list(self.grid)}
