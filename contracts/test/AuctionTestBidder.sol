// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {LastFrameAuction} from "../LastFrameAuction.sol";

/// @title Test double: a bidder that is a contract and tries to re-enter when paid
/// @notice For the auction tests only (never deployed by the scripts). When the auction pays
/// it, `receive` calls `withdraw` again for the same commit and records what happened.
contract AuctionTestBidder {
    LastFrameAuction public immutable auction;
    /// @notice Times ETH arrived; whether a re-entry succeeded; the revert data of the last one that failed.
    uint256 public payments;
    bool public reentered;
    bytes public reentryError;
    uint256 private _auctionId;
    uint256 private _index;

    constructor(LastFrameAuction auction_) {
        auction = auction_;
    }

    function commit(uint256 auctionId, bytes32 commitment) external payable returns (uint256 index) {
        index = auction.commit{value: msg.value}(auctionId, commitment);
    }

    function reveal(uint256 auctionId, uint256 index, uint256 bid, bytes32 salt) external {
        auction.reveal(auctionId, index, bid, salt);
    }

    function withdraw(uint256 auctionId, uint256 index) external {
        (_auctionId, _index) = (auctionId, index);
        auction.withdraw(auctionId, index);
    }

    receive() external payable {
        ++payments;
        if (payments > 1) return;
        try auction.withdraw(_auctionId, _index) {
            reentered = true;
        } catch (bytes memory reason) {
            reentryError = reason;
        }
    }
}
