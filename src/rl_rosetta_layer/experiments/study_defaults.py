"""The study's defaults (tasks, layers, seeds, backbone, DQN config, analysis and task
budgets), apart from :mod:`.study` so that building the command line's ``study`` flags
imports nothing heavy (the study module pulls in the statistics stack, scipy)."""

from __future__ import annotations

from ..agent.config import DQNConfig

DEFAULT_ENVS = ("catch", "moving-goal")
#: Pretrained blocks, their twins, the stacks of blocks 0..k, the bypass, the seed's
#: synthetic candidates, two baselines and the learners' agreement control.
DEFAULT_LAYERS = ("blocks,twins,prefixes,bypass,candidates,identity,mlp_full,"
                  "random_wide@torch")
DEFAULT_SEEDS = tuple(range(10))
DEFAULT_BACKBONE = "tiny-video"
#: The study's DQN: one budget in env steps for every layer and task, frozen input
#: adapters (every layer reads the observation as it is, a video block through its model's
#: own patch embedding, so each observation is encoded once), a LayerNorm in the head (no
#: saturation; docs/token-adapters.md, round 2), batch 32 and an early start; every other
#: setting is the project default. See docs/study.md for how the budget was chosen.
STUDY_CONFIG = DQNConfig(env_steps=20_000, batch_size=32, learning_starts=250,
                         eps_decay_steps=1500, adapter="none", head_norm="layer")
DEFAULT_DATASET_STEPS = 2000
#: Episodes per policy when measuring a task's random and reference returns.
TASK_EPISODES = 1000
