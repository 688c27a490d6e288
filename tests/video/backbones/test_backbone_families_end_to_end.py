"""The new backbones through the same command-line path as the others: layer names and
groups from a checkpoint's config, and a few training steps of a tiny Wan block, its random
twin, its prefix stack and the bypass, and of a tiny V-JEPA 2 layer."""

import csv
import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from rl_rosetta_layer.errors import UnknownLayerError  # noqa: E402
from rl_rosetta_layer.video.family import VIDEO  # noqa: E402

TRAIN = ["train", "--env", "catch", "--env-steps", "60", "--seeds", "0", "--quiet",
         "--workers", "1", "--set", "learning_starts=20"]


def test_layer_names_and_groups_come_from_the_checkpoints_config(tiny_checkpoints):
    weights = str(tiny_checkpoints.path("ltx-video", "hf-cache"))
    assert VIDEO.expand("blocks", "ltx-video", weights) == [
        f"ltx-video:transformer_blocks.{i}" for i in range(3)]
    assert VIDEO.expand("prefixes", "ltx-video", weights)[0] == \
        "ltx-video:transformer_blocks.1:prefix"
    assert VIDEO.expand("bypass", "ltx-video", weights) == ["ltx-video:bypass"]
    weights = str(tiny_checkpoints.path("vjepa2-vitl"))
    assert VIDEO.expand("twins", "vjepa2-vitl", weights)[-1] == \
        "vjepa2-vitl:encoder.layer.2:random"
    assert VIDEO.check_name("vjepa2-vitl:encoder.layer.2", weights)
    with pytest.raises(UnknownLayerError, match=r"vjepa2-vitl has no candidate block "
                                                r"'encoder.layer.3'; accepted: "
                                                r"encoder.layer.0-2"):
        VIDEO.check_name("vjepa2-vitl:encoder.layer.3", weights)


def _runs(folder):
    with open(folder / "experiment_runs.csv", newline="") as f:
        return {row["layer"]: row for row in csv.DictReader(f)}


def test_a_few_training_steps_on_tiny_new_backbone_blocks(tiny_checkpoints, rosetta,
                                                          tmp_path):
    block = "wan2.1-t2v-1.3b:blocks.1"
    layers = [block, f"{block}:random", "wan2.1-t2v-1.3b:blocks.2:prefix",
              "wan2.1-t2v-1.3b:bypass"]
    weights = tiny_checkpoints.path("wan2.1-t2v-1.3b")
    rc, _, err = rosetta([*TRAIN, "--backbone", "wan2.1-t2v-1.3b", "--weights", weights,
                          "--layers", ",".join(layers), "--output-dir", tmp_path / "wan"])
    assert rc == 0, err
    runs = _runs(tmp_path / "wan")
    assert list(runs) == layers
    assert all(r["status"] == "ok" and int(r["updates"]) > 0 for r in runs.values())
    configs = [json.loads(p.read_text()) for p in (tmp_path / "wan" / "runs").glob(
        "*/config.json")]
    assert {c["video"]["weights"] for c in configs} == {str(weights)}
    # V-JEPA 2: catch's (2, 4, 4) token grid sits in the tiny model's 6 x 6 patch grid
    layer = "vjepa2-vitl:encoder.layer.1"
    rc, _, err = rosetta([*TRAIN, "--backbone", "vjepa2-vitl", "--weights",
                          tiny_checkpoints.path("vjepa2-vitl"), "--layers", layer,
                          "--output-dir", tmp_path / "vjepa2"])
    assert rc == 0, err
    row = _runs(tmp_path / "vjepa2")[layer]
    assert row["status"] == "ok" and int(row["updates"]) > 0
