"""Frames of a Gymnasium environment in the project's format: taken, scaled, recoloured, resized.

:class:`~.gym_adapter.GymVectorEnv` reads each copy's image with a :class:`FrameSource` and
turns a batch of them into flat float32 values in [0, 1] with a :class:`FrameScaler`.

Where a frame comes from (``source``)
    ``"obs"``: the observation itself when it is an image: a ``Box`` of shape ``(H, W)`` or
    ``(H, W, C)`` (channel-last, any dtype), or a ``Dict`` with an ``"image"`` such Box
    (MiniGrid's symbolic 7x7x3 view). A 1-D ``Box`` counts as an image only when the
    environment declares its layout with a ``frame_layout = (history, C, H, W)`` attribute
    (the project's own ``rosetta/GridVideo-v0`` does; the newest of its frames is used).
    ``"render"``: the ``rgb_array`` frame of ``env.render()``. ``"auto"``: ``"obs"`` when the
    observation is an image, else ``"render"``.

How a frame becomes values in [0, 1] (the first rule that applies)
    1. MiniGrid's symbolic image (object, color, state indices; recognised as a 3-channel
       Box over the agent's view or the whole grid): each channel divided by the
       largest index of its table in ``minigrid.core.constants`` (``len(OBJECT_TO_IDX) - 1``,
       ``len(COLOR_TO_IDX) - 1``, ``len(STATE_TO_IDX) - 1``), then clipped to [0, 1] (only
       the agent-direction states 2-3 of ``FullyObsWrapper`` views saturate). MiniGrid
       indexes this view ``[x, y]``; it is transposed so that rows are y, as in renders and
       in the project's grid.
    2. ``uint8`` frames (and every ``rgb_array`` render): divided by 255.
    3. ``bool`` frames: 0 or 1.
    4. Observations whose Box bounds are all finite: ``(x - low) / (high - low)`` per element
       (0 where ``high == low``), clipped to [0, 1].
    5. Anything else (unbounded Boxes, non-uint8 renders), frame by frame: kept as is when it
       already lies in [0, 1], else ``(x - m) / (M - m)`` with ``m = min(0, frame.min())``
       and ``M = frame.max()`` (all zeros when ``M == m``). This rule loses the absolute
       scale between frames; it is recorded as ``"per_frame"`` in ``describe()``.

Resizing and colour
    Frames are resized to ``frame_size x frame_size`` by exact area averaging (each output
    pixel is the overlap-weighted mean of the input pixels its box covers), so sizes need not
    divide; when upsampling (e.g. MiniGrid's 7x7 view to 8x8) neighbouring cells blend at
    the seams, so ``frame_size=7`` keeps MiniGrid's symbolic cells intact. With ``grayscale``
    a 3- or 4-channel image becomes ``0.299 R + 0.587 G + 0.114 B`` (alpha ignored); any
    other channel count (MiniGrid's symbolic one included) becomes the channel mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .gym_minigrid import symbolic_divisor

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of exact area resampling along one axis; rows sum to 1.

    >>> (3 * area_weights(3, 2)).round(4).tolist()      # thirds of each input pixel
    [[2.0, 1.0, 0.0], [0.0, 1.0, 2.0]]
    """
    edges = np.arange(n_out + 1) * (n_in / n_out)
    cells = np.arange(n_in + 1, dtype=np.float64)
    overlap = np.minimum(edges[1:, None], cells[None, 1:]) \
        - np.maximum(edges[:-1, None], cells[None, :-1])
    w = np.clip(overlap, 0.0, None)
    return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)


def image_space(space, unwrapped):
    """How the observation holds an image: ('image' | 'dict_image' | 'layout', Box) or None."""
    from gymnasium import spaces
    if isinstance(space, spaces.Dict) and "image" in space.spaces:
        sub = space.spaces["image"]
        if isinstance(sub, spaces.Box) and len(sub.shape) in (2, 3):
            return "dict_image", sub
        return None
    if not isinstance(space, spaces.Box):
        return None
    if len(space.shape) in (2, 3):
        return "image", space
    layout = getattr(unwrapped, "frame_layout", None)
    if len(space.shape) == 1 and layout is not None and len(layout) == 4 \
            and int(np.prod(layout)) == space.shape[0]:
        return "layout", space
    return None


@dataclass(frozen=True)
class FrameSource:
    """Where one copy's frame comes from.

    ``kind``: ``"image"``, ``"dict_image"`` or ``"layout"`` (the observation, see
    :func:`image_space`) or ``"render"``; ``box``: the observation's image Box (None for
    renders); ``symbolic``: MiniGrid's (object, color, state) view, indexed ``[x, y]``;
    ``layout``: ``(history, C, H, W)`` of a flat observation of kind ``"layout"``.
    """

    kind: str
    box: object = None
    symbolic: bool = False
    layout: tuple[int, ...] | None = None

    def raw(self, env, obs) -> np.ndarray | None:
        """The image of one copy as an (H, W, C) array, before scaling."""
        if self.kind == "render":
            frame = env.render()
            if frame is None:
                return None
        elif self.kind == "dict_image":
            frame = obs["image"]
            if self.symbolic:           # MiniGrid indexes its view [x, y]: make rows y
                frame = np.swapaxes(frame, 0, 1)
        elif self.kind == "layout":
            return np.asarray(obs).reshape(self.layout)[-1].transpose(1, 2, 0)
        else:
            frame = obs if not self.symbolic else np.swapaxes(obs, 0, 1)
        frame = np.asarray(frame)
        return frame[:, :, None] if frame.ndim == 2 else frame


class FrameScaler:
    """Turns raw (H, W, C) frames shaped like ``raw`` into (N, C' * F * F) float32 in [0, 1].

    ``scaling`` names the rule that applies (see the module docstring): one of
    ``"minigrid_symbolic"``, ``"uint8"``, ``"bool"``, ``"box_bounds"``, ``"per_frame"``.
    """

    def __init__(self, env_id: str, source: FrameSource, raw: np.ndarray, *,
                 frame_size: int, grayscale: bool) -> None:
        self.env_id = env_id
        self.grayscale = grayscale
        self.frame_shape = raw.shape
        h, w, c = raw.shape
        self.channels = 1 if grayscale else c
        f = frame_size
        self._resize = None if (h, w) == (f, f) else (area_weights(h, f), area_weights(w, f).T)
        self._low = self._span = None
        self.scaling = self._rule(source, raw)

    def _rule(self, source: FrameSource, raw: np.ndarray) -> str:
        box = source.box
        if source.symbolic:
            self._divisor = symbolic_divisor()
            return "minigrid_symbolic"
        if raw.dtype == np.uint8:
            return "uint8"
        if raw.dtype == np.bool_:
            return "bool"
        if box is None or not (np.isfinite(box.low).all() and np.isfinite(box.high).all()):
            return "per_frame"
        shape = source.layout if source.kind == "layout" else box.shape
        low = np.broadcast_to(box.low, box.shape).reshape(shape)
        high = np.broadcast_to(box.high, box.shape).reshape(shape)
        if source.kind == "layout":
            low, high = low[-1].transpose(1, 2, 0), high[-1].transpose(1, 2, 0)
        elif low.ndim == 2:
            low, high = low[:, :, None], high[:, :, None]
        span = (high - low).astype(np.float32)
        self._low = low.astype(np.float32)
        self._span = np.where(span > 0, span, np.inf).astype(np.float32)
        return "box_bounds"

    def __call__(self, raw: list[np.ndarray]) -> np.ndarray:
        """Scale, recolour and resize raw (H, W, C) frames: (len(raw), C' * F * F) float32."""
        try:
            x = np.stack(raw).astype(np.float32)
        except ValueError as exc:
            raise ConfigError(f"{self.env_id} changed its frame shape from {self.frame_shape} "
                              f"to {[r.shape for r in raw]}") from exc
        if x.shape[1:] != self.frame_shape:
            raise ConfigError(f"{self.env_id} changed its frame shape from {self.frame_shape} "
                              f"to {x.shape[1:]}")
        if self.scaling == "minigrid_symbolic":
            x = np.clip(x / self._divisor, 0.0, 1.0)
        elif self.scaling == "uint8":
            x *= np.float32(1 / 255)
        elif self.scaling == "box_bounds":
            x = np.clip((x - self._low) / self._span, 0.0, 1.0)
        elif self.scaling == "per_frame":
            lo = np.minimum(x.min(axis=(1, 2, 3), keepdims=True), 0.0)
            hi = x.max(axis=(1, 2, 3), keepdims=True)
            inside = (lo >= 0.0) & (hi <= 1.0)
            span = np.where(hi > lo, hi - lo, np.inf)
            x = np.where(inside, x, (x - lo) / span).astype(np.float32)
        if self.grayscale:
            c = x.shape[3]
            x = x[..., :3] @ LUMA[:, None] if c in (3, 4) and self.scaling != \
                "minigrid_symbolic" else x.mean(axis=3, keepdims=True)
        x = x.transpose(0, 3, 1, 2)                                   # (N, C, H, W)
        if self._resize is not None:
            rows, cols = self._resize
            x = rows @ x @ cols
        x = np.clip(x, 0.0, 1.0, dtype=np.float32)     # resampling rounds a hair past 1
        return x.reshape(len(raw), -1)
