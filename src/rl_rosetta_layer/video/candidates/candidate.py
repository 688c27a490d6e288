"""A frozen video-model block between token adapters: a candidate layer and its learner.

Observations are flat (N, D) float32 with D = F*C*H*W, ``obs_shape`` = (F, C, H, W), frames
oldest first (the grid's is (2, 2, 8, 8)). The input adapter embeds them as tokens the way
video diffusion transformers do: each frame is zero-padded to a multiple of ``patch``, each
p x p patch of each frame becomes one token of ``width`` values through a shared linear map
(CogVideoX's ``patch_embed.proj``), and a position (T, width) is added per token. Token
order is frame, patch row, patch column: T = F * ceil(H/p) * ceil(W/p). The frozen block
maps tokens (B, T, width) -> (B, T, width); the output adapter is a read-out
(:mod:`.readout`: per-token LayerNorm and a per-token projection by default) and the
Q-value head.

The input adapter starts from the block's own patch embedding and positions where it brings
them (``embed_init`` / ``pos_init``; tiny-video does), else from a draw of
``np.random.default_rng(analysis_seed)``. With a frozen input adapter (``adapter='none'``,
the study's setting) every seed reads the block through that same embedding, so each
observation is encoded once (:meth:`VideoCandidate.encode`: embedding, block, the
read-out's fixed part) and the learner trains only the read-out and the head.

For the *analysis*, :class:`VideoCandidate` is a layer on the numpy protocol, (N, D) ->
(N, C): those codes. For *training*, :meth:`VideoCandidate.learner_for` tells the DQN which
learner to use (:func:`.settings.video_learner`): with a frozen input adapter the numpy
learner trains the read-out and the head on the stored codes (``agent/network.py``), else
the torch learner (``agent/torch_learner.py``) keeps everything on the device.

The block is a "TokenBlock": a torch module with attributes ``name``, ``width``,
``grid`` = (F, h, w), ``n_params``, ``embed_init`` (None or numpy (weight (width, C', p, p),
bias (width,))), ``pos_init`` (None or numpy (T, width)) and ``describe()``.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch

from ...checks import is_int
from ...errors import ConfigError
from ...layers.base import NumpyLayer
from ...seeding import check_seed
from .bridge import check_chunk_size, chunked_forward, chunked_input_grad, freeze, host_dtype
from .devices import dtype_name, resolve_device, resolve_dtype
from .readout import Readout
from .settings import FEATURE_NORMS, LEARNERS, video_learner
from .settings import VideoSettings as V
from .tokens import TokenLayout, init_adapter

#: Memory for remembered codes of :meth:`VideoCandidate.encode`, per candidate.
CODE_CACHE_BYTES = 256 * 2 ** 20


def _positive_int(value: object, what: str) -> int:
    if not is_int(value) or value < 1:
        raise ConfigError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _check_block(block: object) -> tuple[str, int, tuple[int, int, int]]:
    if not isinstance(block, torch.nn.Module):
        raise ConfigError(f"a video candidate needs a torch.nn.Module token block, got "
                          f"{type(block).__name__}")
    missing = [a for a in ("name", "width", "grid") if not hasattr(block, a)]
    if missing:
        raise ConfigError(f"token block {type(block).__name__} lacks attribute(s) "
                          f"{', '.join(missing)}; a token block has name, width, grid, "
                          f"n_params, embed_init, pos_init and describe()")
    width = _positive_int(block.width, "block width")
    grid = tuple(block.grid)
    if len(grid) != 3:
        raise ConfigError(f"block grid must be (frames, h, w), got {block.grid!r}")
    return str(block.name), width, tuple(_positive_int(g, "block grid entry") for g in grid)


def _check_inits(block, layout: TokenLayout):
    """The block's embed_init / pos_init as float arrays, shapes checked against layout."""
    name, p, width = block.name, layout.patch, layout.width
    embed_init = getattr(block, "embed_init", None)
    pos_init = getattr(block, "pos_init", None)
    if embed_init is not None:
        try:
            w0, b0 = (np.asarray(a, np.float64) for a in embed_init)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"block {name!r}: embed_init must be (weight, bias) arrays, "
                              f"got {type(embed_init).__name__}") from err
        if w0.ndim != 4 or w0.shape[0] != width or w0.shape[2:] != (p, p) \
                or b0.shape != (width,):
            raise ConfigError(f"block {name!r}: embed_init must be weight ({width}, C, {p}, "
                              f"{p}) and bias ({width},) for patch {p}, got {w0.shape} and "
                              f"{b0.shape}")
        embed_init = (w0, b0)
    if pos_init is not None:
        pos_init = np.asarray(pos_init, np.float64)
        if pos_init.shape != (layout.tokens, width):
            raise ConfigError(f"block {name!r}: pos_init must have shape "
                              f"({layout.tokens}, {width}) for token grid {layout.grid}, "
                              f"got {pos_init.shape}")
    return embed_init, pos_init


class VideoCandidate(NumpyLayer):
    """Patch-embedding adapter -> frozen token block -> the read-out's fixed part, as a layer.

    ``forward(obs)`` (..., D) float32 -> (..., C) float32 codes (:mod:`.readout`: the
    LayerNormed tokens, flattened, or their mean for ``readout='mean'``) and
    ``backward(obs, grad)`` the input gradient, ``chunk_size`` observations at a time. The
    block is moved in place to ``device`` and cast to ``dtype`` ('float32', 'bfloat16';
    'float64' for gradient checks); adapters are float32 (float64 with a float64 block),
    and tokens are cast to the block's dtype and back around the block call.
    """

    #: Which learner trains this layer unless :meth:`learner_for` says otherwise
    #: (``agent/learner.make_learner``).
    trains_with = "torch"

    def __init__(self, block: torch.nn.Module, obs_shape: tuple[int, int, int, int], *,
                 patch: int = V.patch, device: str = V.device, dtype: str = V.dtype,
                 chunk_size: int = V.chunk_size, analysis_seed: int = 0,
                 feature_norm: str = V.feature_norm, readout: str = V.readout,
                 readout_dim: int = V.readout_dim, learner: str = V.learner) -> None:
        name, width, grid = _check_block(block)
        shape = tuple(obs_shape) if isinstance(obs_shape, (tuple, list)) else ()
        if len(shape) != 4:
            raise ConfigError(f"obs_shape must be (frames, channels, height, width), got "
                              f"{obs_shape!r}")
        f, c, h, w = (_positive_int(v, "obs_shape entry") for v in shape)
        self.layout = TokenLayout(f, c, h, w, _positive_int(patch, "patch"), width)
        if grid != self.layout.grid:
            raise ConfigError(f"block {name!r} expects a token grid {grid}, but observations "
                              f"{tuple(shape)} with patch {patch} give {self.layout.grid}")
        self.embed_init, self.pos_init = _check_inits(block, self.layout)
        self.readout = Readout(readout, self.layout.tokens, width,
                               _positive_int(readout_dim, "readout_dim"))
        self.name, self.input_dim = name, self.layout.obs_dim
        self.output_dim = self.readout.code_dim
        self.obs_shape = (f, c, h, w)
        self.device, self.dtype = resolve_device(device), resolve_dtype(dtype)
        own = getattr(block, "dtype", None)       # a loader's block casts inputs to this
        if isinstance(own, torch.dtype) and own != self.dtype:
            raise ConfigError(f"block {name!r} was built for {dtype_name(own)} but the "
                              f"candidate asks for {dtype_name(self.dtype)}; load the block "
                              f"in the dtype the candidate runs")
        self.param_dtype = torch.float64 if self.dtype == torch.float64 else torch.float32
        self.chunk_size = check_chunk_size(chunk_size)
        self.analysis_seed = check_seed(analysis_seed)
        if feature_norm not in FEATURE_NORMS:
            raise ConfigError(f"feature_norm must be one of {', '.join(FEATURE_NORMS)}, got "
                              f"{feature_norm!r}")
        self.feature_norm = feature_norm
        if learner not in LEARNERS:
            raise ConfigError(f"learner must be one of {', '.join(LEARNERS)}, got {learner!r}")
        self.learner = learner
        self.block = freeze(block, self.device, self.dtype)
        adapter = init_adapter(self.layout, np.random.default_rng(self.analysis_seed),
                               self.embed_init, self.pos_init)
        self.analysis_adapter = {k: self.to_device(v) for k, v in adapter.items()}
        self._codes: OrderedDict[bytes, np.ndarray] = OrderedDict()

    def learner_for(self, config) -> str:
        """'numpy' or 'torch': the learner that trains this candidate under ``config`` (a
        :class:`~rl_rosetta_layer.agent.config.DQNConfig`), :func:`.settings.video_learner`."""
        return video_learner(self.learner, config.adapter, self.readout.kind,
                             self.feature_norm)

    # ------------------------------------------------------------------ torch building blocks
    def to_device(self, a: np.ndarray) -> torch.Tensor:
        """A numpy array as a parameter-dtype tensor on the device."""
        return torch.from_numpy(np.ascontiguousarray(a)).to(self.device, self.param_dtype)

    def run_block(self, tokens: torch.Tensor) -> torch.Tensor:
        """Frozen block on tokens (N, T, width) -> (N, T, width), in the adapters' dtype."""
        out = self.block(tokens.to(self.dtype))
        if not isinstance(out, torch.Tensor) or out.shape != tokens.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ConfigError(f"block {self.name!r} returned {got} for tokens "
                              f"{tuple(tokens.shape)}; a token block maps (B, T, width) to "
                              f"the same shape")
        return out.to(self.param_dtype)

    def features(self, obs: torch.Tensor, adapter: dict[str, torch.Tensor]) -> torch.Tensor:
        """Codes (N, C) of observations (N, D) on the device under input adapter ``adapter``:
        embedding, block, the read-out's fixed part."""
        return self.readout.codes(self.run_block(self.layout.embed(obs.to(self.param_dtype),
                                                                   adapter)))

    def _analysis_fn(self, obs: torch.Tensor) -> torch.Tensor:
        return self.features(obs, self.analysis_adapter)

    def encode(self, obs: np.ndarray) -> np.ndarray:
        """Codes (M, C) float32 of observations (M, D) under the fixed input adapter.

        Codes are remembered (least recently used first out, up to ``CODE_CACHE_BYTES``):
        a task's observations recur (a catch run of 10,000 steps sees about 1,500
        distinct ones), and a remembered code is the very array the block gave. The rows
        not remembered go through the block together, ``chunk_size`` at a time: a block
        maps each row on its own (every op works per observation), so a row's code does
        not depend on the rows beside it (``tests/video/candidates/test_candidate.py``
        checks it bit for bit), and S seeds in lockstep cost little more than one.
        """
        rows = np.asarray(obs, host_dtype(self.dtype)).reshape(-1, self.input_dim)
        keys = [row.tobytes() for row in rows]
        cache = self._codes
        new: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            if key not in cache and key not in new:
                new[key] = i
        if new:
            firsts = list(new.values())
            with torch.inference_mode():
                for start in range(0, len(firsts), self.chunk_size):
                    part = firsts[start:start + self.chunk_size]
                    x = torch.from_numpy(rows[part]).to(self.device)
                    codes = self._analysis_fn(x).float().cpu().numpy()
                    for i, code in zip(part, codes):
                        cache[keys[i]] = code
        out = np.empty((rows.shape[0], self.output_dim), np.float32)
        for i, key in enumerate(keys):
            cache.move_to_end(key)
            out[i] = cache[key]
        limit = max(1, CODE_CACHE_BYTES // (4 * self.output_dim))
        while len(cache) > limit:
            cache.popitem(last=False)
        return out

    # ------------------------------------------------------------------ numpy layer protocol
    def forward(self, x: np.ndarray) -> np.ndarray:
        """(..., D) observations -> (..., width) pooled features, float32."""
        return chunked_forward(self._analysis_fn, x, self.input_dim, self.output_dim,
                               chunk_size=self.chunk_size, device=self.device,
                               in_dtype=host_dtype(self.dtype), name=self.name)

    def backward(self, x: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        """Gradient with respect to the observations (..., D) given dL/dfeatures."""
        return chunked_input_grad(self._analysis_fn, x, grad_out, self.input_dim,
                                  self.output_dim, chunk_size=self.chunk_size,
                                  device=self.device, in_dtype=host_dtype(self.dtype),
                                  name=self.name)

    def block_params(self) -> int:
        """Frozen parameters of the block."""
        return int(getattr(self.block, "n_params", None)
                   or sum(p.numel() for p in self.block.parameters()))

    def describe(self) -> dict:
        own = getattr(self.block, "describe", None)
        return {**super().describe(), "obs_shape": list(self.obs_shape),
                "patch": self.layout.patch, "grid": list(self.layout.grid),
                "readout": self.readout.describe(),
                "tokens": self.layout.tokens, "device": str(self.device),
                "dtype": dtype_name(self.dtype), "chunk_size": self.chunk_size,
                "analysis_seed": self.analysis_seed, "block_params": self.block_params(),
                "feature_norm": self.feature_norm,
                "embed_init": self.embed_init is not None,
                "pos_init": self.pos_init is not None,
                "block": own() if callable(own) else {"name": self.name}}
