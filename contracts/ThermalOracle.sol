// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title Thermal oracle
/// @notice The renderer's forecast of its GPU's next collapse (the next Phoenix rebirth),
/// fitted off-chain from its telemetry history (`renderer/oracle.py` documents the model)
/// and posted here by the oracle role so that collectors can see it coming.
///
/// Rate limit: at most one post per `minInterval` seconds, enforced here rather than only by
/// the renderer, because the forecast is a public signal others act on: a leaked or buggy
/// oracle key cannot flood it. Whether a new forecast differs *meaningfully* from the last is
/// a judgement on the model's output, so the renderer decides that (and spares the gas).
///
/// Invariants:
/// - `postedAt` only grows, and consecutive posts are at least `minInterval` seconds apart.
/// - `latest()` is the last posted forecast, all zero before the first post.
contract ThermalOracle is AccessControl {
    /// @notice Role allowed to post forecasts (the renderer's key).
    bytes32 public constant ORACLE_ROLE = keccak256("ORACLE_ROLE");
    /// @notice Confidence is in basis points: 10 000 is certainty.
    uint16 public constant MAX_CONFIDENCE = 10_000;

    /// @notice The last forecast, packed in one slot beside its digest.
    /// `expectedAt` is the unix time of the forecast collapse, 0 when none is foreseen within
    /// the model's horizon; `confidence` is in basis points; `postedAt` is the post's block time.
    struct Forecast {
        uint64 expectedAt;
        uint16 confidence;
        uint64 postedAt;
        bytes32 sampleDigest;
    }

    /// @notice Minimum seconds between two posts.
    uint64 public minInterval;
    Forecast private _latest;

    /// @notice A new forecast: the next collapse at `expectedAt` (0: none foreseen) with
    /// `confidence` basis points; `sampleDigest` is keccak-256 of the telemetry samples fitted.
    event ThermalForecast(uint64 expectedAt, uint16 confidence, bytes32 sampleDigest);
    /// @notice The admin changed the minimum interval between posts.
    event MinIntervalChanged(uint64 minInterval);

    error TooSoon(uint64 now_, uint64 nextAllowedAt);
    error ConfidenceTooHigh(uint16 confidence, uint16 maxConfidence);
    error ForecastInThePast(uint64 expectedAt, uint64 now_);
    error ZeroAddress();

    /// @param admin Holder of the admin role (changes the interval, grants the oracle role).
    /// @param oracle First holder of the oracle role (may be the zero address to grant later).
    /// @param minInterval_ Minimum seconds between two posts.
    constructor(address admin, address oracle, uint64 minInterval_) {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (oracle != address(0)) _grantRole(ORACLE_ROLE, oracle);
        minInterval = minInterval_;
        emit MinIntervalChanged(minInterval_);
    }

    /// @notice Post a forecast (oracle role only), at most once per `minInterval`.
    /// @param expectedAt Unix time of the forecast collapse; 0 when none is foreseen. A time
    /// already past is rejected: the renderer would be reporting, not forecasting.
    /// @param confidence Basis points, at most 10 000.
    /// @param sampleDigest keccak-256 of the telemetry samples the forecast was fitted on.
    function post(uint64 expectedAt, uint16 confidence, bytes32 sampleDigest) external onlyRole(ORACLE_ROLE) {
        uint64 now_ = uint64(block.timestamp);
        Forecast memory last = _latest;
        if (last.postedAt != 0 && now_ < last.postedAt + minInterval) {
            revert TooSoon(now_, last.postedAt + minInterval);
        }
        if (confidence > MAX_CONFIDENCE) revert ConfidenceTooHigh(confidence, MAX_CONFIDENCE);
        if (expectedAt != 0 && expectedAt < now_) revert ForecastInThePast(expectedAt, now_);
        _latest = Forecast(expectedAt, confidence, now_, sampleDigest);
        emit ThermalForecast(expectedAt, confidence, sampleDigest);
    }

    /// @notice The last forecast (all zero before the first post).
    function latest()
        external
        view
        returns (uint64 expectedAt, uint16 confidence, uint64 postedAt, bytes32 sampleDigest)
    {
        Forecast memory f = _latest;
        return (f.expectedAt, f.confidence, f.postedAt, f.sampleDigest);
    }

    /// @notice The earliest time the next post is accepted (0: now).
    function nextPostAt() external view returns (uint64) {
        uint64 postedAt = _latest.postedAt;
        return postedAt == 0 ? 0 : postedAt + minInterval;
    }

    /// @notice Change the minimum seconds between posts (admin only).
    function setMinInterval(uint64 minInterval_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        minInterval = minInterval_;
        emit MinIntervalChanged(minInterval_);
    }
}
