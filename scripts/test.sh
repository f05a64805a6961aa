#!/usr/bin/env bash
# Run every check: lint, format, types, import direction, then the tests.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/geobatch ]; then
    bash scripts/setup.sh --no-demo
fi
export PATH="$PWD/.venv/bin:$PATH"
python scripts/compile.py --if-stale  # the tests run what users run: rebuilt after an edit
echo "== ruff check" && ruff check src tests bench scripts
echo "== ruff format --check" && ruff format --check src tests bench scripts
echo "== mypy (strict)" && mypy
echo "== import-linter" && lint-imports
echo "== pytest" && python -m pytest "$@"
