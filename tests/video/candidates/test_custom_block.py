"""Any torch block between the token adapters: a module factory named MODULE:FACTORY, its
random twin MODULE:FACTORY:random re-initialised by the module's own initialisers under a
seeded generator (never torch's global one), refused in one line when it breaks the
token protocol."""

import json
import re
import uuid
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rl_rosetta_layer.agent.config import DQNConfig  # noqa: E402
from rl_rosetta_layer.envs.grid import GridConfig  # noqa: E402
from rl_rosetta_layer.errors import ConfigError  # noqa: E402
from rl_rosetta_layer.experiments.spec import EnvSpec, RunSpec  # noqa: E402
from rl_rosetta_layer.layers.custom import ENTRY_POINT_GROUP  # noqa: E402
from rl_rosetta_layer.layers.registry import build_layers, expand_layer_names  # noqa: E402
from rl_rosetta_layer.video.candidates.candidate import VideoCandidate  # noqa: E402
from rl_rosetta_layer.video.candidates.custom_block import (  # noqa: E402
    SeededTorch,
    block_width,
    reinitialise,
)
from rl_rosetta_layer.video.family import is_video_layer, needs_torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
BLOCK = "examples.my_block:make_block"
TWIN = f"{BLOCK}:random"
GRID4 = GridConfig(size=4)
TINY = ["--episodes", "3", "--grid-size", "4", "--quiet", "--set", "learning_starts=20"]


pytestmark = pytest.mark.usefixtures("examples_importable")


def _params(candidate: VideoCandidate) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in candidate.block.block.parameters()]


def test_a_block_is_a_video_layer_with_its_settings_in_the_run_id():
    assert expand_layer_names(f"{BLOCK},{TWIN},identity") == [BLOCK, TWIN, "identity"]
    assert is_video_layer(BLOCK) and is_video_layer(TWIN) and needs_torch(TWIN)
    spec = RunSpec(EnvSpec(grid_size=4), BLOCK, 0, DQNConfig())
    d = spec.to_dict()
    assert d["video"]["patch"] == 2
    fingerprint = d["layer_source"].pop("fingerprint")
    assert d["layer_source"] == {"target": BLOCK, "kind": "block",
                                 "describe": {"kind": "mixer", "width": 32}}
    d["layer_source"]["fingerprint"] = fingerprint
    assert RunSpec.from_dict(json.loads(json.dumps(d))) == spec
    twin = RunSpec(EnvSpec(grid_size=4), TWIN, 0, DQNConfig())
    twin_source = twin.to_dict()["layer_source"]
    assert twin.run_id != spec.run_id and twin_source["describe"] == d["layer_source"]["describe"]
    assert twin_source["fingerprint"] != fingerprint              # other weights


def test_the_block_and_its_twin_are_the_same_in_every_build_and_never_touch_torchs_rng():
    state = torch.get_rng_state()
    built = [build_layers([BLOCK, TWIN], GRID4) for _ in range(2)]
    assert torch.equal(state, torch.get_rng_state())
    block, twin = built[0][BLOCK], built[0][TWIN]
    assert isinstance(block, VideoCandidate) and block.name == BLOCK and twin.name == TWIN
    for a, b in zip(_params(block), _params(built[1][BLOCK])):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(_params(twin), _params(built[1][TWIN])):
        np.testing.assert_array_equal(a, b)
    weights = [(a, b) for a, b in zip(_params(block), _params(twin)) if a.ndim == 2]
    assert weights and all(not np.array_equal(a, b) for a, b in weights)
    assert twin.block.describe()["random_twin"] and twin.block.describe()["fallback_init"] == []
    obs = np.random.default_rng(0).integers(0, 2, (3, block.input_dim)).astype(np.float32)
    assert block.forward(obs).shape == (3, block.output_dim)


def test_reinitialise_uses_the_modules_own_initialisers_and_names_the_rest():
    class Mixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 4)
            self.norm = torch.nn.LayerNorm(4)
            self.scale = torch.nn.Parameter(torch.full((4,), 7.0))

    def twin(seed):
        module = Mixed()
        with torch.no_grad():
            module.norm.weight.fill_(3.0)
        return module, reinitialise(module, np.random.default_rng(seed))

    (a, fallback), (b, _) = twin(0), twin(0)
    assert fallback == ["scale"]
    assert torch.equal(a.linear.weight, b.linear.weight) and torch.equal(a.scale, b.scale)
    assert torch.equal(a.norm.weight, torch.ones(4))          # LayerNorm's own rule: 1
    bound = 1 / np.sqrt(4)
    assert float(a.linear.weight.detach().abs().max()) <= bound
    assert float(a.scale.detach().abs().max()) <= 0.5
    assert not torch.equal(a.linear.weight, twin(1)[0].linear.weight)


def test_seeded_torch_draws_from_its_own_generator():
    with SeededTorch(np.random.default_rng(3)):
        a = torch.randn(5)
    with SeededTorch(np.random.default_rng(3)):
        b = torch.randn(5)
    assert torch.equal(a, b)
    with pytest.raises(ConfigError, match="SeededTorch needs a numpy.random.Generator, got int"):
        SeededTorch(3)


def test_seeded_torch_takes_the_device_of_a_tensor_passed_by_keyword():
    """``nn.init`` passes its tensor as ``tensor=``: its device picks the generator (a CPU
    generator for a CUDA tensor fails), and a meta tensor gets none."""
    mode, seen = SeededTorch(np.random.default_rng(0)), []
    own = mode._generator
    mode._generator = lambda device: seen.append(device) or own(device)
    with mode:
        torch.nn.Linear(4, 4, device="meta")
        torch.nn.Linear(4, 4)
    assert seen and set(seen) == {torch.device("cpu")} and len(seen) == 2


def test_the_width_comes_from_an_attribute_or_the_first_linear():
    assert block_width(torch.nn.TransformerEncoderLayer(24, 2, 48, batch_first=True), "t") == 24
    with pytest.raises(ConfigError, match=r"^torch block 't' \(GELU\): cannot tell its token "
                                          r"width; give the module an integer attribute width"):
        block_width(torch.nn.GELU(), "t")


BROKEN = {
    "a block that changes the width": (
        "import torch\n"
        "def make(tokens):\n    m = torch.nn.Linear(8, 4)\n    m.width = 8\n    return m\n",
        r"torch block '{m}:make' maps tokens \(2, 8, 8\) to \(2, 8, 4\); a token block must "
        r"keep the shape \(B, T, width\)$"),
    "non-finite tokens": (
        "import torch\nclass B(torch.nn.Module):\n    width = 8\n"
        "    def forward(self, x): return x * float('inf')\n"
        "def make(tokens): return B()\n",
        r"torch block '{m}:make' gave non-finite values on tokens \(2, 8, 8\); its output must "
        r"be finite$"),
    "not a module": (
        "def make(tokens): return [tokens]\n",
        r"torch block '{m}:make': {m}:make returned list, not a torch.nn.Module; a torch "
        r"block's factory \(naming grid, tokens or nothing\) returns one$"),
    "a forward that raises": (
        "import torch\ndef make():\n    m = torch.nn.Linear(5, 5)\n    m.width = 8\n"
        "    return m\n",
        r"torch block '{m}:make': forward raised RuntimeError on tokens \(2, 8, 8\) \(B, T, "
        r"width\): mat1 and mat2 shapes cannot be multiplied"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_block_is_refused_in_one_line_before_any_training(case, module, rosetta,
                                                                  tmp_path):
    source, pattern = BROKEN[case]
    name = module(source)
    rc, _, err = rosetta(["train", "--layers", f"{name}:make", "--seeds", "0", "--output-dir",
                          tmp_path / "out", "--workers", "1", *TINY])
    assert rc == 2 and err.count("\n") == 1, err
    message = err.removeprefix("rosetta: error: ").rstrip("\n")
    assert re.match(pattern.format(m=name), message), message
    assert not (tmp_path / "out" / "runs").exists()


def test_a_no_argument_factory_is_told_by_what_it_returns(module):
    name = module("import torch\n"
                  "def make():\n    return torch.nn.TransformerEncoderLayer(8, 2, 16, "
                  "dropout=0.0, batch_first=True)\n")
    assert is_video_layer(f"{name}:make")
    twin = build_layers([f"{name}:make:random"], GRID4)[f"{name}:make:random"]
    assert twin.block.width == 8 and twin.block.tokens == 8


def test_train_and_analyze_a_block_and_its_twin(rosetta, tmp_path):
    out = tmp_path / "out"
    rc, stdout, err = rosetta(["analyze", "--layers", f"{BLOCK},{TWIN}", "--dataset-steps",
                               "200", "--bootstrap", "10", "--grid-size", "4", "--quiet",
                               "--output-dir", out])
    assert rc == 0, err
    rc, stdout, err = rosetta(["train", "--layers", f"{BLOCK},{TWIN}", "--seeds", "0",
                               "--output-dir", out, "--workers", "2", *TINY])
    assert rc == 0, err
    assert f"| {TWIN} |" in stdout
    rc, again, err = rosetta(["train", "--layers", f"{BLOCK},{TWIN}", "--seeds", "0",
                              "--output-dir", tmp_path / "alone", "--workers", "1", *TINY])
    assert rc == 0, err
    assert (out / "experiment_returns.csv").read_bytes() == \
        (tmp_path / "alone" / "experiment_returns.csv").read_bytes()


def test_a_package_declares_a_block_and_its_twin_by_entry_point(tmp_path, monkeypatch):
    package = f"rosetta_blocks_{uuid.uuid4().hex[:8]}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text(
        "from examples.my_block import make_block\n")
    info = tmp_path / f"{package}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nmixer_{package} = "
                                           f"{package}:make_block\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    name = f"mixer_{package}"
    assert expand_layer_names(f"{name},{name}:random") == [name, f"{name}:random"]
    built = build_layers([name, f"{name}:random"], GRID4)
    assert built[f"{name}:random"].block.random_twin
    spec = RunSpec(EnvSpec(grid_size=4), f"{name}:random", 0, DQNConfig())
    assert spec.video is not None and spec.to_dict()["layer_source"]["kind"] == "block"


def test_a_frozen_layer_of_your_own_trained_by_the_torch_learner(rosetta, tmp_path):
    layer = "examples.my_layer:make_layer@torch"
    assert needs_torch(layer) and not is_video_layer(layer)
    spec = RunSpec(EnvSpec(grid_size=4), layer, 0, DQNConfig())
    assert spec.video is None and spec.to_dict()["layer_source"]["target"] == \
        "examples.my_layer:make_layer"
    rc, out, err = rosetta(["train", "--layers", layer, "--seeds", "0", "--output-dir",
                            tmp_path / "out", "--workers", "1", *TINY, "--set", "adapter=none"])
    assert rc == 0, err
    assert f"| {layer} |" in out
    with pytest.raises(ConfigError, match=r"NAME@torch trains a frozen numpy layer with the "
                                          r"torch learner, but examples\.my_block:make_block "
                                          r"builds a torch block"):
        expand_layer_names(f"{BLOCK}@torch")
