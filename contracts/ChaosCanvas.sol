// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Burnable} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721Burnable.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

/// @title Chaos Canvas
/// @notice An evolving AI-art collection. The contract only keeps what must be
/// agreed on-chain: who owns a token, which generation it is at, and the IPFS
/// CID of its latest committed render. Everything else (prompt, seed, the
/// entropy of each mutation) is emitted in events, from which the off-chain
/// renderer derives every image deterministically.
///
/// Invariants:
/// - `generationOf(id)` only ever grows, by exactly one per transfer or paid
///   mutation; mint starts it at 0 and burn deletes it.
/// - A commit is accepted only for a generation that exists
///   (`<= generationOf(id)`) and is newer than the last commit, so an old
///   render can never overwrite a newer one, while every generation may still
///   be committed in order (the chain then holds the whole history).
contract ChaosCanvas is ERC721, ERC721Burnable, ERC2981, IERC4906, AccessControl {
    using Strings for uint256;

    /// @notice Role allowed to commit render CIDs.
    bytes32 public constant RENDERER_ROLE = keccak256("RENDERER_ROLE");
    /// @notice Upper bound of a prompt, in UTF-8 bytes.
    uint256 public constant MAX_PROMPT_BYTES = 280;
    /// @dev CIDv1, base32 ("b…"), sha2-256, raw or dag-pb codec: always 59 characters.
    uint256 private constant CID_LENGTH = 59;

    /// @notice Price of one mint, in wei.
    uint256 public immutable mintPrice;
    /// @notice Price of one paid mutation (a mutation without a transfer), in wei.
    uint256 public immutable mutationPrice;
    /// @notice Number of tokens that can ever be minted.
    uint256 public immutable maxSupply;

    /// @notice Number of tokens minted so far; token ids run from 1 to `totalMinted`.
    uint256 public totalMinted;

    /// @dev Packed in one slot: the only state a transfer writes beyond ERC-721's own.
    struct Generations {
        uint64 current;
        uint64 committed;
        bool hasCommit;
    }

    mapping(uint256 tokenId => Generations) private _generations;
    mapping(uint256 tokenId => string) private _cids;

    /// @notice A token was minted; `seed` and `prompt` fix its first render.
    event Minted(uint256 indexed tokenId, address indexed minter, bytes32 seed, string prompt);
    /// @notice A token changed generation: the renderer redraws the 1% of pixels chosen by `entropy`.
    event Mutated(uint256 indexed tokenId, uint64 indexed generation, bytes32 entropy, address from, address to);
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
            delete _cids[tokenId];
        }
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
        if (g.hasCommit && generation <= g.committed) revert StaleGeneration(tokenId, generation, g.committed);
        if (!_isWellFormedCid(bytes(cid))) revert MalformedCid(cid);

        _generations[tokenId] = Generations({current: g.current, committed: generation, hasCommit: true});
        _cids[tokenId] = cid;
        emit RenderCommitted(tokenId, generation, cid);
        emit MetadataUpdate(tokenId);
    }

    /// @dev CIDv1 in base32 with a sha2-256 multihash: "bafkrei…" (raw) or
    /// "bafybei…" (dag-pb), 59 characters of the RFC 4648 lower-case alphabet.
    /// Exactly the canonical encodings of 0x01 {0x55|0x70} 0x12 0x20 <32 bytes>:
    /// the prefix fixes the first 30 bits, character 7 holds the last 2 bits of
    /// 0x20 (zero) and 3 digest bits, and the last character 3 digest bits and
    /// 2 zero padding bits.
    function _isWellFormedCid(bytes calldata cid) private pure returns (bool) {
        if (cid.length != CID_LENGTH) return false;
        bytes7 prefix = bytes7(cid[:7]);
        if (prefix != "bafkrei" && prefix != "bafybei") return false;
        if (cid[7] < "a" || cid[7] > "h") return false; // a..h: value < 8, top two bits zero
        for (uint256 i = 8; i < CID_LENGTH; ++i) {
            bytes1 c = cid[i];
            if (!((c >= "a" && c <= "z") || (c >= "2" && c <= "7"))) return false;
        }
        bytes1 last = cid[CID_LENGTH - 1];
        uint8 value = last >= "a" ? uint8(last) - 0x61 : uint8(last) - 0x32 + 26;
        return value % 4 == 0; // the two padding bits are zero
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
        return (g.hasCommit, g.committed, _cids[tokenId]);
    }

    /// @notice `ipfs://<cid>` of the latest committed metadata. Before the first
    /// commit: a `data:` JSON placeholder naming the token and saying it awaits
    /// its first render (never an empty string).
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        if (_generations[tokenId].hasCommit) return string.concat("ipfs://", _cids[tokenId]);
        return string.concat(
            'data:application/json;utf8,{"name":"Chaos Canvas #',
            tokenId.toString(),
            '","description":"Awaiting its first render.","attributes":[{"trait_type":"Status","value":"Unrendered"}]}'
        );
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
