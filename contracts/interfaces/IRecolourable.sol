// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title The canvas as the colour pools see it
/// @notice A token whose palette changed asks for a re-render through this one call.
interface IRecolourable {
    /// @notice Start a new generation of `tokenId` whose only change is its palette.
    /// Reverts for a token that does not exist.
    /// @return owner The token's current owner.
    function recolour(uint256 tokenId) external returns (address owner);
}
