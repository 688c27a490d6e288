"""What one video backbone is: :class:`BackboneSpec` (pure Python, no torch).

Kept apart from :mod:`.catalog` so that each family's table of specs (:mod:`.cogvideox`,
:mod:`.wan`, ...) can use it without importing the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BackboneSpec:
    """One backbone: where its classes come from and what its published config holds."""

    name: str
    """Name used on the command line and in layer names (``cogvideox-2b``)."""
    family: str
    """``cogvideox``, ``hunyuanvideo``, ``videomae``, ``wan``, ``ltx``, ``cosmos`` or
    ``vjepa2``: decides blocks and conditioning."""
    library: str
    """``diffusers`` or ``transformers``: the library whose class is built."""
    class_name: str
    """The model class; config.json's ``_class_name`` (diffusers) must equal it."""
    model_type: str | None
    """transformers' ``model_type`` in config.json (``videomae``); None for diffusers."""
    width: int | None
    """Hidden size (token width) of the published config; None: read from config.json."""
    heads: int | None
    """Attention heads of the published config; None: read from config.json."""
    blocks: tuple[str, ...]
    """Candidate blocks of the published config, in model order (empty: from config.json)."""
    block_params: tuple[tuple[str, int], ...]
    """(block list prefix, parameters per block) of the published config."""
    positions: str
    """How token positions enter: ``sincos`` (added at the patch embedding), ``rope``
    (3-D rotary, crop grid), ``rope-slice`` (CogVideoX 1.5), ``hunyuan-rope``, ``learned``,
    ``wan-rope``, ``ltx-rope``, ``cosmos-rope`` (plus ``+learned`` when every block adds a
    learned embedding), ``vjepa2-rope``."""
    conditioning: str
    """The fixed inputs one block gets besides its tokens (human-readable)."""
    repo: str | None = None
    """Hugging Face repository of the diffusers/transformers-format weights."""
    subfolder: str | None = None
    """Subfolder of ``repo`` that holds the model (``transformer`` for pipelines)."""
    default_weights: Path | None = None
    """Weights used when no ``--weights`` is given (only the project's own tiny-video)."""
    published_config: tuple[tuple[str, object], ...] = ()
    """config.json entries of the published model that differ from the class defaults."""
    notes: str = ""
    variant: str | None = None
    """The config variant this name stands for, where one class has several that the
    conditioning must tell apart (Cosmos: ``1.0``, ``2``, ``2.5``); checked on load."""
    constants: tuple[tuple[str, object], ...] = ()
    """Fixed pipeline settings the conditioning uses (Cosmos ``fps`` and ``noise``, LTX
    ``frame_rate`` and ``vae_compression``), as the released pipeline's defaults."""
    total_params: int | None = None
    """Parameters of the whole published model (meta device), for the docs."""


def block_range(prefix: str, n: int) -> tuple[str, ...]:
    """``('prefix.0', ..., 'prefix.{n-1}')``.

    >>> block_range("blocks", 2)
    ('blocks.0', 'blocks.1')
    """
    return tuple(f"{prefix}.{i}" for i in range(n))


#: The conditioning text of the families whose one text token is a projected zero vector.
ONE_TEXT = "one text token: {proj} of a zero text-encoder vector (the empty prompt's padding)"
