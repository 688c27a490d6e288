"""The fixed conditioning one block needs, built once from the model's own modules.

A block of a video diffusion transformer is called with more than its tokens: text tokens,
a timestep embedding, positions. To use it as a frozen layer, those are fixed once (no
prompt, one chosen timestep, the token grid's positions) and kept as buffers on the block's
device (:mod:`.token_block`); every call then maps tokens (B, T, width) -> (B, T, width)
with no host work. Each builder takes the model built on the meta device with the
embeddings its conditioning reads loaded on the CPU, computing in float32
(:func:`..backbones.catalog.conditioning_prefixes`, :mod:`.embeddings`), and returns a
:class:`Conditioning` of batch one, computed by the model's own modules exactly as its
forward computes what it hands its blocks (see docs/video-backbones.md):

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
- Wan: ``condition_embedder(t, zero text)`` gives the timestep projection (1, 6, width)
  and one text token, ``text_embedder`` of a zero text-encoder vector (the pipeline pads
  every prompt with zero vectors to 512 tokens; identical tokens attend as one); rotary
  (cos, sin) of the grid, each (1, T, 1, head_dim), from a ``WanRotaryPosEmbed``
  built on the CPU (the meta model's own holds meta buffers).
- LTX-Video: ``time_embed(t)`` (1, 1, 6 width); one text token ``caption_projection`` of a
  zero vector; rotary (1, T, width) from the model's ``rope`` with the pipeline's
  ``rope_interpolation_scale`` = (8 / frame rate 25, 32, 32).
- Cosmos: ``time_embed(t)`` gives ``temb`` (1, 3 width) and the embedded timestep
  (1, width); one zero text token (through ``crossattn_proj`` for Predict2.5: a Linear of a
  zero vector is its bias, so only that is read); rotary
  (T, head_dim) from the model's ``rope`` at the pipeline's fps; Cosmos 1.0 adds the
  learned positions ``learnable_pos_embed`` of the grid (1, T, width) in every block.
  ``t`` is the model's noise parameter for ``--timestep`` T: :func:`cosmos_timestep`.
- V-JEPA 2: no timestep and no text; the rotary position ids (1, T) of the grid placed in
  the top-left corner of the model's ``crop_size / patch_size`` square grid
  (:func:`vjepa2_positions`): its attention derives frame, row and column from them.

Token order everywhere is frame, patch row, patch column: T = F * h * w.

Token order everywhere is frame, patch row, patch column: T = F * h * w.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ...errors import ConfigError
from ..backbones.spec import BackboneSpec

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


def grid_tokens(grid: tuple[int, int, int]) -> int:
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
    return pos.reshape(grid_tokens(grid), width).numpy().astype(np.float32)


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
    tokens = grid_tokens(grid)
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


#: Cosmos 1.0's EDM noise range (sigma_min, sigma_max) of its scheduler.
COSMOS_SIGMA = (0.002, 80.0)


def cosmos_timestep(noise: str, timestep: int) -> float:
    """The timestep value a Cosmos model embeds for ``--timestep`` T (0-999).

    With t = T / 1000 the fraction of noise (as for Wan and LTX, whose models embed T
    itself): rectified-flow models (``rf``: Predict2, 2.5) embed t; EDM models (``edm``:
    Cosmos 1.0) embed 0.25 ln(sigma) for the same noise-to-signal ratio sigma = t / (1 - t),
    clamped to the scheduler's range 0.002-80.

    >>> cosmos_timestep("rf", 250)
    0.25
    >>> cosmos_timestep("edm", 500)
    0.0
    >>> round(cosmos_timestep("edm", 0), 4), round(cosmos_timestep("edm", 999), 4)
    (-1.5537, 1.0955)
    """
    t = timestep / 1000.0
    if noise == "rf":
        return t
    if noise != "edm":
        raise ConfigError(f"unknown Cosmos noise parametrisation {noise!r}; accepted: rf, edm")
    sigma = min(max(t / (1.0 - t), COSMOS_SIGMA[0]), COSMOS_SIGMA[1])
    return 0.25 * math.log(sigma)


def vjepa2_positions(grid: tuple[int, int, int], side: int) -> np.ndarray:
    """(T,) int64 token indices of an (F, h, w) grid in V-JEPA 2's square grid of ``side``
    patches per row: frame f, row r, column c -> f * side^2 + r * side + c.

    >>> vjepa2_positions((2, 1, 2), 4).tolist()
    [0, 1, 16, 17]
    """
    frames, h, w = grid
    if h > side or w > side:
        raise ConfigError(f"token grid {tuple(grid)} does not fit V-JEPA 2's {side} x {side} "
                          f"patch grid (crop_size / patch_size); use h, w <= {side}")
    f, r, c = np.meshgrid(np.arange(frames), np.arange(h), np.arange(w), indexing="ij")
    return (f * side * side + r * side + c).reshape(-1).astype(np.int64)


def _constants(spec: BackboneSpec) -> dict:
    return dict(spec.constants)


def _check_fits(grid: tuple[int, int, int], limits: tuple[int, int, int], what: str) -> None:
    if any(g > m for g, m in zip(grid, limits)):
        raise ConfigError(f"token grid {tuple(grid)} is larger than this model's {what} "
                          f"allows: at most {tuple(limits)} (frames, rows, columns)")


def wan_conditioning(model, config: dict, grid: tuple[int, int, int],
                     timestep: int) -> Conditioning:
    """Conditioning of a Wan block (see the module docstring)."""
    from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed

    patch = tuple(config.get("patch_size", (1, 2, 2)))
    max_len = int(config.get("rope_max_seq_len", 1024))
    _check_fits(grid, (max_len,) * 3, f"rotary table (rope_max_seq_len {max_len})")
    with torch.device("cpu"):
        rope = WanRotaryPosEmbed(int(config.get("attention_head_dim", 128)), patch, max_len)
    shape = torch.empty(1, 0, *(g * p for g, p in zip(grid, patch)))
    with torch.no_grad():
        cos, sin = rope(shape)
        text_in = torch.zeros(1, 1, int(config.get("text_dim", 4096)))
        _, proj, text, _ = model.condition_embedder(torch.tensor([float(timestep)]), text_in)
    info = {"text": "1 token: text_embedder of a zero vector", "timestep": timestep,
            "timestep_embedding": f"condition_embedder({timestep}) projection (1, 6, width)",
            "positions": "rotary of the (F, h, w) token grid (WanRotaryPosEmbed)"}
    return Conditioning(temb=proj.unflatten(1, (6, -1)), text=text, rotary=(cos, sin),
                        info=info)


def ltx_conditioning(model, config: dict, grid: tuple[int, int, int], timestep: int,
                     constants: dict) -> Conditioning:
    """Conditioning of an LTX-Video block (see the module docstring)."""
    frames, h, w = grid
    t_comp, s_comp = constants.get("vae_compression", (8, 32))
    rate = constants.get("frame_rate", 25)
    scale = (t_comp / rate, s_comp, s_comp)
    with torch.no_grad():
        temb, _ = model.time_embed(torch.tensor([float(timestep)]), batch_size=1,
                                   hidden_dtype=torch.float32)
        text = model.caption_projection(torch.zeros(1, 1, int(config.get("caption_channels",
                                                                         4096))))
        cos, sin = model.rope(torch.empty(1, 0, 0), frames, h, w, scale)
    info = {"text": "1 token: caption_projection of a zero vector", "timestep": timestep,
            "timestep_embedding": f"time_embed({timestep}) (1, 1, 6 width)",
            "positions": f"rotary of the (F, h, w) token grid, rope_interpolation_scale "
                         f"({t_comp}/{rate}, {s_comp}, {s_comp})"}
    return Conditioning(temb=temb.view(1, 1, -1), text=text, rotary=(cos, sin), info=info)


def cosmos_conditioning(model, config: dict, grid: tuple[int, int, int], timestep: int,
                        constants: dict) -> Conditioning:
    """Conditioning of a Cosmos block (see the module docstring)."""
    patch = tuple(config.get("patch_size", (1, 2, 2)))
    max_size = tuple(config.get("max_size", (128, 240, 240)))
    _check_fits(grid, tuple(m // p for m, p in zip(max_size, patch)),
                f"max_size {max_size} with patch {patch}")
    noise, fps = constants.get("noise", "rf"), constants.get("fps")
    value = cosmos_timestep(noise, timestep)
    shape = torch.empty(1, 0, *(g * p for g, p in zip(grid, patch)))
    with torch.no_grad():
        temb, embedded = model.time_embed(torch.zeros(1, 1, 1), torch.tensor([value]))
        cos, sin = model.rope(shape, fps=fps)
        if config.get("use_crossattn_projection", False):
            # crossattn_proj(0) = GELU(bias): its weight multiplies zeros and is not read
            linear, act = model.crossattn_proj
            text, told = act(linear.bias.float()).view(1, 1, -1), \
                "1 token: crossattn_proj of a zero vector (GELU of its bias)"
        else:
            text, told = torch.zeros(1, 1, int(config.get("text_embed_dim", 1024))), \
                "1 zero token"
        extra = {"embedded_timestep": embedded}
        if model.learnable_pos_embed is not None:
            extra["pos"] = model.learnable_pos_embed(shape)
    info = {"text": told, "timestep": timestep, "model_timestep": value,
            "timestep_embedding": f"time_embed({value:.6g}) ({noise}: from --timestep "
                                  f"{timestep})",
            "positions": f"rotary of the (F, h, w) token grid (fps {fps})"
                         + (" + learned positions in every block" if "pos" in extra else "")}
    return Conditioning(temb=temb, text=text, rotary=(cos, sin), extra=extra, info=info)


def vjepa2_conditioning(config: dict, grid: tuple[int, int, int]) -> Conditioning:
    """Conditioning of a V-JEPA 2 encoder layer: its tokens' position ids."""
    patch = config.get("patch_size", 16)
    patch = int(patch[0] if isinstance(patch, (list, tuple)) else patch)
    side = int(config.get("crop_size", 256)) // patch
    ids = torch.from_numpy(vjepa2_positions(grid, side)).unsqueeze(0)
    info = {"text": "none", "timestep": None, "timestep_embedding": "none",
            "positions": f"rotary position ids of the grid in the top-left corner of the "
                         f"{side} x {side} patch grid"}
    return Conditioning(extra={"positions": ids}, info=info)


def build_conditioning(spec: BackboneSpec, model, config: dict, grid: tuple[int, int, int],
                       timestep: int, width: int) -> Conditioning:
    """The conditioning of a block of ``spec`` (its model ``model`` on the meta device,
    with the embeddings the conditioning reads loaded)."""
    if spec.family == "cogvideox":
        return cogvideox_conditioning(model, config, grid, timestep, width)
    if spec.family == "hunyuanvideo":
        return hunyuan_conditioning(model, config, grid, timestep, width)
    if spec.family == "wan":
        return wan_conditioning(model, config, grid, timestep)
    if spec.family == "ltx":
        return ltx_conditioning(model, config, grid, timestep, _constants(spec))
    if spec.family == "cosmos":
        return cosmos_conditioning(model, config, grid, timestep, _constants(spec))
    if spec.family == "vjepa2":
        return vjepa2_conditioning(config, grid)
    return videomae_conditioning()
