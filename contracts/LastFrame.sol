// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";

/// @title Last Frame
/// @notice ERC-721 of "last frames": the generation of a Chaos Canvas token shown just
/// before a Phoenix rebirth (a render the struggling GPU had to degrade). Each frame is
/// described when its auction opens and minted only by the auction (`LastFrameAuction`), to
/// the winner, or to the canvas token's holder when nobody bid. Frame id = auction id.
///
/// Metadata is built on-chain: a `data:application/json;base64,` URI whose `image` is the
/// frame generation's image (`ipfs://<imageCid>`) and whose attributes name the canvas token,
/// the frame's generation, the Phoenix generation that ended it and the frame generation's
/// metadata CID (its provenance: parent links, entropy, telemetry).
///
/// Invariants:
/// - Only the auction, set once by the admin, describes and mints frames; a frame is
///   described once, minted at most once, and only after it was described.
/// - `frame(id).phoenixGeneration > frame(id).generation` for every described frame.
contract LastFrame is ERC721, AccessControl {
    using Strings for uint256;

    /// @notice A CID is 1..MAX_CID_BYTES characters of [a-z0-9] (base32 or base36 multibase):
    /// the check that keeps the on-chain JSON well formed.
    uint256 public constant MAX_CID_BYTES = 100;

    /// @notice What a frame shows. Two slots of numbers, then the two CIDs.
    struct Frame {
        uint256 canvasTokenId;
        uint64 generation;
        uint64 phoenixGeneration;
        string metadataCid;
        string imageCid;
    }

    /// @notice The canvas the frames come from.
    address public immutable canvas;
    /// @notice The only contract that describes and mints frames (set once).
    address public auction;
    mapping(uint256 frameId => Frame) private _frames;

    /// @notice The admin set the auction that mints frames.
    event AuctionSet(address auction);
    /// @notice Frame `frameId` will show `generation` of canvas token `canvasTokenId`,
    /// ended by its Phoenix generation `phoenixGeneration`.
    event FrameDescribed(uint256 indexed frameId, uint256 indexed canvasTokenId, uint64 generation,
        uint64 phoenixGeneration, string metadataCid, string imageCid);

    error NotAuction(address caller, address auction);
    error AuctionAlreadySet(address auction);
    error FrameAlreadyDescribed(uint256 frameId);
    error FrameNotDescribed(uint256 frameId);
    error NotAPhoenixSuccessor(uint64 generation, uint64 phoenixGeneration);
    error InvalidCid(string cid);
    error ZeroAddress();

    /// @param admin Holder of the admin role (sets the auction once).
    /// @param canvas_ The Chaos Canvas contract the frames come from.
    constructor(address admin, address canvas_) ERC721("Chaos Canvas Last Frame", "CHAOSLF") {
        if (admin == address(0) || canvas_ == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        canvas = canvas_;
    }

    modifier onlyAuction() {
        if (msg.sender != auction) revert NotAuction(msg.sender, auction);
        _;
    }

    /// @notice Name the auction contract that may describe and mint frames (admin, once).
    function setAuction(address auction_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (auction_ == address(0)) revert ZeroAddress();
        if (auction != address(0)) revert AuctionAlreadySet(auction);
        auction = auction_;
        emit AuctionSet(auction_);
    }

    /// @notice Describe frame `frameId` (auction only), when its auction opens.
    /// @dev The CIDs are checked to [a-z0-9] so that `tokenURI`'s JSON needs no escaping.
    function describe(
        uint256 frameId,
        uint256 canvasTokenId,
        uint64 generation,
        uint64 phoenixGeneration,
        string calldata metadataCid,
        string calldata imageCid
    ) external onlyAuction {
        if (_frames[frameId].phoenixGeneration != 0) revert FrameAlreadyDescribed(frameId);
        if (phoenixGeneration <= generation) revert NotAPhoenixSuccessor(generation, phoenixGeneration);
        _checkCid(metadataCid);
        _checkCid(imageCid);
        _frames[frameId] = Frame(canvasTokenId, generation, phoenixGeneration, metadataCid, imageCid);
        emit FrameDescribed(frameId, canvasTokenId, generation, phoenixGeneration, metadataCid, imageCid);
    }

    /// @notice Mint described frame `frameId` to `to` (auction only, once).
    /// @dev `_mint`, not `_safeMint`: a recipient contract that refuses ERC-721s must not be
    /// able to block the auction's settlement (and no callback runs inside it).
    function mint(address to, uint256 frameId) external onlyAuction {
        if (_frames[frameId].phoenixGeneration == 0) revert FrameNotDescribed(frameId);
        _mint(to, frameId); // reverts ERC721InvalidSender on a second mint
    }

    /// @notice What frame `frameId` shows (described frames, minted or not).
    function frame(uint256 frameId) external view returns (Frame memory) {
        if (_frames[frameId].phoenixGeneration == 0) revert FrameNotDescribed(frameId);
        return _frames[frameId];
    }

    /// @notice On-chain JSON metadata of a minted frame (see the contract's notice).
    function tokenURI(uint256 frameId) public view override returns (string memory) {
        _requireOwned(frameId);
        Frame storage f = _frames[frameId];
        string memory token = f.canvasTokenId.toString();
        string memory generation = uint256(f.generation).toString();
        bytes memory json = abi.encodePacked(
            '{"name":"Last Frame of Chaos Canvas #', token, " (generation ", generation, ')",',
            '"description":"The frame shown just before a Phoenix rebirth: generation ', generation,
            " of Chaos Canvas #", token, ", ended by Phoenix generation ",
            uint256(f.phoenixGeneration).toString(), '.",',
            '"image":"ipfs://', f.imageCid, '","external_url":"ipfs://', f.metadataCid, '",'
        );
        json = abi.encodePacked(
            json,
            '"attributes":[{"trait_type":"Canvas token","value":', token, "},",
            '{"trait_type":"Generation","value":', generation, "},",
            '{"trait_type":"Phoenix generation","value":', uint256(f.phoenixGeneration).toString(), "},",
            '{"trait_type":"Provenance","value":"ipfs://', f.metadataCid, '"}]}'
        );
        return string.concat("data:application/json;base64,", Base64.encode(json));
    }

    function _checkCid(string calldata cid) private pure {
        bytes calldata b = bytes(cid);
        if (b.length == 0 || b.length > MAX_CID_BYTES) revert InvalidCid(cid);
        for (uint256 i = 0; i < b.length; ++i) {
            bytes1 c = b[i];
            if (!((c >= "a" && c <= "z") || (c >= "0" && c <= "9"))) revert InvalidCid(cid);
        }
    }

    /// @inheritdoc ERC721
    function supportsInterface(bytes4 interfaceId) public view override(ERC721, AccessControl) returns (bool) {
        return super.supportsInterface(interfaceId);
    }
}
