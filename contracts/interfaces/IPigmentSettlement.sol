// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title The colour pools as the canvas sees them when a token is burnt
/// @notice A burnt token must not leave pigment (and the ETH behind it) without a claimant.
interface IPigmentSettlement {
    /// @notice Sell back all of burnt token `tokenId`'s pigment at market and pay the ETH to
    /// `owner`, the token's last owner (the canvas only, after the burn).
    /// @return ethOut Wei paid or credited to `owner`.
    function settle(uint256 tokenId, address owner) external returns (uint256 ethOut);
}
