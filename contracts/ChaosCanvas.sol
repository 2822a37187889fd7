// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC721} from "solady/src/tokens/ERC721.sol";
import {EIP712} from "solady/src/utils/EIP712.sol";
import {ECDSA} from "solady/src/utils/ECDSA.sol";
import {SignatureCheckerLib} from "solady/src/utils/SignatureCheckerLib.sol";
import {ERC721Utils} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Utils.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";
import {IRecolourable} from "./interfaces/IRecolourable.sol";
import {IPigmentSettlement} from "./interfaces/IPigmentSettlement.sol";

/// @title Chaos Canvas
/// @notice An evolving AI-art collection. The contract only keeps what must be
/// agreed on-chain: who owns a token, which generation it is at, and the
/// sha2-256 digest of its latest committed metadata (the views rebuild its
/// CIDv1 from it). Everything else (prompt, seed, the entropy of each
/// mutation) is emitted in events, from which the off-chain renderer derives
/// every image deterministically.
///
/// Storage: ERC-721 ownership is Solady's, whose per-token slot packs the owner
/// with 96 bits of extra data. Those bits hold the token's generation state, so a
/// transfer writes the generation into the slot it writes anyway:
///   bits  0..31  generation (0 at mint)
///   bits 32..63  last committed generation + 1 (0: never committed)
///   bits 64..95  block number (mod 2**32) of the token's last draw (mint or bump)
/// A commit writes that slot and the token's digest slot; nothing else.
///
/// Metadata CIDs are always CIDv1, raw codec (0x55), sha2-256: the renderer
/// pins the metadata JSON as one raw block, so the digest alone names it.
///
/// Invariants:
/// - `generationOf(id)` only ever grows, by exactly one per draw: a transfer to
///   another account, a paid mutation or a re-colouring, at most one draw per
///   token per block (a second transfer or re-colouring in the same block moves
///   the token or its pigment but draws nothing). A transfer to oneself draws
///   nothing. Mint starts it at 0.
/// - A commit is accepted only for a generation that exists (`<= generationOf(id)`)
///   and is newer than the last commit, so an old render can never overwrite a
///   newer one.
/// - Every accepted commit is logged exactly once, in the order applied: by a
///   `RenderCommitted` from `commit`, or by its 48-byte record in the single
///   `BatchRenderCommitted` of its `commitBatch` (a skipped burnt token only by
///   `CommitSkipped`, never in the records).
/// - A burnt token leaves no digest, and its pigment is settled with the pools in
///   the same transaction.
/// - An observation or a reveal is a draw like any other (one per token per block).
///   An `Observe` signature names the generation it was signed at, and the observation
///   moves the token past it, so each signature is used at most once.
/// - A token holds at most one pending sealed layer; once revealed, its commitment,
///   unlock time and `revealed` flag stay readable and a new layer may be sealed.
contract ChaosCanvas is ERC721, EIP712, ERC2981, AccessControl, IRecolourable {
    using Strings for uint256;

    /// @notice Role allowed to commit render digests.
    bytes32 public constant RENDERER_ROLE = keccak256("RENDERER_ROLE");
    /// @notice Role allowed to re-colour tokens (the colour pools contract).
    bytes32 public constant POOLS_ROLE = keccak256("POOLS_ROLE");
    /// @notice Upper bound of a prompt, in UTF-8 bytes.
    uint256 public constant MAX_PROMPT_BYTES = 280;
    /// @notice Size of one record of `commitBatch`'s packed calldata, in bytes.
    uint256 public constant BATCH_RECORD_BYTES = 48;
    /// @dev ERC-4906 (metadata update events) interface id, as the EIP defines it.
    bytes4 private constant ERC4906_INTERFACE_ID = bytes4(0x49064906);
    /// @dev "bafkrei": multibase "b" + the base32 of 0x01 0x55 0x12 0x20 (CIDv1, raw, sha2-256, 32 bytes).
    bytes7 private constant RAW_CID_PREFIX = "bafkrei";
    /// @dev A CIDv1 raw sha2-256 in base32: 7 prefix characters + 52 for the digest.
    uint256 private constant CID_LENGTH = 59;
    /// @dev RFC 4648 base32, lower case: the value of a character is its index here.
    bytes32 private constant BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";
    uint256 private constant U32 = 0xffffffff;
    /// @dev EIP-712 type hash of `Observe(uint256 tokenId,uint64 generation)` (private: one selector
    /// fewer in the dispatcher keeps transfers and commits at their gas).
    bytes32 private constant OBSERVE_TYPEHASH = keccak256("Observe(uint256 tokenId,uint64 generation)");
    /// @dev Solady 0.1.26's `_ERC721_MASTER_SLOT_SEED` (private there): the hot paths below find a
    /// token's ownership slot themselves, to read and write it once. The package is pinned exactly;
    /// tests/contracts/test_transfer.py::test_burn_forgets_the_digest pins the layout.
    uint256 private constant _SOLADY_SEED = 0x7d8825530a5a2e7a000000000000000000000000000000000000000000000000;
    uint256 private constant _ADDRESS_MASK = (1 << 160) - 1;
    /// @dev `_commit` outcomes.
    uint256 private constant _COMMITTED = 0;
    uint256 private constant _NO_TOKEN = 1;
    uint256 private constant _FUTURE = 2;
    uint256 private constant _STALE = 3;

    /// @notice Price of one mint, in wei.
    uint256 public immutable mintPrice;
    /// @notice Price of one paid mutation (a mutation without a transfer), in wei.
    uint256 public immutable mutationPrice;
    /// @notice Number of tokens that can ever be minted.
    uint256 public immutable maxSupply;

    /// @notice Number of tokens minted so far; token ids run from 1 to `totalMinted`.
    uint256 public totalMinted;
    /// @notice The colour pools settled with when a token is burnt: the last account
    /// granted POOLS_ROLE (zero when none holds it).
    address public pools;

    /// @dev The sha2-256 digest of each token's last committed metadata (its CIDv1 raw).
    mapping(uint256 tokenId => bytes32) private _digests;

    /// @dev A sealed, time-locked layer: `commitment = keccak256(abi.encode(layerPrompt, salt))`.
    struct SealedLayer {
        bytes32 commitment;
        uint64 unlockAt;
        bool revealed;
    }

    mapping(uint256 tokenId => SealedLayer) private _seals;
    /// @dev ERC-7572 collection metadata URI set by the admin; empty: built from the defaults.
    string private _contractURI;

    /// @notice A token was minted; `seed` and `prompt` fix its first render.
    event Minted(uint256 indexed tokenId, address indexed minter, bytes32 seed, string prompt);
    /// @notice A token changed generation: the renderer redraws the 1% of pixels chosen by `entropy`.
    event Mutated(uint256 indexed tokenId, uint64 indexed generation, bytes32 entropy, address from, address to);
    /// @notice A token's palette changed (pigment bought or sold for it): `generation` is a
    /// re-colouring, to be re-rendered with the palette and pool state of its block; no pixel mask.
    event Recoloured(uint256 indexed tokenId, uint64 indexed generation);
    /// @notice The renderer committed the metadata of `generation`: `digest` is the sha2-256 of
    /// the metadata JSON, whose CIDv1 (raw) is `tokenURI`'s.
    event RenderCommitted(uint256 indexed tokenId, uint64 indexed generation, bytes32 digest);
    /// @notice `commitBatch` committed these renders: `records` are the committed records of its
    /// calldata, in calldata order, each 48 bytes with the same packing (uint64 tokenId |
    /// uint64 generation | bytes32 digest, big-endian, no padding); a skipped burnt token is not
    /// among them. Each record means what a `RenderCommitted` would.
    /// @dev One event per batch instead of one `RenderCommitted` per token, as EIP-2309's
    /// `ConsecutiveTransfer` replaces N `Transfer`s: a per-token event naming the token in a
    /// topic and carrying its digest costs at least 1,381 gas (375 + 2 topics x 375 + 32 bytes
    /// x 8), where a 48-byte record appended to one log costs ~400. The price: a batch-committed
    /// token cannot be found by a token-id topic; readers decode the records of this event
    /// (ERC-4906's `BatchMetadataUpdate`, emitted with it, still names the id range).
    event BatchRenderCommitted(bytes records);
    /// @notice A record of `commitBatch` named a burnt token: it was skipped.
    event CommitSkipped(uint256 indexed tokenId, uint64 generation);
    /// @notice ERC-4906: the metadata of `_tokenId` changed.
    event MetadataUpdate(uint256 _tokenId);
    /// @notice ERC-4906: the metadata of tokens `_fromTokenId` to `_toTokenId` (inclusive) may have changed.
    event BatchMetadataUpdate(uint256 _fromTokenId, uint256 _toTokenId);
    /// @notice The token's holder observed it (signature `Observe(tokenId, generation - 1)`):
    /// `generation` collapses its palette from `observer` mixed with `entropy`.
    event Observed(uint256 indexed tokenId, uint64 indexed generation, address observer, bytes32 entropy);
    /// @notice A secret layer was sealed for the token, revealable from `unlockAt` (unix seconds).
    event Sealed(uint256 indexed tokenId, bytes32 commitment, uint64 unlockAt);
    /// @notice A sealed layer was revealed: `generation` paints `layerPrompt` over a mask drawn from `entropy`.
    event Revealed(uint256 indexed tokenId, uint64 indexed generation, string layerPrompt, bytes32 entropy);
    /// @notice ERC-7572: the collection metadata (`contractURI`) changed.
    event ContractURIUpdated();
    /// @notice Proceeds were withdrawn.
    event Withdrawn(address indexed to, uint256 amount);

    error EmptyPrompt();
    error PromptTooLong(uint256 length, uint256 maxLength);
    error WrongPayment(uint256 sent, uint256 price);
    error SupplyExhausted(uint256 maxSupply);
    error NotTokenOwner(uint256 tokenId, address caller);
    /// @notice The token does not exist (never minted, or burnt).
    error ERC721NonexistentToken(uint256 tokenId);
    error StaleGeneration(uint256 tokenId, uint64 generation, uint64 lastCommitted);
    error FutureGeneration(uint256 tokenId, uint64 generation, uint64 current);
    /// @notice The token already drew a generation in this block (a paid mutation would buy nothing).
    error AlreadyDrawnThisBlock(uint256 tokenId, uint256 blockNumber);
    error GenerationOverflow(uint256 tokenId);
    /// @notice `commitBatch` calldata must be a non-empty run of 48-byte records.
    error MalformedBatch(uint256 length, uint256 recordBytes);
    error WithdrawFailed(address to, uint256 amount);
    error ZeroAddress();
    /// @notice The observation's signature is not the token owner's (`signer`: who it recovers to, or zero).
    error InvalidObservation(uint256 tokenId, address signer);
    /// @notice The observation was signed for another generation than the token's current one
    /// (already used, or the token moved on since).
    error StaleObservation(uint256 tokenId, uint64 signedGeneration, uint64 currentGeneration);
    /// @notice The token has a sealed layer that is not revealed yet.
    error AlreadySealed(uint256 tokenId, uint64 unlockAt);
    /// @notice A seal's unlock time must be later than the current block's timestamp.
    error UnlockNotInFuture(uint64 unlockAt, uint256 nowTimestamp);
    /// @notice A zero commitment would read as "no seal".
    error EmptyCommitment();
    /// @notice The token has no sealed layer.
    error NoSeal(uint256 tokenId);
    /// @notice The token's sealed layer was revealed already.
    error AlreadyRevealed(uint256 tokenId);
    /// @notice The sealed layer unlocks at `unlockAt`; the block's timestamp is `nowTimestamp`.
    error StillSealed(uint256 tokenId, uint64 unlockAt, uint256 nowTimestamp);
    /// @notice keccak256(abi.encode(layerPrompt, salt)) is not the sealed commitment.
    error WrongSecret(uint256 tokenId);

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
    ) {
        if (admin == address(0)) revert ZeroAddress();
        mintPrice = mintPrice_;
        mutationPrice = mutationPrice_;
        maxSupply = maxSupply_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (renderer != address(0)) _grantRole(RENDERER_ROLE, renderer);
        _setDefaultRoyalty(admin, royaltyBps);
    }

    /// @notice The collection's name.
    function name() public pure override returns (string memory) {
        return "Chaos Canvas";
    }

    /// @notice The collection's symbol.
    function symbol() public pure override returns (string memory) {
        return "CHAOS";
    }

    // ------------------------------------------------------------------ mint

    /// @notice Mint a new artwork from `prompt`, paying exactly `mintPrice`.
    /// @dev The seed mixes `block.prevrandao` with the minter, the token id and
    /// the prompt: the minter's address "collapses" the palette, so one prompt
    /// minted by two wallets gives two colourings. `Minted` is emitted before a
    /// contract minter's `onERC721Received` runs, so any event the callback causes
    /// comes after it; the mint is the token's draw for its block.
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
        _mintAndSetExtraDataUnchecked(msg.sender, tokenId, uint96((block.number & U32) << 64));
        emit Minted(tokenId, msg.sender, seed, prompt);
        ERC721Utils.checkOnERC721Received(msg.sender, address(0), msg.sender, tokenId, "");
    }

    // -------------------------------------------------------------- mutation

    /// @notice Mutate your token without transferring it, paying exactly `mutationPrice`.
    /// Reverts with `AlreadyDrawnThisBlock` when the token already drew a generation in this block.
    function mutate(uint256 tokenId) external payable {
        address owner = ownerOf(tokenId);
        if (owner != msg.sender) revert NotTokenOwner(tokenId, msg.sender);
        if (msg.value != mutationPrice) revert WrongPayment(msg.value, mutationPrice);
        (bool drawn, uint64 generation) = _draw(tokenId);
        if (!drawn) revert AlreadyDrawnThisBlock(tokenId, block.number);
        _emitMutated(tokenId, generation, owner, owner);
    }

    /// @notice Destroy your token (or one you may manage). Its pigment is settled first:
    /// the pools sell it back and pay the token's last owner.
    function burn(uint256 tokenId) external {
        address owner = ownerOf(tokenId);
        _burn(msg.sender, tokenId);
        address settlement = pools;
        // An account without code (a role granted to a wallet, as in tests) holds no pigment.
        if (settlement.code.length != 0) IPigmentSettlement(settlement).settle(tokenId, owner);
    }

    /// @dev Solady calls this after every mint, transfer and burn. A transfer between two
    /// accounts is a mutation (unless the token already drew in this block); a burn forgets
    /// the token's digest.
    function _afterTokenTransfer(address from, address to, uint256 tokenId) internal override {
        if (from == address(0)) return; // mint: its extra data was set with the owner
        if (to == address(0)) {
            delete _digests[tokenId];
            return;
        }
        if (from == to) return; // a transfer to oneself is not a mutation: `mutate` is paid for
        (bool drawn, uint64 generation) = _draw(tokenId);
        if (drawn) _emitMutated(tokenId, generation, from, to);
    }

    /// @notice Start a re-colouring generation of `tokenId` (pools role only): the colour
    /// pools call this when pigment is bought or sold for the token.
    /// @dev Draws like a mutation (at most once per block; a second call in a block draws
    /// nothing and emits nothing), but carries no entropy: no pixel is re-drawn by mask.
    /// @return owner The token's owner (the pools check it for sells).
    function recolour(uint256 tokenId) external onlyRole(POOLS_ROLE) returns (address owner) {
        owner = ownerOf(tokenId);
        (bool drawn, uint64 generation) = _draw(tokenId);
        if (drawn) emit Recoloured(tokenId, generation);
    }

    /// @dev Move the token to its next generation unless it already drew one in this block.
    function _draw(uint256 tokenId) private returns (bool drawn, uint64 generation) {
        uint256 slot = _ownershipSlot(tokenId);
        uint256 packed;
        assembly ("memory-safe") {
            packed := sload(slot)
        }
        uint256 extra = packed >> 160;
        generation = uint64(extra & U32);
        uint256 stamp = block.number & U32;
        if ((extra >> 64) == stamp) return (false, generation);
        if (generation == U32 - 1) revert GenerationOverflow(tokenId); // keeps committed + 1 in 32 bits
        // Unchecked: generation < 2**32 - 1 (checked above), and every field stays in its 32 bits.
        unchecked {
            ++generation;
            packed = (packed & (_ADDRESS_MASK | (U32 << 192))) | (stamp << 224) | (uint256(generation) << 160);
        }
        assembly ("memory-safe") {
            sstore(slot, packed)
        }
        return (true, generation);
    }

    /// @dev Solady's ownership slot of `tokenId`: owner in bits 0..159, extra data in 160..255.
    function _ownershipSlot(uint256 tokenId) private pure returns (uint256 slot) {
        assembly ("memory-safe") {
            mstore(0x00, tokenId)
            mstore(0x1c, _SOLADY_SEED)
            slot := add(tokenId, add(tokenId, keccak256(0x00, 0x20)))
        }
    }

    function _emitMutated(uint256 tokenId, uint64 generation, address from, address to) private {
        bytes32 entropy = keccak256(abi.encode(block.prevrandao, tokenId, generation, from, to));
        emit Mutated(tokenId, generation, entropy, from, to);
    }

    // ------------------------------------------------------------- observer

    /// @notice Record an observation of `tokenId` by its owner and start an "observation"
    /// generation. Anyone may submit it (gasless for the holder): the owner signs the EIP-712
    /// message `Observe(tokenId, generation)` for the token's current `generation`.
    /// @dev The signer must own the token now (an EOA by ECDSA, a contract wallet by ERC-1271).
    /// The observation draws the next generation, so a signature works once: a second use, or a
    /// use after any other draw (a transfer, a mutation), reverts `StaleObservation`. The render
    /// mixes the observer with `entropy`, which the chain fixes only in the observing block
    /// (prevrandao and the previous block's hash), so choosing an address cannot choose a palette.
    /// Reverts `AlreadyDrawnThisBlock` when the token already drew in this block.
    /// @param generation The generation the owner signed: the token's current one.
    /// @param signature 65-byte (r, s, v) or 64-byte EIP-2098 ECDSA signature, or an ERC-1271 one.
    function observe(uint256 tokenId, uint64 generation, bytes calldata signature) external {
        address owner = ownerOf(tokenId);
        uint64 current = uint64(_getExtraData(tokenId) & U32);
        if (generation != current) revert StaleObservation(tokenId, generation, current);
        bytes32 digest = observeDigest(tokenId, generation);
        if (!SignatureCheckerLib.isValidSignatureNowCalldata(owner, digest, signature)) {
            revert InvalidObservation(tokenId, ECDSA.tryRecoverCalldata(digest, signature));
        }
        (bool drawn, uint64 next) = _draw(tokenId);
        if (!drawn) revert AlreadyDrawnThisBlock(tokenId, block.number);
        bytes32 entropy = keccak256(abi.encode(block.prevrandao, blockhash(block.number - 1), tokenId, next, owner));
        emit Observed(tokenId, next, owner, entropy);
    }

    /// @notice The EIP-712 digest a holder signs to observe `tokenId` at `generation`.
    function observeDigest(uint256 tokenId, uint64 generation) public view returns (bytes32) {
        return _hashTypedData(keccak256(abi.encode(OBSERVE_TYPEHASH, tokenId, generation)));
    }

    /// @dev EIP-712 domain: name "Chaos Canvas", version "1", this chain and this contract.
    function _domainNameAndVersion() internal pure override returns (string memory, string memory) {
        return ("Chaos Canvas", "1");
    }

    // -------------------------------------------------------- sealed layers

    /// @notice Seal a secret layer for your token: `commitment = keccak256(abi.encode(string
    /// layerPrompt, bytes32 salt))`, revealable by anyone holding the secret from `unlockAt`
    /// (unix seconds, later than now). One pending layer per token.
    function seal(uint256 tokenId, bytes32 commitment, uint64 unlockAt) external {
        if (ownerOf(tokenId) != msg.sender) revert NotTokenOwner(tokenId, msg.sender);
        if (commitment == bytes32(0)) revert EmptyCommitment();
        if (unlockAt <= block.timestamp) revert UnlockNotInFuture(unlockAt, block.timestamp);
        SealedLayer storage layer = _seals[tokenId];
        if (layer.commitment != bytes32(0) && !layer.revealed) revert AlreadySealed(tokenId, layer.unlockAt);
        _seals[tokenId] = SealedLayer(commitment, unlockAt, false);
        emit Sealed(tokenId, commitment, unlockAt);
    }

    /// @notice The token's sealed layer: its commitment (zero: none), unlock time and whether it was revealed.
    function sealOf(uint256 tokenId) external view returns (bytes32 commitment, uint64 unlockAt, bool revealed) {
        SealedLayer storage layer = _seals[tokenId];
        return (layer.commitment, layer.unlockAt, layer.revealed);
    }

    /// @notice Reveal the token's sealed layer (anyone holding the secret, from its unlock time)
    /// and start a "reveal" generation that paints `layerPrompt` into the picture.
    /// @dev `layerPrompt` is bounded like a mint prompt (1..MAX_PROMPT_BYTES bytes). The entropy
    /// (the reveal's mask) mixes prevrandao with the salt, unknown to the chain until now.
    /// Reverts `NoSeal`, `AlreadyRevealed`, `StillSealed`, `WrongSecret` or `AlreadyDrawnThisBlock`.
    function reveal(uint256 tokenId, string calldata layerPrompt, bytes32 salt) external {
        ownerOf(tokenId);
        SealedLayer storage layer = _seals[tokenId];
        bytes32 commitment = layer.commitment;
        if (commitment == bytes32(0)) revert NoSeal(tokenId);
        if (layer.revealed) revert AlreadyRevealed(tokenId);
        uint64 unlockAt = layer.unlockAt;
        if (block.timestamp < unlockAt) revert StillSealed(tokenId, unlockAt, block.timestamp);
        uint256 length = bytes(layerPrompt).length;
        if (length == 0) revert EmptyPrompt();
        if (length > MAX_PROMPT_BYTES) revert PromptTooLong(length, MAX_PROMPT_BYTES);
        if (keccak256(abi.encode(layerPrompt, salt)) != commitment) revert WrongSecret(tokenId);
        layer.revealed = true;
        (bool drawn, uint64 generation) = _draw(tokenId);
        if (!drawn) revert AlreadyDrawnThisBlock(tokenId, block.number);
        emit Revealed(tokenId, generation, layerPrompt, keccak256(abi.encode(block.prevrandao, tokenId, generation, salt)));
    }

    // ---------------------------------------------------------------- commit

    /// @notice Commit the metadata of a token's generation (renderer only): `digest` is the
    /// sha2-256 of the metadata JSON, pinned as one raw IPFS block (CIDv1, codec 0x55).
    /// @dev Reverts for an unknown or burnt token (`ERC721NonexistentToken`), a generation
    /// that does not exist yet (`FutureGeneration`) or one not newer than the last commit
    /// (`StaleGeneration`).
    function commit(uint256 tokenId, uint64 generation, bytes32 digest) external onlyRole(RENDERER_ROLE) {
        uint256 status = _commit(tokenId, generation, digest);
        if (status != _COMMITTED) _revertCommit(status, tokenId, generation);
        emit MetadataUpdate(tokenId);
    }

    /// @notice Commit many renders in one transaction (renderer only).
    /// @param packed Records of 48 bytes, back to back, no padding:
    ///   bytes  0..7   tokenId     (uint64, big-endian)
    ///   bytes  8..15  generation  (uint64, big-endian)
    ///   bytes 16..47  digest      (bytes32: sha2-256 of the metadata JSON)
    /// @dev Each record follows `commit`'s rules, except that a burnt token is skipped with
    /// `CommitSkipped` (it may have been burnt after the renderer sent the batch); a token
    /// that was never minted, a future or a stale generation reverts the whole batch.
    /// Several generations of one token must come in increasing order. The committed records
    /// are logged together in one `BatchRenderCommitted` (no per-token `RenderCommitted`), then
    /// one ERC-4906 `BatchMetadataUpdate` spans the lowest to the highest token id committed;
    /// a batch whose records were all skipped emits neither.
    function commitBatch(bytes calldata packed) external onlyRole(RENDERER_ROLE) {
        uint256 length = packed.length;
        if (length == 0 || length % BATCH_RECORD_BYTES != 0) revert MalformedBatch(length, BATCH_RECORD_BYTES);
        uint256 lowest = type(uint256).max;
        uint256 highest;
        uint256 status = _COMMITTED;
        uint256 failedId;
        uint256 failedGeneration;
        bytes32 batchTopic = BatchRenderCommitted.selector;
        bytes32 skippedTopic = CommitSkipped.selector;
        // `_commit`'s steps, record by record, in one loop: this is the renderer's hot path.
        assembly ("memory-safe") {
            // `BatchRenderCommitted`'s ABI-encoded data (offset, length, records), built past the
            // free memory pointer without moving it: it is only read by the log below.
            let out := mload(0x40)
            let cursor := add(out, 0x40)
            for {
                let offset := packed.offset
                let end := add(offset, length) // calldata offsets are far below 2**256
            } lt(offset, end) { offset := add(offset, BATCH_RECORD_BYTES) } {
                let head := calldataload(offset)
                let tokenId := shr(192, head)
                let generation := and(shr(128, head), 0xffffffffffffffff)
                mstore(0x00, tokenId)
                mstore(0x1c, _SOLADY_SEED)
                let slot := add(tokenId, add(tokenId, keccak256(0x00, 0x20)))
                let owned := sload(slot)
                if iszero(and(owned, _ADDRESS_MASK)) {
                    // Never minted: a renderer bug, revert. Burnt: it may have been burnt after the
                    // batch was sent, skip it.
                    if or(iszero(tokenId), gt(tokenId, sload(totalMinted.slot))) {
                        status := _NO_TOKEN
                        failedId := tokenId
                        break
                    }
                    mstore(0x00, generation)
                    log2(0x00, 0x20, skippedTopic, tokenId)
                    continue
                }
                if gt(generation, and(shr(160, owned), U32)) {
                    status := _FUTURE
                    failedId := tokenId
                    failedGeneration := generation
                    break
                }
                if lt(generation, and(shr(192, owned), U32)) {
                    status := _STALE
                    failedId := tokenId
                    failedGeneration := generation
                    break
                }
                // generation <= current < 2**32 - 1: generation + 1 fits its 32 bits.
                sstore(slot, or(and(owned, not(shl(192, U32))), shl(192, add(generation, 1))))
                let digest := calldataload(add(offset, 16))
                mstore(0x00, tokenId)
                mstore(0x20, _digests.slot)
                sstore(keccak256(0x00, 0x40), digest)
                calldatacopy(cursor, offset, BATCH_RECORD_BYTES)
                cursor := add(cursor, BATCH_RECORD_BYTES)
                if lt(tokenId, lowest) { lowest := tokenId }
                if gt(tokenId, highest) { highest := tokenId }
            }
            let size := sub(cursor, add(out, 0x40))
            if and(iszero(status), gt(size, 0)) {
                mstore(out, 0x20)
                mstore(add(out, 0x20), size)
                mstore(cursor, 0) // the ABI's zero padding after the last record
                log1(out, add(0x40, and(add(size, 31), not(31))), batchTopic)
            }
        }
        if (status != _COMMITTED) _revertCommit(status, failedId, failedGeneration);
        if (highest != 0) emit BatchMetadataUpdate(lowest, highest);
    }

    /// @dev One commit, reading and writing the ownership slot once; nothing is written unless it
    /// returns `_COMMITTED`.
    function _commit(uint256 tokenId, uint256 generation, bytes32 digest) private returns (uint256) {
        uint256 slot = _ownershipSlot(tokenId);
        uint256 packed;
        assembly ("memory-safe") {
            packed := sload(slot)
        }
        if (packed & _ADDRESS_MASK == 0) return _NO_TOKEN;
        if (generation > (packed >> 160) & U32) return _FUTURE;
        if (generation < (packed >> 192) & U32) return _STALE; // committed + 1; 0 before the first commit
        // Unchecked: generation <= current < 2**32 - 1, so generation + 1 fits its 32 bits.
        unchecked {
            packed = (packed & ~(U32 << 192)) | ((generation + 1) << 192);
        }
        bytes32 topic = RenderCommitted.selector;
        assembly ("memory-safe") {
            sstore(slot, packed)
            mstore(0x00, tokenId)
            mstore(0x20, _digests.slot)
            sstore(keccak256(0x00, 0x40), digest)
            mstore(0x00, digest)
            log3(0x00, 0x20, topic, tokenId, generation)
        }
        return _COMMITTED;
    }

    /// @dev The custom error of a failed `_commit`, with its values.
    function _revertCommit(uint256 status, uint256 tokenId, uint256 generation) private view {
        if (status == _NO_TOKEN) revert ERC721NonexistentToken(tokenId);
        uint256 extra = _getExtraData(tokenId);
        if (status == _FUTURE) revert FutureGeneration(tokenId, uint64(generation), uint64(extra & U32));
        revert StaleGeneration(tokenId, uint64(generation), uint64(((extra >> 32) & U32) - 1));
    }

    /// @dev The canonical base32 CIDv1 (raw, sha2-256) of `digest`: "bafkrei" + 52 characters.
    /// Bits of 0x01 0x55 0x12 0x20 || digest, 5 at a time: the prefix fixes the first 35 bits
    /// (the 7 prefix characters; the last carries the 2 low bits of 0x20, which are zero, and
    /// the top 3 digest bits go in character 7), characters 8..57 hold 250 digest bits, and
    /// the last character 3 digest bits and 2 zero padding bits.
    function _encodeCid(bytes32 digest) private pure returns (string memory) {
        bytes memory out = new bytes(CID_LENGTH);
        uint256 d = uint256(digest);
        bytes7 prefix = RAW_CID_PREFIX;
        assembly ("memory-safe") {
            mstore(add(out, 32), prefix)
        }
        // Unchecked: the index stays within [7, 58] and every shift is of an in-range value.
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

    /// @notice The owner of `tokenId`; reverts with `ERC721NonexistentToken` for a token that
    /// was never minted or was burnt.
    function ownerOf(uint256 tokenId) public view override returns (address owner) {
        owner = _ownerOf(tokenId);
        if (owner == address(0)) revert ERC721NonexistentToken(tokenId);
    }

    /// @notice The generation a token is at (0 right after mint).
    function generationOf(uint256 tokenId) external view returns (uint64) {
        ownerOf(tokenId);
        return uint64(_getExtraData(tokenId) & U32);
    }

    /// @notice The last committed generation and its CID; `exists` is false before the first commit.
    function lastCommit(uint256 tokenId) external view returns (bool exists, uint64 generation, string memory cid) {
        ownerOf(tokenId);
        uint256 committedPlusOne = (_getExtraData(tokenId) >> 32) & U32;
        if (committedPlusOne == 0) return (false, 0, "");
        return (true, uint64(committedPlusOne - 1), _encodeCid(_digests[tokenId]));
    }

    /// @notice `ipfs://<cid>` of the latest committed metadata. Before the first
    /// commit: a placeholder `data:application/json;base64,<JSON>` naming the
    /// token and saying it awaits its first render (never an empty string).
    /// Base64 keeps the JSON's "#" from being read as a URL fragment.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        ownerOf(tokenId);
        if ((_getExtraData(tokenId) >> 32) & U32 != 0) {
            return string.concat("ipfs://", _encodeCid(_digests[tokenId]));
        }
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

    /// @notice ERC-7572 collection metadata. Until the admin sets a URI: a
    /// `data:application/json;base64,` JSON with the collection's name, description and the
    /// default royalty (`seller_fee_basis_points`, `fee_recipient`), always current.
    function contractURI() external view returns (string memory) {
        if (bytes(_contractURI).length != 0) return _contractURI;
        (address receiver, uint256 bps) = royaltyInfo(0, 10_000);
        bytes memory json = abi.encodePacked(
            '{"name":"Chaos Canvas","description":"An evolving AI-art collection: every transfer redraws 1% of a '
            'token\'s pixels, holders collapse its colours by observing it, and sealed layers surface when they '
            'unlock.","seller_fee_basis_points":',
            bps.toString(),
            ',"fee_recipient":"',
            Strings.toChecksumHexString(receiver),
            '"}'
        );
        return string.concat("data:application/json;base64,", Base64.encode(json));
    }

    /// @notice Set the ERC-7572 collection metadata URI (admin only); an empty one restores the default.
    function setContractURI(string calldata uri) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _contractURI = uri;
        emit ContractURIUpdated();
    }

    /// @notice Change the ERC-2981 default royalty (admin only).
    function setDefaultRoyalty(address receiver, uint96 royaltyBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setDefaultRoyalty(receiver, royaltyBps);
    }

    /// @dev Granting POOLS_ROLE also makes that account the pools a burn settles with.
    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        granted = super._grantRole(role, account);
        if (granted && role == POOLS_ROLE) pools = account;
    }

    /// @dev Revoking the settling pools' POOLS_ROLE leaves burns with nothing to settle.
    function _revokeRole(bytes32 role, address account) internal override returns (bool revoked) {
        revoked = super._revokeRole(role, account);
        if (revoked && role == POOLS_ROLE && pools == account) pools = address(0);
    }

    /// @notice ERC-165: ERC-721, ERC-721 metadata, ERC-2981, ERC-4906, AccessControl, ERC-165.
    function supportsInterface(bytes4 interfaceId) public view override(ERC721, ERC2981, AccessControl) returns (bool) {
        return interfaceId == ERC4906_INTERFACE_ID || ERC721.supportsInterface(interfaceId)
            || super.supportsInterface(interfaceId);
    }
}
