"""Summarise a mutmut run: the kill rate per module and every surviving mutant's change.

Run it in the folder where ``mutmut run`` ran (scripts/mutation.sh does, and prints the
folder). It reads mutmut's result files under ``mutants/``, so it needs no other package.

A survivor that ``scripts/mutation_equivalent.txt`` lists (by function and by the changed
line, not by mutmut's number, which shifts whenever a function changes) is counted as
equivalent: it computes what the original computes, so no test can kill it. The list says
why, for each. A listed entry that no longer survives is reported as stale.

    python scripts/mutation_report.py [--equivalent FILE] [--survivors] [--fail-on-alive] [--only MODULE ...]

Each survivor is printed with its mutant's name (``tinygraph._graph.x_record__mutmut_3``): run a
test against that one mutant from the ``mutants/`` folder with
``MUTANT_UNDER_TEST=<name> python -m pytest tests/...``.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import sys
from collections import defaultdict
from pathlib import Path

KILLED = {1, 3, 36, 24, -24, 152, 255}  # a failing test, pytest's internal error, a timeout
SURVIVED = {0}
NO_TESTS = {5, 33}
SKIPPED = {34}


def human(function: str) -> str:
    """mutmut's name of a function (``xǁTensorǁbackward``) as it reads in the code."""
    name = function[2:] if function.startswith("x_") else function.lstrip("x")
    return name.strip("ǁ").replace("ǁ", ".")


def load(root: Path) -> dict:
    """{mutant key: exit code} from every ``.meta`` file mutmut wrote."""
    results = {}
    for meta in sorted((root / "mutants").rglob("*.py.meta")):
        results.update(json.loads(meta.read_text())["exit_code_by_key"])
    return results


def changes(root: Path, keys: list) -> dict:
    """{mutant key: (removed lines, added lines)}, read from the mutated copies of the modules."""
    by_module = defaultdict(list)
    for key in keys:
        module, _, function = key.rpartition(".")
        by_module[module].append((key, function))
    found = {}
    for module, items in by_module.items():
        path = root / "mutants" / Path(*module.split(".")).with_suffix(".py")
        if not path.exists():
            path = path.with_suffix("") / "__init__.py"
        source = path.read_text()
        lines = source.splitlines()
        # By line numbers: ast.get_source_segment rescans the file for every function.
        defs = {
            node.name: "\n".join(lines[node.lineno - 1 : node.end_lineno])
            for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        for key, function in items:
            base = function.rsplit("__mutmut_", 1)[0]
            original, mutant = defs.get(base + "__mutmut_orig", ""), defs.get(function, "")
            original = original.replace(base + "__mutmut_orig", "f", 1)
            mutant = mutant.replace(function, "f", 1)
            diff = list(difflib.ndiff(original.splitlines(), mutant.splitlines()))
            removed = [line[2:].strip() for line in diff if line.startswith("- ")]
            added = [line[2:].strip() for line in diff if line.startswith("+ ")]
            found[key] = (removed, added)
    return found


def read_equivalents(path: Path) -> dict:
    """{(function, changed line): reason} from lines ``function | changed line | reason``."""
    listed = {}
    if not path.exists():
        return listed
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split(" | ")]
        if len(parts) != 3:
            sys.exit(f"{path}:{number}: expected 'function | changed line | reason', got {line!r}")
        listed[(parts[0], parts[1])] = parts[2]
    return listed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="where mutmut ran (default: here)")
    parser.add_argument("--equivalent", type=Path, default=Path(__file__).with_name("mutation_equivalent.txt"))
    parser.add_argument("--survivors", action="store_true", help="list every survivor, equivalent ones too")
    parser.add_argument("--only", nargs="+", metavar="MODULE", help="only these modules (prefixes: tinygraph._ops.linalg)")
    parser.add_argument("--fail-on-alive", action="store_true", help="exit 1 if a mutant not listed as equivalent survives")
    args = parser.parse_args(argv)

    results = load(args.root)
    if args.only:
        results = {k: v for k, v in results.items() if any(k.startswith(prefix + ".") for prefix in args.only)}
    if not results:
        sys.exit(f"mutation_report: no mutmut results under {args.root / 'mutants'}; run mutmut first")
    listed = read_equivalents(args.equivalent)
    open_keys = [k for k, code in results.items() if code not in KILLED and code not in SKIPPED]
    diffs = changes(args.root, open_keys)

    rows, survivors, used = defaultdict(lambda: defaultdict(int)), [], set()
    for key, code in sorted(results.items()):
        module = key.rpartition(".")[0]
        row = rows[module]
        row["mutants"] += 1
        if code in KILLED:
            row["killed"] += 1
            continue
        if code in SKIPPED:
            row["skipped"] += 1
            continue
        function = module + "." + human(key.rpartition(".")[2].rsplit("__mutmut_", 1)[0])
        removed, added = diffs[key]
        changed = " / ".join(added) if added else "(deleted) " + " / ".join(removed)
        reason = listed.get((function, changed))
        if reason is not None:
            used.add((function, changed))
            row["equivalent"] += 1
        else:
            row["survived" if code in SURVIVED else "no tests" if code in NO_TESTS else "other"] += 1
        survivors.append((function, removed, changed, reason, code, key))

    print(f"{'module':32} {'mutants':>7} {'killed':>7} {'equiv.':>7} {'alive':>7} {'kill rate':>9}")
    total = defaultdict(int)
    for module, row in sorted(rows.items()):
        alive = row["survived"] + row["no tests"] + row["other"]
        decided = row["mutants"] - row["equivalent"] - row["skipped"]
        rate = row["killed"] / decided if decided else 1.0
        print(f"{module:32} {row['mutants']:7} {row['killed']:7} {row['equivalent']:7} {alive:7} {rate:9.1%}")
        for field in ("mutants", "killed", "equivalent", "skipped"):
            total[field] += row[field]
        total["alive"] += alive
    decided = total["mutants"] - total["equivalent"] - total["skipped"]
    print(
        f"{'all':32} {total['mutants']:7} {total['killed']:7} {total['equivalent']:7} {total['alive']:7} "
        f"{total['killed'] / max(decided, 1):9.1%}"
    )
    print("\nkill rate = killed / (mutants - equivalent); alive = survived, or reached by no selected test")

    alive = [s for s in survivors if s[3] is None]
    shown = survivors if args.survivors else alive
    if shown:
        print(f"\n{'Survivors' if args.survivors else 'Survivors not listed as equivalent'} ({len(shown)}):")
        for function, removed, changed, reason, code, key in shown:
            was = " / ".join(removed)
            tag = (
                "" if code in SURVIVED else "  [no test reaches it]" if code in NO_TESTS
                else "  [not run yet]" if code is None else f"  [exit {code}]"
            )
            print(f"  {function}  {key}{tag}\n      - {was}\n      + {changed}")
            if reason:
                print(f"      equivalent: {reason}")
    # Only entries of the modules this run mutated can be stale (the smoke run mutates one).
    modules = set(rows)
    stale = sorted(entry for entry in set(listed) - used if entry[0].rpartition(".")[0] in modules
                   or entry[0].rsplit(".", 2)[0] in modules)
    if stale:
        print(f"\nListed as equivalent but no longer surviving ({len(stale)}); remove them from {args.equivalent.name}:")
        for function, changed in stale:
            print(f"  {function} | {changed}")
    return 1 if args.fail_on_alive and alive else 0


if __name__ == "__main__":
    raise SystemExit(main())
