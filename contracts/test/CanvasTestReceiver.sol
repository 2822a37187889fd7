// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ChaosCanvas} from "../ChaosCanvas.sol";

/// @title Test double: a minter that is a contract and passes every token it receives on
/// @notice For the canvas tests only (never deployed by the scripts): its `onERC721Received`
/// transfers the token to `forwardTo` at once, the case where a receiver's events used to come
/// before the mint's own `Minted`.
contract CanvasTestReceiver {
    ChaosCanvas public immutable canvas;
    address public immutable forwardTo;

    constructor(ChaosCanvas canvas_, address forwardTo_) {
        canvas = canvas_;
        forwardTo = forwardTo_;
    }

    function mint(string calldata prompt) external payable returns (uint256) {
        return canvas.mint{value: msg.value}(prompt);
    }

    function onERC721Received(address, address, uint256 tokenId, bytes calldata) external returns (bytes4) {
        canvas.transferFrom(address(this), forwardTo, tokenId);
        return this.onERC721Received.selector;
    }
}
