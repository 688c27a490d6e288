"""Names a package offers but imports on first use (PEP 562), so importing it stays cheap.

``__getattr__, __dir__ = lazy_exports(__name__, {"name": "module", ...}, globals())`` in a
package's ``__init__``: ``package.name`` imports ``package.module`` the first time and
keeps the value in the package's namespace.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, where: dict[str, str], namespace: dict
                 ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: each name of ``where`` comes from
    the submodule it maps to (relative to ``package``); any other name is an
    AttributeError, as for a module without it."""

    def __getattr__(name: str):
        if name in where:
            value = getattr(importlib.import_module(f".{where[name]}", package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*namespace, *namespace.get("__all__", ())})

    return __getattr__, __dir__
