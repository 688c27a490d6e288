"""One block read from (sharded) safetensors equals the same block inside the full model.

Each family's tiny checkpoint (tests/video/conftest.py) is loaded twice: whole, by its
library's ``from_pretrained``, and one block through ``load_token_block``. The full model
runs forward with hooks that record the chosen block's input and output (with the fixed
conditioning injected where the full model would take a prompt); the loaded block must map
that input to that output. Also: only the block's keys and the conditioning embeddings are
read, from only their shards; every layout loads; every bad input gives its one-line error.
"""

import json
import shutil
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from token_blocks import ATOL, RTOL, T, record_stack  # noqa: E402
from token_blocks import random_tokens as tokens  # noqa: E402

from rl_rosetta_layer.errors import (  # noqa: E402
    ConfigError,
    CorruptFileError,
    MissingInputError,
    UnknownLayerError,
)
from rl_rosetta_layer.video.backbones.catalog import (  # noqa: E402
    BACKBONES,
    backbone_spec,
    candidate_blocks,
    compact_blocks,
    parse_layer_name,
)
from rl_rosetta_layer.video.checkpoints.loader import Checkpoint, load_token_block, resolve_weights  # noqa: E402


def record_block(model, block_name, run, edit_kwargs=None):
    """Run ``run()`` and return (input hidden states, output hidden states) of the block;
    ``edit_kwargs`` may change the block's keyword inputs on the way in."""
    return record_stack(model, block_name, block_name, run, edit_kwargs)




def cogvideox_rotary_reference(model, grid):
    """The rotary embedding the CogVideoX pipeline computes (its own method, unbound)."""
    from diffusers import CogVideoXPipeline

    frames, h, w = grid
    p, p_t = model.config.patch_size, model.config.patch_size_t or 1
    fake = SimpleNamespace(vae_scale_factor_spatial=8, transformer=model)
    return CogVideoXPipeline._prepare_rotary_positional_embeddings(
        fake, h * p * 8, w * p * 8, frames * p_t, torch.device("cpu"))


def run_cogvideox(model, grid, timestep, batch=2):
    """Full CogVideoX forward on random latents for ``grid``; the recorded block gets zero
    text tokens (the model itself gets max_text_seq_length of them)."""
    frames, h, w = grid
    cfg = model.config
    p, p_t = cfg.patch_size, cfg.patch_size_t or 1
    latents = tokens((batch, frames * p_t, cfg.in_channels, h * p, w * p), seed=1)
    text = tokens((batch, cfg.max_text_seq_length, cfg.text_embed_dim), seed=2)
    rotary = (cogvideox_rotary_reference(model, grid)
              if cfg.use_rotary_positional_embeddings else None)
    return lambda: model(hidden_states=latents, encoder_hidden_states=text,
                         timestep=torch.tensor([timestep] * batch), image_rotary_emb=rotary)


def drop_text(kwargs):
    kwargs["encoder_hidden_states"] = kwargs["encoder_hidden_states"][:, :0]
    return kwargs


@pytest.mark.parametrize("name, grid", [("cogvideox-2b", (2, 2, 3)),
                                        ("cogvideox-5b", (2, 3, 4)),
                                        ("cogvideox1.5-5b", (2, 3, 3)),
                                        ("tiny-video", (2, 4, 4))])
def test_cogvideox_block_equals_block_in_full_model(tiny_checkpoints, name, grid):
    full = tiny_checkpoints.full_model(name)
    x, y = record_block(full, "transformer_blocks.1", run_cogvideox(full, grid, T),
                        edit_kwargs=drop_text)
    block = load_token_block(f"{name}:transformer_blocks.1", grid=grid,
                             weights=tiny_checkpoints.path(name), timestep=T)
    assert x.shape == (2, block.tokens, 32) and block.tokens == int(np.prod(grid))
    with torch.no_grad():
        out = block(x)
    torch.testing.assert_close(out, y, atol=ATOL, rtol=RTOL)
    # a wrong timestep or neighbouring block would not match
    other = load_token_block(f"{name}:transformer_blocks.2", grid=grid,
                             weights=tiny_checkpoints.path(name), timestep=T)
    assert not torch.allclose(other(x), y, atol=1e-3)


def run_hunyuan(model, grid, timestep, batch=2):
    """Full HunyuanVideo forward; its refined text becomes one zero token, which the
    model's own mask (from an all-zero encoder_attention_mask) hides."""
    frames, h, w = grid
    cfg = model.config
    p = cfg.patch_size
    latents = tokens((batch, cfg.in_channels, frames, h * p, w * p), seed=3)
    text = tokens((batch, 1, cfg.text_embed_dim), seed=4)

    def run():
        hook = model.context_embedder.register_forward_hook(
            lambda module, args, out: torch.zeros(out.shape))
        try:
            model(hidden_states=latents, timestep=torch.full((batch,), float(timestep)),
                  encoder_hidden_states=text, encoder_attention_mask=torch.zeros(batch, 1),
                  pooled_projections=torch.zeros(batch, cfg.pooled_projection_dim),
                  guidance=torch.full((batch,), 6000.0))
        finally:
            hook.remove()
    return run


@pytest.mark.parametrize("block_name", ["transformer_blocks.0", "transformer_blocks.1",
                                        "single_transformer_blocks.0",
                                        "single_transformer_blocks.1"])
def test_hunyuanvideo_block_equals_block_in_full_model(tiny_checkpoints, block_name):
    grid = (2, 2, 3)
    full = tiny_checkpoints.full_model("hunyuanvideo")
    x, y = record_block(full, block_name, run_hunyuan(full, grid, T))
    assert torch.isfinite(y).all()
    block = load_token_block(f"hunyuanvideo:{block_name}", grid=grid,
                             weights=tiny_checkpoints.path("hunyuanvideo"), timestep=T)
    assert block.kind == ("hunyuan-single" if block_name.startswith("single") else "hunyuan-dual")
    with torch.no_grad():
        torch.testing.assert_close(block(x), y, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("layer", [0, 2])
def test_videomae_layer_equals_layer_in_full_model(tiny_checkpoints, layer):
    full = tiny_checkpoints.full_model("videomae-base")
    pixels = tokens((2, 4, 3, 16, 16), seed=5)
    with torch.no_grad():
        hidden = full(pixels, output_hidden_states=True).hidden_states
    block = load_token_block(f"videomae-base:encoder.layer.{layer}", grid=(2, 2, 2),
                             weights=tiny_checkpoints.path("videomae-base"))
    with torch.no_grad():
        torch.testing.assert_close(block(hidden[layer]), hidden[layer + 1],
                                   atol=ATOL, rtol=RTOL)
    # the checkpoint is a pre-training one: prefixed keys, q_bias / v_bias stored
    assert f"videomae.encoder.layer.{layer}.attention.attention.q_bias" in block.keys_read
    assert block.pos_init is None and block.embed_init is None


@pytest.mark.parametrize("name, last, grid", [
    ("tiny-video", "transformer_blocks.2", (2, 4, 4)),
    ("cogvideox-5b", "transformer_blocks.1", (2, 3, 4)),
    ("hunyuanvideo", "single_transformer_blocks.0", (2, 2, 3))])
def test_a_prefix_stack_equals_the_full_models_blocks_up_to_it(tiny_checkpoints, name, last,
                                                                grid):
    # BACKBONE:BLOCK:prefix is the model's own intermediate representation after BLOCK.
    full = tiny_checkpoints.full_model(name)
    if name == "hunyuanvideo":
        x, y = record_stack(full, "transformer_blocks.0", last, run_hunyuan(full, grid, T))
    else:
        x, y = record_stack(full, "transformer_blocks.0", last, run_cogvideox(full, grid, T),
                            edit_kwargs=drop_text)
    stack = load_token_block(f"{name}:{last}:prefix", grid=grid,
                             weights=tiny_checkpoints.path(name), timestep=T)
    blocks = candidate_blocks(name, tiny_checkpoints.path(name))
    assert stack.kind == "stack" and len(stack.blocks) == blocks.index(last) + 1
    assert stack.n_params == sum(b.n_params for b in stack.blocks)
    with torch.no_grad():
        torch.testing.assert_close(stack(x), y, atol=ATOL, rtol=RTOL)
        # the block alone is not the stack
        alone = load_token_block(f"{name}:{last}", grid=grid,
                                 weights=tiny_checkpoints.path(name), timestep=T)
        assert not torch.allclose(alone(x), y, atol=1e-3)
    assert stack.describe()["blocks"] == blocks[:blocks.index(last) + 1]


def test_the_bypass_is_the_identity_with_the_backbones_embeddings(tiny_checkpoints):
    path = tiny_checkpoints.path("tiny-video")
    bypass = load_token_block("tiny-video:bypass", grid=(2, 4, 4), weights=path, timestep=T)
    block = load_token_block("tiny-video:transformer_blocks.0", grid=(2, 4, 4), weights=path,
                             timestep=T)
    x = tokens((3, 32, 32))
    assert bypass.kind == "bypass" and bypass.n_params == 0 and len(bypass.blocks) == 0
    assert torch.equal(bypass(x), x)
    np.testing.assert_array_equal(bypass.pos_init, block.pos_init)
    for a, b in zip(bypass.embed_init, block.embed_init):
        np.testing.assert_array_equal(a, b)
    assert parse_layer_name("tiny-video:bypass") == ("tiny-video", "bypass", "")
    with pytest.raises(UnknownLayerError, match="bypass takes no suffix"):
        parse_layer_name("tiny-video:bypass:random")


# ------------------------------------------------------------------- what is read


def index_of(folder):
    return json.loads(next(folder.glob("*.index.json")).read_text())["weight_map"]


@pytest.mark.parametrize("name, block_name, embeddings", [
    ("cogvideox-2b", "transformer_blocks.1", ["time_embedding."]),
    ("hunyuanvideo", "single_transformer_blocks.1", ["time_text_embed."]),
    ("videomae-base", "encoder.layer.1", []),
    ("tiny-video", "transformer_blocks.2", ["time_embedding.", "patch_embed.proj."]),
])
def test_only_the_block_and_its_embeddings_are_read(tiny_checkpoints, name, block_name,
                                                   embeddings):
    folder = tiny_checkpoints.path(name)
    weight_map = index_of(folder)
    block = load_token_block(f"{name}:{block_name}", grid=(2, 2, 2), weights=folder)
    base = "videomae." if name == "videomae-base" else ""
    prefixes = [f"{base}{block_name}."] + embeddings
    expected = sorted(k for k in weight_map if any(k.startswith(p) for p in prefixes))
    assert sorted(block.keys_read) == expected
    # block 1 must not take blocks 10-19 (none here) nor block 1x: the prefix ends with a dot
    assert all(k.startswith(tuple(prefixes)) for k in block.keys_read)
    assert block.files_read == sorted({weight_map[k] for k in expected})
    assert len(block.files_read) < len(set(weight_map.values()))
    assert block.n_params == sum(p.numel() for p in
                                 tiny_checkpoints.model(name).get_submodule(
                                     base + block_name).parameters())
    assert block.block_bytes == 4 * block.n_params


def test_block_prefix_ends_with_a_dot(tiny_checkpoints, tmp_path):
    # a checkpoint whose model has 12 blocks: block 1 must not read blocks 10 and 11
    folder = tiny_checkpoints.save_variant("cogvideox-2b", tmp_path, num_layers=12)
    block = load_token_block("cogvideox-2b:transformer_blocks.1", grid=(1, 2, 2),
                             weights=folder)
    assert not any(k.startswith(("transformer_blocks.10", "transformer_blocks.11"))
                   for k in block.keys_read)
    keys = [k for k in index_of(folder) if k.startswith("transformer_blocks.1.")]
    assert sorted(k for k in block.keys_read if k.startswith("transformer_blocks.")) == \
        sorted(keys) and len(keys) == 24


# --------------------------------------------------------------------------- layouts


@pytest.mark.parametrize("layout", ["single", "sharded", "pipeline", "hf-cache"])
def test_every_layout_loads_the_same_block(tiny_checkpoints, layout):
    name, grid = "cogvideox-5b", (2, 3, 3)
    ref = load_token_block(f"{name}:transformer_blocks.0", grid=grid,
                           weights=tiny_checkpoints.path(name, "sharded"))
    block = load_token_block(f"{name}:transformer_blocks.0", grid=grid,
                             weights=tiny_checkpoints.path(name, layout))
    x = tokens((3, block.tokens, 32))
    with torch.no_grad():
        torch.testing.assert_close(block(x), ref(x), atol=0, rtol=0)
    assert sorted(block.keys_read) == sorted(ref.keys_read)
    if layout == "single":
        assert block.describe()["layout"] == "single file diffusion_pytorch_model.safetensors"


def test_hf_cache_paths_resolve_to_the_snapshot(tiny_checkpoints):
    repo = tiny_checkpoints.path("hunyuanvideo", "hf-cache")
    snapshot = next((repo / "snapshots").iterdir())
    assert resolve_weights(repo) == snapshot / "transformer"
    assert resolve_weights(repo / "snapshots") == snapshot / "transformer"
    assert resolve_weights(snapshot) == snapshot / "transformer"
    assert resolve_weights(snapshot / "transformer" / "config.json") == snapshot / "transformer"
    block = load_token_block("hunyuanvideo:transformer_blocks.1", grid=(1, 2, 2), weights=repo)
    assert block.describe()["weights"] == str(snapshot / "transformer")


def test_fp16_variant_loads_and_casts(tiny_checkpoints):
    folder = tiny_checkpoints.path("cogvideox-2b", "fp16")
    assert any(".fp16" in f.name for f in folder.iterdir())
    block = load_token_block("cogvideox-2b:transformer_blocks.2", grid=(1, 2, 2),
                             weights=folder, dtype="float32")
    original = tiny_checkpoints.model("cogvideox-2b").transformer_blocks[2]
    for (name, p), (_, q) in zip(block.block.named_parameters(), original.named_parameters()):
        assert p.dtype == torch.float32, name
        torch.testing.assert_close(p, q.detach().half().float(), atol=0, rtol=0)


def test_transformers_model_without_prefix_loads(tiny_checkpoints, tmp_path):
    # a plain VideoMAEModel checkpoint: keys without the 'videomae.' prefix
    full = tiny_checkpoints.full_model("videomae-base")
    full.save_pretrained(tmp_path / "plain", max_shard_size=tiny_checkpoints.shard_size)
    keys = index_of(tmp_path / "plain")
    assert "encoder.layer.0.attention.attention.q_bias" in keys
    block = load_token_block("videomae-base:encoder.layer.0", grid=(2, 2, 2),
                             weights=tmp_path / "plain")
    ref = load_token_block("videomae-base:encoder.layer.0", grid=(2, 2, 2),
                           weights=tiny_checkpoints.path("videomae-base"))
    x = tokens((2, 8, 32))
    with torch.no_grad():
        torch.testing.assert_close(block(x), ref(x), atol=0, rtol=0)


# ----------------------------------------------------------------------------- the block


def test_block_is_frozen_and_gives_input_gradients(tiny_checkpoints):
    block = load_token_block("cogvideox-5b:transformer_blocks.1", grid=(2, 2, 2),
                             weights=tiny_checkpoints.path("cogvideox-5b"))
    assert not block.training and not any(p.requires_grad for p in block.parameters())
    block.train()
    assert not block.training and not block.block.training
    x = tokens((2, 8, 32)).requires_grad_(True)
    block(x).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    info = block.describe()
    json.dumps(info)
    assert info["backbone"] == "cogvideox-5b" and info["block"] == "transformer_blocks.1"
    assert info["width"] == 32 and info["params"] == block.n_params
    assert info["timestep"] == 500 and info["dtype"] == "float32"
    assert info["conditioning"]["text"] == "0 tokens"
    assert info["random_twin"] is False


def test_bfloat16_block_is_close_to_float32(tiny_checkpoints):
    weights = tiny_checkpoints.path("hunyuanvideo")
    f32 = load_token_block("hunyuanvideo:transformer_blocks.0", grid=(2, 2, 2), weights=weights)
    bf16 = load_token_block("hunyuanvideo:transformer_blocks.0", grid=(2, 2, 2),
                            weights=weights, dtype="bfloat16")
    assert all(p.dtype == torch.bfloat16 for p in bf16.parameters())
    assert bf16.temb.dtype == torch.bfloat16 and bf16.block_bytes == f32.block_bytes // 2
    assert len(bf16.block.attn.to_out[0]._forward_pre_hooks) == 1   # contiguous input
    x = tokens((2, 8, 32))
    with torch.no_grad():
        y32, y16 = f32(x), bf16(x)            # float32 input is cast to bfloat16
    assert y16.dtype == torch.bfloat16
    err = (y16.float() - y32).abs().max() / y32.abs().max()
    assert err < 0.05


def test_a_narrowing_cast_reads_in_chunks_and_gives_torchs_cast(tiny_checkpoints, monkeypatch,
                                                                 tmp_path):
    """float32 stored, bfloat16 loaded: read a chunk at a time into the cast tensor (no
    whole float32 copy), the very values ``tensor.to(bfloat16)`` gives; a cut file fails."""
    from safetensors import safe_open

    from rl_rosetta_layer.video.checkpoints import shards

    monkeypatch.setattr(shards, "CAST_CHUNK_BYTES", 64)          # many chunks per tensor
    ckpt = shards.Checkpoint.open(tiny_checkpoints.path("cogvideox-2b"))
    keys = ckpt.keys_under("transformer_blocks.0.")
    got = ckpt.read(keys, dtype=torch.bfloat16)
    for key in keys:
        with safe_open(str(ckpt.files[key]), framework="pt") as f:
            want = f.get_tensor(key)
        assert want.dtype == torch.float32
        assert got[key].dtype == torch.bfloat16 and got[key].shape == want.shape
        assert torch.equal(got[key], want.to(torch.bfloat16)), key
    path = ckpt.files[keys[0]]
    cut = tmp_path / path.name
    cut.write_bytes(path.read_bytes()[:-8])
    with safe_open(str(path), framework="pt") as f, pytest.raises(CorruptFileError,
                                                                    match="cut short"):
        last = max(keys, key=lambda k: _offset(path, k) if ckpt.files[k] == path else -1)
        shards._narrowed(cut, f, last, torch.bfloat16)


def _offset(path, key):
    import json
    import struct

    with open(path, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        return json.loads(fh.read(n))[key]["data_offsets"][1]


def test_wrong_token_shape_is_refused(tiny_checkpoints):
    block = load_token_block("cogvideox-2b:transformer_blocks.0", grid=(1, 2, 2),
                             weights=tiny_checkpoints.path("cogvideox-2b"))
    with pytest.raises(ConfigError, match=r"takes tokens \(B, 4, 32\), got \(2, 5, 32\)"):
        block(tokens((2, 5, 32)))


# ------------------------------------------------------------------------------ errors


def test_error_missing_path(tmp_path):
    with pytest.raises(MissingInputError, match=r"weights path .*nope does not exist; give"):
        load_token_block("cogvideox-2b:transformer_blocks.0", grid=(1, 1, 1),
                         weights=tmp_path / "nope")


def test_error_no_config(tmp_path):
    (tmp_path / "diffusion_pytorch_model.safetensors").write_bytes(b"")
    with pytest.raises(MissingInputError, match=r"no config.json in .* \(nor in .*transformer\)"):
        load_token_block("cogvideox-2b:transformer_blocks.0", grid=(1, 1, 1), weights=tmp_path)


def test_error_pickled_bin_is_refused(tiny_checkpoints, tmp_path):
    shutil.copy(tiny_checkpoints.path("cogvideox-2b") / "config.json", tmp_path)
    (tmp_path / "diffusion_pytorch_model.bin").write_bytes(b"not unpickled")
    with pytest.raises(MissingInputError,
                       match=r"no \*\.safetensors weights in .* \(found diffusion_pytorch_model"
                             r"\.bin: pickled checkpoints are refused, never unpickled"):
        load_token_block("cogvideox-2b:transformer_blocks.0", grid=(1, 1, 1), weights=tmp_path)


def test_error_missing_key(tiny_checkpoints, tmp_path):
    folder = tmp_path / "cut"
    shutil.copytree(tiny_checkpoints.path("cogvideox-2b"), folder)
    index = folder / "diffusion_pytorch_model.safetensors.index.json"
    data = json.loads(index.read_text())
    del data["weight_map"]["transformer_blocks.1.attn1.to_q.weight"]
    index.write_text(json.dumps(data))
    with pytest.raises(CorruptFileError,
                       match=r"lacks key 'transformer_blocks.1.attn1.to_q.weight' of "
                             r"transformer_blocks.1; found 23 of its 24 keys"):
        load_token_block("cogvideox-2b:transformer_blocks.1", grid=(1, 1, 1), weights=folder)
    # the other blocks still load
    load_token_block("cogvideox-2b:transformer_blocks.0", grid=(1, 1, 1), weights=folder)


def test_error_missing_shard(tiny_checkpoints, tmp_path):
    folder = tmp_path / "lost"
    shutil.copytree(tiny_checkpoints.path("cogvideox-2b"), folder)
    shard = index_of(folder)["transformer_blocks.2.ff.net.0.proj.weight"]
    (folder / shard).unlink()
    with pytest.raises(MissingInputError, match=rf"shard {shard} listed in the index"):
        load_token_block("cogvideox-2b:transformer_blocks.2", grid=(1, 1, 1), weights=folder)


def test_error_corrupt_shard(tiny_checkpoints, tmp_path):
    folder = tmp_path / "garbled"
    shutil.copytree(tiny_checkpoints.path("cogvideox-2b"), folder)
    shard = index_of(folder)["transformer_blocks.2.ff.net.0.proj.weight"]
    (folder / shard).write_bytes(b"garbage, not a safetensors file")
    with pytest.raises(CorruptFileError, match=rf"cannot read .*{shard}: Error while "
                                               rf"deserializing header"):
        load_token_block("cogvideox-2b:transformer_blocks.2", grid=(1, 1, 1), weights=folder)


def test_error_wrong_model_type(tiny_checkpoints):
    with pytest.raises(ConfigError, match=r"is a 'HunyuanVideoTransformer3DModel' model "
                                          r"\(_class_name\), not CogVideoXTransformer3DModel"):
        load_token_block("cogvideox-2b:transformer_blocks.0", grid=(1, 1, 1),
                         weights=tiny_checkpoints.path("hunyuanvideo"))
    with pytest.raises(ConfigError, match=r"has model_type None, not 'videomae'"):
        load_token_block("videomae-base:encoder.layer.0", grid=(1, 1, 1),
                         weights=tiny_checkpoints.path("cogvideox-2b"))


def test_error_cogvideox_variant_mismatch(tiny_checkpoints):
    with pytest.raises(ConfigError, match=r"is a cogvideox-5b-style model, not cogvideox-2b; "
                                          r"use --backbone cogvideox-5b"):
        load_token_block("cogvideox-2b:transformer_blocks.0", grid=(1, 1, 1),
                         weights=tiny_checkpoints.path("cogvideox-5b"))


def test_error_unknown_backbone():
    with pytest.raises(UnknownLayerError, match=r"unknown backbone 'cogvideox-9b'; known: "
                                                r"cogvideox-2b, cogvideox-5b, cogvideox1.5-5b, "
                                                r"hunyuanvideo, videomae-base, tiny-video"):
        load_token_block("cogvideox-9b:transformer_blocks.0", grid=(1, 1, 1))


def test_error_out_of_range_block_lists_the_valid_ones(tiny_checkpoints):
    with pytest.raises(UnknownLayerError, match=r"cogvideox-2b has no block "
                                                r"'transformer_blocks.3' in .*; valid: "
                                                r"transformer_blocks.0-2$"):
        load_token_block("cogvideox-2b:transformer_blocks.3", grid=(1, 1, 1),
                         weights=tiny_checkpoints.path("cogvideox-2b"))
    with pytest.raises(UnknownLayerError, match=r"valid: transformer_blocks.0-1, "
                                                r"single_transformer_blocks.0-1$"):
        load_token_block("hunyuanvideo:single_transformer_blocks.2", grid=(1, 1, 1),
                         weights=tiny_checkpoints.path("hunyuanvideo"))


def test_error_unknown_block_form():
    with pytest.raises(UnknownLayerError, match=r"unknown block 'blocks.3' of cogvideox-2b; "
                                                r"its blocks are named transformer_blocks.N"):
        parse_layer_name("cogvideox-2b:blocks.3")
    with pytest.raises(UnknownLayerError, match=r"bad suffix 'twin' in video layer name"):
        parse_layer_name("cogvideox-2b:transformer_blocks.3:twin")
    with pytest.raises(UnknownLayerError, match=r"bad video layer name 'cogvideox-2b'; "
                                                r"expected BACKBONE:BLOCK"):
        parse_layer_name("cogvideox-2b")


def test_error_bad_arguments(tiny_checkpoints):
    weights = tiny_checkpoints.path("cogvideox-2b")
    name = "cogvideox-2b:transformer_blocks.0"
    with pytest.raises(ConfigError, match=r"grid must be \(frames, rows, columns\) of tokens, "
                                          r"three positive integers, got \(2, 0, 2\)"):
        load_token_block(name, grid=(2, 0, 2), weights=weights)
    with pytest.raises(ConfigError, match=r"timestep must be an integer in 0-999, got 1000"):
        load_token_block(name, grid=(1, 1, 1), weights=weights, timestep=1000)
    with pytest.raises(ConfigError, match=r"dtype must be one of float32, bfloat16, float64, "
                                          r"got 'float16'"):
        load_token_block(name, grid=(1, 1, 1), weights=weights, dtype="float16")
    with pytest.raises(ConfigError, match=r"is a random twin: pass twin_rng, a "
                                          r"numpy.random.Generator, got NoneType"):
        load_token_block(name + ":random", grid=(1, 1, 1), weights=weights)
    with pytest.raises(MissingInputError, match=r"backbone cogvideox-2b needs --weights PATH: "
                                                r"download THUDM/CogVideoX-2b"):
        load_token_block(name, grid=(1, 1, 1))


def test_error_corrupt_index(tiny_checkpoints, tmp_path):
    folder = tmp_path / "bad"
    shutil.copytree(tiny_checkpoints.path("cogvideox-2b"), folder)
    (folder / "diffusion_pytorch_model.safetensors.index.json").write_text("{not json")
    with pytest.raises(CorruptFileError, match=r"is not a safetensors index"):
        load_token_block("cogvideox-2b:transformer_blocks.0", grid=(1, 1, 1), weights=folder)


def test_error_hf_cache_without_snapshot(tmp_path):
    (tmp_path / "models--org--x" / "snapshots").mkdir(parents=True)
    with pytest.raises(MissingInputError, match=r"has no snapshot; download the model first"):
        resolve_weights(tmp_path / "models--org--x")


# --------------------------------------------------------------------------- backbones


def test_backbone_names_and_published_candidates():
    from rl_rosetta_layer.video.backbones.catalog import TABLE_FAMILIES

    assert list(BACKBONES) == ["cogvideox-2b", "cogvideox-5b", "cogvideox1.5-5b",
                               "hunyuanvideo", "videomae-base", "tiny-video",
                               *(n for n, s in BACKBONES.items() if s.family in TABLE_FAMILIES)]
    assert compact_blocks(candidate_blocks("cogvideox-2b")) == "transformer_blocks.0-29"
    assert compact_blocks(candidate_blocks("cogvideox-5b")) == "transformer_blocks.0-41"
    assert compact_blocks(candidate_blocks("cogvideox1.5-5b")) == "transformer_blocks.0-41"
    assert compact_blocks(candidate_blocks("videomae-base")) == "encoder.layer.0-11"
    assert candidate_blocks("hunyuanvideo")[19:21] == ["transformer_blocks.19",
                                                      "single_transformer_blocks.0"]
    assert parse_layer_name("tiny-video:transformer_blocks.1:random") == (
        "tiny-video", "transformer_blocks.1", "random")
    assert backbone_spec("cogvideox-2b").width == 1920
    with pytest.raises(UnknownLayerError, match=r"unknown backbone 'x'; known: cogvideox-2b"):
        backbone_spec("x")


def test_candidate_blocks_of_a_checkpoint_come_from_its_config(tiny_checkpoints):
    assert candidate_blocks("tiny-video", tiny_checkpoints.path("tiny-video")) == [
        "transformer_blocks.0", "transformer_blocks.1", "transformer_blocks.2"]
    assert compact_blocks(candidate_blocks("hunyuanvideo", tiny_checkpoints.path(
        "hunyuanvideo", "hf-cache"))) == "transformer_blocks.0-1, single_transformer_blocks.0-1"


def test_tiny_video_without_weights_says_where_they_should_be():
    spec = backbone_spec("tiny-video")
    if spec.default_weights.exists():
        pytest.skip("tiny-video weights exist")
    with pytest.raises(MissingInputError, match=r"tiny-video weights not found at .*tiny-video "
                                                r"\(not trained yet\?\); pass --weights PATH"):
        candidate_blocks("tiny-video")
    with pytest.raises(MissingInputError, match=r"tiny-video weights not found at"):
        load_token_block("tiny-video:transformer_blocks.0", grid=(1, 1, 1))


@pytest.mark.parametrize("name", ["cogvideox-2b", "cogvideox-5b", "cogvideox1.5-5b",
                                  "hunyuanvideo"])
def test_published_sizes_match_the_published_configs(name):
    # built on the meta device from the published config entries: no memory, ~0.1 s
    import diffusers

    spec = backbone_spec(name)
    with torch.device("meta"):
        model = getattr(diffusers, spec.class_name).from_config(dict(spec.published_config))
    for prefix, params in spec.block_params:
        blocks = model.get_submodule(prefix)
        assert sum(p.numel() for p in blocks[0].parameters()) == params
    names = [n for n, _ in model.named_modules() if n.count(".") == 1 and
             n.split(".")[0] in ("transformer_blocks", "single_transformer_blocks")]
    assert names == list(spec.blocks)
    assert model.config.num_attention_heads * model.config.attention_head_dim == spec.width


def test_published_videomae_sizes(tmp_path):
    from rl_rosetta_layer.video.checkpoints.loader import build_meta_model

    spec = backbone_spec("videomae-base")
    config = {"model_type": "videomae", **dict(spec.published_config)}
    model = build_meta_model(spec, config, tmp_path)
    assert sum(p.numel() for p in model.encoder.layer[0].parameters()) == 7_087_104
    assert len(model.encoder.layer) == len(spec.blocks) == 12
    assert model.config.hidden_size == spec.width


def test_backbones_module_does_not_import_torch():
    code = ("import sys; from rl_rosetta_layer.video.backbones.catalog import candidate_blocks, "
            "parse_layer_name; parse_layer_name('hunyuanvideo:transformer_blocks.3'); "
            "candidate_blocks('cogvideox-2b'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_checkpoint_index_maps_keys_to_shards(tiny_checkpoints):
    folder = tiny_checkpoints.path("cogvideox-2b")
    ckpt = Checkpoint.open(folder)
    assert ckpt.layout.startswith("sharded (")
    assert {k: p.name for k, p in ckpt.files.items()} == index_of(folder)
    assert ckpt.keys_under("transformer_blocks.1.")[0].startswith("transformer_blocks.1.")
