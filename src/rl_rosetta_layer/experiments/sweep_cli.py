"""Turn ``rosetta sweep`` flags into sweep settings (a comma list is a grid axis).

Which settings a flag gives, and their types, come from the dataclasses: every field of
:class:`.spec.EnvSpec` (``--grid-size`` gives ``[env] grid_size``; the name is ``--env``),
and of :class:`~rl_rosetta_layer.agent.config.DQNConfig` the budget and batch size
(:data:`DQN_FLAGS`; any DQN setting through ``--set KEY=VALUE``). A new field needs no
edit here: its flag, once the parser has one, is read and typed like the others.
"""

from __future__ import annotations

from ..errors import ConfigError
from .sweep import DQN_TYPES, ENV_TYPES

#: [env] settings whose flag is not named after the field.
ENV_FLAG_NAMES = {"name": "env"}
#: [dqn] settings with a flag of their own (``rosetta train`` has the same flags).
DQN_FLAGS = ("episodes", "env_steps", "batch_size")


def flag_table() -> dict[str, tuple[str | None, str, str | None]]:
    """Flag attribute -> (table, key, type word) of the sweep setting it gives (table None:
    a top-level key; type None: the text as is), types from the dataclass fields.

    >>> flag_table()["env"], flag_table()["max_steps"]
    (('env', 'name', 'str'), ('env', 'max_steps', 'int'))
    """
    table: dict[str, tuple[str | None, str, str | None]] = {
        "layers": (None, "layers", None), "seeds": (None, "seeds", None)}
    table.update({key: ("dqn", key, DQN_TYPES[key]) for key in DQN_FLAGS})
    table.update({ENV_FLAG_NAMES.get(key, key): ("env", key, kind)
                  for key, kind in ENV_TYPES.items()})
    return table


#: Flag attribute -> (table, key, type word); see :func:`flag_table`.
FLAGS = flag_table()


def parse_bool(text: str) -> bool:
    """``"true"``/``"1"``/``"yes"`` -> True, ``"false"``/``"0"``/``"no"`` -> False."""
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise ValueError(text)


#: Type word -> the parser of one value given as text.
PARSERS = {"int": int, "float": float, "str": str, "bool": parse_bool}


def _convert(flag: str, text: str, kind: str):
    """``"1,2"`` -> [1, 2] and ``"3"`` -> 3 for a setting of type ``kind``."""
    parse = PARSERS[kind]
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
