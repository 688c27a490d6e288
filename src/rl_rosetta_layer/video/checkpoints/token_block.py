"""A frozen block with its fixed conditioning, as a module that maps tokens (B, T, width).

:class:`TokenBlock` holds one block and the :class:`~.conditioning.Conditioning` built for
it (kept as non-persistent buffers, moved with the module); :class:`TokenStack` chains the
blocks 0..k of one model (the ``:prefix`` layers).
"""

from __future__ import annotations

import torch

from ...errors import ConfigError
from .conditioning import KINDS, Conditioning, grid_tokens


def _contiguous_input(module, args):
    """Forward pre-hook: make the first input contiguous (see HunyuanVideo in the facts)."""
    return (args[0].contiguous(), *args[1:])


def _wider(kept: torch.dtype, target: torch.dtype) -> torch.dtype:
    """The more precise of two floating dtypes (a kept tensor never loses precision)."""
    return kept if kept.itemsize >= target.itemsize else target


def _set_tensor(module: torch.nn.Module, name: str, value: torch.Tensor) -> None:
    """Replace the data of parameter or buffer ``name`` (dotted, inside ``module``)."""
    path, _, attr = name.rpartition(".")
    owner = module.get_submodule(path) if path else module
    if attr in owner._parameters:
        owner._parameters[attr].data = value
    else:
        owner._buffers[attr] = value


class TokenBlock(torch.nn.Module):
    """One frozen block with its fixed conditioning: tokens (B, T, width) -> (B, T, width).

    Attributes: ``name`` (the layer name), ``width``, ``grid`` (F, h, w), ``tokens`` (T),
    ``n_params``, ``block_bytes``, ``keys_read`` (checkpoint keys read), ``files_read``,
    ``embed_init`` (None or numpy (weight (width, C, p, p), bias (width,))), ``pos_init``
    (None or numpy (T, width)), ``dtype``; :meth:`describe` gives a JSON-ready summary.
    The conditioning tensors are non-persistent buffers, moved with the module. Inputs of
    another dtype are cast to the block's. It stays in eval mode: ``train()`` is ignored.

    Casting the module (``to``, ``half``, ...) never lowers the precision of the rotary
    tensors (kept as the model computes them, float32) nor of the block's
    parameters whose dotted name has a component in ``keep_fp32`` (the library's
    ``_keep_in_fp32_modules``: Wan keeps ``scale_shift_table`` and its norms in float32
    when loaded in bfloat16); they only move.
    """

    def __init__(self, name: str, kind: str, block: torch.nn.Module, cond: Conditioning, *,
                 grid: tuple[int, int, int], width: int, dtype: torch.dtype,
                 device: torch.device, keys_read: list[str] | None = None,
                 files_read: list[str] | None = None, embed_init=None,
                 info: dict | None = None, keep_fp32: tuple[str, ...] = ()) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ConfigError(f"unknown block kind {kind!r}; accepted: {', '.join(KINDS)}")
        self.name, self.kind = name, kind
        self.grid = tuple(int(g) for g in grid)
        self.tokens = grid_tokens(self.grid)
        self.width, self.dtype = int(width), dtype
        self.keep_fp32 = tuple(keep_fp32)
        self.block = block
        self.block.requires_grad_(False)
        if kind == "hunyuan-dual":
            # bf16 on CPU: a non-contiguous attention slice into a Linear took 10x longer.
            self.block.attn.to_out[0].register_forward_pre_hook(_contiguous_input)
            self.block.attn.to_add_out.register_forward_pre_hook(_contiguous_input)
        for buffer, value in (("temb", cond.temb), ("text", cond.text), ("mask", cond.mask)):
            self.register_buffer(buffer, value, persistent=False)
        rotary = cond.rotary or (None, None)
        self.register_buffer("rotary_cos", rotary[0], persistent=False)
        self.register_buffer("rotary_sin", rotary[1], persistent=False)
        self.extra_names = tuple(sorted(cond.extra))
        for extra in self.extra_names:
            self.register_buffer(f"cond_{extra}", cond.extra[extra], persistent=False)
        self.to(device=device, dtype=dtype)     # floating tensors but the protected ones
        self.pos_init = cond.pos_init
        self.embed_init = embed_init
        self.keys_read = list(keys_read or [])
        self.files_read = list(files_read or [])
        self.conditioning = dict(cond.info)
        self.info = dict(info or {})
        self.n_params = sum(p.numel() for p in self.block.parameters())
        self.block_bytes = sum(t.numel() * t.element_size()
                               for t in (*self.block.parameters(), *self.block.buffers()))
        self.eval()

    def _protected(self) -> list[tuple[str, torch.Tensor]]:
        """(name, tensor) of the floating tensors a cast must not make less precise."""
        named = (*self.named_parameters(), *self.named_buffers())
        return [(n, t.detach()) for n, t in named if t.is_floating_point() and (
            n in ("rotary_cos", "rotary_sin") or (n.startswith("block.") and any(
                k in n.split(".") for k in self.keep_fp32)))]

    def _apply(self, fn, recurse=True):
        """torch's cast/move of every tensor, then the protected ones moved only."""
        kept = self._protected()
        out = super()._apply(fn, recurse)
        for name, tensor in kept:
            target = fn(torch.zeros((), dtype=torch.float32, device=tensor.device))
            _set_tensor(self, name, tensor.to(device=target.device,
                                              dtype=_wider(tensor.dtype, target.dtype)))
        return out

    def train(self, mode: bool = True) -> TokenBlock:
        """Frozen: always stays in eval mode."""
        return super().train(False)

    def _rotary(self):
        return None if self.rotary_cos is None else (self.rotary_cos, self.rotary_sin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, width) -> (B, T, width), in the block's dtype."""
        if x.dim() != 3 or x.shape[1] != self.tokens or x.shape[2] != self.width:
            raise ConfigError(f"block {self.name!r} takes tokens (B, {self.tokens}, "
                              f"{self.width}), got {tuple(x.shape)}")
        if x.dtype != self.dtype:
            x = x.to(self.dtype)
        batch = x.shape[0]
        if self.kind == "videomae":
            out = self.block(x)
            return out[0] if isinstance(out, tuple) else out
        if self.kind == "vjepa2":       # (out, attention weights); positions batch one
            return self.block(x, position_mask=self.cond_positions)[0]
        text = self.text.expand(batch, -1, -1)
        if self.kind == "cogvideox":
            out, _ = self.block(hidden_states=x, encoder_hidden_states=text, temb=self.temb,
                                image_rotary_emb=self._rotary())
        elif self.kind == "wan":
            out = self.block(x, text, self.temb, self._rotary())
        elif self.kind == "ltx":        # its block reshapes temb by the batch: expand it
            out = self.block(hidden_states=x, encoder_hidden_states=text,
                             temb=self.temb.expand(batch, -1, -1),
                             image_rotary_emb=self._rotary())
        elif self.kind == "cosmos":
            out = self.block(x, text, self.cond_embedded_timestep, self.temb, self._rotary(),
                             getattr(self, "cond_pos", None))
        else:  # HunyuanVideo: the rotary argument is positional (freqs_cis / image_rotary_emb)
            out, _ = self.block(x, text, self.temb, self.mask, self._rotary())
        return out

    def describe(self) -> dict:
        """JSON-ready: backbone, block, width, params, timestep, dtype, conditioning, ..."""
        return {"name": self.name, "kind": self.kind, **self.info, "width": self.width,
                "grid": list(self.grid), "tokens": self.tokens, "params": self.n_params,
                "block_bytes": self.block_bytes, "dtype": str(self.dtype).removeprefix("torch."),
                "timestep": self.conditioning.get("timestep"),
                "conditioning": dict(self.conditioning),
                "embed_init": self.embed_init is not None,
                "pos_init": self.pos_init is not None, "keys_read": len(self.keys_read)}

    def extra_repr(self) -> str:
        return f"name={self.name!r}, grid={self.grid}, width={self.width}"


class TokenStack(torch.nn.Module):
    """Frozen :class:`TokenBlock` s applied in order: tokens (B, T, width) -> the same shape.

    ``BACKBONE:BLOCK:prefix`` is the model's blocks 0..BLOCK (its own intermediate
    representation); ``BACKBONE:bypass`` is the empty stack, the identity, which keeps the
    backbone's ``embed_init`` and ``pos_init`` so that its input adapter is the blocks'.
    Same attributes as :class:`TokenBlock` (``n_params``, ``block_bytes`` and ``keys_read``
    summed over the blocks).
    """

    def __init__(self, name: str, blocks: list[TokenBlock], cond: Conditioning, *,
                 grid: tuple[int, int, int], width: int, dtype: torch.dtype, embed_init=None,
                 keys_read: list[str] | None = None, files_read: list[str] | None = None,
                 info: dict | None = None) -> None:
        super().__init__()
        self.name, self.kind = name, "stack" if blocks else "bypass"
        self.blocks = torch.nn.ModuleList(blocks)
        self.grid = tuple(int(g) for g in grid)
        self.tokens = grid_tokens(self.grid)
        self.width, self.dtype = int(width), dtype
        self.pos_init, self.embed_init = cond.pos_init, embed_init
        self.keys_read = [k for b in blocks for k in b.keys_read] or list(keys_read or [])
        self.files_read = sorted({f for b in blocks for f in b.files_read}
                                 | set(files_read or []))
        self.conditioning = dict(cond.info)
        self.info = dict(info or {})
        self.n_params = sum(b.n_params for b in blocks)
        self.block_bytes = sum(b.block_bytes for b in blocks)
        self.eval()

    def train(self, mode: bool = True) -> TokenStack:
        """Frozen: always stays in eval mode."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, width) -> (B, T, width), in the blocks' dtype."""
        if x.dim() != 3 or x.shape[1] != self.tokens or x.shape[2] != self.width:
            raise ConfigError(f"{self.name!r} takes tokens (B, {self.tokens}, {self.width}), "
                              f"got {tuple(x.shape)}")
        x = x.to(self.dtype)
        for block in self.blocks:
            x = block(x)
        return x

    def describe(self) -> dict:
        """JSON-ready: name, kind (stack or bypass), its blocks, width, params, ..."""
        return {"name": self.name, "kind": self.kind, **self.info, "width": self.width,
                "grid": list(self.grid), "tokens": self.tokens, "params": self.n_params,
                "block_bytes": self.block_bytes,
                "dtype": str(self.dtype).removeprefix("torch."),
                "blocks": [b.describe()["block"] for b in self.blocks],
                "timestep": self.conditioning.get("timestep"),
                "embed_init": self.embed_init is not None,
                "pos_init": self.pos_init is not None, "keys_read": len(self.keys_read)}

    def extra_repr(self) -> str:
        return f"name={self.name!r}, blocks={len(self.blocks)}, width={self.width}"
