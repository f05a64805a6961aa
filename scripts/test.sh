#!/usr/bin/env bash
# Run every check: lint, format, types, import direction, then the tests.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/geobatch ]; then
    bash scripts/setup.sh --no-demo
fi
export PATH="$PWD/.venv/bin:$PATH"
# A checkout runs its sources unless the engine was compiled in place (python
# scripts/compile.py, or GEOBATCH_COMPILE=1 bash scripts/setup.sh): then it is rebuilt after an
# edit. tests/integration/test_wheel.py builds the wheels users install, compiled and pure.
python scripts/compile.py --if-present
echo "== ruff check" && ruff check src tests bench scripts
echo "== ruff format --check" && ruff format --check src tests bench scripts
echo "== mypy (strict)" && mypy
echo "== import-linter" && lint-imports
echo "== pytest" && python -m pytest "$@"
