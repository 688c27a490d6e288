"""The embeddings a block's conditioning reads, computed in float32 without a float32 copy.

The conditioning (timestep embeddings, text projections, learned positions) is computed once
per block on the CPU, in float32 whatever the block's dtype. Upcasting the embeddings'
weights to float32 first would make them the largest thing a load holds: Wan 2.1-14B's
timestep projection alone is width x 6 width = 157M parameters, 629 MB in float32, against
a 703 MB bfloat16 block. So the weights stay in the checkpoint's stored dtype and only the
arithmetic is float32: each ``nn.Linear`` multiplies a chunk of whole output rows at a time
(:data:`CHUNK_ELEMENTS` weights, 64 MB in float32), upcast (exact from bfloat16 or
float16); every other parameter (norms, learned positions) is small and is cast to float32,
as is every module the model class keeps in float32 (its ``_keep_in_fp32_modules``, e.g.
Wan's ``time_embedder``, whose dtype decides the dtype of its input). After use the loader
moves them to the meta device (freed).
"""

from __future__ import annotations

import types

#: Weights of a conditioning Linear upcast to float32 at a time (whole output rows).
CHUNK_ELEMENTS = 2 ** 24


def _linear_in_float32(self, x):
    """``nn.Linear.forward`` in float32 from a weight of any floating dtype, by row chunks."""
    import torch

    x = x.float()
    step = max(1, CHUNK_ELEMENTS // max(1, self.weight.shape[1]))
    parts = []
    for start in range(0, self.weight.shape[0], step):
        rows = slice(start, start + step)
        bias = None if self.bias is None else self.bias[rows].float()
        parts.append(torch.nn.functional.linear(x, self.weight[rows].float(), bias))
    return torch.cat(parts, dim=-1)


def compute_in_float32(module, name: str, keep_fp32: tuple[str, ...] = ()) -> None:
    """Make ``module`` (at dotted path ``name`` in its model) compute in float32, in place:
    its Linear layers keep their weights' dtype and multiply in float32; every other
    parameter, and every parameter of a submodule whose path has a component in
    ``keep_fp32``, is cast to float32."""
    import torch

    for sub_name, sub in module.named_modules():
        path = f"{name}.{sub_name}" if sub_name else name
        kept = any(k in path.split(".") for k in keep_fp32)
        if isinstance(sub, torch.nn.Linear) and not kept:
            sub.forward = types.MethodType(_linear_in_float32, sub)
            continue
        for param_name, param in list(sub.named_parameters(recurse=False)):
            if param.is_floating_point() and param.dtype != torch.float32:
                setattr(sub, param_name, torch.nn.Parameter(param.float(), requires_grad=False))
