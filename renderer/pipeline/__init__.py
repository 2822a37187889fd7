"""The renderer daemon as a line of stages: chain -> jobs -> render -> pin -> commit.

reader      confirmed log ranges from a cursor, and the reorg check (shared with the watchtower)
intake      the canvas's events (with their colour inputs) into the job store
dispatcher  which jobs are ready, in per-token order (decided in SQL)
worker      render and pin one job, on this process or on a Ray actor
committer   nonces, EIP-1559 fees, batching, coalescing, settlement
loop        one pass over the stages, and the daemon that repeats it

Nothing here imports Ray: only `renderer.pipeline.farm` does, and only `--workers`
or `--ray-address` loads it.
"""
