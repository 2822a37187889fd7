"""Slither over contracts/, with every finding either fixed or triaged (`make slither`).

Runs Slither (its own venv, .venv-slither: slither-analyzer pins versions that brownie's do not
allow) through this checkout's solc-js shim with `--solc-standard-json` (a plain `--solc`
target fails: crytic-compile then asks the compiler for `--combined-json`), with the optimizer
settings brownie compiles with. Each finding is named by its detector and the code it points
at, e.g. `timestamp ColourPools._load`; contracts/slither-triage.json holds a reason for each
finding that stays. An untriaged finding fails the run (exit 1) and is printed in full; a
triage entry that no longer matches anything is reported so it can be deleted.

    .venv-slither/bin/python tools/slither_check.py [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRIAGE = ROOT / "contracts" / "slither-triage.json"
SHIM = ROOT / ".solc" / "solc-v0.8.30"
REMAPS = "@openzeppelin=node_modules/@openzeppelin solady=node_modules/solady"
SOLC_ARGS = "--optimize --optimize-runs 100000 --evm-version cancun"  # as brownie-config.yaml compiles


def finding_key(result: dict) -> str:
    """`<detector> <Contract>.<function or event>[.<variable>]` of a Slither result's first element."""
    element = result["elements"][0] if result["elements"] else {}
    names = [element.get("name", "?")]
    parent = element.get("type_specific_fields", {}).get("parent")
    while parent:
        names.append(parent.get("name", "?"))
        parent = parent.get("type_specific_fields", {}).get("parent")
    return f"{result['check']} {'.'.join(reversed(names))}"


def run_slither(out: Path) -> dict:
    if not SHIM.is_file():
        raise SystemExit(f"no compiler shim at {SHIM}: run `make setup` first")
    slither = Path(sys.executable).with_name("slither")
    command = [str(slither), "contracts", "--solc", str(SHIM), "--solc-standard-json", "--solc-args", SOLC_ARGS,
               "--solc-remaps", REMAPS, "--filter-paths", "node_modules", "--json", str(out)]
    env = dict(os.environ, PATH=os.pathsep.join([str(ROOT / "node_modules" / ".bin"), os.environ.get("PATH", "")]))
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if not out.is_file():
        raise SystemExit(f"slither failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    report = json.loads(out.read_text())
    if not report.get("success"):
        raise SystemExit(f"slither failed: {report.get('error')}\n{done.stderr[-4000:]}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also keep Slither's JSON report here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.json or Path(tmp) / "slither.json"
        out.unlink(missing_ok=True)
        results = run_slither(out).get("results", {}).get("detectors", [])
    triage = json.loads(TRIAGE.read_text())["findings"]
    seen, untriaged = set(), []
    for result in results:
        key = finding_key(result)
        seen.add(key)
        if key not in triage:
            untriaged.append((key, result))
    for key, result in untriaged:
        print(f"UNTRIAGED {key} ({result['impact']}):\n{result['description'].rstrip()}\n", file=sys.stderr)
    for key in sorted(set(triage) - seen):
        print(f"stale triage entry (no such finding any more, delete it): {key}", file=sys.stderr)
    print(f"slither: {len(results)} findings, {len(results) - len(untriaged)} triaged, {len(untriaged)} untriaged")
    if untriaged:
        print(f"fix them, or add each to {TRIAGE.relative_to(ROOT)} with the reason it stays", file=sys.stderr)
    return 1 if untriaged else 0


if __name__ == "__main__":
    sys.exit(main())
