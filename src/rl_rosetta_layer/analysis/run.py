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
from .score import (
    DEFAULT_SELECTION_METRIC,
    METRICS,
    N_BOOTSTRAP,
    analyze_layers,
    prepare_split,
    select_layer,
)

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
                 layers: str = "candidates", select_by: str = DEFAULT_SELECTION_METRIC,
                 n_bootstrap: int = N_BOOTSTRAP, quiet: bool = False, backbone: str | None = None,
                 video: VideoSettings | None = None, probe=None) -> str:
    """Score candidate layers and write ``layer_analysis.csv``, its bootstrap replicates
    and ``selected_layer.txt``. Returns the selected layer's name.

    ``probe`` (a :class:`~.acting.LayerProbe`, e.g. the agent's acting probes) adds its
    columns to both CSVs, after the others; ``analysis_config.json`` keeps its
    ``describe()`` when it has one."""
    seed = check_seed(seed)
    names = analysed_names(layers, env_spec, backbone, video)
    bank = [n for n in names if n.startswith("random_bank_")]
    names = [n for n in names if n not in bank]
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


def analysed_names(layers: str, env_spec, backbone: str | None = None,
                   video: VideoSettings | None = None) -> list[str]:
    """The layers an analysis of ``--layers`` text ``layers`` scores, in the order of
    ``layer_analysis.csv``'s rows: every frozen layer named (``mlp_full`` trains end to
    end and ``NAME@torch`` has NAME's features, so neither is scored), the random bank
    last. A ConfigError when none is left, or only the bank."""
    names = expand_layer_names(layers, unavailable=env_spec.unavailable_layers,
                               backbone=backbone, weights=video.weights if video else None)
    names = [n for n in names if n != "mlp_full" and not n.endswith(TORCH_SUFFIX)]
    if not names:
        raise ConfigError(f"--layers {layers!r} leaves no frozen layer to analyse (mlp_full "
                          f"trains end to end, NAME@torch is analysed as NAME); name one "
                          f"(with `rosetta run`: --analysis-layers)")
    bank = [n for n in names if n.startswith("random_bank_")]
    if len(bank) == len(names):
        raise ConfigError("the random bank copies the selected layer's shape: analyse at "
                          "least one candidate beside it")
    return [n for n in names if n not in bank] + bank


#: What makes two analyses the same (the keys of ``analysis_config.json`` compared).
SAME_ANALYSIS = ("env", "layers", "dataset_steps", "seed", "select_by", "n_bootstrap")


def _existing_analysis(out_dir: Path) -> dict | None:
    """The settings (:data:`SAME_ANALYSIS`) of the analysis in ``out_dir``: from
    ``analysis_config.json``, else (an older folder) the layers, dataset_steps and seed of
    ``layer_analysis.csv``; None when there is none."""
    import json

    from ..io import read_csv

    path = Path(out_dir) / "layer_analysis.csv"
    if not path.is_file():
        return None
    config = Path(out_dir) / "analysis_config.json"
    if config.is_file():
        try:
            saved = json.loads(config.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise CorruptFileError(f"{config} is not valid JSON: {exc}") from exc
        if isinstance(saved, dict):
            return {k: saved.get(k) for k in SAME_ANALYSIS}
    rows = read_csv(path, ("layer",), hint="rosetta analyze")
    first = rows[0] if rows else {}
    return {"layers": [r["layer"] for r in rows],
            "dataset_steps": _int_or_none(first.get("dataset_steps")),
            "seed": _int_or_none(first.get("seed"))}


def read_select_by(out_dir: Path) -> str:
    """The analysis score that selected ``out_dir``'s layer (``analysis_config.json``); the
    default score for a folder written before it was recorded."""
    saved = _existing_analysis(out_dir) or {}
    return saved.get("select_by") or DEFAULT_SELECTION_METRIC


def _int_or_none(text) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _names_text(names) -> str:
    names = list(names or [])
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    return shown or "no layer"


def check_replacement(out_dir: Path, settings: dict, flag: str = "--replace-analysis") -> None:
    """A ConfigError when ``out_dir`` holds an analysis made with other settings
    (:data:`SAME_ANALYSIS`: other layers, dataset, seed, env, selection or bootstrap) than
    ``settings``, which writing this one would replace: the line names what is there,
    what differs and ``flag``, which allows it. The same analysis again is no
    replacement (it writes the same files)."""
    import json

    old = _existing_analysis(out_dir)
    if old is None:
        return
    new = json.loads(json.dumps({k: settings.get(k) for k in SAME_ANALYSIS}))
    differs = [k for k in SAME_ANALYSIS if k in old and old[k] != new[k]]
    if not differs:
        return
    changes = [f"{k} {old[k]} -> {new[k]}" for k in differs if k != "layers"]
    path = Path(out_dir) / "layer_analysis.csv"
    raise ConfigError(
        f"{path} holds the analysis of {_names_text(old.get('layers'))}; this would replace "
        f"it with one of {_names_text(new['layers'])}"
        + (f" ({'; '.join(changes)})" if changes else "")
        + f": pass {flag} to replace it, or give another --output-dir")


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
