"""A torch block of your own: a small MLP-Mixer block over the observation's tokens.

Any ``torch.nn.Module`` that maps tokens (B, T, width) to the same shape can stand where a
video model's block stands (from the repository root, or with this folder's parent on
PYTHONPATH; needs the video extra, torch):

    rosetta train --layers examples.my_block:make_block,examples.my_block:make_block:random

``:random`` is its random twin: the same module re-initialised by its own initialisers
(``reset_parameters()`` of its submodules) under a generator seeded from the layer's name.
"""

import torch
from torch import nn


class MixerBlock(nn.Module):
    """Token mixing across the T tokens, then channel mixing across the width."""

    def __init__(self, tokens: int, width: int = 32, hidden: int = 64) -> None:
        super().__init__()
        self.width = width                       # the token width rosetta embeds into
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.tokens = nn.Sequential(nn.Linear(tokens, hidden), nn.GELU(),
                                    nn.Linear(hidden, tokens))
        self.channels = nn.Sequential(nn.Linear(width, hidden), nn.GELU(),
                                      nn.Linear(hidden, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.tokens(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channels(self.norm2(x))

    def describe(self) -> dict:
        """What the run id records of the block."""
        return {"kind": "mixer", "width": self.width}


def make_block(tokens: int) -> MixerBlock:
    """The factory rosetta calls: it names ``tokens`` (T, the number of tokens the patch
    embedding makes), so it builds a torch block; its weights are drawn from a generator
    rosetta seeds, never from torch's global one."""
    return MixerBlock(tokens)
