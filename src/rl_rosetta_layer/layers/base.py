"""The frozen-layer protocol every candidate follows, numpy or torch.

A frozen layer maps ``(..., input_dim)`` float32 arrays to ``(..., output_dim)`` and can
return the gradient of a loss with respect to its *input*; its own weights never change.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class FrozenLayer(Protocol):
    """What the analysis and the agent need from a candidate layer."""

    name: str
    input_dim: int
    output_dim: int

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(..., input_dim) -> (..., output_dim)."""

    def backward(self, x: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        """Gradient with respect to ``x``: (..., input_dim), given dL/dy (..., output_dim)."""


class NumpyLayer:
    """Base class with the protocol plus a cached pair the agent's hot loop uses.

    ``forward_train`` returns the output and whatever ``backward_from`` needs, so a layer
    can keep its activations instead of recomputing them. The defaults just keep ``x``.
    """

    name: str = "layer"
    input_dim: int
    output_dim: int

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, x: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward_train(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        return self.forward(x), x

    def backward_from(self, ctx: Any, grad_out: np.ndarray) -> np.ndarray:
        return self.backward(ctx, grad_out)

    def input_map(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(W (input_dim, M), b (M,))`` when the layer is ``f(x W + b)``, with ``f`` given by
        :meth:`forward_pre` / :meth:`backward_pre`; None (the default) otherwise.

        Optional, for speed only: the agent then folds its low-rank input adapter into
        ``W`` (``(x + t V) W = x W + t (V W)``), stores ``x W + b`` once per observation and
        never multiplies a (batch, input_dim) array by ``W`` again (:mod:`..agent.network`).
        """
        return None

    def forward_pre(self, pre: np.ndarray) -> tuple[np.ndarray, Any]:
        """For a layer with an :meth:`input_map`: ``f(pre)`` (..., output_dim) of
        pre-activations ``pre = x W + b`` (..., M), which it may overwrite, and what
        :meth:`backward_pre` needs."""
        raise NotImplementedError

    def backward_pre(self, ctx: Any, grad_out: np.ndarray) -> np.ndarray:
        """For a layer with an :meth:`input_map`: dL/dpre (..., M) given dL/dy
        (..., output_dim) and :meth:`forward_pre`'s context."""
        raise NotImplementedError

    def describe(self) -> dict:
        """JSON-ready description saved beside results."""
        return {"name": self.name, "kind": type(self).__name__,
                "input_dim": self.input_dim, "output_dim": self.output_dim}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.input_dim} -> {self.output_dim})"


#: What :func:`check_frozen_layer` feeds a layer: a batch as the analysis passes it, and one
#: shaped as the agent's lockstep seeds pass it (seeds, batch, input_dim).
CHECK_SHAPES = ((5,), (2, 3))


def _call(layer, method: str, name: str, *args) -> np.ndarray:
    """``layer.method(*args)`` as a float array; anything it raises becomes one line."""
    from ..errors import ConfigError, RosettaError

    shapes = " and ".join(str(tuple(a.shape)) for a in args)
    try:
        out = getattr(layer, method)(*args)
    except RosettaError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's layer: named, typed, one line
        text = " ".join(str(exc).split())
        raise ConfigError(f"layer {name!r}: {method}() raised {type(exc).__name__}: {text} "
                          f"(called on {shapes})") from exc
    array = np.asarray(out) if not isinstance(out, np.ndarray) else out
    if array.dtype.kind not in "fiu":
        raise ConfigError(f"layer {name!r}: {method}() must return an array of real numbers, got "
                          f"{type(out).__name__} of dtype {array.dtype}")
    return array


def check_frozen_layer(layer: Any, input_dim: int | None = None, *, name: str | None = None,
                       source: str = "the observations") -> None:
    """Check that ``layer`` keeps the frozen-layer protocol; raise ConfigError naming the
    first rule it breaks (and the value that breaks it), else return None.

    The rules, in the order checked: it has ``input_dim``, ``output_dim``, ``forward`` and
    ``backward``; the dims are positive integers; ``input_dim`` equals ``input_dim`` (the
    observations' size) when given; ``forward`` maps (N, input_dim) to (N, output_dim) and
    (S, N, input_dim) to (S, N, output_dim) with finite float values; ``backward(x, g)``
    returns finite values shaped like ``x``; an optional ``input_map()`` (see
    :meth:`NumpyLayer.input_map`) gives the same forward and backward. Inputs are drawn from
    ``np.random.default_rng(0)``, so the check is the same every time.

    >>> from rl_rosetta_layer.layers import IdentityLayer
    >>> check_frozen_layer(IdentityLayer("identity", 4), 4)
    >>> check_frozen_layer(IdentityLayer("identity", 4), 6)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rl_rosetta_layer.errors.ConfigError: layer 'identity': input_dim is 4, but the ...
    """
    from ..checks import is_int
    from ..errors import ConfigError

    name = str(name or getattr(layer, "name", type(layer).__name__))
    needed = ("input_dim", "output_dim", "forward", "backward")
    missing = [a for a in needed if not hasattr(layer, a)]
    if missing:
        raise ConfigError(f"layer {name!r} ({type(layer).__name__}) lacks {', '.join(missing)}; "
                          f"a frozen layer has input_dim, output_dim, forward(x) and "
                          f"backward(x, grad_out)")
    for attr in ("forward", "backward"):
        if not callable(getattr(layer, attr)):
            raise ConfigError(f"layer {name!r}: {attr} must be a method, got "
                              f"{type(getattr(layer, attr)).__name__}")
    for attr in ("input_dim", "output_dim"):
        value = getattr(layer, attr)
        if not is_int(value) or value < 1:
            raise ConfigError(f"layer {name!r}: {attr} must be a positive integer, got "
                              f"{value!r}")
    d, k = int(layer.input_dim), int(layer.output_dim)
    if input_dim is not None and d != input_dim:
        raise ConfigError(f"layer {name!r}: input_dim is {d}, but {source} have {input_dim} "
                          f"values; the layer must take them as they come")
    rng = np.random.default_rng(0)
    for lead in CHECK_SHAPES:
        x = rng.random((*lead, d), dtype=np.float32)
        y = _call(layer, "forward", name, x)
        if y.shape != (*lead, k):
            raise ConfigError(f"layer {name!r}: forward must map {(*lead, 'input_dim')} to "
                              f"{(*lead, 'output_dim')} = {(*lead, k)}; x of shape {x.shape} "
                              f"gave {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ConfigError(f"layer {name!r}: forward gave non-finite values (e.g. "
                              f"{y[~np.isfinite(y)].flat[0]}) on x of shape {x.shape}; a "
                              f"frozen layer's output must be finite")
        g = rng.standard_normal((*lead, k)).astype(np.float32)
        dx = _call(layer, "backward", name, x, g)
        if dx.shape != x.shape:
            raise ConfigError(f"layer {name!r}: backward(x, grad_out) must return the "
                              f"gradient shaped like x, {x.shape}; got {dx.shape}")
        if not np.all(np.isfinite(dx)):
            raise ConfigError(f"layer {name!r}: backward gave non-finite values on x of "
                              f"shape {x.shape}; the input gradient must be finite")
    _check_input_map(layer, name, d, k, rng)


def _check_input_map(layer: Any, name: str, d: int, k: int, rng: np.random.Generator) -> None:
    """A layer's optional input map (:meth:`NumpyLayer.input_map`) must give the layer's
    own ``forward`` and ``backward``: ``forward_pre(x W + b) == forward(x)`` and
    ``backward_pre(ctx, g) W^T == backward(x, g)`` (the agent trains through it)."""
    from ..errors import ConfigError

    get = getattr(layer, "input_map", None)
    got = get() if callable(get) else None
    if got is None:
        return
    try:
        w, b = (np.asarray(a, np.float64) for a in got)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"layer {name!r}: input_map() must return (W, b) arrays or None, "
                          f"got {type(got).__name__}") from exc
    if w.ndim != 2 or w.shape[0] != d or b.shape != (w.shape[1],):
        raise ConfigError(f"layer {name!r}: input_map() must return W (input_dim, M) = "
                          f"({d}, M) and b (M,); got W {w.shape} and b {b.shape}")
    x = rng.random((5, d), dtype=np.float32)
    pre = (x @ w + b).astype(np.float32)
    y, ctx = layer.forward_pre(pre.copy())
    if np.shape(y) != (5, k) or not np.allclose(y, layer.forward(x), rtol=1e-4, atol=1e-5):
        raise ConfigError(f"layer {name!r}: forward_pre(x W + b) with its input_map() differs "
                          f"from forward(x); the input map must give the layer's own output")
    g = rng.standard_normal((5, k)).astype(np.float32)
    dpre = np.asarray(layer.backward_pre(ctx, g))
    if dpre.shape != pre.shape or not np.allclose(dpre @ w.T, layer.backward(x, g),
                                                  rtol=1e-3, atol=1e-4):
        raise ConfigError(f"layer {name!r}: backward_pre(ctx, g) W^T with its input_map() "
                          f"differs from backward(x, g); it must give dL/d(x W + b) "
                          f"{pre.shape}")


#: Root of the probe batch behind :func:`output_fingerprint`.
FINGERPRINT_SEED = 6161
#: Rows of that batch, and the decimals its outputs are rounded to before hashing (so
#: the last bits that BLAS threads or a CPU may change do not change the fingerprint).
FINGERPRINT_ROWS, FINGERPRINT_DECIMALS = 8, 5


def output_fingerprint(forward, input_dim: int) -> str:
    """16 hex digits of a hash of ``forward``'s outputs on a fixed probe batch
    (``FINGERPRINT_ROWS`` rows of ``input_dim`` values in [0, 1), from ``FINGERPRINT_SEED``),
    rounded to ``FINGERPRINT_DECIMALS`` decimals: what a run id records of what a layer of
    your own does, so that editing its code gives its runs new ids.

    >>> output_fingerprint(lambda x: 2 * x, 3) == output_fingerprint(lambda x: x + x, 3)
    True
    >>> output_fingerprint(lambda x: 2 * x, 3) == output_fingerprint(lambda x: 3 * x, 3)
    False
    """
    import hashlib

    probe = np.random.default_rng(FINGERPRINT_SEED).random((FINGERPRINT_ROWS, int(input_dim)))
    out = np.asarray(forward(probe.astype(np.float32)), np.float64)
    text = np.round(out, FINGERPRINT_DECIMALS).tobytes() + str(out.shape).encode()
    return hashlib.sha256(text).hexdigest()[:16]
