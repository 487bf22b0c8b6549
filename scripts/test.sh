#!/usr/bin/env bash
# The whole test suite, after set-up from nothing. Extra arguments go to pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/bootstrap.sh"
cd "$root"
exec .venv/bin/python -m pytest --doctest-modules tinygraph tests "$@"
