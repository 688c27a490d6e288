"""rosetta-layer: which frozen layer of a pretrained video model makes the best RL representation?

The numpy core never imports torch; torch-backed layers live behind the ``video`` extra.

Importing the package registers its Gymnasium ids (``rosetta/GridVideo-v0``,
``rosetta/MovingGoal-v0``, ``rosetta/Catch-v0``) when Gymnasium is already imported, which
is what Gymnasium's conventions need: ``gym.make("rl_rosetta_layer:rosetta/GridVideo-v0")``
imports this package first, and ``import gymnasium`` before ``import rl_rosetta_layer``
makes the plain ids work. It never imports Gymnasium itself (an optional extra, and 50-100
ms on every command otherwise); if the package was imported before Gymnasium, call
:func:`rl_rosetta_layer.envs.gym_registration.register_envs`.
"""

import sys

__version__ = "0.1.0"

if "gymnasium" in sys.modules:
    from .envs.gym_registration import register_envs as _register_envs

    _register_envs()
