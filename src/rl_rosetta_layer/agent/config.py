"""The DQN's settings: one frozen dataclass, every field documented and validated."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from ..errors import ConfigError

ADAPTERS = ("dense", "lowrank", "none")
HEADS = ("linear", "mlp")
HEAD_ACTIVATIONS = ("tanh", "relu")
HEAD_NORMS = ("none", "layer")
#: Settings left out of ``to_dict`` (and so of run ids) while at these values: they came
#: after runs were stored, and leaving them out keeps those runs' ids.
OMITTED_DEFAULTS = {"env_steps": None, "head_activation": "tanh", "head_norm": "none",
                    "eval_checkpoints": 0, "eval_episodes": 50, "eval_epsilon": 0.01}


@dataclass(frozen=True)
class DQNConfig:
    """Settings of one training run. Identical for every layer in a comparison."""

    episodes: int = 350
    """Episodes per run (the budget unless ``env_steps`` is set; env steps are recorded)."""
    env_steps: int | None = None
    """Env steps per run. When set, this is the budget and ``episodes`` is ignored: every
    seed stops after exactly this many steps, and an episode still running then is not
    recorded. Fairer than episodes where episode lengths differ between tasks or policies."""
    batch_size: int = 64
    """Transitions per update."""
    gamma: float = 0.95
    """Discount factor."""
    lr: float = 3e-3
    """Adam learning rate of the output adapter (and of a trainable body)."""
    adapter_lr: float = 1e-2
    """Plain-SGD learning rate of the input adapter (see :class:`..optim.SGD` for why)."""
    adam_eps: float = 1e-6
    """Adam's epsilon."""
    buffer_size: int = 20_000
    """Replay capacity in transitions."""
    learning_starts: int = 500
    """Env steps of pure exploration before the first update."""
    train_every: int = 2
    """Env steps between updates."""
    target_update: int = 100
    """Updates between hard copies of the online network into the target network."""
    eps_start: float = 1.0
    """Exploration rate at step 0."""
    eps_end: float = 0.02
    """Exploration rate after the decay."""
    eps_decay_steps: int = 2_000
    """Env steps over which epsilon decays linearly from eps_start to eps_end."""
    n_step: int = 3
    """Rewards summed before bootstrapping (1 is one-step Q-learning)."""
    huber_delta: float = 1.0
    """Huber loss threshold on the TD error."""
    grad_clip: float = 10.0
    """Maximum global gradient norm per seed (0 disables clipping)."""
    double_dqn: bool = True
    """Choose next actions with the online network and value them with the target."""
    adapter: str = "lowrank"
    """Input adapter: 'lowrank' (x + tanh(x U) V), 'dense' (tanh(x A + c), A near the
    identity; the seed's) or 'none'."""
    head: str = "mlp"
    """Output adapter: 'linear' (the seed's) or 'mlp' (one tanh hidden layer)."""
    head_hidden: int = 64
    """Hidden units of the 'mlp' output adapter."""
    head_activation: str = "tanh"
    """Activation of the 'mlp' head's hidden layer: 'tanh' or 'relu'."""
    head_norm: str = "none"
    """'layer': LayerNorm (no affine) of the 'mlp' head's hidden pre-activations, so that no
    drift of its inputs can saturate them; 'none': as they are."""
    adapter_rank: int = 16
    """Rank of the 'lowrank' input adapter."""
    init_noise: float = 0.01
    """Standard deviation of the noise added to the dense adapter's identity at init."""
    eval_checkpoints: int = 0
    """Greedy evaluations during an env-step budget (``agent/evaluation.py``): at this many
    evenly spaced checkpoints, the last at the end, each seed plays ``eval_episodes``
    episodes apart from training (not counted in the budget); 0: none."""
    eval_episodes: int = 50
    """Episodes per evaluation checkpoint (the same starts for every layer and seed)."""
    eval_epsilon: float = 0.01
    """Exploration rate of the evaluation policy (against ties and loops)."""

    def __post_init__(self) -> None:
        positive_ints = ("episodes", "n_step", "batch_size", "buffer_size", "train_every",
                         "target_update", "eps_decay_steps", "adapter_rank", "head_hidden")
        for name in positive_ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.env_steps is not None and (isinstance(self.env_steps, bool)
                                           or not isinstance(self.env_steps, int)
                                           or self.env_steps < 1):
            raise ConfigError(f"env_steps must be a positive integer or None, got "
                              f"{self.env_steps!r}")
        if isinstance(self.learning_starts, bool) or not isinstance(self.learning_starts, int) \
                or self.learning_starts < 0:
            raise ConfigError(f"learning_starts must be an integer >= 0, got "
                              f"{self.learning_starts!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value)):
                raise ConfigError(f"{f.name} must be a finite number, got {value!r}")
        if not 0.0 <= self.gamma < 1.0:
            raise ConfigError(f"gamma must be in [0, 1), got {self.gamma!r}")
        for name in ("lr", "adapter_lr", "adam_eps", "huber_delta"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("eps_start", "eps_end"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if self.grad_clip < 0 or self.init_noise < 0:
            raise ConfigError(f"grad_clip and init_noise must be >= 0, got "
                              f"{self.grad_clip!r}, {self.init_noise!r}")
        if self.adapter not in ADAPTERS:
            raise ConfigError(f"adapter must be one of {ADAPTERS}, got {self.adapter!r}")
        if self.head not in HEADS:
            raise ConfigError(f"head must be one of {HEADS}, got {self.head!r}")
        if self.head_activation not in HEAD_ACTIVATIONS:
            raise ConfigError(f"head_activation must be one of {HEAD_ACTIVATIONS}, got "
                              f"{self.head_activation!r}")
        if self.head_norm not in HEAD_NORMS:
            raise ConfigError(f"head_norm must be one of {HEAD_NORMS}, got {self.head_norm!r}")
        if isinstance(self.eval_checkpoints, bool) or not isinstance(self.eval_checkpoints, int) \
                or self.eval_checkpoints < 0:
            raise ConfigError(f"eval_checkpoints must be an integer >= 0, got "
                              f"{self.eval_checkpoints!r}")
        if isinstance(self.eval_episodes, bool) or not isinstance(self.eval_episodes, int) \
                or self.eval_episodes < 1:
            raise ConfigError(f"eval_episodes must be a positive integer, got "
                              f"{self.eval_episodes!r}")
        if not 0.0 <= self.eval_epsilon <= 1.0:
            raise ConfigError(f"eval_epsilon must be in [0, 1], got {self.eval_epsilon!r}")
        if self.eval_checkpoints and self.env_steps is None:
            raise ConfigError(f"eval_checkpoints={self.eval_checkpoints} needs a budget in env "
                              f"steps (env_steps, --env-steps): checkpoints are evenly spaced "
                              f"in env steps")
        if self.eval_checkpoints and self.env_steps < self.eval_checkpoints:
            raise ConfigError(f"eval_checkpoints ({self.eval_checkpoints}) must not exceed "
                              f"env_steps ({self.env_steps})")
        if self.batch_size > self.buffer_size:
            raise ConfigError(f"batch_size ({self.batch_size}) must not exceed buffer_size "
                              f"({self.buffer_size})")

    def epsilon(self, step: int) -> float:
        """Exploration rate at env step ``step``."""
        frac = min(step / self.eps_decay_steps, 1.0)
        return self.eps_start + frac * (self.eps_end - self.eps_start)

    @property
    def budget(self) -> int:
        """The run's budget in its own unit (see :attr:`budget_unit`)."""
        return self.episodes if self.env_steps is None else self.env_steps

    @property
    def budget_unit(self) -> str:
        """'episodes' or 'env_steps'."""
        return "episodes" if self.env_steps is None else "env_steps"

    def to_dict(self) -> dict:
        """Every setting, but those of :data:`OMITTED_DEFAULTS` at that value (``env_steps``
        unset, the tanh head without normalisation): run ids made before they existed stay."""
        out = asdict(self)
        for name, default in OMITTED_DEFAULTS.items():
            if out[name] == default:
                del out[name]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> DQNConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown DQN setting(s) {unknown}; accepted: {sorted(known)}")
        return cls(**data)
