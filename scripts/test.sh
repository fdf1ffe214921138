#!/usr/bin/env bash
# Set up and run the whole test suite, then the linters.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
.venv/bin/python -m pytest -q "$@"
.venv/bin/ruff check .
.venv/bin/mypy
