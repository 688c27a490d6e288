"""``tiny-video``: the project's own small CogVideoX-architecture model, pretrained on
procedural sprite videos (:mod:`.sprites`, :mod:`.data`, :mod:`.model`, :mod:`.pretrain`,
``rosetta pretrain`` in :mod:`.command`), and its shipped weights (:data:`WEIGHTS`).
"""

from pathlib import Path

#: Where the shipped tiny-video checkpoint lives (diffusers layout).
WEIGHTS = Path(__file__).resolve().parent / "weights" / "tiny-video"
