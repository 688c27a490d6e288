"""Real and pretrained video-model blocks as frozen candidates (the ``video`` extra).

Everything here needs torch, diffusers or transformers, so nothing in this package is
imported on the numpy path; this ``__init__`` imports nothing itself. Modules:

- ``backbones``, ``loader``, ``conditioning``, ``twins``: backbones by name, one block read
  from (sharded) safetensors on the meta device, the fixed conditioning a block needs, and
  random-initialised twins of blocks.
- ``bridge``, ``candidate``, ``learner``: any frozen torch module on the layer protocol, a
  block between token adapters as a candidate, and its DQN learner on the device.
- ``sprites``, ``pretrain``: procedural sprite videos and the pretraining of ``tiny-video``.
"""
