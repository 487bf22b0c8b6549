"""Run surviving mutants of code that runs at import, each in a fresh pytest process.

mutmut forks each mutant from a process that has already imported tinygraph, so code that
runs while tinygraph is imported (the loop that builds Tensor's methods, operators and numpy
forms from the op table, ``Primitive.__init_subclass__``) and state built then (the cache of
number constants) never sees the mutant. Here each such survivor gets a new ``pytest``
process with ``MUTANT_UNDER_TEST`` set before the import; a failing test kills it, and the
verdict is written into mutmut's result files, so ``mutation_report.py`` counts it.

Run it in the folder where ``mutmut run`` ran (scripts/mutation.sh does, after the fork pass):

    python scripts/mutation_fresh.py [--jobs 2] [--names NAME ...]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

#: Mutants of these functions run at import or depend on import-time state.
IMPORT_TIME = (
    "tinygraph.tensor.x_public_form__mutmut_*", "tinygraph.tensor.x__method__mutmut_*",
    "tinygraph.tensor.x__operators__mutmut_*", "tinygraph.tensor.x__named_form__mutmut_*",
    "tinygraph.tensor.x__constant__mutmut_*", "tinygraph._ops._base.*",
    "tinygraph._graph.xǁOpǁ__init_subclass____mutmut_*",
)
#: The tests that exercise Tensor's generated forms and the op registry.
TESTS = (
    "tests/ops/test_functional.py", "tests/test_tensor.py", "tests/test_tensor_plumbing.py", "tests/ops/test_base.py",
    "tests/ops/test_elementwise.py", "tests/test_ops_conventions.py", "tests/test_ops.py",
)
SURVIVED = 0
KILLED = 1


def survivors(metas: dict) -> list:
    names = []
    for meta in metas.values():
        for key, code in meta["exit_code_by_key"].items():
            if code == SURVIVED and any(fnmatch.fnmatchcase(key, pattern) for pattern in IMPORT_TIME):
                names.append(key)
    return sorted(names)


def killed(name: str, python: str) -> bool:
    env = {**os.environ, "MUTANT_UNDER_TEST": name, "HYPOTHESIS_PROFILE": "ci"}
    command = [python, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
               "-k", "not buried and not ratio_hint_and_blame", *TESTS]
    result = subprocess.run(command, cwd="mutants", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            timeout=900, check=False)
    return result.returncode != 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATION_JOBS", "2")))
    parser.add_argument("--names", nargs="+", help="these mutants instead of the import-time survivors")
    parser.add_argument("--dry-run", action="store_true", help="print verdicts, write nothing")
    args = parser.parse_args(argv)

    metas = {path: json.loads(path.read_text()) for path in Path("mutants").rglob("*.py.meta")}
    if not metas:
        sys.exit("mutation_fresh: no mutmut results under ./mutants; run it where mutmut ran")
    names = args.names or survivors(metas)
    print(f"mutation_fresh: {len(names)} mutant(s), each in a fresh pytest process")
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        verdicts = dict(zip(names, pool.map(lambda name: killed(name, sys.executable), names)))
    for name, dead in verdicts.items():
        print(f"  {'killed  ' if dead else 'survived'} {name}")
    if not args.dry_run:
        for path, meta in metas.items():
            codes = meta["exit_code_by_key"]
            if any(verdicts.get(key) for key in codes):
                for key in codes:
                    if verdicts.get(key):
                        codes[key] = KILLED
                path.write_text(json.dumps(meta, indent=4))
    print(f"mutation_fresh: {sum(verdicts.values())} of {len(verdicts)} killed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
