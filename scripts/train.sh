#!/usr/bin/env bash
# The main job, after set-up from nothing: train the document's deep network on the
# bundled digits. Extra arguments go to `tinygraph train` (see `tinygraph train --help`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/bootstrap.sh"
exec "$root/.venv/bin/tinygraph" train "$@"
