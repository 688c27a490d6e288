"""rosetta-layer: which frozen layer of a pretrained video model makes the best RL representation?

The numpy core never imports torch; torch-backed layers live behind the ``video`` extra.
"""

__version__ = "0.1.0"
