"""The shipped tiny-video backbone through the same commands as the grid: analysis, a short
RL run, the report; outputs land in their own folder."""

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")


BLOCK = "tiny-video:transformer_blocks.1"


def test_analysis_and_rl_on_a_tiny_video_block_and_its_twin(tmp_path, rosetta):
    out = tmp_path / "tiny"
    layers = f"{BLOCK},{BLOCK}:random,random_wide"
    rc, text, err = rosetta(["run", "--backbone", "tiny-video", "--output-dir", out,
                             "--analysis-layers", layers, "--layers", layers,
                             "--dataset-steps", 200, "--episodes", 2, "--seeds", "0,1",
                             "--workers", 1, "--quiet", "--set", "learning_starts=20"])
    assert rc == 0, err
    rows = (out / "layer_analysis.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == [BLOCK, f"{BLOCK}:random", "random_wide"]
    summary = (out / "experiment_summary.csv").read_text()
    assert BLOCK in summary and f"{BLOCK}:random" in summary
    configs = [json.loads(p.read_text()) for p in (out / "runs").glob("*/config.json")]
    video = [c for c in configs if c["layer"] == BLOCK]
    assert len(video) == 2 and video[0]["video"]["timestep"] == 500
    assert all("video" not in c for c in configs if c["layer"] == "random_wide")


def test_blocks_group_and_default_output_folder(tmp_path, rosetta, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, text, err = rosetta(["analyze", "--backbone", "tiny-video", "--dataset-steps", 150,
                             "--bootstrap", 10, "--quiet"])
    assert rc == 0, err
    rows = (tmp_path / "outputs" / "tiny-video" / "layer_analysis.csv").read_text()
    assert [r.split(",")[0] for r in rows.splitlines()[1:]] == [
        f"tiny-video:transformer_blocks.{i}" for i in range(4)]


def test_unknown_backbone_and_block_are_one_line_errors(tmp_path, rosetta):
    rc, _, err = rosetta(["train", "--backbone", "sora", "--output-dir", tmp_path])
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "'sora'" in err
    rc, _, err = rosetta(["train", "--layers", "tiny-video:transformer_blocks.9",
                          "--output-dir", tmp_path])
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "transformer_blocks.9" in err and "transformer_blocks.0-3" in err
    assert not list(tmp_path.iterdir())


def test_shipped_checkpoint_through_the_backbone_loader_reproduces_recorded_blocks():
    """Each tiny-video block read alone by the loader (with its own timestep embedding)
    gives the outputs recorded inside the full model when it was trained; its twin does not."""
    import numpy as np
    import torch

    from rl_rosetta_layer.video.backbones.catalog import backbone_spec, default_weights
    from rl_rosetta_layer.video.candidates.settings import twin_rng
    from rl_rosetta_layer.video.checkpoints.loader import load_token_block

    ref = np.load(default_weights(backbone_spec("tiny-video")) / "reference_outputs.npz")
    t = int(ref["timestep"])
    for i in range(4):
        name = f"tiny-video:transformer_blocks.{i}"
        x = torch.from_numpy(ref[f"transformer_blocks.{i}.input"])
        block = load_token_block(name, grid=(4, 4, 4), timestep=t)
        assert np.allclose(block.temb.numpy(), ref["temb"], atol=1e-5)
        with torch.no_grad():
            y = block(x).numpy()
            twin = load_token_block(f"{name}:random", grid=(4, 4, 4), timestep=t,
                                    twin_rng=twin_rng(f"{name}:random"))(x).numpy()
        expected = ref[f"transformer_blocks.{i}.output"]
        assert np.allclose(y, expected, atol=1e-4), np.abs(y - expected).max()
        assert np.abs(twin - expected).max() > 0.1
