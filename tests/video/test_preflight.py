"""A missing or cut-short checkpoint shard is bad input, found before any worker starts:
one line, exit status 2, no run folder. A block whose shards are all there still loads
alone from a checkpoint that lacks other shards (the loader reads only what it needs)."""

import json
import shutil

import pytest

from rl_rosetta_layer.video.backbones.catalog import backbone_spec, default_weights
from rl_rosetta_layer.video.checkpoints.loader import check_weights

pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("safetensors")

TRAIN = ["train", "--backbone", "tiny-video", "--env", "catch", "--env-steps", "60",
         "--seeds", "0", "--quiet", "--workers", "1", "--set", "learning_starts=20"]


@pytest.fixture
def weights(tmp_path):
    folder = tmp_path / "tiny-video"
    shutil.copytree(default_weights(backbone_spec("tiny-video")), folder)
    index = json.loads((folder / "diffusion_pytorch_model.safetensors.index.json").read_text())
    return folder, index["weight_map"]


def shard_of(weight_map, prefix):
    return sorted({v for k, v in weight_map.items() if k.startswith(prefix)})


def test_a_missing_shard_fails_before_training(weights, rosetta, tmp_path):
    folder, weight_map = weights
    # the last block's keys: at least one of them sits in a shard we delete
    last = sorted({k.split(".")[1] for k in weight_map if k.startswith("transformer_blocks.")},
                  key=int)[-1]
    gone = shard_of(weight_map, f"transformer_blocks.{last}.")[-1]
    (folder / gone).unlink()
    layer = f"tiny-video:transformer_blocks.{last}"
    rc, _, err = rosetta([*TRAIN, "--weights", folder, "--layers", layer,
                          "--output-dir", tmp_path / "out"])
    assert rc == 2
    assert err.strip() == (f"rosetta: error: shard {gone} listed in the index of {folder} "
                           f"does not exist")
    assert not (tmp_path / "out").exists()
    kept = [k for k, v in weight_map.items() if v != gone]
    if any(k.startswith("transformer_blocks.0.") for k in kept) and \
            gone not in shard_of(weight_map, "transformer_blocks.0."):
        assert check_weights("tiny-video:transformer_blocks.0", folder)   # loads alone


def test_a_truncated_shard_fails_before_training(weights, rosetta, tmp_path):
    folder, weight_map = weights
    shard = folder / shard_of(weight_map, "transformer_blocks.0.")[0]
    shard.write_bytes(shard.read_bytes()[:-1000])
    rc, _, err = rosetta([*TRAIN, "--weights", folder, "--layers",
                          "tiny-video:transformer_blocks.0", "--output-dir", tmp_path / "out"])
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert f"{shard} is not a safetensors file" in err and "not fully covered" in err
    assert not (tmp_path / "out").exists()


def test_a_device_torch_does_not_see_fails_before_training(rosetta, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    rc, _, err = rosetta([*TRAIN, "--layers", "tiny-video:transformer_blocks.0", "--device",
                          "cuda", "--output-dir", tmp_path / "out"])
    assert rc == 2 and "CUDA is not available" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
