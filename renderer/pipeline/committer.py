"""The commit stage: the renderer's only signer. Nonces, EIP-1559 fees, batching, coalescing, settlement.

Coalescing: a commit carries, for each of up to `batch_size` tokens, only the
newest generation that is ready (pinned, with every generation since the last
settled one pinned too). The generations it skips are rendered and pinned all
the same (each is the parent of the next, and the metadata's parent links chain
them); when the commit settles they become "covered" by it.

Exactly once: a job is marked "sent" (with its nonce) before its transaction
leaves, a token has at most one commit in flight, and every open commit is
settled from its receipt or, when the receipt is lost or the transaction was
replaced, from what the chain holds (`lastCommit` and the commit events, `Canvas.commits`).
"""

from __future__ import annotations

import dataclasses
import logging
import time

from eth_account.signers.local import LocalAccount
from web3.exceptions import TimeExhausted, TransactionNotFound

from .. import rpcbatch, transactions
from ..chain import Canvas
from ..failpoints import failpoint
from ..store import Job, JobStore

log = logging.getLogger("chaos.daemon")

#: A replacement transaction must raise both fees by at least 10% (geth, Anvil); take 12.5%.
FEE_BUMP_NUMERATOR, FEE_BUMP_DENOMINATOR = 9, 8


class Committer:
    def __init__(self, canvas: Canvas, store: JobStore, account: LocalAccount, *, batch_size: int,
                 receipt_timeout: float, stuck_after: float, linger: float = 0.0):
        self.canvas = canvas
        self.store = store
        self.account = account
        self.batch_size = batch_size
        self.receipt_timeout = receipt_timeout
        self.stuck_after = stuck_after
        self.linger = linger
        #: When a commit that is not full was first held back (monotonic seconds), or None.
        self._holding_since: float | None = None
        #: The store's version when it last had nothing to commit: until it changes, nothing will.
        self._nothing_at: tuple[int, int] | None = None

    # ------------------------------------------------------------ settlement

    def settle_from_chain(self, job: Job) -> bool:
        """Settle a job the chain already decided (a lost receipt, a rebuilt store); False if still open."""
        exists, generation, cid = self.canvas.last_commit(job.token_id)
        if not exists or generation < job.generation:
            return False
        if generation > job.generation:
            cid = next((c["cid"] for c in self.canvas.commits(job.token_id, from_block=job.block_number)
                        if c["generation"] == job.generation), None)
        if cid is None:
            self.store.settle(job, "superseded", last_error=f"generation {generation} was committed first")
        elif cid == job.metadata_cid:
            self.store.settle(job, "committed")
        else:
            self.store.settle(job, "failed", last_error=f"the chain holds {cid} for this generation, "
                              f"not our {job.metadata_cid}: another renderer committed it")
        return True

    def _reconcile_sent(self) -> int:
        """Settle commit transactions already sent: mined, lost, replaced, or stuck (then bumped)."""
        done = 0
        groups: dict[tuple[int, str | None], list[Job]] = {}
        for job in self.store.jobs("sent"):
            groups.setdefault((job.commit_nonce, job.commit_tx), []).append(job)
        w3 = self.canvas.w3
        for (nonce, tx_hash), jobs in groups.items():
            receipt = None
            if tx_hash:
                try:
                    receipt = w3.eth.get_transaction_receipt(tx_hash)
                except TransactionNotFound:
                    receipt = None
            if receipt is not None and receipt["status"] == 1:
                for job in jobs:
                    self.store.settle(job, "committed", commit_block=receipt["blockNumber"])
                done += len(jobs)
                continue
            if receipt is None and w3.eth.get_transaction_count(self.account.address, "latest") <= nonce:
                if w3.eth.get_transaction_count(self.account.address, "pending") > nonce:
                    self._bump_if_stuck(jobs)  # still waiting in the mempool
                    continue
            # Mined and reverted, replaced by a transaction that did not commit these renders,
            # or never reached the node: settle what the chain already holds, send the rest again.
            for job in jobs:
                if self.settle_from_chain(job):
                    done += 1
                else:
                    self.store.advance(job, "pinned", commit_tx=None, commit_nonce=None,
                                       last_error=f"commit transaction {tx_hash} (nonce {nonce}) did not land")
        return done

    # ------------------------------------------------------------------ fees

    def _bump_if_stuck(self, jobs: list[Job]) -> None:
        """Replace a commit that has waited too long with the same nonce and higher fees."""
        first = jobs[0]
        if first.commit_sent_at is None or time.time() - first.commit_sent_at < self.stuck_after:
            return
        market = transactions.eip1559_fees(self.canvas.w3)

        def bump(old: int | None, floor: int) -> int:
            return max(floor, (old or 0) * FEE_BUMP_NUMERATOR // FEE_BUMP_DENOMINATOR + 1)

        max_fee = bump(first.commit_max_fee, market.max_fee_per_gas)
        bumped = transactions.Fees(max_fee, min(max_fee, bump(first.commit_priority_fee,
                                                              market.max_priority_fee_per_gas)))
        try:
            tx = transactions.build(self.canvas.w3, self.account, self._call(jobs), nonce=first.commit_nonce,
                                    fees=bumped)
        except transactions.TransactionFailed as exc:
            log.error("cannot replace stuck commit %s: %s", first.commit_tx, exc)
            return
        tx_hash = transactions.send(self.canvas.w3, self.account, tx)
        for job in jobs:
            self.store.note(job, commit_tx=tx_hash, commit_max_fee=bumped.max_fee_per_gas,
                            commit_priority_fee=bumped.max_priority_fee_per_gas, commit_sent_at=time.time())
        log.warning("commit %s (nonce %d) stuck for %.0f s: replaced by %s at max fee %d wei/gas",
                    first.commit_tx, first.commit_nonce, time.time() - first.commit_sent_at, tx_hash,
                    bumped.max_fee_per_gas, extra={"event": "fee-bump", "tx": tx_hash})

    # ---------------------------------------------------------------- commit

    def _call(self, jobs: list[Job]):
        return self.canvas.commit_batch_call([(job.token_id, job.generation, job.metadata_cid) for job in jobs])

    def _min_nonce(self) -> int | None:
        """The lowest nonce a new commit may take: above every one the store knows it already used
        (the node's pending nonce, asked in the same round trip as the gas, may lag behind it)."""
        used = self.store.max_sent_nonce()
        return None if used is None else used + 1

    def _canonical(self, jobs: list[Job]) -> list[Job]:
        """The jobs whose event block is still canonical: a render of an event that a reorg dropped
        must never go on-chain. Every block's header in one JSON-RPC batch (a burst puts each event
        in a block of its own)."""
        numbers = sorted({job.block_number for job in jobs})
        headers = rpcbatch.batch(self.canvas.w3, [rpcbatch.header(number) for number in numbers])
        hashes = {number: header["hash"] if header else None for number, header in zip(numbers, headers)}
        kept = [job for job in jobs if hashes[job.block_number] == job.event.block_hash]
        if len(kept) < len(jobs):
            log.warning("holding back %d render(s) whose event block is no longer canonical", len(jobs) - len(kept))
        return kept

    def _hold(self, ready: int, more_coming: bool) -> bool:
        """Whether a commit of `ready` tokens waits for more: only while it is not full, renders are
        out on workers (`more_coming`), and another token (not in this batch, not blocked) has a
        job on its way to being pinned, which could still join it; and never longer than `linger`
        seconds, the cap. A lone event in a quiet collection, with nothing else on its way, goes at once."""
        if (not ready or not more_coming or ready >= self.batch_size or self.linger <= 0
                or not self.store.work_coming_for_other_tokens()):
            self._holding_since = None
            return False
        now = time.monotonic()
        if self._holding_since is None:
            self._holding_since = now
        if now - self._holding_since < self.linger:
            return True
        self._holding_since = None
        return False

    def _still_holding(self, more_coming: bool) -> bool:
        """A partial batch is lingering, cannot have filled up (fewer tokens have a pinned job than
        a batch takes) and still has work on its way: skip the full query until the cap. A pass
        runs per worker result, so this is most passes while renders trickle in."""
        if self._holding_since is None or not more_coming or time.monotonic() - self._holding_since >= self.linger:
            return False
        return self.store.pinned_tokens() < self.batch_size and self.store.work_coming_for_other_tokens()

    def commit_ready(self, more_coming: bool = False) -> int:
        """Settle what was sent, then commit what is ready. `more_coming`: renders are still out
        on workers, so a batch that is not full may wait for other tokens' renders (see `_hold`)."""
        done = self._reconcile_sent()
        version = self.store.version()
        if version == self._nothing_at or self._still_holding(more_coming):
            return done
        runs = self.store.ready_to_commit(self.batch_size)
        if not runs:
            self._nothing_at = version
            return done
        if self._hold(len(runs), more_coming):
            return done
        # A token's commit names its newest ready generation; the reorg check on it covers the
        # generations below it too (their events are in the same or earlier blocks).
        batch = self._canonical([run[-1] for run in runs])
        if not batch:
            return done
        w3 = self.canvas.w3
        while True:
            try:
                tx = transactions.build(w3, self.account, self._call(batch), min_nonce=self._min_nonce())
                break
            except transactions.TransactionFailed as exc:
                # A generation the chain already holds (a lost receipt, a rebuilt store) reverts the
                # whole batch: settle those from the chain, then try the rest again.
                still_open = [job for job in batch if not self.settle_from_chain(job)]
                done += len(batch) - len(still_open)
                if len(still_open) == len(batch):
                    for job in batch:
                        self.store.record_error(job, str(exc))
                    log.error("commit of %d render(s) would fail: %s", len(batch), exc)
                if len(still_open) in (0, len(batch)):
                    return done
                batch = still_open
        sent_at = time.time()
        # Fsynced before the transaction leaves: a power cut must not forget a nonce in use.
        with self.store.transaction(durable=True):
            for job in batch:
                self.store.advance(job, "sent", commit_nonce=tx["nonce"], commit_max_fee=tx["maxFeePerGas"],
                                   commit_priority_fee=tx["maxPriorityFeePerGas"], commit_sent_at=sent_at)
        batch = [dataclasses.replace(job, state="sent") for job in batch]
        tx_hash = transactions.send(w3, self.account, tx)
        failpoint("after-send")
        with self.store.transaction():
            for job in batch:
                self.store.note(job, commit_tx=tx_hash)
        failpoint("before-receipt")
        try:
            receipt = transactions.wait(w3, tx_hash, timeout=self.receipt_timeout)
        except TimeExhausted:
            log.warning("no receipt yet for commit %s (nonce %d); checking again next pass", tx_hash, tx["nonce"])
            return done
        except transactions.TransactionFailed as exc:
            log.error("%s", exc)  # the next pass settles these jobs from the chain or sends them again
            return done
        covered = 0
        with self.store.transaction():
            for job in batch:
                covered += self.store.settle(job, "committed", commit_block=receipt["blockNumber"])
        log.info("committed %d render(s) in block %d (tx %s, %d gas)%s", len(batch), receipt["blockNumber"],
                 tx_hash, receipt["gasUsed"], f"; {covered} older generation(s) covered by them" if covered else "",
                 extra={"event": "committed", "tx": tx_hash, "renders": len(batch), "covered": covered,
                        "gas": receipt["gasUsed"]})
        return done + len(batch) + covered
