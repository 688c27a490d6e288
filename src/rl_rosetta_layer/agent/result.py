"""What one (layer, seed) training run produced."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .evaluation import final_and_auc
from .health import flags_of


@dataclass
class RunResult:
    """Per-episode records of one run. Arrays have one entry per finished episode."""

    layer: str
    seed: int
    returns: np.ndarray
    """Undiscounted return of each episode (E,)."""
    lengths: np.ndarray
    """Env steps of each episode (E,)."""
    successes: np.ndarray
    """Whether each episode reached its goal (E,) bool."""
    diverged: bool = False
    error: str = ""
    updates: int = 0
    wall_seconds: float = 0.0
    extra: dict = field(default_factory=dict)
    health: list = field(default_factory=list)
    """Health checks on the task's probe set during training, in order (see
    :mod:`.health`); the last one decides :attr:`flags`. Empty when not checked."""
    evaluations: list = field(default_factory=list)
    """Greedy evaluations at checkpoints, in order (:func:`.evaluation.evaluate`: dicts of
    ``checkpoint``, ``env_steps``, ``returns``, ``lengths``, ``successes``). Empty when the
    config asks for none."""
    network: dict | None = None
    """The final online network's parameters by name (float32 arrays), when saved."""

    @property
    def final_eval(self) -> float:
        """The last checkpoint's mean evaluation return (NaN without evaluations)."""
        return final_and_auc(self.evaluations)[0]

    @property
    def auc_eval(self) -> float:
        """The mean over checkpoints of their mean evaluation returns: the area under the
        evaluation curve, per checkpoint (NaN without evaluations)."""
        return final_and_auc(self.evaluations)[1]

    @property
    def env_steps(self) -> np.ndarray:
        """Cumulative env steps at the end of each episode (E,)."""
        return np.cumsum(self.lengths)

    @property
    def flags(self) -> list[str]:
        """What the last health check found wrong (``constant_policy``, ``saturated_head``)."""
        return flags_of(self.health[-1] if self.health else None)

    @property
    def status(self) -> str:
        if self.diverged:
            return "diverged"
        return "failed" if self.error else "ok"

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("returns", "lengths", "successes"):
            d[k] = np.asarray(d[k]).tolist()
        if self.network is not None:
            d["network"] = {k: np.asarray(v).tolist() for k, v in self.network.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RunResult:
        d = dict(d)
        d["returns"] = np.asarray(d["returns"], np.float64)
        d["lengths"] = np.asarray(d["lengths"], np.int64)
        d["successes"] = np.asarray(d["successes"], bool)
        if d.get("network") is not None:
            d["network"] = {k: np.asarray(v, np.float32) for k, v in d["network"].items()}
        return cls(**d)
