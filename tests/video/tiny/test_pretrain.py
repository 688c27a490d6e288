"""Pretraining tiny-video: init from numpy, loss falls, determinism, the shipped checkpoint."""

import argparse
import json
import subprocess
import sys
from dataclasses import asdict, replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from diffusers import CogVideoXTransformer3DModel  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

from rl_rosetta_layer.errors import ConfigError  # noqa: E402
from rl_rosetta_layer.video.tiny import command as pretrain_command  # noqa: E402
from rl_rosetta_layer.video.tiny.pretrain import (  # noqa: E402
    SHIPPED_DIR,
    PretrainConfig,
    block_reference,
    build_model,
    pretrain,
)

TINY = PretrainConfig(heads=2, head_dim=8, layers=2, time_embed_dim=16, steps=200, batch=32,
                      lr=1e-2, warmup=5, val_videos=32, eval_every=50, shard_bytes=10_000,
                      threads=1)
MAX_BYTES = 5 * 1024 * 1024


def weights(folder):
    out = {}
    for path in sorted(folder.glob("*.safetensors")):
        out.update(load_file(path))
    return out


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "ckpt"
    return out, pretrain(TINY, out, quiet=True, command="test")


def test_every_parameter_comes_from_the_numpy_generator():
    state = torch.get_rng_state()
    a = build_model(TINY, np.random.default_rng(0))
    b = build_model(TINY, np.random.default_rng(0))
    c = build_model(TINY, np.random.default_rng(1))
    assert torch.equal(state, torch.get_rng_state())      # torch's global generator untouched
    for (name, p), q, r in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(p, q), name
        module = a.get_submodule(name.rpartition(".")[0])
        if isinstance(module, torch.nn.LayerNorm):         # weight 1, bias 0
            assert torch.all(p == (1.0 if name.endswith("weight") else 0.0)), name
        else:                                              # U(-1/sqrt(fan_in), 1/sqrt(fan_in))
            assert not torch.equal(p, r), name
            bound = module.weight[0].numel() ** -0.5
            assert p.abs().max() <= bound, name
            if p.numel() >= 100:                           # the law's whole range is used
                assert p.abs().max() > 0.9 * bound, name


def test_model_runs_with_zero_text_tokens():
    model = build_model(TINY, np.random.default_rng(0))
    x = torch.zeros(3, 4, 2, 8, 8)
    out = model(x, torch.zeros(3, 0, TINY.text_dim), torch.tensor([0, 500, 999])).sample
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_tiny_run_loss_falls_and_writes_a_sharded_checkpoint(tiny_run):
    out, record = tiny_run
    curve = record["loss_curve"]
    assert [row["step"] for row in curve] == [0, 50, 100, 150, 200]
    assert len(record["train_loss_per_step"]) == 200
    assert curve[-1]["train_loss"] < 0.85 * curve[1]["train_loss"]
    assert curve[-1]["val_loss"] < 0.6 * curve[0]["val_loss"]
    # at low noise it beats the best per-pixel linear guess: it learned the sprites
    low_band = record["validation_bands"][0]
    assert curve[-1]["val_band_loss"][0] < 0.6 * low_band["linear_loss"]
    assert record["shards"] >= 2
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "diffusion_pytorch_model.safetensors.index.json",
            "scheduler_config.json", "pretrain.json", "loss_curve.png",
            "reference_outputs.npz"} <= names
    saved = json.loads((out / "pretrain.json").read_text())
    assert saved["config"] == asdict(TINY) and saved["command"] == "test"
    assert not any(p.name.startswith(".") for p in out.parent.iterdir())  # no temp folders


def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    short = replace(TINY, steps=30, eval_every=30)
    for name, config in (("a", short), ("b", short), ("c", replace(short, seed=1))):
        pretrain(config, tmp_path / name, quiet=True)
    a, b, c = (weights(tmp_path / name) for name in "abc")
    assert a.keys() == b.keys() == c.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert not np.array_equal(a["proj_out.weight"], c["proj_out.weight"])


def test_force_replaces_and_threads_are_restored(tmp_path):
    (tmp_path / "old.txt").write_text("old")
    before = torch.get_num_threads()
    record = pretrain(replace(TINY, steps=2, eval_every=2, threads=2), tmp_path, quiet=True,
                      force=True)
    assert torch.get_num_threads() == before
    assert not (tmp_path / "old.txt").exists() and (tmp_path / "config.json").is_file()
    assert record["loss_curve"][-1]["step"] == 2


@pytest.mark.skipif(not SHIPPED_DIR.is_dir(), reason="tiny-video has not been produced")
class TestShipped:
    def test_size_and_shards(self):
        files = list(SHIPPED_DIR.iterdir())
        assert sum(p.stat().st_size for p in files) <= MAX_BYTES
        assert len([p for p in files if p.suffix == ".safetensors"]) >= 2
        index = json.loads((SHIPPED_DIR / "diffusion_pytorch_model.safetensors.index.json")
                           .read_text())
        assert len(set(index["weight_map"].values())) >= 2

    def test_record_matches_the_default_command(self):
        record = json.loads((SHIPPED_DIR / "pretrain.json").read_text())
        assert record["config"] == asdict(PretrainConfig())
        assert record["command"].startswith("rosetta pretrain --seed 0 ")
        curve = record["loss_curve"]
        assert curve[-1]["val_loss"] < 0.75 * curve[0]["val_loss"]
        # it learned more than pixel statistics where the noise leaves something to learn
        for k in (0, 1):
            assert curve[-1]["val_band_loss"][k] < record["validation_bands"][k]["linear_loss"]

    def test_loads_and_reproduces_reference_outputs(self):
        model = CogVideoXTransformer3DModel.from_pretrained(SHIPPED_DIR).eval()
        ref = dict(np.load(SHIPPED_DIR / "reference_outputs.npz"))
        config = PretrainConfig()
        got = block_reference(model, config, torch.from_numpy(ref["sample"]),
                              int(ref["timestep"]))
        assert set(got) == set(ref)
        for key in ref:
            np.testing.assert_allclose(got[key], ref[key], rtol=1e-4, atol=1e-5, err_msg=key)

    def test_each_block_alone_reproduces_its_outputs(self):
        model = CogVideoXTransformer3DModel.from_pretrained(SHIPPED_DIR).eval()
        ref = np.load(SHIPPED_DIR / "reference_outputs.npz")
        temb = torch.from_numpy(ref["temb"])
        for i, block in enumerate(model.transformer_blocks):
            x = torch.from_numpy(ref[f"transformer_blocks.{i}.input"])
            text = torch.zeros(x.shape[0], 0, x.shape[2])
            with torch.no_grad():
                out, _ = block(x, text, temb)
            np.testing.assert_allclose(out.numpy(), ref[f"transformer_blocks.{i}.output"],
                                       rtol=1e-4, atol=1e-5)


def parse(argv):
    parser = argparse.ArgumentParser()
    pretrain_command.configure_parser(parser)
    return parser.parse_args(argv)


def test_flag_defaults_are_the_config_defaults():
    args = parse([])
    assert pretrain_command.config_from_args(args) == PretrainConfig()
    assert args.output == SHIPPED_DIR and not args.force
    assert all(pretrain_command.field_help(PretrainConfig).get(n) for n in asdict(TINY))


def test_refused_overwrite_gives_one_line_and_keeps_the_files(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    args = parse(["--output", str(tmp_path), "--steps", "1"])
    with pytest.raises(ConfigError) as err:
        pretrain_command.run(args)
    assert str(err.value) == (f"output {tmp_path} already holds a checkpoint; refusing to "
                              "overwrite it (pass --force to replace it, or choose another "
                              "--output)")
    assert (tmp_path / "config.json").read_text() == "{}"


@pytest.mark.skipif(not SHIPPED_DIR.is_dir(), reason="tiny-video has not been produced")
def test_default_output_is_the_shipped_checkpoint_and_is_protected():
    with pytest.raises(ConfigError, match="already holds a checkpoint; refusing"):
        pretrain_command.run(parse([]))


def test_bad_setting_is_refused():
    with pytest.raises(ConfigError, match=r"^steps must be a positive integer, got 0$"):
        pretrain_command.run(parse(["--steps", "0"]))
    with pytest.raises(ConfigError, match=r"^size must be a multiple of patch=3, got 8$"):
        PretrainConfig(patch=3)


def test_command_module_does_not_import_torch():
    code = ("import sys, rl_rosetta_layer.video.tiny.command; "
            "print('torch' in sys.modules, 'diffusers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False False"
