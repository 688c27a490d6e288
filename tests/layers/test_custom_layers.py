"""Layers of your own, no fork: MODULE:FACTORY names and packages' entry points, in every
command, with stable run ids; a layer that breaks the protocol is refused in one line
before any training."""

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pytest

from rl_rosetta_layer.agent.config import DQNConfig
from rl_rosetta_layer.envs.grid import GridConfig
from rl_rosetta_layer.errors import ConfigError, UnknownLayerError
from rl_rosetta_layer.experiments.spec import EnvSpec, RunSpec
from rl_rosetta_layer.layers import custom
from rl_rosetta_layer.layers.base import check_frozen_layer
from rl_rosetta_layer.layers.registry import build_layers, check_layer, expand_layer_names

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "examples.my_layer:make_layer"
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
TINY = ["--episodes", "4", "--grid-size", "4", "--quiet", "--workers", "1",
        "--set", "learning_starts=20"]
GRID4 = GridConfig(size=4)          # observations of 2 x 2 x 4 x 4 = 64 values
#: ``rosetta`` as the console script runs it: the current folder is not on sys.path.
CONSOLE = [sys.executable, "-c", "import sys; sys.path[:] = [p for p in sys.path if p]; "
                                 "from rl_rosetta_layer.cli import main; "
                                 "sys.exit(main(sys.argv[1:]))"]

GOOD = """
import numpy as np

class Tanh:
    def __init__(self, input_dim, rng, width=6):
        self.input_dim, self.output_dim = input_dim, width
        self.w = rng.normal(0.0, 0.3, (input_dim, width)).astype(np.float32)

    def forward(self, x):
        return np.tanh(x @ self.w)

    def backward(self, x, grad_out):
        return ((1.0 - np.tanh(x @ self.w) ** 2) * grad_out) @ self.w.T

    def describe(self):
        return {"width": self.output_dim}

def make(input_dim, rng):
    return Tanh(input_dim, rng)
"""


pytestmark = pytest.mark.usefixtures("examples_importable")


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# ------------------------------------------------------------------------------ names
def test_names_of_your_own_are_told_apart_from_built_in_and_backbone_names():
    assert custom.parse_custom("identity") is None
    assert custom.parse_custom("random_wide@torch") is None
    assert custom.parse_custom("tiny-video:transformer_blocks.1:random") is None
    assert custom.parse_custom("hunyuanvideo:bypass") is None        # a backbone wins
    parsed = custom.parse_custom("pkg.mod:Outer.make@torch")
    assert (parsed.base, parsed.target, parsed.torch, parsed.random) == (
        "pkg.mod:Outer.make", "pkg.mod:Outer.make", True, False)


def test_a_malformed_import_path_is_refused_with_the_forms():
    with pytest.raises(UnknownLayerError, match=r"^bad layer name 'pkg\.mod:make:twin': a "
                                                r"layer of your own is MODULE:FACTORY, "):
        expand_layer_names("pkg.mod:make:twin")


def test_the_example_layer_expands_builds_and_keeps_the_protocol():
    names = expand_layer_names(f"{EXAMPLE},identity")
    assert names == [EXAMPLE, "identity"]
    layer = build_layers([EXAMPLE], GRID4)[EXAMPLE]
    assert (layer.name, layer.input_dim, layer.output_dim) == (EXAMPLE, 64, 32)
    check_frozen_layer(layer, 64)
    again = build_layers([EXAMPLE], GRID4)[EXAMPLE]      # rng fixed per factory
    x = np.random.default_rng(1).random((3, 64), dtype=np.float32)
    np.testing.assert_array_equal(layer.forward(x), again.forward(x))
    assert layer.forward(x).dtype == np.float32


def test_the_example_gradient_matches_finite_differences():
    layer = build_layers([EXAMPLE], GRID4)[EXAMPLE].inner
    rng = np.random.default_rng(0)
    x, g, v = rng.random((2, 64)), rng.standard_normal((2, 32)), rng.standard_normal((2, 64))
    eps = 1e-6
    numeric = (np.sum(g * layer.forward(x + eps * v)) - np.sum(g * layer.forward(x - eps * v)))
    numeric /= 2 * eps
    assert np.sum(layer.backward(x, g) * v) == pytest.approx(numeric, rel=1e-3)


def test_a_built_in_name_keeps_its_run_id():
    # Ids computed before layers of your own existed: they must never change.
    cases = [
        (RunSpec(EnvSpec(), "structured_mid", 0, DQNConfig()), "structured_mid-s0-20894f76e1ee"),
        (RunSpec(EnvSpec("catch", 6), "random_wide@torch", 3, DQNConfig(env_steps=500)),
         "random_wide@torch-s3-7f4d206fd56b"),
        (RunSpec(EnvSpec(), "random_bank_2", 1, DQNConfig(lr=1e-3), "bottleneck"),
         "random_bank_2-s1-998ab58a3c53"),
        (RunSpec(EnvSpec(), "tiny-video:bypass", 2, DQNConfig()),
         "tiny-video:bypass-s2-c837e4305e75"),
    ]
    for spec, run_id in cases:
        assert spec.run_id == run_id
        assert "layer_source" not in spec.to_dict()


def test_a_run_id_records_the_import_path_and_the_layers_own_description(module):
    name = module(GOOD)
    spec = RunSpec(EnvSpec(grid_size=4), f"{name}:make", 0, DQNConfig())
    source = spec.to_dict()["layer_source"]
    assert re.fullmatch(r"[0-9a-f]{16}", source.pop("fingerprint"))
    assert source == {"target": f"{name}:make", "kind": "layer", "describe": {"width": 6}}
    assert spec.run_id == RunSpec(EnvSpec(grid_size=4), f"{name}:make", 0, DQNConfig()).run_id
    assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.video is None                     # a frozen layer has no video settings
    wider = module(GOOD.replace("width=6", "width=7"))
    other = RunSpec(EnvSpec(grid_size=4), f"{wider}:make", 0, DQNConfig())
    assert other.to_dict()["layer_source"]["describe"] == {"width": 7}


# ------------------------------------------------------------------------------ refusals
BROKEN = {
    "missing attribute": (
        "class L:\n    input_dim, output_dim = 64, 3\n    def forward(self, x): return x[..., :3]\n"
        "def make(input_dim): return L()\n",
        r"layer '{m}:make' \(L\) lacks backward; a frozen layer has input_dim, output_dim, "
        r"forward\(x\) and backward\(x, grad_out\)$"),
    "wrong input size": (
        "from rl_rosetta_layer.layers import IdentityLayer\n"
        "def make(input_dim): return IdentityLayer('x', 10)\n",
        r"layer '{m}:make': input_dim is 10, but observations of 'grid' have 64 values; the "
        r"layer must take them as they come$"),
    "wrong output shape": (
        "class L:\n    input_dim, output_dim = 64, 3\n    def forward(self, x): return x\n"
        "    def backward(self, x, g): return x\n"
        "def make(input_dim): return L()\n",
        r"layer '{m}:make': forward must map \(5, 'input_dim'\) to \(5, 'output_dim'\) = "
        r"\(5, 3\); x of shape \(5, 64\) gave \(5, 64\)$"),
    "non-finite output": (
        "import numpy as np\nfrom rl_rosetta_layer.layers import IdentityLayer\n"
        "class L(IdentityLayer):\n    def forward(self, x): return np.full(x.shape, np.nan)\n"
        "def make(input_dim): return L('x', input_dim)\n",
        r"layer '{m}:make': forward gave non-finite values \(e\.g\. nan\) on x of shape "
        r"\(5, 64\); a frozen layer's output must be finite$"),
    "backward of another shape": (
        "from rl_rosetta_layer.layers import IdentityLayer\n"
        "class L(IdentityLayer):\n    def backward(self, x, g): return g[..., :5]\n"
        "def make(input_dim): return L('x', input_dim)\n",
        r"layer '{m}:make': backward\(x, grad_out\) must return the gradient shaped like x, "
        r"\(5, 64\); got \(5, 5\)$"),
    "a factory that raises": (
        "def make(input_dim): raise RuntimeError('no weights\\nhere')\n",
        r"layer '{m}:make': {m}:make\(input_dim\) raised RuntimeError: no weights here$"),
    "a factory asking for more": (
        "def make(input_dim, width): pass\n",
        r"layer '{m}:make': {m}:make needs argument\(s\) width; a factory gets only those it "
        r"names of input_dim, obs_shape, rng \(a frozen layer\) or grid, tokens \(a torch "
        r"block\)$"),
    "a description that is no JSON": (
        "from rl_rosetta_layer.layers import IdentityLayer\n"
        "class L(IdentityLayer):\n    def describe(self): return {'f': float('nan')}\n"
        "def make(input_dim): return L('x', input_dim)\n",
        r"layer '{m}:make': describe\(\) must return a JSON-ready dict \(strings, numbers, "
        r"lists, dicts; it enters the run id\): Out of range float values are not JSON "
        r"compliant"),
    "a twin of a frozen layer": (
        GOOD, None),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_layer_is_refused_in_one_line_before_any_training(case, module, rosetta,
                                                                  tmp_path):
    source, pattern = BROKEN[case]
    name = module(source)
    layer = f"{name}:make" + (":random" if pattern is None else "")
    pattern = pattern or (r"layer '{m}:make:random': :random is the random twin of a torch "
                          r"block, but {m}:make builds a frozen layer$")
    out = tmp_path / "out"
    out.mkdir()
    (out / "sentinel.txt").write_text("keep\n")
    rc, stdout, err = rosetta(["train", "--layers", f"identity,{layer}", "--seeds", "0",
                               "--output-dir", out, *TINY])
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    message = err.removeprefix("rosetta: error: ").rstrip("\n")
    import re

    assert re.match(pattern.format(m=name), message), message
    assert _files(out) == {"sentinel.txt": b"keep\n"}           # nothing trained or written


def test_a_missing_module_or_factory_is_named(module, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^layer 'no_such_pkg_x\.mod:make': no module named "
                                          r"'no_such_pkg_x' \(looked on sys\.path and in "):
        expand_layer_names("no_such_pkg_x.mod:make")
    name = module(GOOD)
    with pytest.raises(ConfigError, match=rf"^layer '{name}:nope': {name} has no 'nope'"):
        expand_layer_names(f"{name}:nope")
    with pytest.raises(ConfigError, match=rf"^layer '{name}:np': {name}:np is a module, not a "
                                          rf"factory"):
        expand_layer_names(f"{name}:np")


def test_check_layer_refuses_in_the_preflight(module):
    name = module(BROKEN["non-finite output"][0])
    with pytest.raises(ConfigError, match="non-finite"):
        check_layer(f"{name}:make", GRID4)


# ------------------------------------------------------------------------------ commands
def test_analyze_and_train_by_import_path_from_the_command_line(tmp_path):
    """The console script (no current folder on sys.path) finds examples/ from the
    repository root, and worker processes rebuild the layer by its name."""
    out = tmp_path / "out"
    args = ["--output-dir", str(out), "--grid-size", "4", "--quiet"]
    rosetta = CONSOLE
    env = {**ENV, "PYTHONPATH": ""}
    proc = subprocess.run([*rosetta, "analyze", "--layers", f"{EXAMPLE},structured_mid",
                           "--dataset-steps", "300", "--bootstrap", "10", *args], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    analysed = (out / "layer_analysis.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in analysed[1:]] == [EXAMPLE, "structured_mid"]
    proc = subprocess.run([*rosetta, "train", "--layers", f"{EXAMPLE},identity", "--seeds",
                           "0,1", "--episodes", "4", "--workers", "2", "--set",
                           "learning_starts=20", *args], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"| {EXAMPLE} |" in proc.stdout
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert len(runs) == 4 and sum(r.startswith(EXAMPLE) for r in runs) == 2


@pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                    reason="ray is not installed (pip install -e '.[ray]')")
def test_ray_workers_rebuild_the_layer_from_the_current_folder(tmp_path):
    """The module is only in the current folder: rosetta finds it there and passes the
    folder on, so Ray's workers import it too; same bytes as one process."""
    name = f"rosetta_ray_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(GOOD))
    cli = CONSOLE
    for folder, extra in (("ray", ["--executor", "ray", "--workers", "2"]),
                          ("one", ["--workers", "1"])):
        proc = subprocess.run([*cli, "train", "--layers", f"{name}:make,identity", "--seeds",
                               "0", "--output-dir", folder, *TINY[:-4], "--set",
                               "learning_starts=20", *extra], cwd=tmp_path,
                              capture_output=True, text=True, env={**ENV, "PYTHONPATH": ""},
                              timeout=300)
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "ray" / "experiment_returns.csv").read_bytes() == \
        (tmp_path / "one" / "experiment_returns.csv").read_bytes()


def test_workers_give_the_numbers_one_process_gives(module, rosetta, tmp_path):
    name = module(GOOD)
    for workers, folder in (("1", "one"), ("2", "two")):
        rc, _, err = rosetta(["train", "--layers", f"{name}:make", "--seeds", "0,1",
                              "--output-dir", tmp_path / folder, *TINY[:-4],
                              "--workers", workers, "--set", "learning_starts=20"])
        assert rc == 0, err
    assert (tmp_path / "one" / "experiment_returns.csv").read_bytes() == \
        (tmp_path / "two" / "experiment_returns.csv").read_bytes()


def test_a_sweep_file_names_a_layer_of_your_own(module, rosetta, tmp_path):
    name = module(GOOD)
    path = tmp_path / "mine.toml"
    path.write_text(f'name = "mine"\nlayers = ["{name}:make", "identity"]\nseeds = [0]\n'
                    f'[env]\ngrid_size = 4\n[dqn]\nepisodes = 4\nlearning_starts = 20\n')
    rc, out, err = rosetta(["sweep", path, "--output-dir", tmp_path / "out", "--workers", "1",
                            "--quiet"])
    assert rc == 0, err
    assert "2 runs: 2 trained" in out
    rc, out, _ = rosetta(["sweep", path, "--output-dir", tmp_path / "out", "--dry-run"])
    assert rc == 0 and out.count("finished") == 3       # two runs and the total line


# ------------------------------------------------------------------------------ entry points
def _plugin(tmp_path: Path, package: str, entries: dict[str, str]) -> None:
    """A package ``package`` with a dist-info declaring ``entries`` as layers."""
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text(textwrap.dedent(GOOD))
    info = tmp_path / f"{package}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entries.items())
    (info / "entry_points.txt").write_text(f"[{custom.ENTRY_POINT_GROUP}]\n{lines}\n")


def test_a_package_declares_layers_by_entry_point(tmp_path, monkeypatch, rosetta):
    package = f"rosetta_plugin_{uuid.uuid4().hex[:8]}"
    layer = f"tanh_{uuid.uuid4().hex[:6]}"
    _plugin(tmp_path, package, {layer: f"{package}:make", "identity": f"{package}:make"})
    monkeypatch.syspath_prepend(str(tmp_path))
    assert custom.declared_layers()[layer] == f"{package}:make"
    assert "identity" not in custom.declared_layers()         # a built-in name wins
    assert expand_layer_names(f"{layer},identity") == [layer, "identity"]
    spec = RunSpec(EnvSpec(grid_size=4), layer, 0, DQNConfig())
    assert spec.to_dict()["layer_source"]["target"] == f"{package}:make"
    rc, out, err = rosetta(["train", "--layers", layer, "--seeds", "0,1", "--output-dir",
                            tmp_path / "out", *TINY[:-4], "--workers", "2", "--set",
                            "learning_starts=20"])
    assert rc == 0, err
    assert f"| {layer} |" in out
    rc, _, err = rosetta(["train", "--layers", "tanh_not_declared", "--seeds", "0",
                          "--output-dir", tmp_path / "out2", *TINY])
    assert rc == 2 and f"the installed packages' layers {layer}" in err


# ------------------------------------------------------------------------------ the docs
def test_the_docs_show_the_examples_the_tests_run():
    """docs/your-own-layer.md quotes examples/my_layer.py and my_block.py whole."""
    text = (ROOT / "docs" / "your-own-layer.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    for example in ("my_layer.py", "my_block.py"):
        assert (ROOT / "examples" / example).read_text() in blocks, example


def test_the_study_report_tells_your_frozen_layer_from_a_block():
    from rl_rosetta_layer.report.study.data import layer_kind

    assert layer_kind(EXAMPLE) == "synthetic"
    assert layer_kind("examples.my_block:make_block") == "pretrained"
    assert layer_kind("examples.my_block:make_block:random") == "twin"
    assert layer_kind("tiny-video:transformer_blocks.1") == "pretrained"
    assert layer_kind(f"{EXAMPLE}@torch") == "control"


def test_editing_a_layers_forward_gives_its_runs_new_ids(tmp_path):
    """The same describe(), another forward: a rerun must not reuse the old results."""
    code = ("import sys; sys.path.insert(0, '.')\n"
            "from rl_rosetta_layer.agent.config import DQNConfig\n"
            "from rl_rosetta_layer.experiments.spec import EnvSpec, RunSpec\n"
            "print(RunSpec(EnvSpec(grid_size=4), 'edited:make', 0, DQNConfig()).run_id)")

    def run_id(text):
        (tmp_path / "edited.py").write_text(textwrap.dedent(text))
        proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                              text=True, env=ENV, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    first = run_id(GOOD)
    assert run_id(GOOD) == first                                   # same code: same run
    edited = GOOD.replace("return np.tanh(x @ self.w)", "return np.tanh(2 * x @ self.w)")
    assert edited != GOOD and run_id(edited) != first
