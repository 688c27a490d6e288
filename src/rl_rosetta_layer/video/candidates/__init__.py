"""A block as a candidate layer: tokens in, the token adapters and read-outs around it, its
settings and devices, and its learner's view (the ``video`` extra, but for
:mod:`.settings`, which is pure Python).

- :mod:`.settings`, :mod:`.devices`: what ``--device``, ``--readout`` and the rest mean;
- :mod:`.tokens`, :mod:`.readout`: observations -> tokens, tokens -> the head's input;
- :mod:`.bridge`: any frozen torch module on the project's layer protocol;
- :mod:`.candidate`: a block between the token adapters (:class:`VideoCandidate`);
- :mod:`.custom_block`: a torch block of your own as a candidate;
- :mod:`.torch_trained`: a numpy layer trained by the torch learner (``NAME@torch``).
"""
