#!/usr/bin/env bash
# Lowest-versions check: are the floors in pyproject.toml the versions the code needs?
#
#   bash scripts/check_lowest_versions.sh [VENV]      (default VENV: /tmp/rosetta-lowest)
#   PYTHON=python3.10 bash scripts/check_lowest_versions.sh    # the oldest Python allowed
#   EXTRAS=gym,video bash scripts/check_lowest_versions.sh     # also those extras' floors
#
# Makes a fresh virtualenv, installs the package with its core and dev dependencies (and
# the extras named in EXTRAS) each pinned to its declared floor (`name>=X` becomes
# `name==X`, `name==X` stays; any other requirement is an error), prints the versions
# installed, and runs the fast suite there (the README's `python -m pytest`). Extras not
# installed have their tests skip themselves. About two minutes without extras; needs PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-${TMPDIR:-/tmp}/rosetta-lowest}
extras=${EXTRAS:+,$EXTRAS}

"${PYTHON:-python}" -m venv --clear "$venv"
"$venv/bin/python" - pyproject.toml "dev$extras" > "$venv/lowest.txt" <<'EOF'
import re
import sys

try:
    import tomllib
except ImportError:                      # Python 3.10
    from pip._vendor import tomli as tomllib

project = tomllib.load(open(sys.argv[1], "rb"))["project"]
extras = project["optional-dependencies"]
unknown = sorted(set(sys.argv[2].split(",")) - set(extras))
if unknown:
    sys.exit(f"check_lowest_versions: unknown extra(s) {unknown}; accepted: {sorted(extras)}")
pins = {}
for req in project["dependencies"] + [r for e in sys.argv[2].split(",") for r in extras[e]]:
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^]]*\])?(>=|==)([0-9][0-9A-Za-z.+]*)\s*(;.*)?", req)
    if m is None:
        sys.exit(f"check_lowest_versions: {req!r} has no floor; accepted: name>=X or "
                 f"name==X, then an optional '; marker'")
    name, _, _, floor, marker = m.groups()
    pins[name] = f"{name}=={floor}{marker or ''}"      # extras repeat a pin: keep one
print("\n".join(pins.values()))
EOF
echo "pins:" $(cat "$venv/lowest.txt")
"$venv/bin/python" -m pip install --quiet -c "$venv/lowest.txt" -e ".[dev$extras]"
"$venv/bin/python" -m pip check
"$venv/bin/python" - "$venv/lowest.txt" <<'EOF'
import re
import sys
from importlib.metadata import PackageNotFoundError, version

installed = []
for line in open(sys.argv[1]):
    name = re.split(r"[=;]", line)[0]
    try:
        installed.append(f"{name} {version(name)}")
    except PackageNotFoundError:         # left out by its marker (tomli on Python >= 3.11)
        pass
print("lowest versions installed:", ", ".join(installed))
EOF
"$venv/bin/python" -m pytest -p no:cacheprovider
