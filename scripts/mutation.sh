#!/usr/bin/env bash
# Mutation testing of the engine with mutmut, in a throwaway clone: this checkout's
# files are never mutated. It tests the last commit (uncommitted changes are not seen).
#
#   bash scripts/mutation.sh                  every mutant of the engine modules ([tool.mutmut]
#                                             in pyproject.toml), then the surviving mutants of code
#                                             that runs at import again, each in a fresh pytest
#                                             process; about an hour on 2 cores
#   bash scripts/mutation.sh --smoke          the ~120 mutants of tinygraph/_shapes.py against
#                                             tests/test_shapes.py, under a minute; fails if one
#                                             not listed in scripts/mutation_equivalent.txt survives
#   bash scripts/mutation.sh 'tinygraph._graph.*'   only the mutants whose names match
#
# Environment: MUTATION_JOBS (parallel mutants, default 2), MUTATION_DIR (where to clone;
# default a new folder under /tmp, kept afterwards so survivors can be inspected there with
# `mutmut show NAME` and `mutmut apply NAME`). docs/testing.md explains the report.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="$root/.venv/bin/python"
[ -x "$python" ] || bash "$root/scripts/bootstrap.sh"
if ! "$python" -c "import mutmut" 2>/dev/null; then
  echo "mutation: installing mutmut (the [mutation] extra) into .venv"
  "$python" -m pip install --quiet "mutmut>=3.8,<4"
fi

smoke=0
if [ "${1:-}" = "--smoke" ]; then
  smoke=1
  shift
fi

work="${MUTATION_DIR:-$(mktemp -d /tmp/tinygraph-mutation.XXXXXX)}"
if [ -e "$work/.git" ] || [ -n "$(ls -A "$work" 2>/dev/null)" ]; then
  echo "mutation: $work is not empty; give MUTATION_DIR a new or empty folder" >&2
  exit 2
fi
git clone --quiet "$root" "$work"
cd "$work"
echo "mutation: testing commit $(git rev-parse --short HEAD) in $work"

if [ "$smoke" = 1 ]; then
  # The smoke run: one small module, its own test file, every one of its mutants. The clone is throwaway, so its pyproject is narrowed in place.
  "$python" - <<'EOF'
import re
from pathlib import Path

path = Path("pyproject.toml")
text = path.read_text()
section = text.index("[tool.mutmut]")
tool = text[section:]
tool = re.sub(r"only_mutate = \[.*?\]", 'only_mutate = ["tinygraph/_shapes.py"]', tool, flags=re.S)
tool = re.sub(
    r"pytest_add_cli_args_test_selection = \[.*?\]",
    'pytest_add_cli_args_test_selection = ["tests/test_shapes.py"]',
    tool,
    flags=re.S,
)
path.write_text(text[:section] + tool)
EOF
fi

export HYPOTHESIS_PROFILE=ci  # derandomized: the same examples for every mutant
run() {  # run LOG [mutant names...]
  local log="$1" status=0
  shift
  "$python" -m mutmut run --max-children "${MUTATION_JOBS:-2}" "$@" > "$log" 2>&1 || status=$?
  if [ "$status" != 0 ]; then
    tail -n 30 "$log" >&2
    echo "mutation: mutmut failed (exit $status); the whole log is $work/$log" >&2
    exit "$status"
  fi
}
run mutmut-run.log "$@"

if [ "$smoke" = 0 ] && [ "$#" = 0 ]; then
  # Code that runs while tinygraph is imported (the loop that builds Tensor's methods,
  # operators and numpy forms from the op table; Primitive set-up; the constant cache)
  # runs before a forked mutant is switched on, so the pass above cannot kill its
  # mutants. Those that survived run again, each in a fresh pytest process that imports
  # tinygraph with the mutant on (scripts/mutation_fresh.py).
  "$python" "$root/scripts/mutation_fresh.py" > mutation-fresh.log 2>&1 || {
    tail -n 30 mutation-fresh.log >&2
    echo "mutation: the import-time pass failed; the whole log is $work/mutation-fresh.log" >&2
    exit 1
  }
  tail -n 1 mutation-fresh.log
fi
if [ "$smoke" = 1 ]; then
  exec "$python" "$root/scripts/mutation_report.py" --fail-on-alive
fi
"$python" "$root/scripts/mutation_report.py"
echo
echo "mutation: results are in $work (cd there; mutmut show NAME, mutmut apply NAME)"
