"""QNetwork.from_config builds the network NumpyLearner trains, so counting parameters
with it (as the report's facts do) gives the learner's own count."""

import itertools

import numpy as np
import pytest

from rl_rosetta_layer.agent import QNetwork
from rl_rosetta_layer.agent.config import ADAPTERS, HEAD_ACTIVATIONS, HEAD_NORMS, HEADS, DQNConfig
from rl_rosetta_layer.agent.learner import NumpyLearner
from rl_rosetta_layer.layers import RandomTanhLayer, TrainableBody

D, A = 18, 5


@pytest.mark.parametrize("adapter,head,activation,norm",
                         list(itertools.product(ADAPTERS, HEADS, HEAD_ACTIVATIONS,
                                                HEAD_NORMS)))
@pytest.mark.parametrize("trainable", [False, True])
def test_from_config_is_the_network_of_the_numpy_learner(adapter, head, activation, norm,
                                                         trainable):
    layer = (TrainableBody("mlp_full", D, 6, 0.3) if trainable
             else RandomTanhLayer("random", D, 6, 0.4, np.random.default_rng(0)))
    config = DQNConfig(adapter=adapter, adapter_rank=3, head=head, head_hidden=7,
                       head_activation=activation, head_norm=norm)
    net = QNetwork.from_config(D, layer, A, config)
    learner = NumpyLearner(layer, D, A, config, [np.random.default_rng(0)])
    assert net.shapes == learner.net.shapes
    assert net.n_params() == learner.n_params()
    assert net.n_adapter_params() == learner.net.n_adapter_params()
    # every setting, the layer itself and the folded input map included
    assert settings(net) == settings(learner.net)


def settings(net) -> dict:
    """A network's attributes, with arrays (a folded input map) as comparable bytes."""
    def plain(v):
        if isinstance(v, np.ndarray):
            return (v.dtype.str, v.shape, v.tobytes())
        return tuple(plain(a) for a in v) if isinstance(v, tuple) else v
    return {k: plain(v) for k, v in vars(net).items()}


def test_from_config_counts_by_hand():
    """Dense adapter (D*D + D), trainable body (D*6 + 6), linear head (6*A + A)."""
    config = DQNConfig(adapter="dense", head="linear")
    net = QNetwork.from_config(D, TrainableBody("mlp_full", D, 6, 0.3), A, config)
    assert net.n_params() == (D * D + D) + (D * 6 + 6) + (6 * A + A)
    assert net.n_adapter_params() == D * D + D
