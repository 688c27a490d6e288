"""The fixed conditioning of one block equals what the full model (or its pipeline) builds.

Timestep embeddings are compared with the ones the full model passes to its blocks in a real
forward pass; positions with the full model's patch embedding (sin-cos), the pipeline's own
rotary function (CogVideoX) or the model's ``rope`` module (HunyuanVideo).
"""

import json
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from rl_rosetta_layer.errors import ConfigError  # noqa: E402
from rl_rosetta_layer.video.checkpoints.loader import load_token_block  # noqa: E402


def rand(shape, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def block_kwargs_in_forward(model, block_name, run):
    """(args, kwargs) the full model passes to ``block_name`` during ``run()``."""
    seen = {}

    def pre(module, args, kwargs):
        seen["args"], seen["kwargs"] = args, kwargs

    handle = model.get_submodule(block_name).register_forward_pre_hook(pre, with_kwargs=True)
    try:
        with torch.no_grad():
            run()
    finally:
        handle.remove()
    return seen["args"], seen["kwargs"]


def cogvideox_forward(model, grid, timestep):
    frames, h, w = grid
    cfg = model.config
    latents = rand((1, frames, cfg.in_channels, h * cfg.patch_size, w * cfg.patch_size), 1)
    text = rand((1, cfg.max_text_seq_length, cfg.text_embed_dim), 2)
    return lambda: model(hidden_states=latents, encoder_hidden_states=text,
                         timestep=torch.tensor([timestep]))


@pytest.mark.parametrize("timestep", [0, 250, 999])
def test_cogvideox_timestep_embedding_is_the_full_models(tiny_checkpoints, timestep):
    full = tiny_checkpoints.full_model("cogvideox-2b")
    _, kwargs = block_kwargs_in_forward(full, "transformer_blocks.0",
                                        cogvideox_forward(full, (1, 2, 2), timestep))
    block = load_token_block("cogvideox-2b:transformer_blocks.0", grid=(1, 2, 2),
                             weights=tiny_checkpoints.path("cogvideox-2b"), timestep=timestep)
    assert block.temb.shape == (1, 16)
    torch.testing.assert_close(block.temb, kwargs["temb"], atol=1e-6, rtol=1e-5)
    assert block.describe()["timestep"] == timestep
    assert block.text.shape == (1, 0, 32)


def test_timestep_changes_the_block_output(tiny_checkpoints):
    weights = tiny_checkpoints.path("cogvideox-5b")
    early, late = (load_token_block("cogvideox-5b:transformer_blocks.0", grid=(1, 2, 2),
                                    weights=weights, timestep=t) for t in (100, 900))
    x = rand((2, 4, 32))
    with torch.no_grad():
        assert not torch.allclose(early(x), late(x), atol=1e-3)


def test_hunyuanvideo_timestep_embedding_and_rotary_are_the_full_models(tiny_checkpoints):
    full = tiny_checkpoints.full_model("hunyuanvideo")
    cfg = full.config
    grid, t = (2, 2, 3), 640
    latents = rand((1, cfg.in_channels, 2, 4, 6), 3)

    def run():
        full(hidden_states=latents, timestep=torch.tensor([float(t)]),
             encoder_hidden_states=rand((1, 2, cfg.text_embed_dim), 4),
             encoder_attention_mask=torch.ones(1, 2),
             pooled_projections=torch.zeros(1, cfg.pooled_projection_dim),
             guidance=torch.tensor([6000.0]))

    args, _ = block_kwargs_in_forward(full, "single_transformer_blocks.0", run)
    block = load_token_block("hunyuanvideo:single_transformer_blocks.0", grid=grid,
                             weights=tiny_checkpoints.path("hunyuanvideo"), timestep=t)
    temb, rotary = args[2], args[4]
    torch.testing.assert_close(block.temb, temb, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(block.rotary_cos, rotary[0], atol=0, rtol=0)
    torch.testing.assert_close(block.rotary_sin, rotary[1], atol=0, rtol=0)
    assert block.rotary_cos.shape == (12, 16)


def test_hunyuanvideo_dummy_token_is_masked_out(tiny_checkpoints):
    for name in ("transformer_blocks.1", "single_transformer_blocks.0"):
        block = load_token_block(f"hunyuanvideo:{name}", grid=(1, 2, 2),
                                 weights=tiny_checkpoints.path("hunyuanvideo"))
        assert block.text.shape == (1, 1, 32) and not block.text.any()
        assert block.mask.shape == (1, 1, 1, 5) and block.mask.dtype == torch.bool
        assert block.mask[..., :4].all() and not block.mask[..., 4].any()
        x = rand((2, 4, 32))
        with torch.no_grad():
            before = block(x)
            block.text.copy_(rand((1, 1, 32), 9) * 10)
            after = block(x)
            torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)
            block.mask.fill_(True)          # unmasked, the token's value would leak in
            assert not torch.allclose(block(x), before, atol=1e-3)


@pytest.mark.parametrize("name, grid", [("cogvideox-5b", (2, 3, 4)), ("cogvideox-5b", (1, 8, 8)),
                                        ("cogvideox1.5-5b", (2, 3, 3))])
def test_cogvideox_rotary_is_the_pipelines(tiny_checkpoints, name, grid):
    from diffusers import CogVideoXPipeline

    model = tiny_checkpoints.full_model(name)
    frames, h, w = grid
    p, p_t = model.config.patch_size, model.config.patch_size_t or 1
    fake = SimpleNamespace(vae_scale_factor_spatial=8, transformer=model)
    cos, sin = CogVideoXPipeline._prepare_rotary_positional_embeddings(
        fake, h * p * 8, w * p * 8, frames * p_t, torch.device("cpu"))
    block = load_token_block(f"{name}:transformer_blocks.0", grid=grid,
                             weights=tiny_checkpoints.path(name))
    torch.testing.assert_close(block.rotary_cos, cos, atol=0, rtol=0)
    torch.testing.assert_close(block.rotary_sin, sin, atol=0, rtol=0)
    assert block.pos_init is None and block.embed_init is None


def test_cogvideox15_grid_beyond_the_slice_maximum_is_refused(tiny_checkpoints):
    with pytest.raises(ConfigError, match=r"token grid \(1, 7, 3\) is too large for this "
                                          r"CogVideoX 1.5 config: its rotary 'slice' grid "
                                          r"allows h <= 6 and w <= 6"):
        load_token_block("cogvideox1.5-5b:transformer_blocks.0", grid=(1, 7, 3),
                         weights=tiny_checkpoints.path("cogvideox1.5-5b"))


@pytest.mark.parametrize("name", ["cogvideox-2b", "tiny-video"])
def test_sincos_positions_are_the_patch_embeddings(tiny_checkpoints, name):
    full = tiny_checkpoints.full_model(name)
    cfg = full.config
    grid = (3, 2, 4)
    block = load_token_block(f"{name}:transformer_blocks.0", grid=grid,
                             weights=tiny_checkpoints.path(name))
    assert block.rotary_cos is None
    assert block.pos_init.dtype == np.float32 and block.pos_init.shape == (24, 32)
    # the patch embedding of all-zero latents is its bias plus the positions, per token
    latents = torch.zeros(1, 3, cfg.in_channels, 2 * cfg.patch_size, 4 * cfg.patch_size)
    text = torch.zeros(1, cfg.max_text_seq_length, cfg.text_embed_dim)
    with torch.no_grad():
        embeds = full.patch_embed(text, latents)[0, cfg.max_text_seq_length:]
        positions = embeds - full.patch_embed.proj.bias
    np.testing.assert_allclose(block.pos_init, positions.numpy(), atol=1e-6)


def test_tiny_video_brings_its_patch_embedding(tiny_checkpoints):
    block = load_token_block("tiny-video:transformer_blocks.1", grid=(2, 4, 4),
                             weights=tiny_checkpoints.path("tiny-video"))
    weight, bias = block.embed_init
    proj = tiny_checkpoints.model("tiny-video").patch_embed.proj
    assert weight.dtype == np.float32 and weight.shape == (32, 2, 2, 2) and bias.shape == (32,)
    np.testing.assert_array_equal(weight, proj.weight.detach().numpy())
    np.testing.assert_array_equal(bias, proj.bias.detach().numpy())
    assert block.pos_init.shape == (32, 32)
    # other backbones bring no patch embedding, even with the same architecture
    other = load_token_block("cogvideox-2b:transformer_blocks.1", grid=(2, 4, 4),
                             weights=tiny_checkpoints.path("cogvideox-2b"))
    assert other.embed_init is None and other.pos_init is not None


def test_conditioning_broadcasts_over_the_batch(tiny_checkpoints):
    for layer, grid in [("cogvideox-5b:transformer_blocks.2", (2, 2, 2)),
                        ("hunyuanvideo:transformer_blocks.0", (2, 2, 2)),
                        ("videomae-base:encoder.layer.1", (2, 2, 2))]:
        name = layer.split(":")[0]
        block = load_token_block(layer, grid=grid, weights=tiny_checkpoints.path(name))
        x = rand((3, 8, 32), 7)
        with torch.no_grad():
            together = block(x)
            one_by_one = torch.cat([block(x[i:i + 1]) for i in range(3)])
        torch.testing.assert_close(together, one_by_one, atol=1e-5, rtol=1e-5)


def test_conditioning_is_kept_as_non_persistent_buffers(tiny_checkpoints):
    block = load_token_block("hunyuanvideo:transformer_blocks.0", grid=(1, 2, 2),
                             weights=tiny_checkpoints.path("hunyuanvideo"))
    buffers = dict(block.named_buffers())
    assert {"temb", "text", "mask", "rotary_cos", "rotary_sin"} <= set(buffers)
    assert all(b.device.type == "cpu" for b in buffers.values())
    assert not any(k in block.state_dict() for k in ("temb", "text", "mask"))
    assert block.rotary_cos.dtype == torch.float32      # as the pipelines compute it


def test_describe_names_the_conditioning(tiny_checkpoints):
    cases = {
        "cogvideox-2b:transformer_blocks.0": ("0 tokens", "3-D sin-cos added at the patch "
                                              "embedding: pos_init (T, width)"),
        "cogvideox-5b:transformer_blocks.0": ("0 tokens", "3-D rotary, crop grid of 8x8"),
        "hunyuanvideo:single_transformer_blocks.1": ("1 dummy token of zeros, masked out",
                                                     "rotary of the (F, h, w) token grid "
                                                     "(model.rope)"),
        "videomae-base:encoder.layer.0": ("none", "added in the embeddings, before the first "
                                          "layer"),
    }
    for layer, (text, positions) in cases.items():
        block = load_token_block(layer, grid=(1, 2, 2), timestep=77,
                                 weights=tiny_checkpoints.path(layer.split(":")[0]))
        info = json.loads(json.dumps(block.describe()))
        assert info["conditioning"]["text"] == text
        assert info["conditioning"]["positions"] == positions
        assert info["timestep"] == (None if layer.startswith("videomae") else 77)
    hunyuan = load_token_block("hunyuanvideo:transformer_blocks.0", grid=(1, 1, 1), timestep=5,
                               weights=tiny_checkpoints.path("hunyuanvideo"))
    assert hunyuan.describe()["conditioning"]["timestep_embedding"] == (
        "time_text_embed(5, pooled zeros, guidance 6000.0)")
