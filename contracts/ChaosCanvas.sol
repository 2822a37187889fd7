// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Burnable} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721Burnable.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";
import {IRecolourable} from "./interfaces/IRecolourable.sol";

/// @title Chaos Canvas
/// @notice An evolving AI-art collection. The contract only keeps what must be
/// agreed on-chain: who owns a token, which generation it is at, and the IPFS
/// CID of its latest committed render (kept as its sha2-256 digest and codec;
/// the views rebuild the base32 string). Everything else (prompt, seed, the
/// entropy of each mutation) is emitted in events, from which the off-chain
/// renderer derives every image deterministically.
///
/// Invariants:
/// - `generationOf(id)` only ever grows, by exactly one per transfer, paid
///   mutation or re-colouring; mint starts it at 0 and burn deletes it.
/// - A commit is accepted only for a generation that exists
///   (`<= generationOf(id)`) and is newer than the last commit, so an old
///   render can never overwrite a newer one, while every generation may still
///   be committed in order (the chain then holds the whole history).
contract ChaosCanvas is ERC721, ERC721Burnable, ERC2981, IERC4906, AccessControl, IRecolourable {
    using Strings for uint256;

    /// @notice Role allowed to commit render CIDs.
    bytes32 public constant RENDERER_ROLE = keccak256("RENDERER_ROLE");
    /// @notice Role allowed to re-colour tokens (the colour pools contract).
    bytes32 public constant POOLS_ROLE = keccak256("POOLS_ROLE");
    /// @notice Upper bound of a prompt, in UTF-8 bytes.
    uint256 public constant MAX_PROMPT_BYTES = 280;
    /// @dev CIDv1, base32 ("b…"), sha2-256, raw or dag-pb codec: always 59 characters.
    uint256 private constant CID_LENGTH = 59;
    /// @dev Multicodecs of the two CID kinds accepted: raw (0x55, "bafkrei…") and dag-pb (0x70, "bafybei…").
    uint8 private constant CODEC_RAW = 0x55;
    uint8 private constant CODEC_DAG_PB = 0x70;
    /// @dev RFC 4648 base32, lower case: the value of a character is its index here.
    bytes32 private constant BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

    /// @notice Price of one mint, in wei.
    uint256 public immutable mintPrice;
    /// @notice Price of one paid mutation (a mutation without a transfer), in wei.
    uint256 public immutable mutationPrice;
    /// @notice Number of tokens that can ever be minted.
    uint256 public immutable maxSupply;

    /// @notice Number of tokens minted so far; token ids run from 1 to `totalMinted`.
    uint256 public totalMinted;

    /// @dev Packed in one slot: the only state a transfer writes beyond ERC-721's own.
    /// `codec` is the multicodec of the last committed CID (raw or dag-pb), 0 before the first commit.
    struct Generations {
        uint64 current;
        uint64 committed;
        uint8 codec;
    }

    mapping(uint256 tokenId => Generations) private _generations;
    /// @dev The sha2-256 digest of the last committed CID: with `Generations.codec` it is the whole CID.
    mapping(uint256 tokenId => bytes32) private _digests;

    /// @notice A token was minted; `seed` and `prompt` fix its first render.
    event Minted(uint256 indexed tokenId, address indexed minter, bytes32 seed, string prompt);
    /// @notice A token changed generation: the renderer redraws the 1% of pixels chosen by `entropy`.
    event Mutated(uint256 indexed tokenId, uint64 indexed generation, bytes32 entropy, address from, address to);
    /// @notice A token's palette changed (pigment bought or sold for it): `generation` is a
    /// re-colouring, to be re-rendered with the palette and pool state of its block; no pixel mask.
    event Recoloured(uint256 indexed tokenId, uint64 indexed generation);
    /// @notice The renderer committed the metadata CID of `generation`.
    event RenderCommitted(uint256 indexed tokenId, uint64 indexed generation, string cid);
    /// @notice Proceeds were withdrawn.
    event Withdrawn(address indexed to, uint256 amount);

    error EmptyPrompt();
    error PromptTooLong(uint256 length, uint256 maxLength);
    error WrongPayment(uint256 sent, uint256 price);
    error SupplyExhausted(uint256 maxSupply);
    error NotTokenOwner(uint256 tokenId, address caller);
    error StaleGeneration(uint256 tokenId, uint64 generation, uint64 lastCommitted);
    error FutureGeneration(uint256 tokenId, uint64 generation, uint64 current);
    error MalformedCid(string cid);
    error WithdrawFailed(address to, uint256 amount);
    error ZeroAddress();

    /// @param admin Holder of the admin role and default royalty receiver.
    /// @param renderer First holder of the renderer role (may be the zero address to grant later).
    /// @param mintPrice_ Price of a mint, in wei.
    /// @param mutationPrice_ Price of a paid mutation, in wei.
    /// @param maxSupply_ Supply cap.
    /// @param royaltyBps ERC-2981 royalty in basis points, paid to `admin`.
    constructor(
        address admin,
        address renderer,
        uint256 mintPrice_,
        uint256 mutationPrice_,
        uint256 maxSupply_,
        uint96 royaltyBps
    ) ERC721("Chaos Canvas", "CHAOS") {
        if (admin == address(0)) revert ZeroAddress();
        mintPrice = mintPrice_;
        mutationPrice = mutationPrice_;
        maxSupply = maxSupply_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (renderer != address(0)) _grantRole(RENDERER_ROLE, renderer);
        _setDefaultRoyalty(admin, royaltyBps);
    }

    // ------------------------------------------------------------------ mint

    /// @notice Mint a new artwork from `prompt`, paying exactly `mintPrice`.
    /// @dev The seed mixes `block.prevrandao` with the minter, the token id and
    /// the prompt: the minter's address "collapses" the palette, so one prompt
    /// minted by two wallets gives two colourings.
    /// @return tokenId The new token's id.
    function mint(string calldata prompt) external payable returns (uint256 tokenId) {
        uint256 length = bytes(prompt).length;
        if (length == 0) revert EmptyPrompt();
        if (length > MAX_PROMPT_BYTES) revert PromptTooLong(length, MAX_PROMPT_BYTES);
        if (msg.value != mintPrice) revert WrongPayment(msg.value, mintPrice);
        tokenId = totalMinted + 1;
        if (tokenId > maxSupply) revert SupplyExhausted(maxSupply);
        totalMinted = tokenId;

        bytes32 seed = keccak256(abi.encode(block.prevrandao, msg.sender, tokenId, prompt));
        _safeMint(msg.sender, tokenId);
        emit Minted(tokenId, msg.sender, seed, prompt);
    }

    // -------------------------------------------------------------- mutation

    /// @notice Mutate your token without transferring it, paying exactly `mutationPrice`.
    function mutate(uint256 tokenId) external payable {
        address owner = _requireOwned(tokenId);
        if (owner != msg.sender) revert NotTokenOwner(tokenId, msg.sender);
        if (msg.value != mutationPrice) revert WrongPayment(msg.value, mutationPrice);
        _mutate(tokenId, owner, owner);
    }

    /// @dev The single hook every mint, transfer and burn passes through:
    /// a transfer (neither side zero) is a mutation; a burn forgets the token.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = super._update(to, tokenId, auth);
        if (from != address(0) && to != address(0)) {
            _mutate(tokenId, from, to);
        } else if (to == address(0)) {
            delete _generations[tokenId];
            delete _digests[tokenId];
        }
    }

    /// @notice Start a re-colouring generation of `tokenId` (pools role only): the colour
    /// pools call this when pigment is bought or sold for the token.
    /// @dev Bumps the generation like a mutation, so the stale-commit rule holds
    /// for re-colourings too, but carries no entropy: no pixel is re-drawn by mask.
    /// @return owner The token's owner (the pools check it for sells).
    function recolour(uint256 tokenId) external onlyRole(POOLS_ROLE) returns (address owner) {
        owner = _requireOwned(tokenId);
        uint64 generation = ++_generations[tokenId].current;
        emit Recoloured(tokenId, generation);
    }

    function _mutate(uint256 tokenId, address from, address to) private {
        uint64 generation = ++_generations[tokenId].current;
        bytes32 entropy = keccak256(abi.encode(block.prevrandao, tokenId, generation, from, to));
        emit Mutated(tokenId, generation, entropy, from, to);
    }

    // ---------------------------------------------------------------- commit

    /// @notice One render commit: the metadata CID of `generation` of `tokenId`.
    struct RenderCommit {
        uint256 tokenId;
        uint64 generation;
        string cid;
    }

    /// @notice Commit the metadata CID of a token's generation (renderer only).
    /// @dev Reverts for an unknown or burnt token, a generation that does not
    /// exist yet, one not newer than the last commit, or a malformed CID.
    function commit(uint256 tokenId, uint64 generation, string calldata cid) external onlyRole(RENDERER_ROLE) {
        _commit(tokenId, generation, cid);
    }

    /// @notice Commit many renders in one transaction (renderer only). All or nothing;
    /// several generations of one token must come in increasing order.
    function commitBatch(RenderCommit[] calldata commits) external onlyRole(RENDERER_ROLE) {
        for (uint256 i = 0; i < commits.length; ++i) {
            _commit(commits[i].tokenId, commits[i].generation, commits[i].cid);
        }
    }

    function _commit(uint256 tokenId, uint64 generation, string calldata cid) private {
        _requireOwned(tokenId);
        Generations memory g = _generations[tokenId];
        if (generation > g.current) revert FutureGeneration(tokenId, generation, g.current);
        if (g.codec != 0 && generation <= g.committed) revert StaleGeneration(tokenId, generation, g.committed);
        (uint8 codec, bytes32 digest) = _decodeCid(bytes(cid));
        if (codec == 0) revert MalformedCid(cid);

        _generations[tokenId] = Generations({current: g.current, committed: generation, codec: codec});
        _digests[tokenId] = digest;
        emit RenderCommitted(tokenId, generation, cid);
        emit MetadataUpdate(tokenId);
    }

    /// @dev Validates and decodes a CIDv1 in base32 with a sha2-256 multihash:
    /// "bafkrei…" (raw) or "bafybei…" (dag-pb), 59 characters of the RFC 4648
    /// lower-case alphabet. Exactly the canonical encodings of
    /// 0x01 {0x55|0x70} 0x12 0x20 <32 bytes> are accepted: the prefix fixes the
    /// first 30 bits, character 7 holds the last 2 bits of 0x20 (zero) and 3
    /// digest bits, characters 8..57 hold 250 digest bits, and the last
    /// character 3 digest bits and 2 zero padding bits.
    /// @return codec 0x55 or 0x70, or 0 when `cid` is malformed.
    /// @return digest The sha2-256 digest the CID names.
    function _decodeCid(bytes calldata cid) private pure returns (uint8 codec, bytes32 digest) {
        if (cid.length != CID_LENGTH) return (0, 0);
        bytes7 prefix = bytes7(cid[:7]);
        if (prefix == "bafkrei") codec = CODEC_RAW;
        else if (prefix == "bafybei") codec = CODEC_DAG_PB;
        else return (0, 0);
        uint256 acc = uint8(cid[7]);
        if (acc < 0x61 || acc > 0x68) return (0, 0); // a..h: value < 8, the two bits of 0x20 are zero
        acc -= 0x61;
        bool bad;
        // Characters 8..57, five digest bits each (3 + 50 * 5 = 253 bits). In assembly because
        // it is the hot loop of every commit: ~140 gas a character instead of ~270.
        assembly ("memory-safe") {
            for { let i := 8 } lt(i, 58) { i := add(i, 1) } {
                let c := byte(0, calldataload(add(cid.offset, i)))
                let value := sub(c, 0x61) // a..z: 0..25 (wraps to a huge number below 'a')
                if gt(value, 25) {
                    value := sub(c, 0x18) // 2..7: 26..31
                    if or(lt(value, 26), gt(value, 31)) { bad := 1 }
                }
                acc := or(shl(5, acc), value)
            }
        }
        if (bad) return (0, 0);
        // The last character: 3 more digest bits, then 2 padding bits that must be zero.
        uint256 last = uint8(cid[CID_LENGTH - 1]);
        if (last >= 0x61 && last <= 0x7a) last -= 0x61;
        else if (last >= 0x32 && last <= 0x37) last -= 0x18;
        else return (0, 0);
        if (last & 3 != 0) return (0, 0);
        acc = (acc << 3) | (last >> 2);
        digest = bytes32(acc);
    }

    /// @dev Inverse of `_decodeCid`: the canonical 59-character base32 string.
    function _encodeCid(uint8 codec, bytes32 digest) private pure returns (string memory) {
        bytes memory out = new bytes(CID_LENGTH);
        bytes7 prefix = codec == CODEC_RAW ? bytes7("bafkrei") : bytes7("bafybei");
        uint256 d = uint256(digest);
        assembly ("memory-safe") {
            mstore(add(out, 32), prefix)
        }
        unchecked {
            out[CID_LENGTH - 1] = BASE32_ALPHABET[(d & 7) << 2];
            d >>= 3;
            for (uint256 i = CID_LENGTH - 2; i > 7; --i) {
                out[i] = BASE32_ALPHABET[d & 31];
                d >>= 5;
            }
            out[7] = BASE32_ALPHABET[d]; // the top 3 digest bits
        }
        return string(out);
    }

    // ----------------------------------------------------------------- views

    /// @notice The generation a token is at (0 right after mint).
    function generationOf(uint256 tokenId) external view returns (uint64) {
        _requireOwned(tokenId);
        return _generations[tokenId].current;
    }

    /// @notice The last committed generation and its CID; `exists` is false before the first commit.
    function lastCommit(uint256 tokenId) external view returns (bool exists, uint64 generation, string memory cid) {
        _requireOwned(tokenId);
        Generations memory g = _generations[tokenId];
        if (g.codec == 0) return (false, 0, "");
        return (true, g.committed, _encodeCid(g.codec, _digests[tokenId]));
    }

    /// @notice `ipfs://<cid>` of the latest committed metadata. Before the first
    /// commit: a placeholder `data:application/json;base64,<JSON>` naming the
    /// token and saying it awaits its first render (never an empty string).
    /// Base64 keeps the JSON's "#" from being read as a URL fragment.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        Generations memory g = _generations[tokenId];
        if (g.codec != 0) return string.concat("ipfs://", _encodeCid(g.codec, _digests[tokenId]));
        bytes memory json = abi.encodePacked(
            '{"name":"Chaos Canvas #',
            tokenId.toString(),
            '","description":"Awaiting its first render.","attributes":[{"trait_type":"Status","value":"Unrendered"}]}'
        );
        return string.concat("data:application/json;base64,", Base64.encode(json));
    }

    // ----------------------------------------------------------------- admin

    /// @notice Send all proceeds to `to` (admin only).
    function withdraw(address payable to) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (to == address(0)) revert ZeroAddress();
        uint256 amount = address(this).balance;
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert WithdrawFailed(to, amount);
        emit Withdrawn(to, amount);
    }

    /// @notice Change the ERC-2981 default royalty (admin only).
    function setDefaultRoyalty(address receiver, uint96 royaltyBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setDefaultRoyalty(receiver, royaltyBps);
    }

    /// @inheritdoc ERC721
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721, ERC2981, AccessControl, IERC165)
        returns (bool)
    {
        return interfaceId == bytes4(0x49064906) || super.supportsInterface(interfaceId);
    }
}
