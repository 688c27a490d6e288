"""A frozen token block between a patch-embedding adapter and a read-out, as a candidate."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from token_blocks import CogTokenBlock  # noqa: E402

from rl_rosetta_layer.agent.config import DQNConfig  # noqa: E402
from rl_rosetta_layer.agent.learner import make_learner  # noqa: E402
from rl_rosetta_layer.errors import ConfigError  # noqa: E402
from rl_rosetta_layer.layers.base import FrozenLayer  # noqa: E402
from rl_rosetta_layer.video.candidates.candidate import VideoCandidate  # noqa: E402
from rl_rosetta_layer.video.candidates.tokens import TokenLayout, init_adapter  # noqa: E402

OBS = (2, 2, 4, 4)          # frames, channels, height, width: grid (2, 2, 2), 8 tokens
D = 2 * 2 * 4 * 4


def obs(n, seed=1):
    return np.random.default_rng(seed).random((n, D), dtype=np.float32)


def test_patch_embedding_is_a_strided_conv_per_frame():
    # Known answer: CogVideoX embeds each frame with a p x p, stride p convolution and
    # orders tokens (frame, row, column). Frames 5 x 7 are zero-padded to 6 x 8.
    layout = TokenLayout(frames=3, channels=2, rows=5, cols=7, patch=2, width=4)
    assert layout.grid == (3, 3, 4) and layout.tokens == 36
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 2, 2, 2))
    b = rng.normal(size=4)
    adapter = {"patch_w": torch.from_numpy(w.reshape(4, 8).T), "patch_b": torch.from_numpy(b),
               "pos": torch.zeros(36, 4, dtype=torch.float64)}
    x = rng.normal(size=(5, 3 * 2 * 5 * 7))
    tokens = layout.embed(torch.from_numpy(x), adapter)
    frames = torch.nn.functional.pad(torch.from_numpy(x).reshape(15, 2, 5, 7), (0, 1, 0, 1))
    conv = torch.nn.functional.conv2d(frames, torch.from_numpy(w), torch.from_numpy(b),
                                      stride=2)                       # (15, 4, 3, 4)
    ref = conv.reshape(5, 3, 4, 12).permute(0, 1, 3, 2).reshape(5, 36, 4)
    np.testing.assert_allclose(tokens.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("readout", ["project", "attention", "flatten", "mean"])
def test_forward_is_the_fixed_part_of_the_readout(readout):
    # Written from the definitions: the LayerNormed tokens, flattened (project, attention,
    # flatten), or their mean (mean).
    block = CogTokenBlock()
    cand = VideoCandidate(block, OBS, analysis_seed=5, readout=readout)
    width = 32 if readout == "mean" else 8 * 32
    assert (cand.name, cand.input_dim, cand.output_dim) == (block.name, D, width)
    assert isinstance(cand, FrozenLayer)
    x = obs(6)
    adapter = {k: torch.from_numpy(v) for k, v in
               init_adapter(cand.layout, np.random.default_rng(5)).items()}
    with torch.no_grad():
        tokens = block(cand.layout.embed(torch.from_numpy(x), adapter)).numpy()
    if readout == "mean":
        ref = tokens.mean(axis=1)
    else:
        centred = tokens - tokens.mean(axis=2, keepdims=True)
        ref = (centred / np.sqrt((centred ** 2).mean(axis=2, keepdims=True) + 1e-5))
        ref = ref.reshape(6, -1)
    y = cand.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)
    assert cand.forward(x.reshape(2, 3, D)).shape == (2, 3, width)


@pytest.mark.parametrize("chunk", [1, 2, 1024])
def test_encode_gives_each_row_the_code_it_gets_alone_and_remembers_codes(chunk):
    """New rows go through the block together; each gets, bit for bit, the code it gets
    alone (so a seed's numbers are the same alone and in lockstep)."""
    x = obs(7)
    alone = VideoCandidate(CogTokenBlock(), OBS)
    one_by_one = np.stack([alone.encode(x[i:i + 1])[0] for i in range(7)])
    cand = VideoCandidate(CogTokenBlock(), OBS, chunk_size=chunk)
    codes = cand.encode(np.concatenate([x[:2], x]))          # repeats are encoded once
    np.testing.assert_array_equal(codes[2:], one_by_one)
    np.testing.assert_array_equal(codes[:2], one_by_one[:2])
    np.testing.assert_allclose(codes[2:], cand.forward(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(cand.encode(x[::-1]), one_by_one[::-1])
    assert len(cand._codes) == 7
    again = cand.encode(np.concatenate([x[:1], obs(1, seed=9)]))
    np.testing.assert_array_equal(again[0], one_by_one[0])
    assert len(cand._codes) == 8


def test_initial_adapter_draws_in_a_fixed_order():
    layout = TokenLayout(2, 2, 4, 4, 2, 32)
    got = init_adapter(layout, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    w = rng.normal(0.0, 1.0 / np.sqrt(2 * 2 * 2), (32, 2, 2, 2))
    pos = rng.normal(0.0, 0.02, (8, 32))
    np.testing.assert_array_equal(got["patch_w"], w.reshape(32, 8).T.astype(np.float32))
    np.testing.assert_array_equal(got["pos"], pos.astype(np.float32))
    np.testing.assert_array_equal(got["patch_b"], np.zeros(32, np.float32))


def test_analysis_seed_decides_the_features():
    x = obs(4)
    a = VideoCandidate(CogTokenBlock(), OBS, analysis_seed=1).forward(x)
    b = VideoCandidate(CogTokenBlock(), OBS, analysis_seed=1).forward(x)
    c = VideoCandidate(CogTokenBlock(), OBS, analysis_seed=2).forward(x)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_block_inits_are_used_and_the_draw_fills_the_rest():
    rng = np.random.default_rng(4)
    w0, b0 = rng.normal(size=(32, 1, 2, 2)), rng.normal(size=32)    # one channel of two
    pos0 = rng.normal(size=(8, 32))
    cand = VideoCandidate(CogTokenBlock(embed_init=(w0, b0), pos_init=pos0), OBS,
                          analysis_seed=9)
    got = {k: v.numpy() for k, v in cand.analysis_adapter.items()}
    drawn = init_adapter(cand.layout, np.random.default_rng(9))
    w = got["patch_w"].T.reshape(32, 2, 2, 2)
    np.testing.assert_array_equal(w[:, :1], w0.astype(np.float32))
    np.testing.assert_array_equal(w[:, 1:], drawn["patch_w"].T.reshape(32, 2, 2, 2)[:, 1:])
    np.testing.assert_array_equal(got["patch_b"], b0.astype(np.float32))
    np.testing.assert_array_equal(got["pos"], pos0.astype(np.float32))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_backward_matches_finite_differences(dtype):
    # The mean read-out keeps the float32 outputs few and small enough for differences.
    cand = VideoCandidate(CogTokenBlock(), OBS, dtype=dtype, readout="mean")
    rng = np.random.default_rng(5)
    x = rng.random((3, D))
    x = x.astype(np.float32) if dtype == "float32" else x
    g = rng.normal(size=(3, cand.output_dim))
    grad = cand.backward(x, g)
    assert grad.shape == (3, D) and grad.dtype == np.float32
    rtol = 1e-4 if dtype == "float64" else 5e-3

    def loss(z):
        return float((cand.forward(z).astype(np.float64) * g).sum())

    def central(v, eps):
        return (loss(x + eps * v) - loss(x - eps * v)) / (2 * eps)

    for _ in range(2):
        v = rng.normal(size=x.shape).astype(x.dtype)
        # Richardson: (4 D(h/2) - D(h)) / 3 cancels the h^2 error; forward returns float32,
        # so h cannot be small.
        fd = (4 * central(v, 1e-2) - central(v, 2e-2)) / 3
        assert fd == pytest.approx(float((grad * v).sum()), rel=rtol)


def test_chunks_give_the_result_of_one_chunk():
    x = obs(11)
    g = np.random.default_rng(6).normal(size=(11, 256)).astype(np.float32)
    small = VideoCandidate(CogTokenBlock(), OBS, chunk_size=3)
    whole = VideoCandidate(CogTokenBlock(), OBS)
    np.testing.assert_allclose(small.forward(x), whole.forward(x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(small.backward(x, g), whole.backward(x, g), rtol=1e-6,
                               atol=1e-7)


def test_block_is_frozen_and_unchanged():
    block = CogTokenBlock()
    before = {k: v.clone() for k, v in block.state_dict().items()}
    cand = VideoCandidate(block, OBS)
    x = obs(5)
    cand.backward(x, np.ones((5, cand.output_dim), np.float32))
    after = block.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not block.training and not any(p.requires_grad for p in block.parameters())


def test_bfloat16_block_is_close_to_float32():
    x = obs(6)
    g = np.random.default_rng(7).normal(size=(6, 256)).astype(np.float32)
    c16 = VideoCandidate(CogTokenBlock(), OBS, dtype="bfloat16")
    c32 = VideoCandidate(CogTokenBlock(), OBS)
    assert next(c16.block.parameters()).dtype == torch.bfloat16
    assert all(t.dtype == torch.float32 for t in c16.analysis_adapter.values())
    y16, y32 = c16.forward(x), c32.forward(x)
    assert y16.dtype == np.float32
    assert np.abs(y16 - y32).max() < 0.05 * np.abs(y32).max()
    d16, d32 = c16.backward(x, g), c32.backward(x, g)
    assert np.abs(d16 - d32).max() < 0.05 * np.abs(d32).max()


def test_describe_is_json_ready():
    d = VideoCandidate(CogTokenBlock(), OBS, chunk_size=7).describe()
    d = json.loads(json.dumps(d))
    assert d["grid"] == [2, 2, 2] and d["tokens"] == 8 and d["chunk_size"] == 7
    assert d["readout"] == {"kind": "project", "dim": 4, "code_dim": 256, "out_dim": 32,
                            "params": 32 * 4 + 4}
    assert d["block"]["name"] == "tiny-cog:transformer_blocks.0"
    assert d["block_params"] == CogTokenBlock().n_params


# ------------------------------------------------------------------------------ bad input

def test_grid_mismatch_is_named():
    with pytest.raises(ConfigError, match=r"block 'tiny-cog:transformer_blocks.0' expects a "
                                          r"token grid \(2, 2, 2\), but observations "
                                          r"\(2, 2, 8, 8\) with patch 2 give \(2, 4, 4\)"):
        VideoCandidate(CogTokenBlock(), (2, 2, 8, 8))


def test_bad_obs_shape_is_named():
    with pytest.raises(ConfigError, match=r"obs_shape must be \(frames, channels, height, "
                                          r"width\), got \(2, 8, 8\)"):
        VideoCandidate(CogTokenBlock(), (2, 8, 8))


def test_pos_init_of_the_wrong_shape_is_named():
    with pytest.raises(ConfigError, match=r"pos_init must have shape \(8, 32\) for token grid "
                                          r"\(2, 2, 2\), got \(16, 32\)"):
        VideoCandidate(CogTokenBlock(pos_init=np.zeros((16, 32))), OBS)


def test_embed_init_of_another_patch_is_named():
    bad = (np.zeros((32, 2, 4, 4)), np.zeros(32))
    with pytest.raises(ConfigError, match=r"embed_init must be weight \(32, C, 2, 2\) and bias "
                                          r"\(32,\) for patch 2, got \(32, 2, 4, 4\)"):
        VideoCandidate(CogTokenBlock(embed_init=bad), OBS)


def test_module_without_token_block_attributes_is_named():
    with pytest.raises(ConfigError, match="token block Linear lacks attribute"):
        VideoCandidate(torch.nn.Linear(4, 4), OBS)


def test_block_built_for_another_dtype_is_named():
    block = CogTokenBlock()
    block.dtype = torch.bfloat16                  # a loader's block records its dtype
    with pytest.raises(ConfigError, match="was built for bfloat16 but the candidate asks for "
                                          "float32"):
        VideoCandidate(block, OBS)


def test_block_returning_a_pair_is_named():
    class PairBlock(CogTokenBlock):
        def forward(self, x):
            return x, x

    cand = VideoCandidate(PairBlock(), OBS)
    with pytest.raises(ConfigError, match="returned tuple for tokens"):
        cand.forward(obs(2))


def test_learner_for_other_observations_is_refused():
    cand = VideoCandidate(CogTokenBlock(), OBS)
    with pytest.raises(ConfigError, match=r"takes observations of 64 values \(2, 2, 4, 4\), "
                                          r"the environment gives 256"):
        make_learner(cand, 256, 5, DQNConfig(), [np.random.default_rng(0)])
