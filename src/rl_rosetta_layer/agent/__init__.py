"""The DQN agent: adapters around a frozen layer, trained with Double DQN."""

from .config import ADAPTERS, DQNConfig
from .dqn import train_lockstep
from .network import QNetwork
from .result import RunResult

__all__ = ["ADAPTERS", "DQNConfig", "QNetwork", "RunResult", "train_lockstep"]
