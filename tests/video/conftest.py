"""Tiny checkpoints of every supported backbone family, saved the way the real ones are.

Real weights cannot be downloaded here, so tests build tiny configs with diffusers and
transformers, fill every parameter from a seeded numpy generator (no torch RNG), and
``save_pretrained`` them SHARDED (small ``max_shard_size``) into a session temp folder.
Other layouts are built on demand from the same weights: a single file, an ``fp16``
variant, a pipeline folder (``transformer/``), and a Hugging Face cache repository
(``models--ORG--NAME/snapshots/<hash>/transformer``, files symlinked to ``blobs/``).

Use the session fixture ``tiny_checkpoints``:

    path = tiny_checkpoints.path("cogvideox-2b")               # sharded diffusers folder
    path = tiny_checkpoints.path("hunyuanvideo", "hf-cache")   # models--tiny--hunyuanvideo
    model = tiny_checkpoints.full_model("cogvideox-2b")        # from_pretrained, float32

Backbone keys: cogvideox-2b (sin-cos positions), cogvideox-5b (rotary), cogvideox1.5-5b
(rotary slice grid, patch_size_t=2), hunyuanvideo (2 dual + 2 single blocks),
videomae-base (a VideoMAEForPreTraining checkpoint: ``videomae.`` prefix, q_bias/v_bias),
tiny-video (a small CogVideoX with 2 input channels, sin-cos), wan2.1-t2v-1.3b, ltx-video,
cosmos-1.0-7b (EDM, learned positions in every block; no padding-mask channel, whose resize
needs torchvision), cosmos-predict2.5-2b (rectified flow, a text projection) and vjepa2-vitl
(a VJEPA2Model whose 48-pixel crop of 8-pixel patches is a 6 x 6 grid). Each has 3 blocks
(HunyuanVideo 2 + 2), width 32 (2 heads x 16).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

COG = dict(num_attention_heads=2, attention_head_dim=16, in_channels=4, out_channels=4,
           time_embed_dim=16, text_embed_dim=8, num_layers=3, sample_width=8, sample_height=8,
           sample_frames=9, patch_size=2, temporal_compression_ratio=4, max_text_seq_length=4)
COSMOS = dict(in_channels=4, out_channels=4, num_attention_heads=2, attention_head_dim=16,
              num_layers=3, mlp_ratio=2.0, text_embed_dim=8, adaln_lora_dim=8, max_size=(8, 16, 16),
              concat_padding_mask=False)
TINY_CONFIGS = {
    "cogvideox-2b": ("diffusers", "CogVideoXTransformer3DModel", COG),
    "cogvideox-5b": ("diffusers", "CogVideoXTransformer3DModel",
                     {**COG, "use_rotary_positional_embeddings": True, "sample_width": 16,
                      "sample_height": 16}),
    "cogvideox1.5-5b": ("diffusers", "CogVideoXTransformer3DModel",
                        {**COG, "use_rotary_positional_embeddings": True, "patch_size_t": 2,
                         "patch_bias": False, "sample_width": 12, "sample_height": 12,
                         "sample_frames": 17}),
    "hunyuanvideo": ("diffusers", "HunyuanVideoTransformer3DModel",
                     dict(in_channels=4, out_channels=4, num_attention_heads=2,
                          attention_head_dim=16, num_layers=2, num_single_layers=2,
                          num_refiner_layers=1, mlp_ratio=2.0, patch_size=2, patch_size_t=1,
                          text_embed_dim=8, pooled_projection_dim=8, rope_axes_dim=(4, 6, 6))),
    "videomae-base": ("transformers", "VideoMAEForPreTraining",
                      dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                           intermediate_size=64, image_size=16, patch_size=8, num_channels=3,
                           num_frames=4, tubelet_size=2, use_mean_pooling=False,
                           decoder_hidden_size=16, decoder_num_hidden_layers=1,
                           decoder_num_attention_heads=2, decoder_intermediate_size=32)),
    "tiny-video": ("diffusers", "CogVideoXTransformer3DModel",
                   {**COG, "in_channels": 2, "out_channels": 2}),
    "wan2.1-t2v-1.3b": ("diffusers", "WanTransformer3DModel",
                        dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=16,
                             in_channels=4, out_channels=4, text_dim=8, freq_dim=16, ffn_dim=64,
                             num_layers=3, rope_max_seq_len=32)),
    "ltx-video": ("diffusers", "LTXVideoTransformer3DModel",
                  dict(in_channels=4, out_channels=4, num_attention_heads=2, attention_head_dim=16,
                       cross_attention_dim=32, num_layers=3, caption_channels=8)),
    "cosmos-1.0-7b": ("diffusers", "CosmosTransformer3DModel", COSMOS),
    "cosmos-predict2.5-2b": ("diffusers", "CosmosTransformer3DModel",
                             {**COSMOS, "extra_pos_embed_type": None, "rope_scale": (1.0, 3.0, 3.0),
                              "use_crossattn_projection": True, "crossattn_proj_in_channels": 12,
                              "encoder_hidden_states_channels": 8}),
    "vjepa2-vitl": ("transformers", "VJEPA2Model",
                    dict(hidden_size=32, num_attention_heads=2, num_hidden_layers=3, mlp_ratio=2.0,
                         crop_size=48, patch_size=8, frames_per_clip=4, tubelet_size=2,
                         pred_hidden_size=16, pred_num_attention_heads=2,
                         pred_num_hidden_layers=1, num_pooler_layers=1)),
}
#: transformers classes: (config class, the base model class from_pretrained loads back).
TRANSFORMERS_CLASSES = {"VideoMAEForPreTraining": ("VideoMAEConfig", "VideoMAEModel"),
                        "VJEPA2Model": ("VJEPA2Config", "VJEPA2Model")}
LAYOUTS = ("sharded", "single", "fp16", "pipeline", "hf-cache")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One torch thread per test module: two on two shared, busy cores run small ops 20x
    slower."""
    try:
        import torch
    except ImportError:            # the module skips itself; nothing to limit
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
SHARD_SIZE = "20KB"
SEED = 20240


def fill_params(model, rng: np.random.Generator) -> None:
    """Every parameter from ``rng``: weights (2-D+) N(0, 1/fan_in), 1-D ``weight`` 1 + N(0,
    0.1^2), other 1-D N(0, 0.1^2). Large enough to make every mix-up visible."""
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            shape = tuple(p.shape)
            if len(shape) >= 2:
                values = rng.normal(0, 1 / np.sqrt(np.prod(shape[1:])), shape)
            elif name.endswith("weight"):
                values = 1 + rng.normal(0, 0.1, shape)
            else:
                values = rng.normal(0, 0.1, shape)
            p.copy_(torch.from_numpy(values.astype(np.float32)))


def _build(name: str):
    library, class_name, kwargs = TINY_CONFIGS[name]
    if library == "diffusers":
        import diffusers

        model = getattr(diffusers, class_name)(**kwargs)
    else:
        import transformers

        config_class = TRANSFORMERS_CLASSES[class_name][0]
        model = getattr(transformers, class_name)(getattr(transformers, config_class)(**kwargs))
    seed = SEED + list(TINY_CONFIGS).index(name)
    fill_params(model, np.random.default_rng(seed))
    return model.eval()


@dataclass
class TinyCheckpoints:
    """Tiny checkpoints in a session folder, built on first use and cached."""

    root: Path
    _paths: dict = field(default_factory=dict)
    _models: dict = field(default_factory=dict)

    def model(self, name: str):
        """The in-memory model that was saved (float32, eval)."""
        if name not in self._models:
            self._models[name] = _build(name)
        return self._models[name]

    def path(self, name: str, layout: str = "sharded") -> Path:
        """The folder of ``name`` in ``layout`` (one of LAYOUTS); the path to pass as
        --weights (for hf-cache: the models--tiny--NAME folder)."""
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        key = (name, layout)
        if key not in self._paths:
            self._paths[key] = self._write(name, layout)
        return self._paths[key]

    def _write(self, name: str, layout: str) -> Path:
        model = self.model(name)
        folder = self.root / layout / name
        if layout == "sharded":
            model.save_pretrained(folder, max_shard_size=SHARD_SIZE)
        elif layout == "single":
            model.save_pretrained(folder, max_shard_size="100MB")
        elif layout == "fp16":
            import copy

            import torch

            copy.deepcopy(model).to(torch.float16).save_pretrained(
                folder, variant="fp16", max_shard_size=SHARD_SIZE)
        elif layout == "pipeline":
            shutil.copytree(self.path(name), folder / "transformer")
            (folder / "model_index.json").write_text(json.dumps(
                {"_class_name": "TinyPipeline", "transformer": ["diffusers", "x"]}))
        else:
            folder = self._hf_cache(name, self.path(name))
        return folder

    def _hf_cache(self, name: str, source: Path) -> Path:
        """models--tiny--NAME/{blobs, snapshots/<hash>/transformer, refs/main}."""
        repo = self.root / "hf-cache" / f"models--tiny--{name}"
        commit = hashlib.sha1(name.encode()).hexdigest()
        snapshot = repo / "snapshots" / commit / "transformer"
        (repo / "blobs").mkdir(parents=True)
        snapshot.mkdir(parents=True)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(commit)
        for f in sorted(source.iterdir()):
            data = f.read_bytes()
            blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
            blob.write_bytes(data)
            os.symlink(os.path.relpath(blob, snapshot), snapshot / f.name)
        return repo

    shard_size: str = SHARD_SIZE

    def save_variant(self, name: str, folder: Path, **overrides) -> Path:
        """Save a model of family ``name`` with config ``overrides`` (e.g. num_layers=12),
        filled from a seeded generator, sharded, to ``folder``."""
        library, class_name, kwargs = TINY_CONFIGS[name]
        if library != "diffusers":
            raise ValueError(f"save_variant supports the diffusers families, not {name!r}")
        import diffusers

        model = getattr(diffusers, class_name)(**{**kwargs, **overrides})
        fill_params(model, np.random.default_rng(SEED))
        model.save_pretrained(folder, max_shard_size=SHARD_SIZE)
        return Path(folder)

    def full_model(self, name: str, layout: str = "sharded"):
        """The whole model loaded back by its library's from_pretrained (the reference)."""
        library, class_name, _ = TINY_CONFIGS[name]
        path = self.path(name, layout)
        if library == "diffusers":
            import diffusers

            return getattr(diffusers, class_name).from_pretrained(path).eval()
        import transformers

        base = TRANSFORMERS_CLASSES[class_name][1]
        return getattr(transformers, base).from_pretrained(path).eval()


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory) -> TinyCheckpoints:
    for module in ("torch", "diffusers", "transformers", "safetensors"):
        pytest.importorskip(module)
    return TinyCheckpoints(tmp_path_factory.mktemp("tiny-checkpoints"))


# The helpers of these tests (token_blocks.py) are imported by name from every subfolder.
sys.path.insert(0, str(Path(__file__).resolve().parent))
