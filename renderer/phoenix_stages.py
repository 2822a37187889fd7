"""The Phoenix economy's stages in the daemon, after the commit stage: each is a callable run once
per pass (renderer.pipeline.loop), returning how much it did.

    the Last Frame auction   CHAOS_AUCTION: open the auction of each settled rebirth's last frame
                             (renderer.phoenix_market.PhoenixMarket)
    the thermal oracle       CHAOS_ORACLE: forecast the next Phoenix event from telemetry and post it
                             when it changed (renderer.oracle.OracleReporter); its samples come from the
                             daemon's telemetry settings (--telemetry-replay, else NVML on --gpu-index)

Either runs only when its address is set and the renderer's key holds the contract's role there
(OPENER_ROLE, ORACLE_ROLE); otherwise the daemon logs why and renders as before.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from eth_account.signers.local import LocalAccount
from web3 import Web3

from .errors import ChaosError, SetupError

log = logging.getLogger("chaos.phoenix")


def _oracle_reporter(settings, w3: Web3, account: LocalAccount, address: str):
    from .oracle import OracleReporter, open_oracle
    from .telemetry import open_telemetry

    oracle = open_oracle(w3, address)
    if not oracle.functions.hasRole(oracle.functions.ORACLE_ROLE().call(), account.address).call():
        log.warning("oracle: %s lacks ORACLE_ROLE on %s: no forecasts will be posted", account.address, oracle.address)
        return None
    source = open_telemetry(settings.telemetry_replay, settings.gpu_index)
    return OracleReporter(w3, oracle, account, source, max_temperature_c=settings.max_temperature)


def phoenix_reports(settings, w3: Web3, account: LocalAccount, store) -> list[Callable[[], int]]:
    """The stages configured by CHAOS_AUCTION and CHAOS_ORACLE (either, both or none). A wrong
    address is a SetupError: the daemon stops at start rather than run without its market."""
    from .phoenix_market import open_market

    reports = []
    auction_address = getattr(settings, "auction", None) or os.environ.get("CHAOS_AUCTION")
    oracle_address = getattr(settings, "oracle", None) or os.environ.get("CHAOS_ORACLE")
    try:
        market = open_market(w3, account, store, auction_address) if auction_address else None
        reporter = _oracle_reporter(settings, w3, account, oracle_address) if oracle_address else None
    except SetupError:
        raise
    except ChaosError as exc:
        raise SetupError(f"{exc} (from CHAOS_AUCTION / CHAOS_ORACLE)") from None
    reports += [market.report_settled] if market is not None else []
    reports += [reporter.report] if reporter is not None else []
    return reports
