"""The fixed conditioning one block needs, and :class:`TokenBlock`, a block that maps tokens.

A block of a video diffusion transformer is called with more than its tokens: text tokens,
a timestep embedding, positions. To use it as a frozen layer, those are fixed once (no
prompt, one chosen timestep, the token grid's positions), built at construction and kept as
buffers on the block's device; every call then maps tokens (B, T, width) -> (B, T, width)
with no host work. What each family gets (see docs/video-backbones.md):

- CogVideoX: zero text tokens (B, 0, width); ``time_embedding(time_proj(t))`` of batch one
  (plus ``ofs_embedding(ofs_proj(2.0))`` for the image-to-video configs that have one, as
  their pipeline adds); rotary (cos, sin) of the grid for rotary configs, computed as the
  pipeline does; sin-cos configs add positions at the patch embedding, so the block gets
  none and ``pos_init`` carries them for the input adapter.
- HunyuanVideo: one dummy text token of zeros, hidden from attention by a boolean mask
  (zero text tokens crash its blocks); ``time_text_embed(t, zero pooled projection,
  guidance)`` of batch one, with the pipeline's default guidance 6.0 x 1000; the rotary
  embedding of the (F, h, w) grid from the model's own ``rope`` module.
- VideoMAE: nothing (its positions are added in the embeddings, before the first layer).
- Wan, LTX-Video, Cosmos, V-JEPA 2: see :mod:`.recent_conditioning`.

Token order everywhere is frame, patch row, patch column: T = F * h * w.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import ConfigError

#: HunyuanVideo's pipeline default guidance scale; the model embeds guidance x 1000.
HUNYUAN_GUIDANCE = 6.0
#: The ``ofs`` value CogVideoX 1.5 image-to-video pipelines pass when the model has one.
COGVIDEOX_OFS = 2.0
KINDS = ("cogvideox", "hunyuan-dual", "hunyuan-single", "videomae", "wan", "ltx", "cosmos",
         "vjepa2")


@dataclass
class Conditioning:
    """Fixed extra inputs of one block, built on the CPU in float32 (batch one)."""

    temb: torch.Tensor | None = None
    """(1, E) timestep embedding (Wan (1, 6, width), LTX (1, 1, 6 width)), or None."""
    text: torch.Tensor | None = None
    """(1, L, C) text tokens: L = 0 (CogVideoX), 1 dummy token (HunyuanVideo), 1 projected
    zero token (Wan, LTX, Cosmos)."""
    mask: torch.Tensor | None = None
    """(1, 1, 1, T + L) boolean attention mask (HunyuanVideo: hides the dummy token)."""
    rotary: tuple[torch.Tensor, torch.Tensor] | None = None
    """(cos, sin), each (T, head_dim), or None."""
    pos_init: np.ndarray | None = None
    """(T, width) float32 positions the model adds at its patch embedding, or None."""
    extra: dict[str, torch.Tensor] = field(default_factory=dict)
    """Further named inputs (Cosmos ``embedded_timestep`` and ``pos``, V-JEPA 2
    ``positions``), batch one: floating ones cast to the block's dtype, others kept."""
    info: dict = field(default_factory=dict)
    """JSON-ready description of what was built."""


def _grid_tokens(grid: tuple[int, int, int]) -> int:
    return math.prod(grid)


def cogvideox_conditioning(model, config: dict, grid: tuple[int, int, int], timestep: int,
                           width: int) -> Conditioning:
    """Conditioning of a CogVideoX block; ``model`` has ``time_embedding`` (and
    ``ofs_embedding`` if configured) loaded on the CPU, computing in float32."""
    with torch.no_grad():
        t = torch.tensor([timestep], dtype=torch.long)
        temb = model.time_embedding(model.time_proj(t).float())
        info = {"text": "0 tokens", "timestep": timestep,
                "timestep_embedding": f"time_embedding(time_proj({timestep}))"}
        if getattr(model, "ofs_embedding", None) is not None:
            ofs = torch.tensor([COGVIDEOX_OFS])
            temb = temb + model.ofs_embedding(model.ofs_proj(ofs).float())
            info["timestep_embedding"] += f" + ofs_embedding(ofs_proj({COGVIDEOX_OFS}))"
    cond = Conditioning(temb=temb, text=torch.zeros(1, 0, width), info=info)
    if config.get("use_rotary_positional_embeddings", False):
        cond.rotary, info["positions"] = cogvideox_rotary(config, grid)
    elif config.get("use_learned_positional_embeddings", False):
        info["positions"] = "learned, added at the patch embedding (not given: pos_init None)"
    else:
        cond.pos_init = cogvideox_sincos(config, grid, width)
        info["positions"] = "3-D sin-cos added at the patch embedding: pos_init (T, width)"
    return cond


def cogvideox_sincos(config: dict, grid: tuple[int, int, int], width: int) -> np.ndarray:
    """(T, width) float32: the sin-cos positions CogVideoXPatchEmbed adds for ``grid``."""
    from diffusers.models.embeddings import get_3d_sincos_pos_embed

    frames, h, w = grid
    pos = get_3d_sincos_pos_embed(width, (w, h), frames,
                                  config.get("spatial_interpolation_scale", 1.875),
                                  config.get("temporal_interpolation_scale", 1.0),
                                  output_type="pt")
    return pos.reshape(_grid_tokens(grid), width).numpy().astype(np.float32)


def cogvideox_rotary(config: dict, grid: tuple[int, int, int]):
    """((cos, sin), description): the 3-D rotary embedding CogVideoX pipelines compute for
    a latent grid of ``grid`` tokens (``F`` counts token frames)."""
    from diffusers.models.embeddings import get_3d_rotary_pos_embed

    frames, h, w = grid
    p = config.get("patch_size", 2)
    head_dim = config.get("attention_head_dim", 64)
    base_h = config.get("sample_height", 60) // p
    base_w = config.get("sample_width", 90) // p
    if config.get("patch_size_t") is None:
        from diffusers.pipelines.cogvideo.pipeline_cogvideox import (
            get_resize_crop_region_for_grid,
        )

        crops = get_resize_crop_region_for_grid((h, w), base_w, base_h)
        cos, sin = get_3d_rotary_pos_embed(embed_dim=head_dim, crops_coords=crops,
                                           grid_size=(h, w), temporal_size=frames)
        return (cos.float(), sin.float()), f"3-D rotary, crop grid of {base_h}x{base_w}"
    if h > base_h or w > base_w:
        raise ConfigError(f"token grid {grid} is too large for this CogVideoX 1.5 config: "
                          f"its rotary 'slice' grid allows h <= {base_h} and w <= {base_w}")
    cos, sin = get_3d_rotary_pos_embed(embed_dim=head_dim, crops_coords=None,
                                       grid_size=(h, w), temporal_size=frames,
                                       grid_type="slice", max_size=(base_h, base_w))
    return (cos.float(), sin.float()), f"3-D rotary, slice grid (max {base_h}x{base_w})"


def hunyuan_conditioning(model, config: dict, grid: tuple[int, int, int], timestep: int,
                         width: int) -> Conditioning:
    """Conditioning of a HunyuanVideo block; ``model`` has ``time_text_embed`` loaded on
    the CPU, computing in float32 (its ``rope`` module has no weights)."""
    frames, h, w = grid
    p, p_t = config.get("patch_size", 2), config.get("patch_size_t", 1)
    with torch.no_grad():
        t = torch.tensor([float(timestep)])
        pooled = torch.zeros(1, config.get("pooled_projection_dim", 768))
        guidance = None
        if config.get("guidance_embeds", True):
            guidance = torch.tensor([HUNYUAN_GUIDANCE * 1000.0])
        temb, _ = model.time_text_embed(t, pooled, guidance)
        shape_only = torch.empty(1, 0, frames * p_t, h * p, w * p)
        cos, sin = model.rope(shape_only)
    tokens = _grid_tokens(grid)
    mask = torch.ones(1, 1, 1, tokens + 1, dtype=torch.bool)
    mask[..., tokens:] = False
    info = {"text": "1 dummy token of zeros, masked out", "timestep": timestep,
            "timestep_embedding": f"time_text_embed({timestep}, pooled zeros, guidance "
                                  f"{'none' if guidance is None else HUNYUAN_GUIDANCE * 1000})",
            "positions": "rotary of the (F, h, w) token grid (model.rope)"}
    return Conditioning(temb=temb, text=torch.zeros(1, 1, width), mask=mask,
                        rotary=(cos.float(), sin.float()), info=info)


def videomae_conditioning() -> Conditioning:
    return Conditioning(info={"text": "none", "timestep": None, "timestep_embedding": "none",
                              "positions": "added in the embeddings, before the first layer"})


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
        self.tokens = _grid_tokens(self.grid)
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
        self.tokens = _grid_tokens(self.grid)
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
