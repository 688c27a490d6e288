"""Settings of video blocks, in pure Python: what ``--device``, ``--readout`` and the rest
accept, :class:`VideoSettings`, the token grid and the seeds of random twins.

Both sides read these: the numpy side (the video family :mod:`rl_rosetta_layer.video.family`,
the experiments and the command line) and the torch side (every other module of this
package). So this module imports no torch.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import asdict, dataclass

import numpy as np

from ...checks import is_int
from ...errors import ConfigError

#: Root of the seeds of random twins (one stream per block name, so a twin never changes).
TWIN_SEED = 4242
DTYPES = ("float32", "bfloat16")
#: Device names accepted (``cuda:N``: an index N that torch sees, checked when loading).
DEVICES = ("auto", "cpu", "cuda", "cuda:N")
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(?::\d+)?")
#: How the RL learner standardises what its head reads (:class:`VideoSettings.feature_norm`).
FEATURE_NORMS = ("none", "running", "tokens")
#: How a block's output tokens reach the head (:mod:`.readout`); the first is the default.
READOUTS = ("project", "attention", "flatten", "mean")
#: Which learner trains a block's read-out and head: the numpy learner on stored codes
#: (when it can: :func:`video_learner`) or the torch learner (the first numerics).
LEARNERS = ("numpy", "torch")
#: Read-outs whose trainable part the numpy network implements (``agent/network.py``).
NUMPY_READOUTS = ("project", "flatten", "mean")


@dataclass(frozen=True)
class VideoSettings:
    """How video blocks are loaded and run; saved with every run that uses one."""

    weights: str | None = None
    """Checkpoint folder or Hugging Face cache path (default: the backbone's own, if any)."""
    timestep: int = 500
    """Diffusion timestep of the block's fixed timestep embedding (0-999)."""
    device: str = "cpu"
    """Where the block and the adapters run: cpu, cuda, cuda:N or auto."""
    dtype: str = "float32"
    """The block's dtype (the adapters stay float32): float32 or bfloat16."""
    patch: int = 2
    """Side of the square patch of a frame that becomes one token."""
    chunk_size: int = 1024
    """Rows per block call in the analysis (bounds memory)."""
    feature_norm: str = "none"
    """'none': the head reads the read-out's values as they are; 'running': each seed
    standardises them per feature with running statistics of its update batches; 'tokens':
    each seed standardises the codes (every value of the block's LayerNormed tokens) with
    running statistics of its update batches, before the trainable read-out (the numpy
    learner only: a frozen input adapter and a 'project', 'flatten' or 'mean' read-out)."""
    readout: str = "project"
    """How the block's output tokens reach the head: 'project' (per-token LayerNorm, a
    shared per-token projection to ``readout_dim`` values, concatenated), 'attention'
    (per-token LayerNorm, attention pooling with a learned query), 'flatten' (per-token
    LayerNorm, all tokens) or 'mean' (mean over tokens, as first shipped)."""
    readout_dim: int = 4
    """Values per token of the 'project' read-out."""
    learner: str = "numpy"
    """Which learner trains the read-out and the head: 'numpy' (the numpy learner on the
    stored codes, about four times faster per update, where it can: a frozen input
    adapter, no feature normalisation, a 'project', 'flatten' or 'mean' read-out; the
    torch learner otherwise) or 'torch' (always the torch learner, as runs were first
    trained). The two agree to float tolerance; a run id says which one trained it."""

    def __post_init__(self) -> None:
        if not is_int(self.timestep) or not 0 <= self.timestep <= 999:
            raise ConfigError(f"--timestep must be an integer in 0-999, got {self.timestep!r}")
        if self.feature_norm not in FEATURE_NORMS:
            raise ConfigError(f"--feature-norm must be one of {', '.join(FEATURE_NORMS)}, got "
                              f"{self.feature_norm!r}")
        if self.readout not in READOUTS:
            raise ConfigError(f"--readout must be one of {', '.join(READOUTS)}, got "
                              f"{self.readout!r}")
        if self.learner not in LEARNERS:
            raise ConfigError(f"--learner must be one of {', '.join(LEARNERS)}, got "
                              f"{self.learner!r}")
        if not isinstance(self.device, str) \
                or not DEVICE_PATTERN.fullmatch(self.device.strip().lower()):
            raise ConfigError(f"--device must be one of {', '.join(DEVICES)}, got "
                              f"{self.device!r}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"--dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        for name in ("patch", "chunk_size", "readout_dim"):
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")

    def to_dict(self) -> dict:
        """Every setting, but ``feature_norm`` 'none', ``readout`` 'mean' (what runs made
        before these settings existed did, so their run ids are unchanged),
        ``readout_dim`` unless the read-out is 'project', and ``learner``: what trained a
        run is its config's business (:func:`video_learner`), not the block's."""
        out = asdict(self)
        del out["learner"]
        if out["feature_norm"] == "none":
            del out["feature_norm"]
        if out["readout"] == "mean":
            del out["readout"]
        if self.readout != "project":
            del out["readout_dim"]
        return out


def video_learner(learner: str, adapter: str, readout: str,
                  feature_norm: str = "none") -> str:
    """The learner that trains a block's read-out and head: 'numpy' when ``learner`` asks
    for it and the numpy network can (the input adapter is frozen, ``adapter`` 'none', so
    the replay holds codes, and a read-out of :data:`NUMPY_READOUTS`; with any feature
    norm), else 'torch'. ``feature_norm`` 'tokens' trains with the numpy learner only: a
    ConfigError where it cannot.

    >>> video_learner("numpy", "none", "project"), video_learner("numpy", "lowrank", "project")
    ('numpy', 'torch')
    """
    if learner == "numpy" and adapter == "none" and readout in NUMPY_READOUTS:
        return "numpy"
    if feature_norm == "tokens":
        raise ConfigError(f"--feature-norm tokens trains with the numpy learner only: "
                          f"--learner numpy, a frozen input adapter (--set adapter=none) and "
                          f"a read-out of {', '.join(NUMPY_READOUTS)}; got --learner "
                          f"{learner!r}, adapter {adapter!r}, --readout {readout!r} "
                          f"(--feature-norm running trains with either learner)")
    return "torch"


def token_grid(obs_shape: tuple[int, ...], patch: int) -> tuple[int, int, int]:
    """(frames, rows, columns) of tokens for observations (F, C, H, W) and ``patch``."""
    frames, _, height, width = obs_shape
    return frames, -(-height // patch), -(-width // patch)


def twin_rng(name: str) -> np.random.Generator:
    """The generator of a random twin's weights: fixed per layer name."""
    return np.random.default_rng([TWIN_SEED, zlib.crc32(name.encode())])


def check_frames(name: str, obs) -> None:
    """Refuse observations ``obs`` (:class:`~rl_rosetta_layer.layers.registry.Observations`)
    that are not frames (frames, channels, height, width): video layer ``name`` makes tokens
    of frames."""
    if obs.obs_shape is None or len(obs.obs_shape) != 4:
        raise ConfigError(f"video layer {name!r} needs observations that are frames "
                          f"(frames, channels, height, width); {obs.source!r} gives "
                          f"{obs.obs_shape!r}")

