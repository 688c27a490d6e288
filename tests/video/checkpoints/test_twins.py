"""Twins: same architecture and shapes. Random twins: fresh weights drawn by torch's default
rules from a numpy generator, identical for the same seed; shuffled twins: each pretrained
tensor's entries permuted by a seeded generator. The conditioning stays pretrained."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from rl_rosetta_layer.errors import ConfigError  # noqa: E402
from rl_rosetta_layer.video.checkpoints.loader import load_token_block  # noqa: E402
from rl_rosetta_layer.video.checkpoints.twins import (  # noqa: E402
    init_rule,
    random_twin,
    shuffled_twin,
)


def load(tiny_checkpoints, layer, seed=None, grid=(1, 2, 2)):
    rng = None if seed is None else np.random.default_rng(seed)
    name = layer.split(":")[0]
    return load_token_block(layer, grid=grid, weights=tiny_checkpoints.path(name), twin_rng=rng)


@pytest.mark.parametrize("layer", ["cogvideox-2b:transformer_blocks.1",
                                   "hunyuanvideo:transformer_blocks.0",
                                   "hunyuanvideo:single_transformer_blocks.1",
                                   "videomae-base:encoder.layer.2"])
def test_twin_has_the_shapes_and_other_weights(tiny_checkpoints, layer):
    pretrained = load(tiny_checkpoints, layer)
    twin = load(tiny_checkpoints, layer + ":random", seed=0)
    shapes = [(n, p.shape, p.dtype) for n, p in pretrained.block.named_parameters()]
    assert [(n, p.shape, p.dtype) for n, p in twin.block.named_parameters()] == shapes
    assert type(twin.block) is type(pretrained.block)
    pairs = zip(twin.block.named_parameters(), pretrained.block.named_parameters())
    for (name, p), (_, q) in pairs:
        assert not p.requires_grad
        if "norm" not in name or p.dim() > 1:           # norms of both can be all ones/zeros
            assert not torch.equal(p, q), name
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((2, 4, 32)).astype(np.float32))
    with torch.no_grad():
        assert not torch.allclose(twin(x), pretrained(x), atol=1e-3)
    assert twin.describe()["random_twin"] is True and twin.name == layer + ":random"
    assert twin.n_params == pretrained.n_params and twin.block_bytes == pretrained.block_bytes


def test_twin_is_identical_for_the_same_seed(tiny_checkpoints):
    layer = "cogvideox-5b:transformer_blocks.2:random"
    a, b, c = (load(tiny_checkpoints, layer, seed=s) for s in (3, 3, 4))
    for (name, p), (_, q), (_, r) in zip(a.block.named_parameters(), b.block.named_parameters(),
                                         c.block.named_parameters()):
        assert torch.equal(p, q), name
        if p.dim() > 1:
            assert not torch.equal(p, r), name


def test_twin_keeps_the_pretrained_conditioning_and_reads_no_block_key(tiny_checkpoints):
    pretrained = load(tiny_checkpoints, "cogvideox-2b:transformer_blocks.1")
    twin = load(tiny_checkpoints, "cogvideox-2b:transformer_blocks.1:random", seed=0)
    torch.testing.assert_close(twin.temb, pretrained.temb, atol=0, rtol=0)
    np.testing.assert_array_equal(twin.pos_init, pretrained.pos_init)
    assert twin.keys_read and all(k.startswith("time_embedding.") for k in twin.keys_read)
    hunyuan = load(tiny_checkpoints, "hunyuanvideo:transformer_blocks.1:random", seed=0)
    assert all(k.startswith("time_text_embed.") for k in hunyuan.keys_read)


def test_twin_in_bfloat16(tiny_checkpoints):
    twin = load_token_block("cogvideox-2b:transformer_blocks.0:random", grid=(1, 2, 2),
                            weights=tiny_checkpoints.path("cogvideox-2b"), dtype="bfloat16",
                            twin_rng=np.random.default_rng(0))
    assert all(p.dtype == torch.bfloat16 for p in twin.parameters())


def test_default_init_rules_of_torch():
    net = torch.nn.Sequential(torch.nn.Linear(300, 40), torch.nn.LayerNorm(40),
                              torch.nn.Conv2d(3, 8, kernel_size=(2, 5)), torch.nn.Embedding(10, 4))
    random_twin(net, np.random.default_rng(0))
    lin, norm, conv, emb = net
    bound = 1 / np.sqrt(300)
    for p in (lin.weight, lin.bias):
        assert p.abs().max() <= bound and p.abs().max() > 0.95 * bound
    # uniform on (-b, b) has variance b^2 / 3, as torch's own default init
    assert abs(lin.weight.var().item() / (bound ** 2 / 3) - 1) < 0.05
    fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(lin.weight)   # torch's own
    assert bound == 1 / np.sqrt(fan_in)
    assert torch.equal(norm.weight, torch.ones(40)) and torch.equal(norm.bias, torch.zeros(40))
    conv_bound = 1 / np.sqrt(3 * 2 * 5)
    assert conv.weight.abs().max() <= conv_bound and conv.bias.abs().max() <= conv_bound
    assert abs(emb.weight.std().item() - 1) < 0.5
    assert not any(p.requires_grad for p in net.parameters())


def test_other_parameters_follow_the_stated_fallback():
    class Odd(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.table = torch.nn.Parameter(torch.zeros(5, 4, 3))
            self.scale = torch.nn.Parameter(torch.zeros(16))

    odd = random_twin(Odd(), np.random.default_rng(0))
    assert init_rule(odd, "table", (5, 4, 3)) == ("uniform", 1 / np.sqrt(12))
    assert odd.table.abs().max() <= 1 / np.sqrt(12) and odd.table.abs().max() > 0
    assert odd.scale.abs().max() <= 0.25 and odd.scale.abs().max() > 0


def test_twin_of_a_meta_module_lands_on_the_cpu():
    with torch.device("meta"):
        lin = torch.nn.Linear(8, 3)
    random_twin(lin, np.random.default_rng(0))
    assert lin.weight.device.type == "cpu" and lin.weight.shape == (3, 8)
    a = random_twin(torch.nn.Linear(8, 3), np.random.default_rng(0))
    torch.testing.assert_close(lin.weight, a.weight, atol=0, rtol=0)


def test_twin_needs_a_numpy_generator():
    with pytest.raises(ConfigError, match=r"a random twin needs a numpy.random.Generator, "
                                          r"got int"):
        random_twin(torch.nn.Linear(2, 2), 0)


@pytest.mark.parametrize("layer", ["cogvideox-2b:transformer_blocks.1",
                                   "hunyuanvideo:single_transformer_blocks.1",
                                   "videomae-base:encoder.layer.2"])
def test_shuffled_twin_permutes_each_pretrained_tensor(tiny_checkpoints, layer):
    pretrained = load(tiny_checkpoints, layer)
    twin = load(tiny_checkpoints, layer + ":shuffled", seed=0)
    again = load(tiny_checkpoints, layer + ":shuffled", seed=0)
    other = load(tiny_checkpoints, layer + ":shuffled", seed=1)
    moved = 0
    for (name, p), (_, q), (_, r), (_, o) in zip(
            twin.block.named_parameters(), pretrained.block.named_parameters(),
            again.block.named_parameters(), other.block.named_parameters()):
        assert p.shape == q.shape and p.dtype == q.dtype and not p.requires_grad
        torch.testing.assert_close(p.flatten().sort().values, q.flatten().sort().values,
                                   rtol=0, atol=0, msg=name)           # the same values
        assert torch.equal(p, r), name                                 # the same seed: same
        if q.numel() > 1 and not torch.all(q == q.flatten()[0]):
            assert not torch.equal(p, q) and not torch.equal(p, o), name
            moved += 1
    assert moved > 0
    assert twin.keys_read == pretrained.keys_read                      # read, then shuffled
    assert twin.describe()["shuffled_twin"] is True and "shuffled_twin" not in \
        pretrained.describe()
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((2, 4, 32)).astype(np.float32))
    with torch.no_grad():
        assert not torch.allclose(twin(x), pretrained(x), atol=1e-3)


def test_shuffled_twin_needs_loaded_weights_and_a_numpy_generator():
    module = torch.nn.Linear(3, 2)
    with pytest.raises(ConfigError, match="a shuffled twin needs a numpy.random.Generator, "
                                          "got int"):
        shuffled_twin(module, 0)
    with pytest.raises(ConfigError, match="parameter weight is on the meta device"):
        shuffled_twin(torch.nn.Linear(3, 2, device="meta"), np.random.default_rng(0))
