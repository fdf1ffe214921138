#!/usr/bin/env bash
# Set up and run the main job: the demo on embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/eldercare demo "$@"
