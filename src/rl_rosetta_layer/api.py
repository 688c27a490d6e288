"""rosetta from Python: the commands as functions, for notebooks and scripts.

``import rl_rosetta_layer as rr`` then :func:`analyze`, :func:`train`, :func:`report` and
:func:`run` do what ``rosetta analyze|train|report|run`` do (the command line calls these
very functions): the same files in the same run store, the same checks before anything is
written, and the same errors, raised (a :class:`~rl_rosetta_layer.errors.RosettaError`
whose message is the line the command prints). They print nothing but the progress bars
(``quiet=True`` hides them) and return what the command prints. :func:`load` and
:func:`to_rliable` (:mod:`.results`) read the outputs back as tables.

Arguments are the flags' (``--dataset-steps`` is ``dataset_steps``), with the same
defaults; a comma list may also be a list (``layers=["identity", "my_pkg.mod:make"]``,
``seeds=[0, 1, 2]``). ``settings`` are the ``--set`` values, typed
(``{"lr": 1e-3, "adapter": "dense"}``), and ``video`` the video flags as a
:class:`~rl_rosetta_layer.video.candidates.settings.VideoSettings` or a dict of its fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .agent.config import DQNConfig
from .analysis.score import DEFAULT_SELECTION_METRIC
from .checks import is_int
from .envs.registry import DEFAULT_ENV
from .errors import ConfigError, MissingInputError
from .experiments.spec import DEFAULT_SEEDS
from .io import check_writable

DEFAULT_OUT = "outputs"
#: Columns of the summary that ``rosetta train`` prints.
TRAIN_COLUMNS = ("layer", "mean_last_50", "std_last_50", "mean_auc", "success_last_50",
                 "runs_not_ok", "runs_flagged")


# ------------------------------------------------------------------------------ inputs
def prepare(output_dir: str | Path | None = None, backbone: str | None = None,
            weights: str | None = None) -> Path:
    """The output folder, checked before any work: ``backbone`` is known, ``weights``
    exists, the folder can be written. Default: ``outputs``, or ``outputs/BACKBONE``."""
    if backbone is not None:
        from .video.backbones.catalog import backbone_spec

        backbone_spec(backbone)      # an unknown name fails before anything is written
    if output_dir is None:
        output_dir = Path(DEFAULT_OUT) / backbone if backbone else Path(DEFAULT_OUT)
    if weights is not None and not Path(weights).exists():
        raise MissingInputError(f"--weights {weights} does not exist; give a model folder or "
                                f"a Hugging Face cache path")
    return check_writable(Path(output_dir))


def layer_names(layers: str | Iterable[str] | None, backbone: str | None = None) -> str:
    """``--layers`` text from a comma list or a list of names; the default group when None
    (``blocks`` with a backbone, else ``candidates``)."""
    if layers is None:
        return "blocks" if backbone else "candidates"
    if isinstance(layers, str):
        return layers
    items = list(layers)
    if not all(isinstance(n, str) for n in items):
        raise ConfigError(f"layers must be a comma list or a list of layer names, got "
                          f"{layers!r}")
    return ",".join(items)


def seed_list(seeds: str | Iterable[int]) -> list[int]:
    """Seeds from ``"0,1,2"``, ``"0-9"`` or a list of non-negative integers."""
    from .experiments.spec import parse_seeds

    if not isinstance(seeds, str):
        items = list(seeds)
        if not all(is_int(s) for s in items):
            raise ConfigError(f"seeds must be non-negative integers, got {seeds!r}")
        seeds = ",".join(str(int(s)) for s in items)
    return parse_seeds(seeds)


def check_counts(**values: Any) -> None:
    """Each value (None: not given) is a positive integer; ``seed`` may be 0."""
    for name, value in values.items():
        low = 0 if name == "seed" else 1
        if value is not None and (not is_int(value) or value < low):
            kind = "non-negative" if low == 0 else "positive"
            raise ConfigError(f"{name} must be a {kind} integer, got {value!r}")


def env_spec(env: str = DEFAULT_ENV, grid_size: int | None = None, history: int | None = None,
             max_steps: int | None = None):
    """The :class:`~rl_rosetta_layer.experiments.spec.EnvSpec` of the environment flags
    (None: the default)."""
    from .experiments.spec import EnvSpec

    check_counts(grid_size=grid_size, history=history, max_steps=max_steps)
    defaults = {f.name: f.default for f in fields(EnvSpec)}
    return EnvSpec(env, defaults["grid_size"] if grid_size is None else grid_size,
                   defaults["history"] if history is None else history, max_steps)


def video_settings(video=None):
    """:class:`~rl_rosetta_layer.video.candidates.settings.VideoSettings` from None (the
    defaults), a dict of its fields, or one."""
    from .video.candidates.settings import VideoSettings

    if video is None:
        return VideoSettings()
    if isinstance(video, VideoSettings):
        return video
    if isinstance(video, Mapping):
        known = [f.name for f in fields(VideoSettings)]
        unknown = sorted(set(video) - set(known))
        if unknown:
            raise ConfigError(f"unknown video setting(s) {unknown}; accepted: {known}")
        return VideoSettings(**video)
    raise ConfigError(f"video must be a VideoSettings, a dict of its fields or None, got "
                      f"{type(video).__name__}")


def dqn_config(base: DQNConfig | None = None, *, episodes: int | None = None,
               env_steps: int | None = None, batch_size: int | None = None,
               settings: Mapping[str, Any] | None = None) -> DQNConfig:
    """The DQN config: ``base`` (default: the project's defaults), then the budget and batch
    flags given (None: the base's), then ``settings`` (the ``--set`` values, typed)."""
    from .experiments.sweep import DQN_TYPES

    values: dict[str, Any] = {k: v for k, v in (("episodes", episodes),
                                                 ("env_steps", env_steps),
                                                 ("batch_size", batch_size)) if v is not None}
    for key, value in dict(settings or {}).items():
        if key not in DQN_TYPES:
            raise ConfigError(f"--set expects KEY=VALUE with KEY one of {sorted(DQN_TYPES)}, "
                              f"got {key!r}")
        values[key] = value
    return replace(base or DQNConfig(), **values)


def check_training(*, layers: str, seeds, backbone: str | None, weights: str | None,
                   executor: str, ray_address: str | None,
                   run_timeout: float | None = None) -> list[int]:
    """The seeds of ``train`` (and ``run``): every training input checked before any step
    writes a file (``run``'s analysis comes first)."""
    from .experiments.timeouts import check_run_timeout
    from .layers.registry import expand_layer_names

    check_run_timeout(run_timeout)
    if run_timeout is not None and executor == "local":
        from .experiments.pools import unguarded_main, unguarded_message

        where = unguarded_main()        # a script's top level: refused before any work
        if where is not None:
            raise ConfigError(unguarded_message(where, f"run_timeout={run_timeout:g}"))
    seeds = seed_list(seeds)
    named = ",".join(p for p in str(layers).split(",") if p.strip() != "selected")
    if named or not layers:       # 'selected' alone is known only after the analysis
        expand_layer_names(named, backbone=backbone, weights=weights)
    if ray_address is not None:
        if executor != "ray":
            raise ConfigError("--ray-address needs --executor ray")
        from .experiments.ray_executor import check_reachable

        check_reachable(ray_address)
    return seeds


# ------------------------------------------------------------------------------ commands
def analyze(output_dir: str | Path | None = None, *, env: str = DEFAULT_ENV,
            grid_size: int | None = None, history: int | None = None,
            max_steps: int | None = None, layers: str | Iterable[str] | None = None,
            dataset_steps: int = 8000, seed: int = 0, select_by: str = DEFAULT_SELECTION_METRIC,
            bootstrap: int = 200, backbone: str | None = None, video=None,
            quiet: bool = False, replace_analysis: bool = False) -> str:
    """``rosetta analyze``: score the layers, write ``layer_analysis.csv`` and the
    selection; returns the selected layer. An analysis already in ``output_dir`` made
    with other layers or settings is replaced only with ``replace_analysis``
    (``--replace-analysis``); otherwise a ConfigError says what is there, before any work."""
    from .analysis.run import analysed_names, check_replacement, run_analysis

    check_counts(dataset_steps=dataset_steps, seed=seed, bootstrap=bootstrap)
    settings = video_settings(video)
    out = prepare(output_dir, backbone, settings.weights)
    spec = env_spec(env, grid_size, history, max_steps)
    layers = layer_names(layers, backbone)
    if not replace_analysis:
        check_replacement(out, {"env": spec.__dict__, "dataset_steps": dataset_steps,
                                "seed": seed, "select_by": select_by, "n_bootstrap": bootstrap,
                                "layers": analysed_names(layers, spec, backbone, settings)})
    return run_analysis(out, spec, dataset_steps=dataset_steps, seed=seed, layers=layers,
                        select_by=select_by, n_bootstrap=bootstrap, quiet=quiet,
                        backbone=backbone, video=settings)


def run_analysis_layers(layers: str | Iterable[str] | None, backbone: str | None = None) -> str:
    """What ``rosetta run`` analyses when ``--analysis-layers`` is not given: the layers it
    trains (``NAME@torch`` as NAME), and the default group (``candidates``, or ``blocks``
    with a backbone) when they name ``selected`` or the random bank, which the selection
    among those decides.

    >>> run_analysis_layers("examples.my_layer:make_layer,identity")
    'examples.my_layer:make_layer,identity'
    >>> run_analysis_layers("selected,structured_mid@torch,bank")
    'candidates,structured_mid,bank'
    """
    from .layers.families import TORCH_SUFFIX
    from .layers.registry import BANK_NAMES

    parts = [p.strip() for p in layer_names(layers, backbone).split(",")]
    selection = {"selected", "bank", "baselines", "all", *BANK_NAMES}
    named = [p.removesuffix(TORCH_SUFFIX) for p in parts if p != "selected"]
    if any(p in selection for p in parts):
        named = [layer_names(None, backbone), *named]
    return ",".join(dict.fromkeys(named))


@dataclass(frozen=True)
class Training:
    """What :func:`train` did. ``summary``: rows of ``experiment_summary.csv``."""

    output_dir: Path
    summary: list[dict]
    outcome: Any = field(repr=False)
    """The :class:`~rl_rosetta_layer.experiments.train.Outcome` (every run's result)."""

    @property
    def exit_status(self) -> int:
        """0, 3 when some runs raised, 4 when none raised but some diverged."""
        return self.outcome.exit_status

    def warnings(self) -> list[str]:
        """The lines ``rosetta train`` prints on stderr: failed, diverged, flagged runs."""
        out, lines = self.output_dir, []
        for kind, runs in (("failed", self.outcome.failed),
                           ("diverged", self.outcome.diverged)):
            if runs:
                lines.append(
                    f"warning: {len(runs)} of {len(self.outcome.results)} runs {kind}: "
                    f"{', '.join(sorted({r.layer for r in runs}))}; see "
                    f"{out / 'experiment_runs.csv'} (status column)"
                    + (f" and {out / 'runs' / '_failed'}" if kind == "failed" else ""))
        flagged = [f"{row['layer']} ({row['flags']})" for row in self.summary
                   if row["runs_flagged"]]
        if flagged:
            lines.append(f"warning: the run-health check flagged runs of {', '.join(flagged)}: "
                         f"their policy is constant or their head saturated, so their returns "
                         f"say nothing about the layer; see {out / 'experiment_runs.csv'}")
        return lines

    def table(self) -> str:
        """The summary as the Markdown table ``rosetta train`` prints."""
        from .report.markdown import markdown_table

        return markdown_table(self.summary, list(TRAIN_COLUMNS))


def train(output_dir: str | Path | None = None, *, env: str = DEFAULT_ENV,
          grid_size: int | None = None, history: int | None = None,
          max_steps: int | None = None, layers: str | Iterable[str] | None = None,
          seeds: str | Iterable[int] = DEFAULT_SEEDS, episodes: int | None = None,
          env_steps: int | None = None, batch_size: int | None = None,
          settings: Mapping[str, Any] | None = None, workers: int | None = None,
          lockstep: int | None = None, executor: str = "local", ray_address: str | None = None,
          backbone: str | None = None, video=None, quiet: bool = False,
          config: DQNConfig | None = None, tensorboard: bool = False,
          run_timeout: float | None = None) -> Training:
    """``rosetta train``: train the DQN on every (layer, seed) not yet in the run store and
    write the tables. ``config`` replaces the flags' DQN config when given (the command
    line builds it from ``episodes``, ``env_steps``, ``batch_size`` and ``settings``);
    ``tensorboard`` also writes each run's TensorBoard log; ``run_timeout`` (seconds, off
    by default) stops and fails a run still training after that long. Raises
    :class:`~rl_rosetta_layer.errors.RunsFailedError` when every run raised."""
    from .experiments.train import run_experiments

    check_counts(episodes=episodes, env_steps=env_steps, batch_size=batch_size,
                 workers=workers, lockstep=lockstep)
    video = video_settings(video)
    out = prepare(output_dir, backbone, video.weights)
    layers = layer_names(layers, backbone)
    config = config or dqn_config(episodes=episodes, env_steps=env_steps,
                                  batch_size=batch_size, settings=settings)
    seeds = check_training(layers=layers, seeds=seeds, backbone=backbone,
                           weights=video.weights, executor=executor, ray_address=ray_address,
                           run_timeout=run_timeout)
    summary, outcome = run_experiments(
        out, env_spec(env, grid_size, history, max_steps), config, seeds, layers=layers,
        workers=workers, lockstep=lockstep, quiet=quiet, executor=executor,
        ray_address=ray_address, backbone=backbone, video=video, tensorboard=tensorboard,
        run_timeout=run_timeout)
    return Training(out, summary, outcome)


@dataclass(frozen=True)
class Report:
    """What :func:`report` wrote, in the order ``rosetta report`` prints it."""

    output_dir: Path
    summary_table: Path
    text: str
    """The statistics as Markdown (comparisons, score validity)."""
    extras: list[Path]
    not_computed: list[str]
    """A line per table or figure left out, saying what is missing."""

    @property
    def written(self) -> list[Path]:
        return [self.summary_table, *self.extras]


def report(output_dir: str | Path | None = None, *, backbone: str | None = None) -> Report:
    """``rosetta report``: tables, statistics and figures from the outputs in
    ``output_dir``; every input is checked before anything is written."""
    from .analysis.run import read_selected
    from .experiments.train import explain_sweep_folder
    from .report.build import check_report_inputs, write_report_extras
    from .report.export import export_summary_table, read_summary
    from .report.statistics import final_returns, write_statistics

    out = prepare(output_dir, backbone)
    explain_sweep_folder(out)     # a sweep's folder: say what to do instead
    check_report_inputs(out)      # every input, JSON included, before any write
    summary = read_summary(out)
    final = final_returns(out)
    try:
        selected = read_selected(out)
    except MissingInputError:
        selected = None
    table = export_summary_table(out, summary)
    text, missing = write_statistics(out, selected, final)
    written, not_drawn = write_report_extras(out, selected)
    return Report(out, table, text, list(written), list(missing) + list(not_drawn))


@dataclass(frozen=True)
class Run:
    """What :func:`run` did: the selection, the training and the report."""

    selected: str
    training: Training
    report: Report


def run(output_dir: str | Path | None = None, *, analysis_layers=None, dataset_steps: int = 8000,
        seed: int = 0, select_by: str = DEFAULT_SELECTION_METRIC, bootstrap: int = 200,
        replace_analysis: bool = False, **train_args: Any) -> Run:
    """``rosetta run``: :func:`analyze` (of ``analysis_layers``; default: the trained
    ``layers``, :func:`run_analysis_layers`), :func:`train` (of ``layers``),
    :func:`report`; the training inputs are checked before the analysis writes anything,
    and an analysis of other layers or settings already in ``output_dir`` is replaced only
    with ``replace_analysis``. ``train_args`` are :func:`train`'s."""
    common = {k: train_args[k] for k in ("env", "grid_size", "history", "max_steps",
                                          "backbone", "video", "quiet") if k in train_args}
    video = video_settings(train_args.get("video"))
    backbone = train_args.get("backbone")
    out = prepare(output_dir, backbone, video.weights)
    allowed = set(train.__kwdefaults__)
    unknown = sorted(set(train_args) - allowed)
    if unknown:
        raise ConfigError(f"run() got unknown argument(s) {unknown}; accepted: "
                          f"analysis_layers, dataset_steps, seed, select_by, bootstrap, "
                          f"replace_analysis and "
                          f"{sorted(allowed)}")
    config = train_args.pop("config", None) or dqn_config(
        episodes=train_args.get("episodes"), env_steps=train_args.get("env_steps"),
        batch_size=train_args.get("batch_size"), settings=train_args.get("settings"))
    check_training(layers=layer_names(train_args.get("layers"), backbone),
                   seeds=train_args.get("seeds", DEFAULT_SEEDS), backbone=backbone,
                   weights=video.weights, executor=train_args.get("executor", "local"),
                   ray_address=train_args.get("ray_address"),
                   run_timeout=train_args.get("run_timeout"))
    if analysis_layers is None:
        analysis_layers = run_analysis_layers(train_args.get("layers"), backbone)
    selected = analyze(out, layers=analysis_layers, dataset_steps=dataset_steps, seed=seed,
                       select_by=select_by, bootstrap=bootstrap,
                       replace_analysis=replace_analysis, **common)
    training = train(out, config=config, **train_args)
    return Run(selected, training, report(out, backbone=backbone))


#: Columns of ``reevaluation.csv`` (``rosetta evaluate``).
REEVALUATION_COLUMNS = ("run_id", "layer", "seed", "env_steps", "episodes", "epsilon",
                        "stored_final_eval", "final_eval", "same")


def evaluate(output_dir: str | Path = DEFAULT_OUT, *, episodes: int | None = None,
             epsilon: float | None = None, quiet: bool = False) -> list[dict]:
    """``rosetta evaluate``: play the last evaluation checkpoint of every finished run in
    ``output_dir/runs`` again with its saved network, and compare with what training
    recorded (with the run's own episodes and epsilon the numbers are the same; other
    ``episodes`` or ``epsilon`` give a new evaluation of the final network). Writes
    ``reevaluation.csv`` (:data:`REEVALUATION_COLUMNS`) and returns its rows; runs trained
    without evaluation checkpoints are skipped, and a folder with none is an error."""
    from tqdm.auto import tqdm

    from .agent.evaluation import replay_final
    from .experiments.store import RunStore
    from .io import write_csv
    from .layers.registry import build_layers

    out = Path(output_dir)
    store = RunStore(out / "runs")
    specs = [store.load_spec(i) for i in store.finished_ids()]
    specs = [s for s in specs if s.config.eval_checkpoints]
    if not specs:
        raise MissingInputError(f"{out / 'runs'} holds no finished run trained with "
                                f"evaluation checkpoints; train with --set "
                                f"eval_checkpoints=10 (and an --env-steps budget) first")
    check_writable(out)
    rows, layers = [], {}
    for spec in tqdm(specs, desc="evaluate", unit="run", disable=quiet):
        result = store.load(spec)
        key = (spec.env, spec.layer, spec.selected, spec.video)
        if key not in layers:
            layers[key] = build_layers([spec.layer], spec.env.observations(), spec.selected,
                                       spec.video)[spec.layer]
        env = spec.env.make(1)
        again = replay_final(layers[key], env.obs_dim, env.n_actions, spec.config,
                             store.load_network(spec), spec.seed, spec.env.make,
                             episodes=episodes, epsilon=epsilon)
        stored = result.evaluations[-1] if result.evaluations else None
        mean = float(sum(again["returns"]) / len(again["returns"]))
        rows.append({"run_id": spec.run_id, "layer": spec.layer, "seed": spec.seed,
                     "env_steps": again["env_steps"], "episodes": len(again["returns"]),
                     "epsilon": spec.config.eval_epsilon if epsilon is None else epsilon,
                     "stored_final_eval": result.final_eval, "final_eval": mean,
                     "same": stored is not None and again["returns"] == stored["returns"]})
    write_csv(out / "reevaluation.csv", rows, REEVALUATION_COLUMNS)
    return rows
