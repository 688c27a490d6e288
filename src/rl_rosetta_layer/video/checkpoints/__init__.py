"""Reading one block from a checkpoint (the ``video`` extra: torch, diffusers,
transformers, safetensors), imported only when a block is built.

- :mod:`.folders`: where a model's config.json and safetensors are (pure path logic);
- :mod:`.shards`: which safetensors file holds each key, and reading keys into a module;
- :mod:`.loader`: one block (or blocks 0..k) built on the meta device and read alone;
- :mod:`.embeddings`, :mod:`.conditioning`: the fixed inputs a block needs (text, timestep,
  positions), computed by the model's own modules;
- :mod:`.token_block`: the block with its conditioning, mapping tokens to tokens;
- :mod:`.twins`: random-initialised twins of a block.
"""
