"""Wan, LTX-Video, Cosmos and V-JEPA 2: one block read alone from sharded safetensors equals
the same block inside the library's full model.

Each tiny checkpoint (tests/video/conftest.py) is saved sharded in its real layout and loaded
twice: whole, by the library's ``from_pretrained``, and one block through
``load_token_block`` (the path every command uses). The full model runs its own forward on
inputs whose conditioning is the block's fixed one (zero text vectors, the same timestep,
the same frame rate), with hooks recording the block's input and output; the loaded block
must map that input to that output. Also: the published sizes rebuilt on the meta device,
what is read, the float32 parameters Wan keeps in bfloat16, and the errors.
"""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from token_blocks import ATOL, RTOL, T  # noqa: E402
from token_blocks import random_tokens as rand  # noqa: E402
from token_blocks import record_stack as record  # noqa: E402

from rl_rosetta_layer.errors import ConfigError, UnknownLayerError  # noqa: E402
from rl_rosetta_layer.video.backbones.catalog import (  # noqa: E402  # noqa: E402
    BACKBONES,
    TABLE_FAMILIES,
    backbone_spec,
    candidate_blocks,
    compact_blocks,
    parse_layer_name,
)
from rl_rosetta_layer.video.checkpoints.conditioning import (  # noqa: E402
    cosmos_timestep,
    vjepa2_positions,
)
from rl_rosetta_layer.video.checkpoints.loader import build_meta_model, load_token_block  # noqa: E402
from rl_rosetta_layer.video.checkpoints.twins import init_rule  # noqa: E402


def full_forward(name, model, grid, batch=2):
    """The full model's own forward, conditioned as the loaded block is."""
    cfg, spec = model.config, backbone_spec(name)
    frames, h, w = grid
    t = torch.full((batch,), float(T))
    if spec.family == "wan":
        p_t, p_h, p_w = cfg.patch_size
        latents = rand((batch, cfg.in_channels, frames * p_t, h * p_h, w * p_w), 1)
        text = torch.zeros(batch, 1, cfg.text_dim)
        return lambda: model(hidden_states=latents, timestep=t, encoder_hidden_states=text)
    if spec.family == "ltx":
        latents = rand((batch, frames * h * w, cfg.in_channels), 2)
        return lambda: model(hidden_states=latents, timestep=t,
                             encoder_hidden_states=torch.zeros(batch, 1, cfg.caption_channels),
                             encoder_attention_mask=torch.ones(batch, 1), num_frames=frames,
                             height=h, width=w, rope_interpolation_scale=(8 / 25, 32, 32))
    if spec.family == "cosmos":
        constants = dict(spec.constants)
        latents = rand((batch, cfg.in_channels, frames, h * 2, w * 2), 3)
        text_dim = (cfg.crossattn_proj_in_channels if cfg.use_crossattn_projection
                    else cfg.text_embed_dim)
        value = torch.full((batch,), cosmos_timestep(constants["noise"], T))
        return lambda: model(hidden_states=latents, timestep=value,
                             encoder_hidden_states=torch.zeros(batch, 1, text_dim),
                             fps=constants["fps"])
    pixels = rand((batch, frames * cfg.tubelet_size, 3, h * cfg.patch_size,
                   w * cfg.patch_size), 4)
    return lambda: model(pixel_values_videos=pixels, skip_predictor=True)


CASES = [("wan2.1-t2v-1.3b", "blocks.1", (2, 3, 4)),
         ("ltx-video", "transformer_blocks.1", (2, 3, 4)),
         ("cosmos-1.0-7b", "transformer_blocks.1", (2, 3, 4)),
         ("cosmos-predict2.5-2b", "transformer_blocks.1", (2, 3, 4)),
         ("vjepa2-vitl", "encoder.layer.1", (2, 6, 6))]


@pytest.mark.parametrize("name, block_name, grid", CASES)
def test_block_equals_block_in_full_model(tiny_checkpoints, name, block_name, grid):
    full = tiny_checkpoints.full_model(name)
    x, y = record(full, block_name, block_name, full_forward(name, full, grid))
    block = load_token_block(f"{name}:{block_name}", grid=grid, timestep=T,
                             weights=tiny_checkpoints.path(name))
    assert x.shape == (2, block.tokens, 32) and block.kind == backbone_spec(name).family
    with torch.no_grad():
        torch.testing.assert_close(block(x), y, atol=ATOL, rtol=RTOL)
        # the next block does not give the same output
        other = load_token_block(f"{name}:{block_name[:-1]}2", grid=grid, timestep=T,
                                 weights=tiny_checkpoints.path(name))
        assert not torch.allclose(other(x), y, atol=1e-3)
    json.dumps(block.describe())


@pytest.mark.parametrize("name, first, last", [("wan2.1-t2v-1.3b", "blocks.0", "blocks.2"),
                                               ("vjepa2-vitl", "encoder.layer.0",
                                                "encoder.layer.1")])
def test_a_prefix_stack_equals_the_full_models_blocks_up_to_it(tiny_checkpoints, name, first,
                                                                last):
    grid = (2, 6, 6) if name.startswith("vjepa2") else (2, 2, 3)
    full = tiny_checkpoints.full_model(name)
    x, y = record(full, first, last, full_forward(name, full, grid))
    stack = load_token_block(f"{name}:{last}:prefix", grid=grid, timestep=T,
                             weights=tiny_checkpoints.path(name))
    assert stack.kind == "stack" and stack.describe()["blocks"][-1] == last
    with torch.no_grad():
        torch.testing.assert_close(stack(x), y, atol=ATOL, rtol=RTOL)


def test_vjepa2_positions_place_a_smaller_grid_in_the_models_grid(tiny_checkpoints):
    # a (2, 2, 3) grid in the 6 x 6 patch grid: frame f, row r, column c -> 36 f + 6 r + c
    assert vjepa2_positions((2, 2, 3), 6).tolist() == [0, 1, 2, 6, 7, 8, 36, 37, 38, 42, 43, 44]
    grid, name = (2, 4, 4), "vjepa2-vitl:encoder.layer.2"
    block = load_token_block(name, grid=grid, weights=tiny_checkpoints.path("vjepa2-vitl"))
    layer = tiny_checkpoints.full_model("vjepa2-vitl").encoder.layer[2]
    ids = torch.tensor([[f * 36 + r * 6 + c for f in range(2) for r in range(4)
                         for c in range(4)]])
    x = rand((3, 32, 32), 5)
    with torch.no_grad():
        torch.testing.assert_close(block(x), layer(x, position_mask=ids)[0], atol=ATOL,
                                   rtol=RTOL)
        assert not torch.allclose(block(x), layer(x)[0], atol=1e-3)   # positions 0..31
    with pytest.raises(ConfigError, match=r"token grid \(2, 7, 2\) does not fit V-JEPA 2's "
                                          r"6 x 6 patch grid"):
        load_token_block(name, grid=(2, 7, 2), weights=tiny_checkpoints.path("vjepa2-vitl"))


@pytest.mark.parametrize("name, block_name, embeddings", [
    ("wan2.1-t2v-1.3b", "blocks.2", ["condition_embedder.time_embedder.",
                                     "condition_embedder.time_proj.",
                                     "condition_embedder.text_embedder."]),
    ("ltx-video", "transformer_blocks.0", ["time_embed.", "caption_projection."]),
    ("cosmos-1.0-7b", "transformer_blocks.2", ["time_embed.", "learnable_pos_embed."]),
    ("cosmos-predict2.5-2b", "transformer_blocks.0", ["time_embed.", "crossattn_proj.0.bias"]),
    ("vjepa2-vitl", "encoder.layer.2", []),
])
def test_only_the_block_and_its_embeddings_are_read(tiny_checkpoints, name, block_name,
                                                   embeddings):
    folder = tiny_checkpoints.path(name)
    index = next(folder.glob("*.index.json"))
    assert index.name == ("model.safetensors.index.json" if name.startswith("vjepa2")
                          else "diffusion_pytorch_model.safetensors.index.json")
    weight_map = json.loads(index.read_text())["weight_map"]
    block = load_token_block(f"{name}:{block_name}", grid=(2, 2, 2), weights=folder)
    prefixes = (f"{block_name}.", *embeddings)
    expected = sorted(k for k in weight_map if k.startswith(prefixes))
    assert sorted(block.keys_read) == expected
    assert block.files_read == sorted({weight_map[k] for k in expected})
    assert len(block.files_read) < len(set(weight_map.values()))
    own = tiny_checkpoints.model(name).get_submodule(block_name)
    assert block.n_params == sum(p.numel() for p in own.parameters())


def test_wan_keeps_its_float32_parameters_in_bfloat16(tiny_checkpoints):
    weights, name, grid = tiny_checkpoints.path("wan2.1-t2v-1.3b"), "wan2.1-t2v-1.3b:blocks.1", \
        (2, 2, 3)
    f32 = load_token_block(name, grid=grid, weights=weights)
    bf16 = load_token_block(name, grid=grid, weights=weights, dtype="bfloat16")
    kept = {n for n, p in bf16.block.named_parameters() if p.dtype == torch.float32}
    assert kept == {"scale_shift_table", "norm2.weight", "norm2.bias"}    # diffusers' rule
    assert bf16.block.attn1.to_q.weight.dtype == torch.bfloat16
    assert bf16.rotary_cos.dtype == torch.float32 and bf16.temb.dtype == torch.bfloat16
    bf16.to(torch.bfloat16)                  # a candidate's cast keeps them too
    assert bf16.block.scale_shift_table.dtype == torch.float32
    assert bf16.rotary_cos.dtype == torch.float32 and bf16.text.dtype == torch.bfloat16
    torch.testing.assert_close(bf16.block.scale_shift_table, f32.block.scale_shift_table)
    x = rand((2, 12, 32), 6)
    with torch.no_grad():
        y32, y16 = f32(x), bf16(x)
    assert y16.dtype == torch.bfloat16
    assert (y16.float() - y32).abs().max() / y32.abs().max() < 0.05


def test_a_random_twin_is_the_same_architecture_drawn_from_its_generator(tiny_checkpoints):
    weights = tiny_checkpoints.path("cosmos-1.0-7b")
    name = "cosmos-1.0-7b:transformer_blocks.1:random"
    twins = [load_token_block(name, grid=(2, 2, 2), weights=weights,
                              twin_rng=np.random.default_rng(7)) for _ in range(2)]
    block = load_token_block(name.removesuffix(":random"), grid=(2, 2, 2), weights=weights)
    assert not any(k.startswith("transformer_blocks.") for k in twins[0].keys_read)
    assert twins[0].n_params == block.n_params
    x = rand((2, 8, 32), 7)
    with torch.no_grad():
        torch.testing.assert_close(twins[0](x), twins[1](x), atol=0, rtol=0)
        assert not torch.allclose(twins[0](x), block(x), atol=1e-3)
    # Wan's and LTX's modulation tables are drawn as diffusers draws them: randn / sqrt(dim)
    wan = tiny_checkpoints.model("wan2.1-t2v-1.3b").blocks[0]
    assert init_rule(wan, "scale_shift_table", (1, 6, 32)) == ("normal", 1 / 32 ** 0.5)


@pytest.mark.parametrize("name", [n for n, s in BACKBONES.items() if s.family in TABLE_FAMILIES])
def test_published_sizes_match_the_published_configs(name, tmp_path):
    spec = backbone_spec(name)
    config = dict(spec.published_config)
    config.update({"_class_name": spec.class_name} if spec.library == "diffusers"
                  else {"model_type": spec.model_type})
    model = build_meta_model(spec, config, tmp_path)     # meta device: no memory
    for prefix, params in spec.block_params:
        assert sum(p.numel() for p in model.get_submodule(prefix)[0].parameters()) == params
        assert len(model.get_submodule(prefix)) == len(spec.blocks)
    assert sum(p.numel() for p in model.parameters()) == spec.total_params
    assert candidate_blocks(name) == list(spec.blocks)
    first = model.get_submodule(spec.blocks[0])
    heads = first.attention.num_attention_heads if spec.family == "vjepa2" else first.attn1.heads
    assert heads == spec.heads
    assert (model.config.hidden_size if spec.family == "vjepa2" else
            model.config.num_attention_heads * model.config.attention_head_dim) == spec.width


def test_block_names_and_candidates():
    assert compact_blocks(candidate_blocks("wan2.2-t2v-a14b")) == "blocks.0-39"
    assert compact_blocks(candidate_blocks("ltx-video-13b")) == "transformer_blocks.0-47"
    assert compact_blocks(candidate_blocks("cosmos-predict2-2b")) == "transformer_blocks.0-27"
    assert compact_blocks(candidate_blocks("vjepa2-vitg-384")) == "encoder.layer.0-39"
    assert parse_layer_name("wan2.1-t2v-14b:blocks.7:random") == (
        "wan2.1-t2v-14b", "blocks.7", "random")
    with pytest.raises(UnknownLayerError, match=r"unknown block 'transformer_blocks.3' of "
                                                r"wan2.1-t2v-14b; its blocks are named blocks.N"):
        parse_layer_name("wan2.1-t2v-14b:transformer_blocks.3")
    with pytest.raises(UnknownLayerError, match=r"its blocks are named encoder.layer.N"):
        parse_layer_name("vjepa2-vitl:blocks.3")


def test_error_wan_image_to_video_is_refused(tiny_checkpoints, tmp_path):
    folder = tiny_checkpoints.save_variant("wan2.1-t2v-1.3b", tmp_path / "i2v", image_dim=8,
                                           added_kv_proj_dim=32)
    with pytest.raises(ConfigError, match=r"is a Wan 2.1 image-to-video model \(image_dim=8, "
                                          r"added_kv_proj_dim=32\), whose cross-attention "
                                          r"takes CLIP image tokens"):
        load_token_block("wan2.1-t2v-1.3b:blocks.0", grid=(1, 2, 2), weights=folder)


def test_error_cosmos_variant_mismatch(tiny_checkpoints, tmp_path):
    with pytest.raises(ConfigError, match=r"is a Cosmos 1.0 model, not cosmos-predict2-2b "
                                          r"\(Cosmos 2\); use --backbone cosmos-1.0-7b or "
                                          r"cosmos-1.0-14b"):
        load_token_block("cosmos-predict2-2b:transformer_blocks.0", grid=(1, 2, 2),
                         weights=tiny_checkpoints.path("cosmos-1.0-7b"))
    # a Predict2 config (no learned positions, no text projection) loads as predict2
    folder = tiny_checkpoints.save_variant("cosmos-predict2.5-2b", tmp_path / "p2",
                                           use_crossattn_projection=False)
    block = load_token_block("cosmos-predict2-2b:transformer_blocks.0", grid=(2, 2, 2),
                             weights=folder, timestep=250)
    assert block.conditioning["model_timestep"] == 0.25 and block.text.shape == (1, 1, 8)
    assert not any(k.startswith(("crossattn_proj.", "learnable_pos_embed."))
                   for k in block.keys_read)


def test_error_grid_larger_than_the_model_allows(tiny_checkpoints):
    with pytest.raises(ConfigError, match=r"token grid \(2, 9, 2\) is larger than this model's "
                                          r"max_size \(8, 16, 16\) with patch \(1, 2, 2\) "
                                          r"allows: at most \(8, 8, 8\)"):
        load_token_block("cosmos-1.0-7b:transformer_blocks.0", grid=(2, 9, 2),
                         weights=tiny_checkpoints.path("cosmos-1.0-7b"))
    with pytest.raises(ConfigError, match=r"rotary table \(rope_max_seq_len 32\) allows"):
        load_token_block("wan2.1-t2v-1.3b:blocks.0", grid=(33, 1, 1),
                         weights=tiny_checkpoints.path("wan2.1-t2v-1.3b"))


def test_error_a_class_the_installed_library_lacks_is_named(tiny_checkpoints, monkeypatch):
    import diffusers

    monkeypatch.setattr(diffusers, "LTXVideoTransformer3DModel", None)
    with pytest.raises(ConfigError, match=r"backbone ltx-video needs "
                                          r"diffusers.LTXVideoTransformer3DModel, which the "
                                          r"installed diffusers [0-9.]+ lacks; upgrade it: pip "
                                          r"install -U diffusers"):
        load_token_block("ltx-video:transformer_blocks.0", grid=(1, 2, 2),
                         weights=tiny_checkpoints.path("ltx-video"))
