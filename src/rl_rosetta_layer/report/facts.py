"""``report_facts.json``: counts, setup and derived numbers behind the paper's text.

Everything here is read from the other output files, or asked of the environment, layers
and networks those files name (each describes itself: ``GridConfig.describe``, a layer's
``input_dim``/``output_dim``, ``QNetwork.n_params``), so every number the paper prints
can be found in an output file. Sections whose inputs are missing are left out.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from .. import stats
from ..analysis.score import DEFAULT_SELECTION_METRIC, METRICS
from ..errors import CorruptFileError, MissingInputError, RosettaError
from ..experiments.outputs import LAST
from ..io import read_csv, write_json
from . import claims
from .statistics import STATUSES, run_outcomes

FACTS_FILE = "report_facts.json"
#: Arrays in a run record that are per-episode data, not setup.
EPISODE_ARRAYS = ("returns", "lengths", "successes")


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _clean(value):
    """JSON-safe: NaN -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def env_facts(env: dict) -> dict:
    """The environment a run used (its run record's ``env``): the grid as it describes
    itself (:meth:`~rl_rosetta_layer.envs.grid.GridConfig.describe`), any other environment
    as recorded."""
    from ..envs.grid import GridConfig

    if env.get("name", "grid") != "grid":
        return dict(env)
    grid = GridConfig(size=int(env.get("grid_size", 8)), history=int(env.get("history", 2)),
                      max_steps=int(env.get("max_steps", 60)))
    return grid.describe()


def layer_facts(names: list[str], env: dict, selected: str | None,
                config: dict | None) -> dict[str, dict]:
    """Kind, shape and trainable parameters (with ``config``'s adapters) of each layer.

    Shapes come from the layers, parameter counts from the network ``config`` puts around
    each (:meth:`~rl_rosetta_layer.agent.network.QNetwork.from_config`, the network a
    numpy layer trains in; no parameters are drawn). Only the package's own layers are
    built: a video block's row holds its kind alone.
    """
    from ..agent.config import DQNConfig
    from ..agent.network import QNetwork
    from ..experiments.spec import EnvSpec
    from ..layers.registry import KNOWN, build_layers
    from .figures import layer_kind

    try:
        spec = EnvSpec(**env)
        obs = spec.observations()
        n_actions = int(spec.make(1).n_actions)
    except (RosettaError, TypeError):
        return {name: {"kind": layer_kind(name)} for name in names}
    known = [n for n in names if n in KNOWN and (selected or layer_kind(n) != "bank")]
    try:
        built = build_layers(known, obs, selected)
    except RosettaError:
        built = {}
    out = {}
    for name in names:
        row: dict = {"kind": layer_kind(name)}
        layer = built.get(name)
        if layer is not None:
            row.update(input_dim=int(layer.input_dim), output_dim=int(layer.output_dim))
            if config:
                net = QNetwork.from_config(obs.obs_dim, layer, n_actions,
                                           DQNConfig.from_dict(config))
                row["trainable_params"] = int(net.n_params())
                row["input_adapter_params"] = int(net.n_adapter_params())
        out[name] = row
    return out


def read_json_object(path: Path, what: str) -> dict:
    """The JSON object in ``path``; CorruptFileError naming the file when it is not
    readable JSON or not an object (``what`` says what the file should be)."""
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorruptFileError(f"{path} is not a readable {what}: {exc}") from exc
    if not isinstance(obj, dict):
        raise CorruptFileError(f"{path} is not a readable {what}: expected a JSON object, "
                               f"found {type(obj).__name__}")
    return obj


#: ``default`` of :func:`json_field` for a field that must be there.
REQUIRED = object()


def json_field(obj: dict, key: str, kind, default, path: Path):
    """``obj[key]`` checked to be of ``kind`` (a type or a tuple of types; never a bool),
    ``default`` when absent or null (a CorruptFileError when ``default`` is
    :data:`REQUIRED`: a missing number is refused, never filled in)."""
    value = obj.get(key)
    if value is None:
        if default is REQUIRED:
            raise CorruptFileError(f"{path} lacks {key!r}; it is not a complete run record "
                                   f"(delete the run folder and train the run again)")
        return default
    if not isinstance(value, kind) or isinstance(value, bool):
        name = getattr(kind, "__name__", None) or " or ".join(k.__name__ for k in kind)
        raise CorruptFileError(f"{path}: {key}={value!r} is not of type {name}")
    return value


def _record(path: Path) -> dict:
    """One run record, the same shape whichever layout wrote it: ``spec``, ``versions``,
    ``commit``, ``host``, ``written_at``, ``wall_seconds``, ``updates``, ``lockstep``,
    ``episodes_run``, ``env_steps_total``, ``status``; every field checked for its type.

    Layouts: ``runs/<run_id>.json`` (spec, result with per-episode arrays, versions, ...)
    or ``runs/<run_id>/`` with ``config.json``, ``metrics.json`` and ``manifest.json``.
    """
    real = (int, float)
    if path.is_dir():
        what = "run record written by `rosetta train`"
        config = read_json_object(path / "config.json", what)
        metrics = read_json_object(path / "metrics.json", what)
        manifest = read_json_object(path / "manifest.json", what)
        spec = {k: v for k, v in config.items() if k != "run_id"}
        m, mf = path / "metrics.json", path / "manifest.json"
        record = {"spec": spec, "versions": json_field(manifest, "versions", dict, {}, mf),
                  "commit": json_field(manifest, "commit", str, "", mf),
                  "host": json_field(manifest, "host", str, "", mf),
                  "written_at": json_field(manifest, "written_at", str, REQUIRED, mf),
                  "wall_seconds": float(json_field(manifest, "wall_seconds", real, REQUIRED,
                                                   mf)),
                  "updates": json_field(metrics, "updates", int, REQUIRED, m),
                  "lockstep": json_field(manifest, "lockstep", int, 1, mf) or 1,
                  "episodes_run": json_field(metrics, "episodes", int, REQUIRED, m),
                  "env_steps_total": json_field(metrics, "env_steps", int, REQUIRED, m),
                  "status": json_field(metrics, "status", str, REQUIRED, m)}
    else:
        rec = read_json_object(path, "run record written by `rosetta train`")
        result = json_field(rec, "result", dict, {}, path)
        returns = json_field(result, "returns", list, [], path)
        lengths = json_field(result, "lengths", list, [], path)
        if not all(isinstance(v, real) and not isinstance(v, bool) for v in lengths):
            raise CorruptFileError(f"{path}: result.lengths must be a list of numbers")
        record = {"spec": json_field(rec, "spec", dict, {}, path),
                  "versions": json_field(rec, "versions", dict, {}, path),
                  "commit": json_field(rec, "commit", str, "", path),
                  "host": json_field(rec, "host", str, "", path),
                  "written_at": json_field(rec, "written_at", str, "", path),
                  "wall_seconds": float(json_field(result, "wall_seconds", real, 0.0, path)),
                  "updates": json_field(result, "updates", int, 0, path),
                  "lockstep": json_field(json_field(result, "extra", dict, {}, path),
                                         "lockstep", int, 1, path) or 1,
                  "episodes_run": len(returns),
                  "env_steps_total": int(sum(lengths)),
                  "status": json_field(rec, "status", str, "ok", path)}
    json_field(record["spec"], "config", dict, None, path)
    json_field(record["spec"], "env", dict, None, path)
    if record["status"] not in STATUSES:
        raise CorruptFileError(f"{path}: status {record['status']!r} is not one of "
                               f"{', '.join(STATUSES)}")
    return record


def run_paths(out_dir: Path) -> list[Path]:
    """Run records under ``out_dir/runs`` in either layout (see :func:`_record`)."""
    runs_dir = Path(out_dir) / "runs"
    if not runs_dir.is_dir():
        return []
    return sorted(p for p in runs_dir.iterdir() if not p.name.startswith((".", "_")) and (
        (p.is_file() and p.suffix == ".json") or (p.is_dir() and (p / "config.json").is_file())))


def table_run_ids(out_dir: Path) -> list[str] | None:
    """The run ids of the runs behind the tables (``experiment_runs.csv``'s ``run_id``
    column), or None for tables written before it existed (or not from stored runs)."""
    from ..io import read_csv

    path = Path(out_dir) / "experiment_runs.csv"
    if not path.is_file():
        return None
    rows = read_csv(path, ("layer", "seed"), hint="rosetta train")
    if not rows or "run_id" not in rows[0]:
        return None
    ids = [r["run_id"] for r in rows]
    if not any(ids):                 # tables not written from stored runs (made by hand)
        return None
    if not all(ids):
        raise CorruptFileError(f"{path}: a row has no run_id; run `rosetta train` again to "
                               f"write the tables")
    return ids


def run_records(out_dir: Path, keys: set[tuple[str, int]] | None = None) -> list[dict]:
    """Run records (without per-episode data): exactly the runs behind the tables (their
    ids in ``experiment_runs.csv``), else (tables written before it had ids) one per
    (layer, seed) in ``keys``, the latest written when several exist."""
    ids = table_run_ids(out_dir)
    if ids is not None:
        runs_dir = Path(out_dir) / "runs"
        missing = [i for i in ids if not (runs_dir / i / "config.json").is_file()]
        if missing:
            raise MissingInputError(f"{runs_dir} lacks the run folder(s) "
                                    f"{', '.join(missing[:3])} behind the tables; run "
                                    f"`rosetta train` again")
        records = [_record(runs_dir / i) for i in ids]
        return sorted(records, key=lambda r: (str(r["spec"]["layer"]),
                                              int(r["spec"]["seed"])))
    best: dict[tuple[str, int], dict] = {}
    for path in run_paths(out_dir):
        rec = _record(path)
        try:
            key = (str(rec["spec"]["layer"]), int(rec["spec"]["seed"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptFileError(f"{path} is not a run record written by `rosetta train`: "
                                   f"no layer or seed ({exc})") from exc
        if keys is not None and key not in keys:
            continue
        if key not in best or str(rec["written_at"]) >= str(best[key]["written_at"]):
            best[key] = rec
    return [best[k] for k in sorted(best)]


def _common_config(records: list[dict]) -> tuple[dict, list[str]]:
    configs = [r["spec"].get("config", {}) for r in records]
    keys = sorted(set().union(*configs)) if configs else []
    common, differs = {}, []
    for k in keys:
        values = {json.dumps(c.get(k), sort_keys=True) for c in configs}
        if len(values) == 1:
            common[k] = configs[0].get(k)
        else:
            differs.append(k)
    return common, differs


def training_facts(out_dir: Path, summary: list[dict]) -> dict:
    """Budgets, seeds, config, hardware and versions of the runs behind the summary."""
    from .figures import layer_kind
    from .statistics import final_returns

    finals = final_returns(out_dir)
    outcomes = run_outcomes(out_dir)
    left_out = {layer: {status: sum(v == status for v in seeds.values())
                        for status in STATUSES[1:]} | {"runs": len(seeds)}
                for layer, seeds in outcomes.items() if set(seeds.values()) - {"ok"}}
    seeds = sorted({s for v in finals.values() for s in v})
    layers = [r["layer"] for r in summary]
    records = run_records(out_dir, {(layer, s) for layer in layers for s in seeds})
    config, differs = _common_config(records)
    wall = [r["wall_seconds"] for r in records]
    steps = [r["env_steps_total"] for r in records]
    episodes = [r["episodes_run"] for r in records]
    updates = [r["updates"] for r in records]
    versions: dict[str, list[str]] = defaultdict(list)
    for r in records:
        for k, v in r.get("versions", {}).items():
            if v not in versions[k]:
                versions[k].append(v)
    return {
        "layers": layers,
        "n_layers": len(layers),
        "seeds": seeds,
        "n_seeds": len(seeds),
        "n_runs": len(records),
        "runs_not_ok": int(sum(int(_float(r.get("runs_not_ok", 0))) for r in summary)),
        "runs_diverged": sum(v["diverged"] for v in left_out.values()),
        "runs_failed": sum(v["failed"] for v in left_out.values()),
        "runs_left_out_by_layer": left_out,
        "episodes": config.get("episodes"),
        "env_steps_budget": config.get("env_steps"),
        "budget_unit": "env_steps" if config.get("env_steps") else "episodes",
        "episodes_per_run_min": min(episodes) if episodes else None,
        "episodes_per_run_max": max(episodes) if episodes else None,
        "last_episodes": LAST,
        "config": config,
        "config_differs": differs,
        "env_steps_per_run_min": min(steps) if steps else None,
        "env_steps_per_run_max": max(steps) if steps else None,
        "env_steps_total": int(sum(steps)),
        "updates_per_run_min": min(updates) if updates else None,
        "updates_per_run_max": max(updates) if updates else None,
        "wall_seconds_total": float(sum(wall)),
        "wall_seconds_per_run_min": min(wall) if wall else None,
        "wall_seconds_per_run_max": max(wall) if wall else None,
        "hosts": sorted({str(r.get("host", "")) for r in records}),
        "commits": sorted({str(r.get("commit", "")) for r in records if r.get("commit")}),
        "versions": dict(versions),
        "written_first": min((str(r.get("written_at", "")) for r in records), default=""),
        "written_last": max((str(r.get("written_at", "")) for r in records), default=""),
        "lockstep": sorted({r["lockstep"] for r in records}),
        "env": records[0]["spec"].get("env", {}) if records else {},
        "n_layers_by_kind": {k: sum(layer_kind(n) == k for n in layers)
                             for k in ("candidate", "baseline", "bank")},
        "rank_by_mean_last_50": {r["layer"]: k + 1 for k, r in enumerate(
            sorted(summary, key=lambda r: -_float(r["mean_last_50"])))},
    }


def comparison_facts(rows: list[dict], alpha: float = claims.ALPHA) -> dict:
    """Verdict per comparison and what the seed count allows."""
    if not rows:
        return {}
    verdicts = {r["other"]: claims.comparison_verdict(r, alpha) for r in rows}
    n = int(_float(rows[0]["n_seeds"]))
    m = len(rows)
    return {
        "n_comparisons": m,
        "n_seeds": n,
        "verdicts": verdicts,
        "verdict_counts": claims.count_verdicts(list(verdicts.values())),
        "hypothesis": claims.hypothesis_verdict(list(verdicts.values())),
        "smallest_p": stats.smallest_p(n)["sign_flip"],
        "smallest_p_holm": stats.smallest_p_holm(n, m),
        "min_seeds": stats.min_seeds(alpha, 1),
        "min_seeds_holm": stats.min_seeds(alpha, m),
        "max_ci_coverage": stats.max_bootstrap_coverage(n),
    }


def validity_facts(rows: list[dict], select_by: str | None,
                   alpha: float = claims.ALPHA) -> dict:
    """Verdict per score, and Spearman p adjusted by Holm over the scores tested."""
    if not rows:
        return {}
    n_layers = int(_float(rows[0]["n_layers"]))
    others = [r for r in rows if r["score"] != select_by]
    return {
        "n_scores": len(rows),
        "n_other_scores": len(others),
        "n_layers": n_layers,
        "select_by": select_by,
        "verdicts": claims.validity_verdicts(rows, select_by, alpha),
        "p_used": claims.validity_p(rows, select_by),
        "smallest_p": stats.smallest_p_rank_correlation(n_layers) if n_layers >= 1 else None,
    }


def read_analysis_config(out_dir: Path) -> dict:
    """``analysis_config.json`` ({} when absent), its fields checked for their types."""
    path = Path(out_dir) / "analysis_config.json"
    if not path.is_file():
        return {}
    cfg = read_json_object(path, "analysis config written by `rosetta analyze`")
    for key, kind in (("dataset_steps", int), ("seed", int), ("n_bootstrap", int),
                      ("select_by", str), ("env", dict), ("layers", list)):
        json_field(cfg, key, kind, None, path)
    if cfg.get("select_by") is not None and cfg["select_by"] not in METRICS:
        raise CorruptFileError(f"{path}: select_by={cfg['select_by']!r} is not one of "
                               f"{', '.join(METRICS)}")
    return cfg


def collect_facts(out_dir: Path, selected: str | None) -> dict:
    """Every fact the available outputs allow (see the module docstring)."""
    out_dir = Path(out_dir)
    facts: dict = {"written_by": "rosetta report", "alpha": claims.ALPHA,
                   "confidence": 0.95, "selected": selected}
    analysis_cfg = read_analysis_config(out_dir)
    if (out_dir / "layer_analysis.csv").is_file():
        rows = read_csv(out_dir / "layer_analysis.csv", ("layer",))
        facts["analysis"] = {
            "layers": [r["layer"] for r in rows],
            "n_layers": len(rows),
            "dataset_steps": analysis_cfg.get("dataset_steps", rows[0].get("dataset_steps")),
            "seed": analysis_cfg.get("seed", rows[0].get("seed")),
            "n_bootstrap": analysis_cfg.get("n_bootstrap"),
            "select_by": analysis_cfg.get("select_by", DEFAULT_SELECTION_METRIC),
        }
    summary = []
    if (out_dir / "experiment_summary.csv").is_file() and \
            (out_dir / "experiment_returns.csv").is_file():
        summary = read_csv(out_dir / "experiment_summary.csv", ("layer", "mean_last_50"))
        facts["training"] = training_facts(out_dir, summary)
        bank = [r for r in summary if r["layer"].startswith("random_bank_")]
        if bank:
            iqm = [_float(r.get("iqm", r["mean_last_50"])) for r in bank]
            facts["bank"] = {"n_layers": len(bank), "iqm_min": min(iqm), "iqm_max": max(iqm)}
    env = (facts.get("training", {}).get("env") or analysis_cfg.get("env") or {})
    if env:
        facts["env"] = env_facts(env)
        names = list(dict.fromkeys(facts.get("analysis", {}).get("layers", [])
                                   + [r["layer"] for r in summary]))
        facts["layers"] = layer_facts(names, env, selected,
                                      facts.get("training", {}).get("config") or None)
    if (out_dir / "comparisons.csv").is_file() and selected is not None:
        rows = read_csv(out_dir / "comparisons.csv", ("selected", "other", "mean_diff"))
        if rows and rows[0]["selected"] == selected:
            facts["comparisons"] = comparison_facts(rows)
    if (out_dir / "score_validity.csv").is_file():
        rows = read_csv(out_dir / "score_validity.csv", ("score", "spearman", "spearman_p"))
        facts["validity"] = validity_facts(rows, facts.get("analysis", {}).get("select_by"))
    return _clean(facts)


def write_facts(out_dir: Path, selected: str | None) -> Path:
    """Write ``report_facts.json``."""
    return write_json(Path(out_dir) / FACTS_FILE, collect_facts(out_dir, selected))
