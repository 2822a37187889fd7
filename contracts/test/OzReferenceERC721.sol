// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

/// @title Gas baseline: a plain OpenZeppelin ERC-721
/// @notice For `chaos bench gas` only (never deployed by the scripts): the canvas's transfers are
/// measured beside this contract's `transferFrom`, in the same chain run.
contract OzReferenceERC721 is ERC721 {
    constructor() ERC721("OpenZeppelin reference", "OZREF") {}

    /// @notice Mint `tokenId` to `to` (anyone: a throwaway benchmark contract).
    function mint(address to, uint256 tokenId) external {
        _mint(to, tokenId);
    }
}
