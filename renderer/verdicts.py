"""Verification verdicts for people and programs: one token, or the whole collection.

`chaos verify TOKEN` prints one line per generation and the failed checks under it;
`chaos verify --all` verifies every token with a progress bar on stderr and prints a summary
table (or, with --json, every verdict). Either exits 1 when a generation is forged or cannot be
verified, naming it and the commit's transaction.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable

from .provenance import load_history
from .verify import FORGED, NOT_CHECKABLE, PENDING, UNVERIFIABLE, VERIFIED, GenerationVerdict, Verifier

STATUS_LABELS = {VERIFIED: "verified", NOT_CHECKABLE: "not checkable", FORGED: "FORGED",
                 UNVERIFIABLE: "UNVERIFIABLE", PENDING: "pending"}
COLUMNS = (VERIFIED, NOT_CHECKABLE, FORGED, UNVERIFIABLE, PENDING)


def verify_one(canvas, ipfs, token_id: int, from_block: int = 0, rerender: bool = True) -> list[GenerationVerdict]:
    return Verifier(canvas, load_history(canvas, ipfs, token_id, from_block)).verdicts(rerender)


def format_token(token_id: int, verdicts: list[GenerationVerdict]) -> str:
    lines = []
    for v in verdicts:
        where = ""
        if v.commit_tx:
            where = f"committed in {v.commit_tx}" if v.committed else f"reached from the commit in {v.commit_tx}"
        names = ", ".join(sorted({c.name for c in v.checks}))
        lines.append(f"generation {v.generation}: {STATUS_LABELS[v.status]}  "
                     + "  ".join(part for part in (f"({names})" if names else "", where, v.note) if part))
        lines.extend(f"  {c.name}: {c.detail}" for c in v.failed)
    counts = Counter(v.status for v in verdicts)
    lines.append(f"token {token_id}: {len(verdicts)} generation(s): "
                 + ", ".join(f"{counts[s]} {STATUS_LABELS[s].lower()}" for s in COLUMNS if counts[s]))
    return "\n".join(lines)


def failing(verdicts: Iterable[GenerationVerdict]) -> list[GenerationVerdict]:
    return [v for v in verdicts if not v.ok]


def name_failures(verdicts: Iterable[GenerationVerdict]) -> list[str]:
    """'token T generation G forged (checks) in commit tx' for each generation that failed."""
    return [f"token {v.token_id} generation {v.generation} {STATUS_LABELS[v.status].lower()} "
            f"({', '.join(sorted({c.name for c in v.failed}))})" + (f" via commit {v.commit_tx}" if v.commit_tx else "")
            for v in failing(verdicts)]


class ProgressBar:
    """A one-line bar on a stream (stderr), redrawn in place."""

    def __init__(self, total: int, stream=None, width: int = 30):
        self.total, self.width, self.stream = total, width, stream or sys.stderr

    def __call__(self, done: int, label: str = "") -> None:
        filled = self.width * done // max(self.total, 1)
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done}/{self.total} tokens {label}"[:120])
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


def verify_collection(canvas, ipfs, from_block: int = 0, rerender: bool = True,
                      progress: Callable[[int, str], None] | None = None) -> dict[int, list[GenerationVerdict]]:
    """Every minted token's verdicts (token 1 first)."""
    total = canvas.contract.functions.totalMinted().call()
    results = {}
    for done, token_id in enumerate(range(1, total + 1), start=1):
        results[token_id] = verify_one(canvas, ipfs, token_id, from_block, rerender)
        if progress:
            progress(done, f"(token {token_id})")
    if progress and total == 0:
        progress(0, "")
    return results


def format_collection(results: dict[int, list[GenerationVerdict]]) -> str:
    header = f"{'token':>6} {'gens':>5} " + " ".join(f"{STATUS_LABELS[s].lower():>13}" for s in COLUMNS)
    lines = [header]
    totals: Counter = Counter()
    for token_id, verdicts in results.items():
        counts = Counter(v.status for v in verdicts)
        totals.update(counts)
        lines.append(f"{token_id:>6} {len(verdicts):>5} " + " ".join(f"{counts[s]:>13}" for s in COLUMNS))
    lines.append(f"{'all':>6} {sum(totals.values()):>5} " + " ".join(f"{totals[s]:>13}" for s in COLUMNS))
    return "\n".join(lines)
