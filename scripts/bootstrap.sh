#!/usr/bin/env bash
# Set-up from nothing: a virtual environment in .venv with tinygraph and its test
# dependencies, and Graphviz's `dot` where it is missing. Safe to run again: it
# reinstalls only when pyproject.toml changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"

if ! command -v dot >/dev/null 2>&1; then
  echo "bootstrap: installing Graphviz (dot), needed to render graphs" >&2
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null
  elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null
  elif command -v brew >/dev/null 2>&1; then
    brew install graphviz
  else
    echo "bootstrap: cannot install Graphviz here; install the 'graphviz' package (it provides dot) and run again" >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv || {
    echo "bootstrap: '$python -m venv' failed; on Debian/Ubuntu install python3-venv" >&2
    exit 1
  }
fi
stamp=.venv/.tinygraph-installed
want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
  .venv/bin/python -m pip install --quiet -e ".[dev]"
  echo "$want" > "$stamp"
fi
