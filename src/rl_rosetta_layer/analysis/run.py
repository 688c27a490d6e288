"""The analysis step: collect data, score candidates, write the CSVs and the selection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..errors import ConfigError, CorruptFileError, MissingInputError
from ..io import atomic_write_text, write_csv, write_json
from ..layers.families import TORCH_SUFFIX
from ..layers.registry import build_layers, expand_layer_names
from ..seeding import check_seed
from ..video.candidates.settings import VideoSettings
from ..video.family import is_video_layer
from .dataset import collect_transitions
from .score import METRICS, N_BOOTSTRAP, analyze_layers, prepare_split, select_layer

ANALYSIS_COLUMNS = METRICS + tuple(f"{m}_ci_{b}" for m in METRICS for b in ("low", "high")) + (
    "dataset_steps", "seed")
BOOTSTRAP_COLUMNS = ("replicate", "layer") + METRICS
SELECTED_FILE = "selected_layer.txt"
N_DATA_ENVS = 8


class OneAtATime:
    """Layers by name, each built only when its turn comes and dropped after: one video
    block in memory at a time, however many are analysed."""

    def __init__(self, names, obs, selected=None, video=None) -> None:
        self.names, self.obs, self.selected, self.video = list(names), obs, selected, video

    def values(self):
        for name in self.names:
            yield build_layers([name], self.obs, self.selected, self.video)[name]


def analysis_columns(extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Columns of ``layer_analysis.csv`` after ``layer``: :data:`ANALYSIS_COLUMNS`, then each
    ``extra`` score (a probe's columns) and its CI."""
    return ANALYSIS_COLUMNS + extra + tuple(f"{m}_ci_{b}" for m in extra
                                            for b in ("low", "high"))


def analysis_rows(results, dataset_steps: int, seed: int) -> list[dict]:
    rows = []
    for r in results:
        row = {"layer": r.layer, **r.scores, "dataset_steps": dataset_steps, "seed": seed}
        for m in r.ci:
            row[f"{m}_ci_low"], row[f"{m}_ci_high"] = r.ci[m]
        rows.append(row)
    return rows


def run_analysis(out_dir: Path, env_spec, *, dataset_steps: int = 8000, seed: int = 0,
                 layers: str = "candidates", select_by: str = "composite_score",
                 n_bootstrap: int = N_BOOTSTRAP, quiet: bool = False, backbone: str | None = None,
                 video: VideoSettings | None = None, probe=None) -> str:
    """Score candidate layers and write ``layer_analysis.csv``, its bootstrap replicates
    and ``selected_layer.txt``. Returns the selected layer's name.

    ``probe`` (a :class:`~.acting.LayerProbe`, e.g. the agent's acting probes) adds its
    columns to both CSVs, after the others; ``analysis_config.json`` keeps its
    ``describe()`` when it has one."""
    seed = check_seed(seed)
    names = expand_layer_names(layers, unavailable=env_spec.unavailable_layers,
                               backbone=backbone, weights=video.weights if video else None)
    if "mlp_full" in names:
        names.remove("mlp_full")   # trained end to end: no frozen features to probe
    # NAME@torch has NAME's features: it differs only in the learner, so it is not probed.
    names = [n for n in names if not n.endswith(TORCH_SUFFIX)]
    if not names:
        raise ConfigError(f"--layers {layers!r} leaves no frozen layer to analyse")
    bank = [n for n in names if n.startswith("random_bank_")]
    names = [n for n in names if n not in bank]
    if not names:
        raise ConfigError("the random bank copies the selected layer's shape: analyse at "
                          "least one candidate beside it")
    grid = env_spec.observations()
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(N_DATA_ENVS + 2)]
    env = env_spec.make(N_DATA_ENVS)
    env.seed_with(rngs[:N_DATA_ENVS])
    data = collect_transitions(env, dataset_steps, rngs[N_DATA_ENVS])
    probe_rng = rngs[N_DATA_ENVS + 1]
    split = prepare_split(data, probe_rng, n_bootstrap=n_bootstrap)
    with tqdm(total=len(names) + len(bank), unit="layer", desc="analysis",
              disable=quiet) as bar:
        results = analyze_layers(OneAtATime(names, grid, video=video), data, probe_rng,
                                 split=split, progress=bar.update, probe=probe)
        # The bank is a baseline of the selected layer's shape, so it is never selected.
        selected = select_layer(results, select_by)
        if bank:
            results += analyze_layers(OneAtATime(bank, grid, selected), data, probe_rng,
                                      split=split, progress=bar.update, probe=probe)
    out_dir = Path(out_dir)
    extra = tuple(probe.columns) if probe is not None else ()
    write_csv(out_dir / "layer_analysis.csv", analysis_rows(results, dataset_steps, seed),
              ("layer",) + analysis_columns(extra))
    reps = [{"replicate": i, "layer": r.layer,
             **{m: float(r.replicates[m][i]) for m in METRICS + extra}}
            for r in results for i in range(n_bootstrap)]
    write_csv(out_dir / "layer_analysis_bootstrap.csv", reps, BOOTSTRAP_COLUMNS + extra)
    describe = getattr(probe, "describe", None)
    write_json(out_dir / "analysis_config.json",
               {"env": env_spec.__dict__, "dataset_steps": dataset_steps, "seed": seed,
                "layers": names + bank, "select_by": select_by, "n_bootstrap": n_bootstrap,
                "value_target": data.value_target,
                "video": video.to_dict() if video and any(map(is_video_layer, names)) else None,
                "selected": selected,
                **({"acting_probes": describe()} if callable(describe) else {})})
    atomic_write_text(out_dir / SELECTED_FILE, selected + "\n")
    return selected


def read_selected(out_dir: Path) -> str:
    """The layer name in ``selected_layer.txt``."""
    path = Path(out_dir) / SELECTED_FILE
    if not path.is_file():
        raise MissingInputError(f"{path} does not exist; run `rosetta analyze` (or "
                                f"scripts/run_layer_analysis.py) first")
    name = path.read_text(encoding="utf-8").strip()
    if not name or len(name.split()) != 1:
        raise CorruptFileError(f"{path} should hold one layer name, found {name!r}")
    return name
