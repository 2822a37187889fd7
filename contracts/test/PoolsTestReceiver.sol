// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ColourPools} from "../ColourPools.sol";

/// @title Test double: a token owner that is a contract
/// @notice For the pool tests only (never deployed by the scripts). It sells its token's
/// pigment and, when paid, accepts, rejects, or tries to re-enter the pools.
contract PoolsTestReceiver {
    enum Mode {
        Accept,
        Reject,
        Reenter
    }

    ColourPools public immutable pools;
    Mode public mode;
    /// @notice Revert data of the last re-entry attempt (empty if none failed).
    bytes public reentryError;
    uint256 private _tokenId;
    uint256 private _hue;

    constructor(ColourPools pools_) {
        pools = pools_;
    }

    function setMode(Mode mode_) external {
        mode = mode_;
    }

    function sell(uint256 tokenId, uint256 hue, uint256 pigmentIn) external returns (uint256) {
        (_tokenId, _hue) = (tokenId, hue);
        return pools.sell(tokenId, hue, pigmentIn, 0, block.timestamp);
    }

    function withdrawCredit(address payable to) external {
        pools.withdrawCredit(to);
    }

    receive() external payable {
        if (mode == Mode.Reject) revert("PoolsTestReceiver: rejects ETH");
        if (mode == Mode.Reenter) {
            // The classic attack: sell again while the first sale pays out.
            try pools.sell(_tokenId, _hue, 1, 0, block.timestamp) {} catch (bytes memory err) {
                reentryError = err;
            }
        }
    }
}
