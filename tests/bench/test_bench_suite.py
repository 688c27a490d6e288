"""Smoke tests of the benchmark suite (bench/): tiny sizes, no timing claims.

``python -m bench --quick`` runs every script (about a minute on two busy cores); a script
whose extra or hardware is absent (SB3, rliable, torch, gymnasium, a GPU) must say it is
skipped and why, and exit 0.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:        # `import bench` from any working directory
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.__main__ import scripts  # noqa: E402
from bench.floor import Floor, floor_line, loop_floor  # noqa: E402
from rl_rosetta_layer.agent import DQNConfig, QNetwork  # noqa: E402
from rl_rosetta_layer.layers.synthetic import RandomTanhLayer  # noqa: E402


def test_list_names_every_script():
    out = subprocess.run([sys.executable, "-m", "bench", "--list"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    for name in ("run_order", "vs_sb3", "machine_limit", "scaling", "gpu_blocks",
                 "stats_calibration", "rliable_check"):
        assert name in names


def test_unknown_script_is_refused_with_the_accepted_names():
    res = subprocess.run([sys.executable, "-m", "bench", "no_such_bench"], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert "unknown script(s) no_such_bench; accepted: run_order" in res.stderr


def test_update_flops_counted_by_hand():
    # 256 -> 256 tanh -> 5, batch 64, no Double DQN, no input adapter:
    # target and online forward 2 * 64 * (256*256 + 256*5) each, backward dWo, dq@Wo^T, dW1.
    net = QNetwork(256, common.mlp_body(256), 5, adapter="none", head="linear")
    fwd = 2 * 64 * (256 * 256 + 256 * 5)
    bwd = 2 * 256 * 64 * 5 + 2 * 64 * 5 * 256 + 2 * 256 * 64 * 256
    assert common.total_flops(common.update_matmuls(net, 64, double_dqn=False)) == 2 * fwd + bwd
    # Double DQN runs the online pass on [o; o2]: one more forward of 64 rows.
    assert common.total_flops(common.update_matmuls(net, 64, double_dqn=True)) == 3 * fwd + bwd


def test_update_flops_with_lowrank_adapter_and_frozen_layer():
    # The layer's input map is folded (QNetwork.fold): the update multiplies codes by V W.
    layer = RandomTanhLayer("r", 256, 16, 0.2, np.random.default_rng(0))
    net = QNetwork(256, layer, 5, adapter="lowrank", rank=4, head="mlp", head_hidden=8)
    mms = common.update_matmuls(net, 2, double_dqn=False)
    assert [m.label for m in mms] == [
        "target fwd x@U", "target fwd t@(VW)", "target fwd z@W2", "target fwd u@Wo",
        "online fwd x@U", "online fwd t@(VW)", "online fwd z@W2", "online fwd u@Wo",
        "bwd dWo", "bwd dq@Wo^T", "bwd dW2", "bwd dz@W2^T", "bwd t^T dpre",
        "bwd dV = (t^T dpre) W^T", "bwd dpre (VW)^T", "bwd dU", "refold V@W"]
    assert [(m.m, m.k, m.n) for m in mms[-5:]] == [(4, 2, 16), (4, 16, 256), (2, 16, 4),
                                                  (256, 2, 4), (4, 256, 16)]


def test_update_flops_without_a_fold():
    # A layer with no input map runs on the adapter's output: x@U, t@V, then the layer.
    layer = RandomTanhLayer("r", 256, 16, 0.2, np.random.default_rng(0))
    net = QNetwork(256, layer, 5, adapter="dense", head="mlp", head_hidden=8)
    labels = [m.label for m in common.update_matmuls(net, 2, double_dqn=False)]
    assert labels == ["target fwd x@A", "target fwd h@W1", "target fwd z@W2", "target fwd u@Wo",
                      "online fwd x@A", "online fwd h@W1", "online fwd z@W2", "online fwd u@Wo",
                      "bwd dWo", "bwd dq@Wo^T", "bwd dW2", "bwd dz@W2^T",
                      "bwd dz@W1^T (input grad)", "bwd dA"]


def test_update_bench_runs_and_times_every_part():
    ub = common.UpdateBench(common.mlp_body(16), common.matched_config(5), fill=100)
    parts = ub.part_seconds(n=3, rounds=1)
    assert set(parts) == set(common.UpdateBench.PARTS)
    assert all(v > 0 for v in parts.values())
    assert ub.seconds_per_update(n=3, repeat=1) > 0


def test_floor_line_says_what_a_target_leaves_for_the_rest():
    floor = Floor(products=40e-6, gather=5e-6, elementwise=3e-6, env=7e-6)
    line = floor_line("x", allowed=85e-6, floor=floor, measured=145e-6)
    assert "allows 85 us" in line and "take 40 us" in line and "bandwidth 5 us" in line
    assert "vector throughput 3 us" in line and "env step 7 us" in line
    assert "reaches 38% of that floor's speed now" in line
    assert "must fit in 30 us; it takes 90 us now (3.0x its room)" in line
    line = floor_line("x", allowed=50e-6, floor=floor, measured=145e-6)
    assert "nothing is left for the rest (-5 us): out of reach" in line


def test_loop_floor_counts_the_products_per_update_and_the_env_step_per_seed(monkeypatch):
    from bench import floor

    layer, config = common.mlp_body(16), common.matched_config(5)
    seen = {}

    def fake_matmuls(mms, n_seeds=1):
        seen["labels"], seen["n_seeds"] = [m.label for m in mms], n_seeds
        return [1e-6] * len(mms)

    def fake_env_step(vec):
        seen["copies"] = vec.num_envs
        return 8e-6

    def fake_gather(n_seeds, rows, width, stored):
        seen["gather"] = (n_seeds, rows, width, stored)
        return 4e-6

    monkeypatch.setattr(floor, "time_matmuls", fake_matmuls)
    monkeypatch.setattr(floor, "env_step_seconds", fake_env_step)
    monkeypatch.setattr(floor, "gather_seconds", fake_gather)
    monkeypatch.setattr(floor, "elementwise_seconds", lambda n: seen.setdefault("n", n) * 1e-9)
    got = loop_floor(layer, config, updates_per_step=0.5, stored=50_000, n_seeds=4)
    net = QNetwork.from_config(256, layer, 5, config)
    expected = common.update_matmuls(net, config.batch_size, config.double_dqn)
    # the gather reads [obs; next obs] (2B rows of the codes) from a replay of at most
    # buffer_size steps per seed
    assert seen == {"labels": [m.label for m in expected], "n_seeds": 4, "copies": 4,
                    "gather": (4, 2 * config.batch_size, net.code_dim, config.buffer_size),
                    "n": net.n_params()}
    assert got.products == pytest.approx(len(expected) * 1e-6 * 0.5 / 4)
    assert got.gather == pytest.approx(4e-6 * 0.5 / 4)
    assert got.env == pytest.approx(2e-6)
    assert got.elementwise == pytest.approx(net.n_params() * 1e-9 * 0.5)   # per seed
    assert got.total == pytest.approx(got.products + got.gather + got.elementwise + got.env)


def test_the_physical_floors_are_bytes_at_bandwidth_and_entries_at_throughput():
    from bench import floor

    assert floor.bandwidth() > 1e8                      # bytes per second of a copy
    assert floor.gather_seconds(2, 10, 8, 99) == pytest.approx(2 * 2 * 10 * 8 * 4
                                                               / floor.bandwidth())
    assert floor.elementwise_seconds(2000) == pytest.approx(2 * floor.elementwise_seconds(1000))


def test_gather_seconds_times_a_real_gather():
    from bench import floor

    assert 0 < floor.gather_seconds(2, 8, 16, stored=100) < 1.0


def test_env_step_seconds_times_a_real_step():
    from bench import floor
    from rl_rosetta_layer.envs import make_vector_env

    assert 0 < floor.env_step_seconds(make_vector_env("catch", 2)) < 1.0


def test_matched_config_is_sb3_schedule():
    c = common.matched_config(10)
    assert (c.n_step, c.train_every, c.batch_size, c.buffer_size, c.double_dqn) == \
        (1, 1, 64, 20_000, False)
    assert isinstance(c, DQNConfig)


def test_gym_wrapper_passes_gymnasium_checker():
    pytest.importorskip("gymnasium")
    from gymnasium.utils.env_checker import check_env

    env = common.GridGymEnv()
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    assert obs.shape == (256,) and obs.dtype == np.float32
    for _ in range(60):
        *_, terminated, truncated, _ = env.step(0)
        if terminated or truncated:
            break
    assert len(env.episode_returns) == 1


@pytest.mark.parametrize("script", ["machine_limit", "scaling"])
def test_numpy_benches_quick(script, capsys, monkeypatch):
    monkeypatch.setattr(common, "QUICK", False)       # --quick sets it; restored afterwards
    module = __import__(f"bench.{script}", fromlist=["main"])
    assert module.main(["--quick"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(script.upper().replace("_", " ") + ":")


def test_vs_sb3_quick(capsys):
    pytest.importorskip("stable_baselines3")
    from bench import vs_sb3

    assert vs_sb3.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "SB3 DQN" in out
    assert out.strip().splitlines()[-1].startswith("VS SB3: ")


def test_gpu_blocks_exits_cleanly_without_a_gpu(capsys):
    try:
        import torch
        if torch.cuda.is_available():
            pytest.skip("a GPU is present: the real benchmark is too heavy for a smoke test")
    except ImportError:
        pass
    from bench import gpu_blocks

    assert gpu_blocks.main([]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("GPU BLOCKS: skipped")


def test_every_script_takes_quick():
    lacking = [name for name, path in scripts().items() if '"--quick"' not in path.read_text()]
    assert lacking == []


def _absent(module: str) -> bool:
    return importlib.util.find_spec(module) is None


def _imports(module: str) -> bool:
    try:                        # rliable is installed but breaks on import with pandas >= 3
        importlib.import_module(module)
    except Exception:
        return False
    return True


def _no_gpu() -> bool:
    if _absent("torch") or _absent("diffusers"):
        return True
    import torch
    return not torch.cuda.is_available()


#: script -> (is it skipped here?, what its headline must give as the reason).
SKIPS = {
    "vs_sb3": (lambda: _absent("stable_baselines3"), "stable-baselines3 not installed"),
    "rliable_check": (lambda: not _imports("rliable.library"), "rliable not installed"),
    "gpu_blocks": (_no_gpu, r"no CUDA GPU|(torch|diffusers) is not installed"),
    "study_cost": (lambda: any(map(_absent, ("torch", "diffusers", "safetensors"))),
                   "not installed"),
    "block_memory": (lambda: any(map(_absent, ("torch", "diffusers", "safetensors"))),
                     "not installed"),
    "gym_envs": (lambda: _absent("gymnasium") or _absent("minigrid"), "not installed"),
}


def test_quick_suite_runs_every_script_and_prints_its_numbers():
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    res = subprocess.run([sys.executable, "-m", "bench", "--quick"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    summary = res.stdout.split("=" * 20 + " summary\n", 1)[1].splitlines()
    rows = {line.split()[0]: line for line in summary[:-1]}
    assert list(rows) == list(scripts())
    assert re.fullmatch(rf"{len(rows)} script\(s\) in [0-9.]+ s", summary[-1])
    for name, row in rows.items():
        status, headline = re.fullmatch(r"\S+\s+(\S+)\s+[0-9.]+ s  (.*)", row).groups()
        assert status == "ok", row
        # every headline starts with the script's name in capitals
        assert headline.startswith(name.upper().replace("_", " ") + ": "), row
        skipped, reason = SKIPS.get(name, (lambda: False, ""))
        if skipped():
            assert re.search(rf"skipped \(.*({reason})", headline), row
        else:
            assert "skipped" not in headline and re.search(r"\d", headline), row
