"""identity plus a fixed per-feature offset: the raw observation, most of each code the same
for every observation (a stand-in for a frozen embedding whose positions dominate)."""
import numpy as np


class Offset:
    def __init__(self, dim, scale, rng):
        self.input_dim = self.output_dim = dim
        self.scale = scale
        self.c = (scale * rng.standard_normal(dim)).astype(np.float32)

    def forward(self, x):
        return np.asarray(x, np.float32) + self.c

    def backward(self, x, grad_out):
        return grad_out

    def describe(self):
        return {"kind": "offset", "scale": self.scale}


def offset3(input_dim, rng):
    return Offset(input_dim, 3.0, rng)


def offset10(input_dim, rng):
    return Offset(input_dim, 10.0, rng)


def offset1(input_dim, rng):
    return Offset(input_dim, 1.0, rng)
