"""Sweeps as data: a TOML file (or command-line flags) declaring a grid of runs.

A sweep file has four top-level keys and two tables; every setting in the tables may be a
single value or a list of values (a grid axis)::

    name = "lr-study"                       # optional; default: the file's stem
    layers = ["candidates", "identity"]     # names or groups, or one comma string
    seeds = "0-4"                           # a list of integers, or "0,1,2" / "0-4"
    selected = "structured_mid"             # optional; shapes the random bank

    [env]                                   # name, grid_size, history, max_steps
    grid_size = 8

    [dqn]                                   # any DQNConfig field
    episodes = 350
    lr = [1e-3, 3e-3]

Runs are expanded in a fixed order (env point, DQN point, layer, seed), each with the
content-derived id of :class:`RunSpec`. Every problem (unknown key, wrong type, empty grid,
a value listed twice, a setting the DQN rejects) is one :class:`ConfigError` naming the file,
the line and the key, raised before anything runs.
"""

from __future__ import annotations

import itertools
import re
import sys
import types
import typing
from dataclasses import dataclass, fields
from pathlib import Path

from ..agent.config import DQNConfig
from ..errors import ConfigError, MissingInputError, RosettaError
from ..layers.registry import BANK_NAMES, BASELINES, SEED_CANDIDATES, expand_layer_names
from .spec import EnvSpec, RunSpec, parse_seeds
from .timeouts import layer_time_limit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TOP_KEYS = ("name", "layers", "seeds", "selected", "env", "dqn")
#: Type word of a setting -> the TOML values it accepts, and how messages name it.
_PY_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}
_TYPE_WORDS = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}


def setting_types(cls: type) -> dict[str, str]:
    """Field -> type word (``int``, ``float``, ``str`` or ``bool``) of a config dataclass, in
    field order, read from its annotations; an optional field (``int | None``) is given as
    its type. Raises TypeError for a field of any other type (a sweep could not set it).

    >>> setting_types(EnvSpec)
    {'name': 'str', 'grid_size': 'int', 'history': 'int', 'max_steps': 'int'}
    """
    hints = typing.get_type_hints(cls)
    out = {}
    for f in fields(cls):
        hint = hints[f.name]
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        kinds = [t for t in typing.get_args(hint) if t is not type(None)] if union else [hint]
        word = getattr(kinds[0], "__name__", None) if len(kinds) == 1 else None
        if word not in _PY_TYPES:
            raise TypeError(f"{cls.__name__}.{f.name} has the type {hint}; a sweep setting "
                            f"must be one of {', '.join(_PY_TYPES)} (or that | None)")
        out[f.name] = word
    return out


#: [env] setting -> type word, from :class:`EnvSpec`'s fields.
ENV_TYPES = setting_types(EnvSpec)
#: [dqn] setting -> type word, from :class:`DQNConfig`'s fields.
DQN_TYPES = setting_types(DQNConfig)

#: Built-in sweeps, usable by name instead of a file (``rosetta sweep tiny``).
BUILTIN = {
    "tiny": '''\
# The tiny sweep the tests and smoke checks use: 2 layers x 2 seeds on a 4x4 grid, seconds.
name = "tiny"
layers = ["structured_mid", "identity"]
seeds = [0, 1]

[env]
grid_size = 4

[dqn]
episodes = 8
learning_starts = 20
buffer_size = 500
batch_size = 16
eps_decay_steps = 200
''',
}


@dataclass(frozen=True)
class Sweep:
    """A named, ordered set of runs, and the settings that vary between them."""

    name: str
    specs: tuple[RunSpec, ...]
    varied: tuple[str, ...]
    """Grid axes with more than one value, as ``env.<key>`` or ``dqn.<key>``."""
    source: str

    @property
    def run_ids(self) -> list[str]:
        return [s.run_id for s in self.specs]

    def point(self, spec: RunSpec) -> dict:
        """The values of the varied settings for ``spec`` (``{"dqn.lr": 0.001, ...}``)."""
        out = {}
        for axis in self.varied:
            table, key = axis.split(".", 1)
            out[axis] = getattr(spec.env if table == "env" else spec.config, key)
        return out

    @property
    def single_point(self) -> bool:
        """Whether every run shares env and DQN config (only layers and seeds vary)."""
        return not self.varied


class _Where:
    """Names the place a setting came from: a file's line, or a command-line flag."""

    def __init__(self, label: str, text: str = "", flags: dict | None = None):
        self.label = label
        self.text = text
        self.flags = flags or {}

    def __call__(self, table: str | None, key: str | None = None) -> str:
        if (table, key) in self.flags:
            return self.flags[(table, key)]
        line = find_line(self.text, table, key)
        return f"{self.label} line {line}" if line else self.label


_HEADER = re.compile(r"^\[\s*([A-Za-z0-9_.\"' -]+?)\s*\]")
_ASSIGN = re.compile(r"^([\"']?)([A-Za-z0-9_.-]+)\1\s*=")


def find_line(text: str, table: str | None, key: str | None) -> int | None:
    """1-based line where ``key`` of ``table`` (``None``: top level) is set in TOML ``text``.

    With ``key=None`` the table's header line. Keys may be bare, quoted or dotted.

    >>> find_line('a = 1\\n[dqn]\\nlr = 2\\n', 'dqn', 'lr'), find_line('[dqn]\\n', 'dqn', None)
    (3, 1)
    """
    want = f"{table}.{key}" if table and key else (key or table)
    current = ""
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        header = _HEADER.match(line)
        if header and not line.startswith("[["):
            current = header.group(1).replace('"', "").replace("'", "").strip()
            if current == want and (key is None or table is None):
                return n
            continue
        assign = _ASSIGN.match(line)
        if assign:
            full = f"{current}.{assign.group(2)}" if current else assign.group(2)
            if full == want:
                return n
            if key and table and full == table and re.search(rf"\b{re.escape(key)}\s*=",
                                                             line):
                return n                    # an inline table: env = { grid_size = 4 }
    if key:
        for n, raw in enumerate(text.splitlines(), 1):
            if re.search(rf"(^|[\s{{,\"']){re.escape(key)}[\"']?\s*=", raw):
                return n
    return None


def _accepted(keys) -> str:
    return ", ".join(sorted(keys))


def _values(where: _Where, table: str, key: str, value, kind: str) -> list:
    """A setting as a list of grid values of type ``kind``, rejecting empties and repeats."""
    values = value if isinstance(value, list) else [value]
    loc = f"{where(table, key)}: [{table}] {key}"
    if not values:
        raise ConfigError(f"{loc} is an empty grid; give one value or a non-empty list")
    out = []
    for v in values:
        ok = isinstance(v, _PY_TYPES[kind]) and not (kind != "bool" and isinstance(v, bool))
        if not ok:
            raise ConfigError(f"{loc} must be {_TYPE_WORDS[kind]} or a list of them, got "
                              f"{v!r} ({type(v).__name__})")
        v = float(v) if kind == "float" else v
        if v in out:
            raise ConfigError(f"{loc} lists {v!r} twice; the runs of a sweep must all differ")
        out.append(v)
    return out


def _table(where: _Where, raw: dict, table: str, types: dict) -> dict[str, list]:
    section = raw.get(table, {})
    if not isinstance(section, dict):
        raise ConfigError(f"{where(None, table)}: {table} must be a table ([{table}]), got "
                          f"{section!r}")
    axes = {}
    for key, value in section.items():
        if key not in types:
            raise ConfigError(f"{where(table, key)}: unknown key {key!r} in [{table}]; "
                              f"accepted: {_accepted(types)}")
        axes[key] = _values(where, table, key, value, types[key])
    return axes


def _layers(where: _Where, raw: dict, selected: str | None,
            unavailable: tuple[str, ...] = ()) -> list[str]:
    value = raw.get("layers", "candidates")
    loc = f"{where(None, 'layers')}: layers"
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str) for v in items):
        raise ConfigError(f"{loc} must be a non-empty list of layer names or groups (or one "
                          f"comma-separated string), got {value!r}")
    parts = [p.strip() for v in items for p in v.split(",")]
    names: list[str] = []
    for part in parts:
        try:
            group = expand_layer_names(part, selected, unavailable)
        except RosettaError as exc:
            raise type(exc)(f"{loc}: {exc}") from exc
        for name in group:
            if name in names:
                raise ConfigError(f"{loc} lists {name!r} twice (directly or through a "
                                  f"group); the runs of a sweep must all differ")
            names.append(name)
    return names


def _seeds(where: _Where, raw: dict) -> list[int]:
    value = raw.get("seeds", [0, 1, 2])
    loc = f"{where(None, 'seeds')}: seeds"
    if isinstance(value, str):
        try:
            return parse_seeds(value)
        except ConfigError as exc:
            raise ConfigError(f"{loc}: {exc}") from exc
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ConfigError(f"{loc} is an empty grid; give a list of non-negative integers")
    for s in items:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ConfigError(f"{loc} must be non-negative integers (or a string like "
                              f"\"0-4\"), got {s!r}")
    for i, s in enumerate(items):
        if s in items[:i]:
            raise ConfigError(f"{loc} lists {s!r} twice; the runs of a sweep must all differ")
    return list(items)


def _needs_selection(raw: dict) -> bool:
    value = raw.get("layers", "candidates")
    items = value if isinstance(value, list) else [value]
    parts = [p.strip() for v in items if isinstance(v, str) for p in v.split(",")]
    return any(p in ("selected", "bank", "baselines", "all") or p in BANK_NAMES for p in parts)


def build_sweep(raw: dict, where: _Where, name: str, source: str,
                out_dir: Path | None = None, run_timeout: float | None = None) -> Sweep:
    """Validate the parsed settings and expand them into runs (nothing is trained); a
    layer of your own is built and checked for its run id within ``run_timeout`` seconds
    (:func:`~.timeouts.layer_time_limit`)."""
    for key in raw:
        if key not in TOP_KEYS:
            raise ConfigError(f"{where(None, key)}: unknown key {key!r}; accepted: "
                              f"{', '.join(TOP_KEYS)}")
    for key in ("name", "selected"):
        if key in raw and not (isinstance(raw[key], str) and raw[key].strip()):
            raise ConfigError(f"{where(None, key)}: {key} must be a non-empty string, got "
                              f"{raw[key]!r}")
    name = raw.get("name", name)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ConfigError(f"{where(None, 'name')}: name must be letters, digits, '_', '.' or "
                          f"'-' (it names a folder), got {name!r}")
    selected = raw.get("selected")
    if selected is None and _needs_selection(raw):
        if out_dir is None:
            raise ConfigError(f"{where(None, 'layers')}: layers needs a selected layer; add "
                              f"selected = \"<layer>\" to the sweep")
        from ..analysis.run import read_selected

        selected = read_selected(out_dir)
    env_axes = _table(where, raw, "env", ENV_TYPES)
    dqn_axes = _table(where, raw, "dqn", DQN_TYPES)
    env_keys = [k for k in ENV_TYPES if k in env_axes]
    envs = []
    for combo in itertools.product(*(env_axes[k] for k in env_keys)):
        values = dict(zip(env_keys, combo))
        try:
            env = EnvSpec(**values)
        except ConfigError as exc:
            raise ConfigError(f"{where('env', 'name')}: [env] {exc}") from exc
        if env.name == "grid":
            try:
                env.grid_config()
            except ConfigError as exc:
                bad = next((k for k in env_keys
                            if k.replace("grid_", "") in str(exc).split()[1:2]),
                           env_keys[0] if env_keys else None)
                raise ConfigError(f"{where('env', bad)}: [env] {exc}") from exc
        envs.append(env)

    unavailable = tuple(sorted({n for e in envs for n in e.unavailable_layers}))
    layers = _layers(where, raw, selected, unavailable)
    shapeable = SEED_CANDIDATES + BASELINES
    if any(n in BANK_NAMES for n in layers) and selected not in shapeable:
        raise ConfigError(f"{where(None, 'selected')}: selected must be a layer whose shape "
                          f"the random bank copies, one of {', '.join(shapeable)}; got "
                          f"{selected!r}")
    seeds = _seeds(where, raw)

    dqn_keys = [k for k in DQN_TYPES if k in dqn_axes]
    configs = []
    for combo in itertools.product(*(dqn_axes[k] for k in dqn_keys)):
        try:
            configs.append(DQNConfig(**dict(zip(dqn_keys, combo))))
        except ConfigError as exc:
            words = str(exc).replace("(", " ").replace(")", " ").split()
            bad = next((w for w in words if w in dqn_keys), None)
            raise ConfigError(f"{where('dqn', bad)}: [dqn] {exc}") from exc

    specs: tuple[RunSpec, ...] = ()
    for env in envs:
        for config in configs:
            for layer in layers:
                with layer_time_limit(run_timeout, layer):
                    specs += tuple(RunSpec(env, layer, seed, config, selected) for seed in seeds)
    seen: dict[str, RunSpec] = {}
    for s in specs:
        if s.run_id in seen:
            raise ConfigError(f"{where(None)}: two runs of the sweep are the same run "
                              f"{s.run_id}; the runs of a sweep must all differ")
        seen[s.run_id] = s
    varied = tuple([f"env.{k}" for k in env_keys if len(env_axes[k]) > 1]
                   + [f"dqn.{k}" for k in dqn_keys if len(dqn_axes[k]) > 1])
    return Sweep(name=name, specs=specs, varied=varied, source=source)


def parse_sweep_text(text: str, label: str, *, name: str = "sweep",
                     out_dir: Path | None = None, overrides: dict | None = None,
                     flags: dict | None = None, run_timeout: float | None = None) -> Sweep:
    """Parse TOML ``text`` (named ``label`` in messages); ``overrides`` replace its keys;
    ``run_timeout`` as for :func:`build_sweep`."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: not valid TOML: {exc}") from exc
    flags = dict(flags or {})
    for (table, key), value in (overrides or {}).items():
        if table is None:
            raw[key] = value
        else:
            section = raw.setdefault(table, {})
            if isinstance(section, dict):
                section[key] = value
    return build_sweep(raw, _Where(label, text, flags), name, label, out_dir, run_timeout)


def load_sweep(source: str | Path | None, *, out_dir: Path | None = None,
               overrides: dict | None = None, flags: dict | None = None,
               run_timeout: float | None = None) -> Sweep:
    """A sweep from a TOML file, a built-in name (``tiny``), or ``None`` (flags only).

    ``overrides`` maps ``(table or None, key)`` to values given on the command line, which
    replace the file's; ``flags`` names the flag of each, for messages; ``run_timeout`` as
    for :func:`build_sweep`.
    """
    if source is None:
        return parse_sweep_text("", "the command line", name="cli", out_dir=out_dir,
                                overrides=overrides, flags=flags, run_timeout=run_timeout)
    path = Path(source)
    if path.is_file():
        if path.suffix.lower() in (".yaml", ".yml", ".json"):
            raise ConfigError(f"{path}: sweep files are TOML (.toml), got a "
                              f"{path.suffix} file")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the sweep file: {exc}") from exc
        return parse_sweep_text(text, str(path), name=path.stem, out_dir=out_dir,
                                overrides=overrides, flags=flags, run_timeout=run_timeout)
    if str(source) in BUILTIN:
        return parse_sweep_text(BUILTIN[str(source)], f"built-in sweep {source!r}",
                                name=str(source), out_dir=out_dir, overrides=overrides,
                                flags=flags, run_timeout=run_timeout)
    raise MissingInputError(f"sweep file {str(source)!r} does not exist; give a TOML file or "
                            f"a built-in sweep: {', '.join(BUILTIN)}")
