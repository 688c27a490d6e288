"""The fixed conditioning of one block of Wan, LTX-Video, Cosmos and V-JEPA 2.

Each builder takes the model built on the meta device with the embeddings its conditioning
reads loaded on the CPU, computing in float32 (:func:`.recent_backbones.conditioning_prefixes`,
:mod:`.embeddings`), and
returns a :class:`~.conditioning.Conditioning` of batch one, computed by the model's own
modules exactly as its forward computes what it hands its blocks:

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
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ConfigError
from .conditioning import Conditioning
from .spec import BackboneSpec

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


def recent_conditioning(spec: BackboneSpec, model, config: dict,
                        grid: tuple[int, int, int], timestep: int) -> Conditioning:
    """The conditioning of a block of ``spec`` (a family of :data:`RECENT_FAMILIES`)."""
    if spec.family == "wan":
        return wan_conditioning(model, config, grid, timestep)
    if spec.family == "ltx":
        return ltx_conditioning(model, config, grid, timestep, _constants(spec))
    if spec.family == "cosmos":
        return cosmos_conditioning(model, config, grid, timestep, _constants(spec))
    return vjepa2_conditioning(config, grid)
