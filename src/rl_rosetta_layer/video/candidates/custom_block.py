"""Any torch block as a candidate: a factory's ``nn.Module`` between the token adapters.

A layer of your own (:mod:`rl_rosetta_layer.layers.custom`) whose factory returns a
``torch.nn.Module`` mapping tokens (B, T, width) to the same shape is wrapped like a video
backbone's block: observation frames become tokens through the patch embedding with
positions, the module runs frozen, and the read-out and Q-value head follow
(:class:`~.candidate.VideoCandidate`, trained by :class:`~.learner.TorchLearner`). The
module may return a tuple whose first element is the tokens (as Hugging Face blocks do).

Its width is the module's ``width`` attribute (else ``embed_dim``, ``d_model``,
``hidden_size`` or ``dim``; else the input size of its first ``nn.Linear`` or
``nn.LayerNorm``). Its factory may name ``grid`` ((frames, rows, columns) of tokens) and
``tokens`` (their number, T).

Every draw torch makes while the factory runs comes from a ``torch.Generator`` seeded from
a ``numpy.random.Generator`` (:class:`SeededTorch`), never from torch's global generator,
so a module whose weights are drawn is the same in every process. The random twin
(``MODULE:FACTORY:random``) is the same module re-initialised by its own initialisers: the
``reset_parameters()`` (or ``_reset_parameters()``) of every submodule that has one,
children before parents as when the module was built, under a generator seeded from the
twin's ``numpy.random.Generator``. A parameter no such method owns is drawn by the rules of
:mod:`.twins` from that numpy generator, and the block's description names it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from ...checks import is_int
from ...errors import ConfigError
from ...layers.factory import BLOCK_ARGS, CustomName, call_factory, factory_rng, own_description
from ..checkpoints.twins import draw, init_rule
from .candidate import VideoCandidate
from .settings import token_grid, twin_rng

#: torch functions and tensor methods that draw random numbers (all take ``generator=``);
#: ``torch.nn.init``'s pass ``generator=None`` on, which is caught the same way.
RANDOM_FUNCTIONS = frozenset({
    "uniform_", "normal_", "random_", "bernoulli_", "exponential_", "geometric_", "cauchy_",
    "log_normal_", "rand", "randn", "randint", "randperm", "rand_like", "randn_like",
    "randint_like", "normal", "bernoulli", "multinomial", "poisson"})
#: Attributes read, in order, for the token width of a module.
WIDTH_ATTRS = ("width", "embed_dim", "d_model", "hidden_size", "dim")


class SeededTorch(TorchFunctionMode):
    """Within ``with SeededTorch(rng):`` every torch draw that names no generator (or
    ``generator=None``, as ``nn.init`` passes it) uses one seeded from ``rng`` (a
    ``numpy.random.Generator``): one generator per device, all from the same seed. Torch's
    global generator is neither read nor advanced.

    >>> import numpy as np
    >>> def draw():
    ...     with SeededTorch(np.random.default_rng(1)):
    ...         return torch.nn.Linear(3, 2).weight
    >>> state = torch.get_rng_state()
    >>> bool(torch.equal(draw(), draw())), bool(torch.equal(state, torch.get_rng_state()))
    (True, True)
    """

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        if not isinstance(rng, np.random.Generator):
            raise ConfigError(f"SeededTorch needs a numpy.random.Generator, got "
                              f"{type(rng).__name__}")
        self.seed = int(rng.integers(2 ** 63))
        self.generators: dict[torch.device, torch.Generator] = {}

    def _generator(self, device: torch.device) -> torch.Generator:
        if device not in self.generators:
            self.generators[device] = torch.Generator(device=device).manual_seed(self.seed)
        return self.generators[device]

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        wants = "generator" in kwargs or getattr(func, "__name__", "") in RANDOM_FUNCTIONS
        if wants and kwargs.get("generator") is None:
            tensors = (a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor))
            device = next((a.device for a in tensors), None)     # nn.init passes tensor=...
            device = torch.device(device or kwargs.get("device") or "cpu")
            if device.type != "meta":
                kwargs["generator"] = self._generator(device)
        return func(*args, **kwargs)


def reinitialise(module: torch.nn.Module, rng: np.random.Generator) -> list[str]:
    """Re-initialise ``module`` in place by its own initialisers under a generator seeded
    from ``rng`` (see the module docstring); returns the parameters drawn by the fallback
    rules instead (those no ``reset_parameters`` owns)."""
    resets, owned = [], set()
    for _, sub in reversed(list(module.named_modules())):      # children before parents
        reset = getattr(sub, "reset_parameters", None) or getattr(sub, "_reset_parameters",
                                                                  None)
        if callable(reset):
            resets.append(reset)
            owned |= {id(p) for p in sub.parameters(recurse=False)}
    with torch.no_grad():
        with SeededTorch(rng):
            for reset in resets:
                reset()
        fallback = []
        for sub_name, sub in module.named_modules():
            for name, param in sub.named_parameters(recurse=False):
                if id(param) in owned:
                    continue
                shape = tuple(param.shape)
                param.copy_(torch.from_numpy(draw(init_rule(sub, name, shape), shape, rng)))
                fallback.append(f"{sub_name}.{name}" if sub_name else name)
    return fallback


def block_width(module: torch.nn.Module, name: str) -> int:
    """The token width of ``module`` (see the module docstring)."""
    for attr in WIDTH_ATTRS:
        value = getattr(module, attr, None)
        if is_int(value) and value > 0:
            return int(value)
    for sub in module.modules():
        if isinstance(sub, torch.nn.Linear):
            return int(sub.in_features)
        if isinstance(sub, torch.nn.LayerNorm) and len(sub.normalized_shape):
            return int(sub.normalized_shape[-1])
    raise ConfigError(f"torch block {name!r} ({type(module).__name__}): cannot tell its token "
                      f"width; give the module an integer attribute width (or "
                      f"{', '.join(WIDTH_ATTRS[1:])})")


class CustomTokenBlock(torch.nn.Module):
    """A module of your own as a token block (the attributes :class:`VideoCandidate` reads):
    ``name``, ``width``, ``grid``, ``tokens``, ``n_params``, ``embed_init`` and ``pos_init``
    (None: the adapters draw their own), :meth:`describe`. Stays in eval mode."""

    def __init__(self, name: str, module: torch.nn.Module, *, width: int,
                 grid: tuple[int, int, int], target: str, random_twin: bool = False,
                 fallback: list[str] | None = None) -> None:
        super().__init__()
        self.block = module
        self.name, self.width, self.grid = name, int(width), tuple(int(g) for g in grid)
        self.tokens = math.prod(self.grid)
        self.target, self.random_twin = target, random_twin
        self.fallback = list(fallback or [])
        self.n_params = sum(p.numel() for p in module.parameters())
        self.embed_init = self.pos_init = None
        self.eval()

    def train(self, mode: bool = True) -> CustomTokenBlock:
        """Frozen: always stays in eval mode."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
            out = out[0]
        return out

    def describe(self) -> dict:
        return {"name": self.name, "target": self.target, "width": self.width,
                "grid": list(self.grid), "tokens": self.tokens, "params": self.n_params,
                "random_twin": self.random_twin, "fallback_init": self.fallback,
                "module": own_description(self.name, self.block, width=self.width,
                                          params=self.n_params)}


def make_module(custom: CustomName, factory, grid: tuple[int, int, int]) -> torch.nn.Module:
    """The factory's module for token grid ``grid`` (its draws seeded, see SeededTorch:
    :func:`rl_rosetta_layer.layers.custom.seeded_call` with torch loaded)."""
    with SeededTorch(factory_rng(custom.target)):
        module = call_factory(custom, factory, {"grid": tuple(grid),
                                                "tokens": math.prod(grid)})
    if not isinstance(module, torch.nn.Module):
        raise ConfigError(f"torch block {custom.name!r}: {custom.target} returned "
                          f"{type(module).__name__}, not a torch.nn.Module; a torch block's "
                          f"factory (naming {', '.join(BLOCK_ARGS)} or nothing) returns one")
    return module


def make_token_block(custom: CustomName, factory, grid: tuple[int, int, int]
                     ) -> CustomTokenBlock:
    """The block of ``custom`` (re-initialised for ``:random``), its tokens checked."""
    module = make_module(custom, factory, grid)
    width = block_width(module, custom.name)
    fallback = None
    if custom.random:
        fallback = reinitialise(module.cpu(), twin_rng(f"{custom.target}:random"))
    block = CustomTokenBlock(custom.name, module, width=width, grid=grid,
                             target=custom.target, random_twin=custom.random,
                             fallback=fallback)
    check_tokens(block)
    return block


def check_tokens(block: CustomTokenBlock) -> None:
    """Refuse a block that does not map tokens (2, T, width) to finite tokens of that
    shape (tokens drawn from ``np.random.default_rng(0)``, in the block's dtype)."""
    shape = (2, block.tokens, block.width)
    param = next(iter(block.parameters()), None)
    like = {"dtype": param.dtype, "device": param.device} if param is not None else {}
    x = torch.from_numpy(np.random.default_rng(0).standard_normal(shape, np.float32)).to(**like)
    try:
        with torch.no_grad():
            out = block(x)
    except Exception as exc:  # noqa: BLE001 - the user's module, named in one line
        raise ConfigError(f"torch block {block.name!r}: forward raised {type(exc).__name__} "
                          f"on tokens {shape} (B, T, width): {' '.join(str(exc).split())}; "
                          f"is its width {block.width}?") from exc
    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    if got != shape:
        raise ConfigError(f"torch block {block.name!r} maps tokens {shape} to {got}; a token "
                          f"block must keep the shape (B, T, width)")
    if not bool(torch.isfinite(out).all()):
        raise ConfigError(f"torch block {block.name!r} gave non-finite values on tokens "
                          f"{shape}; its output must be finite")


def build_candidate(custom: CustomName, factory, obs, settings) -> VideoCandidate:
    """The candidate ``custom`` for observations ``obs`` (frames) with ``settings``
    (:class:`~rl_rosetta_layer.video.candidates.settings.VideoSettings`), its protocol checked."""
    from ...layers.base import check_frozen_layer

    grid = token_grid(obs.obs_shape, settings.patch)
    block = make_token_block(custom, factory, grid)
    candidate = VideoCandidate(block, tuple(obs.obs_shape), patch=settings.patch,
                               device=settings.device, dtype=settings.dtype,
                               chunk_size=settings.chunk_size,
                               feature_norm=settings.feature_norm, readout=settings.readout,
                               readout_dim=settings.readout_dim,
                               learner=settings.learner)
    check_frozen_layer(candidate, obs.obs_dim, name=custom.name,
                       source=f"observations of {obs.source!r}")
    return candidate


def block_description(custom: CustomName, factory, obs, settings) -> dict:
    """What a run id records of the block: the module's own ``describe()`` (else its class,
    width and parameter count), built for the token grid of ``obs`` and ``settings``."""
    module = make_module(custom, factory, token_grid(obs.obs_shape, settings.patch))
    width = block_width(module, custom.name)
    return own_description(custom.name, module, width=width,
                           params=sum(p.numel() for p in module.parameters()))


def block_fingerprint(custom: CustomName, factory, obs, settings) -> str:
    """16 hex digits of a hash of the block's weights (in ``named_parameters`` order, as
    float32 bytes; a ``:random`` twin's redrawn ones) and of its outputs on fixed tokens
    (1, T, width) drawn from ``FINGERPRINT_SEED``, rounded as
    :func:`~...layers.base.output_fingerprint` rounds; the block's tokens checked first."""
    import hashlib

    from ...layers.base import FINGERPRINT_DECIMALS, FINGERPRINT_SEED

    block = make_token_block(custom, factory, token_grid(obs.obs_shape, settings.patch))
    digest = hashlib.sha256()
    for name, param in block.named_parameters():
        digest.update(name.encode())
        digest.update(param.detach().to(torch.float32).cpu().numpy().tobytes())
    tokens = np.random.default_rng(FINGERPRINT_SEED).random((1, block.tokens, block.width))
    param = next(iter(block.parameters()), None)
    like = {"dtype": param.dtype, "device": param.device} if param is not None else {}
    with torch.no_grad():
        out = block(torch.from_numpy(tokens.astype(np.float32)).to(**like))
    digest.update(np.round(out.double().cpu().numpy(), FINGERPRINT_DECIMALS).tobytes())
    return digest.hexdigest()[:16]
