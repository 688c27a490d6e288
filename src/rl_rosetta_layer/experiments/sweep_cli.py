"""Turn ``rosetta sweep`` flags into sweep settings (a comma list is a grid axis)."""

from __future__ import annotations

from ..errors import ConfigError
from .sweep import DQN_TYPES

#: Flag -> (table, key, type) of the sweep setting it gives (type None: the text as is).
FLAGS = {"layers": (None, "layers", None), "seeds": (None, "seeds", None),
         "episodes": ("dqn", "episodes", "int"), "batch_size": ("dqn", "batch_size", "int"),
         "grid_size": ("env", "grid_size", "int"), "history": ("env", "history", "int"),
         "max_steps": ("env", "max_steps", "int"), "env": ("env", "name", "str")}


def parse_bool(text: str) -> bool:
    """``"true"``/``"1"``/``"yes"`` -> True, ``"false"``/``"0"``/``"no"`` -> False."""
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise ValueError(text)


def _convert(flag: str, text: str, kind: str):
    """``"1,2"`` -> [1, 2] and ``"3"`` -> 3 for a setting of type ``kind``."""
    parse = {"int": int, "float": float, "str": str, "bool": parse_bool}[kind]
    values = []
    for part in text.split(","):
        try:
            values.append(parse(part.strip()))
        except ValueError as exc:
            raise ConfigError(f"{flag}: {part.strip()!r} is not a valid {kind} (a comma list "
                              f"of them makes a grid), got {text!r}") from exc
    return values[0] if len(values) == 1 else values


def sweep_overrides(args) -> tuple[dict, dict]:
    """(overrides, flags): settings given as flags, and the flag that gave each."""
    overrides: dict = {}
    flags: dict = {}
    for attr, (table, key, kind) in FLAGS.items():
        text = getattr(args, attr, None)
        if text is None:
            continue
        flag = "--" + attr.replace("_", "-")
        overrides[(table, key)] = text if kind is None else _convert(flag, text, kind)
        flags[(table, key)] = flag
    for item in getattr(args, "set", []):
        key, sep, text = item.partition("=")
        if not sep or key not in DQN_TYPES:
            raise ConfigError(f"--set expects KEY=VALUE[,VALUE...] with KEY one of "
                              f"{sorted(DQN_TYPES)}, got {item!r}")
        overrides[("dqn", key)] = _convert(f"--set {key}", text, DQN_TYPES[key])
        flags[("dqn", key)] = f"--set {key}"
    return overrides, flags
