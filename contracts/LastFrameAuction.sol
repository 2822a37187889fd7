// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {LastFrame} from "./LastFrame.sol";

/// @title Last Frame auction
/// @notice A sealed-bid (commit–reveal) auction of each "last frame": the generation of a
/// Chaos Canvas token shown just before a Phoenix rebirth. The renderer opens an auction when
/// it commits the Phoenix generation (the collapse is a fact then, not a forecast), once per
/// (token, frame generation).
///
/// Life of an auction:
/// 1. Bidding (`open` .. `commitEnd`): a bidder deposits ETH (at least the reserve) and
///    commits `keccak256(abi.encode(bid, salt, bidder))`. The deposit may exceed the bid to
///    hide it. A bidder may commit several times; each commit is its own bid.
/// 2. Revealing (`commitEnd` .. `revealEnd`): each commit is revealed with (bid, salt).
///    A reveal with a bid above its deposit reverts (`BidAboveDeposit`): such a commit can
///    never be paid, so it stays unrevealed. A revealed bid below the reserve is refunded in
///    full but cannot win.
/// 3. Settling (from `revealEnd`, anyone, once): the highest revealed bid at or above the
///    reserve wins; ties go to the earliest commit. The winner pays its bid and receives the
///    Last Frame token. With no valid bid the frame goes to the canvas token's holder.
///    The winning bid is split: `holderBps` / 10 000 to the holder (a claim), the rest to the
///    treasury (proceeds).
/// 4. Withdrawing (after settling, pull payments, no loop over bidders): each commit's bidder
///    withdraws its deposit, less the winning bid for the winner, less `forfeitBps` / 10 000
///    of the deposit for a commit never revealed (that share goes to the treasury: it pays for
///    the information a bidder withheld). The holder `claim`s its share; the treasury's
///    proceeds are sent to it by `withdrawProceeds`.
///
/// "The holder" is the canvas token's owner when the auction opens: the collector whose
/// artwork collapsed. Fixing it then keeps settlement free of calls to the canvas (a token
/// burnt meanwhile cannot strand the auction) and keeps a transfer during the auction from
/// redirecting its proceeds.
///
/// Invariants (every external function keeps them; the stateful test checks them after each step):
/// - `totalDeposits == sum of deposits of commits not yet withdrawn` (a settled winner's
///   deposit already excludes its bid), and
///   `totalDeposits == address(this).balance - totalProceeds - totalClaims`
///   (the balance may only exceed this by ETH forced in without a call, e.g. selfdestruct).
/// - `totalClaims == sum of claimOf(a)` over all addresses.
/// - Each commit is withdrawn at most once, an auction settles at most once, and a frame
///   is minted exactly once, at settlement.
contract LastFrameAuction is AccessControl, ReentrancyGuard {
    /// @notice Role allowed to open auctions (the renderer's key).
    bytes32 public constant OPENER_ROLE = keccak256("OPENER_ROLE");
    uint16 public constant BPS = 10_000;

    /// @notice An auction. Four slots; windows and shares are copied from the parameters at
    /// opening, so later parameter changes never alter a running auction.
    struct Auction {
        uint256 canvasTokenId;
        address holder;
        uint40 commitEnd;
        uint40 revealEnd;
        uint16 holderBps;
        uint64 generation;
        uint64 phoenixGeneration;
        uint96 reserve;
        uint16 forfeitBps;
        bool settled;
        uint96 highestBid;
        uint32 leader; // 1 + index of the leading commit; 0 while there is none
        uint32 bidCount;
    }

    /// @notice One commit. `deposit` is what the bidder may still withdraw before forfeits
    /// (the winner's bid is taken out of it at settlement).
    struct Bid {
        address bidder;
        uint96 deposit;
        bytes32 commitment;
        uint96 amount;
        bool revealed;
        bool withdrawn;
    }

    /// @notice The canvas whose tokens' frames are sold.
    IERC721 public immutable canvas;
    /// @notice The Last Frame token contract this auction mints.
    LastFrame public immutable frames;

    /// @notice Receiver of the treasury's share and of forfeits.
    address public treasury;
    /// @notice Parameters of auctions opened from now on.
    uint32 public commitWindow;
    uint32 public revealWindow;
    uint96 public reserve;
    uint16 public holderBps;
    uint16 public forfeitBps;

    /// @notice Auctions are numbered from 1; the id is also the Last Frame's token id.
    uint256 public auctionCount;
    /// @notice ETH held for commits not yet withdrawn.
    uint256 public totalDeposits;
    /// @notice ETH owed to the treasury, not yet sent.
    uint256 public totalProceeds;
    /// @notice ETH owed to holders (their shares), not yet claimed.
    uint256 public totalClaims;

    mapping(uint256 auctionId => Auction) private _auctions;
    mapping(uint256 auctionId => mapping(uint256 index => Bid)) private _bids;
    /// @notice The auction of a frame: `auctionOf[canvasTokenId][generation]`, 0 when none.
    mapping(uint256 canvasTokenId => mapping(uint64 generation => uint256 auctionId)) public auctionOf;
    /// @notice ETH a holder may `claim`.
    mapping(address account => uint256) public claimOf;

    event AuctionOpened(uint256 indexed auctionId, uint256 indexed canvasTokenId, uint64 generation,
        uint64 phoenixGeneration, address holder, uint40 commitEnd, uint40 revealEnd, uint96 reserve);
    event BidCommitted(uint256 indexed auctionId, uint256 indexed index, address indexed bidder, uint96 deposit,
        bytes32 commitment);
    event BidRevealed(uint256 indexed auctionId, uint256 indexed index, address indexed bidder, uint96 amount,
        bool leading);
    /// @notice `winner` is the zero address when no valid bid came: the frame went to the holder.
    event AuctionSettled(uint256 indexed auctionId, address indexed winner, uint96 price, address holder,
        uint256 holderShare, uint256 treasuryShare);
    event DepositWithdrawn(uint256 indexed auctionId, uint256 indexed index, address indexed bidder,
        uint256 amount, uint256 forfeited);
    event Claimed(address indexed account, uint256 amount);
    event ProceedsSent(address indexed treasury, uint256 amount);
    event ParametersChanged(uint32 commitWindow, uint32 revealWindow, uint96 reserve, uint16 holderBps,
        uint16 forfeitBps, address treasury);

    error AuctionNotFound(uint256 auctionId);
    error AuctionExists(uint256 canvasTokenId, uint64 generation, uint256 auctionId);
    error BidNotFound(uint256 auctionId, uint256 index);
    error BiddingClosed(uint256 auctionId, uint256 now_, uint256 commitEnd);
    error RevealNotOpen(uint256 auctionId, uint256 now_, uint256 commitEnd);
    error RevealClosed(uint256 auctionId, uint256 now_, uint256 revealEnd);
    error SettleTooEarly(uint256 auctionId, uint256 now_, uint256 revealEnd);
    error AlreadySettled(uint256 auctionId);
    error NotSettled(uint256 auctionId);
    error DepositBelowReserve(uint256 deposit, uint256 reserve);
    error DepositTooLarge(uint256 deposit, uint256 maxDeposit);
    error CommitmentMismatch(uint256 auctionId, uint256 index);
    error BidAboveDeposit(uint256 bid, uint256 deposit);
    error AlreadyRevealed(uint256 auctionId, uint256 index);
    error AlreadyWithdrawn(uint256 auctionId, uint256 index);
    error NotBidder(address caller, address bidder);
    error NothingToPay(address account);
    error TransferFailed(address to, uint256 amount);
    error InvalidShare(uint256 bps, uint256 maxBps);
    error InvalidWindow(uint256 commitWindow, uint256 revealWindow);
    error ZeroAddress();

    /// @param admin Holder of the admin role (parameters, treasury, opener role).
    /// @param opener First holder of the opener role (the renderer; zero address to grant later).
    /// @param canvas_ The Chaos Canvas contract.
    /// @param frames_ The Last Frame contract (its admin must then `setAuction` to this contract).
    /// @param treasury_ Receiver of the treasury's share and of forfeits.
    /// @param commitWindow_ Seconds of bidding from the opening.
    /// @param revealWindow_ Seconds of revealing after bidding.
    /// @param reserve_ Lowest winning bid (and lowest deposit), in wei.
    /// @param holderBps_ Share of the winning bid credited to the holder, basis points.
    /// @param forfeitBps_ Share of an unrevealed commit's deposit kept for the treasury, basis points.
    constructor(
        address admin,
        address opener,
        IERC721 canvas_,
        LastFrame frames_,
        address treasury_,
        uint32 commitWindow_,
        uint32 revealWindow_,
        uint96 reserve_,
        uint16 holderBps_,
        uint16 forfeitBps_
    ) {
        if (admin == address(0) || address(canvas_) == address(0) || address(frames_) == address(0)) {
            revert ZeroAddress();
        }
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (opener != address(0)) _grantRole(OPENER_ROLE, opener);
        canvas = canvas_;
        frames = frames_;
        _setParameters(commitWindow_, revealWindow_, reserve_, holderBps_, forfeitBps_, treasury_);
    }

    // ------------------------------------------------------------------ open

    /// @notice Open the auction of the frame `generation` of `canvasTokenId`, ended by its
    /// Phoenix generation `phoenixGeneration` (opener role only; once per token and generation).
    /// @dev The opener (the renderer's key, which also commits every render) is trusted to report
    /// real rebirths: Phoenix is decided off-chain, where the GPU is, so the chain cannot check it.
    /// The rebirth's metadata (`provenance.phoenix`) is public on IPFS for anyone to audit.
    /// @param metadataCid CID of the frame generation's metadata (its provenance).
    /// @param imageCid CID of the frame generation's image.
    /// @return auctionId The new auction's id, also the Last Frame token's id.
    function open(
        uint256 canvasTokenId,
        uint64 generation,
        uint64 phoenixGeneration,
        string calldata metadataCid,
        string calldata imageCid
    ) external onlyRole(OPENER_ROLE) nonReentrant returns (uint256 auctionId) {
        auctionId = _open(canvasTokenId, generation, phoenixGeneration);
        frames.describe(auctionId, canvasTokenId, generation, phoenixGeneration, metadataCid, imageCid);
    }

    function _open(uint256 canvasTokenId, uint64 generation, uint64 phoenixGeneration)
        private
        returns (uint256 auctionId)
    {
        uint256 existing = auctionOf[canvasTokenId][generation];
        if (existing != 0) revert AuctionExists(canvasTokenId, generation, existing);
        address holder = canvas.ownerOf(canvasTokenId); // reverts for a token that does not exist
        auctionId = ++auctionCount;
        auctionOf[canvasTokenId][generation] = auctionId;
        uint40 commitEnd = uint40(block.timestamp) + commitWindow;
        Auction storage a = _auctions[auctionId];
        a.canvasTokenId = canvasTokenId;
        a.holder = holder;
        a.commitEnd = commitEnd;
        a.revealEnd = commitEnd + revealWindow;
        a.holderBps = holderBps;
        a.generation = generation;
        a.phoenixGeneration = phoenixGeneration;
        a.reserve = reserve;
        a.forfeitBps = forfeitBps;
        emit AuctionOpened(auctionId, canvasTokenId, generation, phoenixGeneration, holder, commitEnd, a.revealEnd,
            a.reserve);
    }

    // ---------------------------------------------------------------- commit

    /// @notice The commitment of `bid` with `salt` by `bidder`: keccak256(abi.encode(bid, salt, bidder)).
    function commitmentOf(uint256 bid, bytes32 salt, address bidder) public pure returns (bytes32) {
        return keccak256(abi.encode(bid, salt, bidder));
    }

    /// @notice Commit a sealed bid during bidding, depositing at least the reserve (more hides the bid).
    /// @param commitment `commitmentOf(bid, salt, msg.sender)`, with a secret random salt.
    /// @return index The commit's index in this auction (needed to reveal and withdraw).
    function commit(uint256 auctionId, bytes32 commitment) external payable nonReentrant returns (uint256 index) {
        Auction storage a = _auction(auctionId);
        if (block.timestamp >= a.commitEnd) revert BiddingClosed(auctionId, block.timestamp, a.commitEnd);
        if (msg.value < a.reserve) revert DepositBelowReserve(msg.value, a.reserve);
        if (msg.value > type(uint96).max) revert DepositTooLarge(msg.value, type(uint96).max);
        index = a.bidCount++;
        _bids[auctionId][index] = Bid(msg.sender, uint96(msg.value), commitment, 0, false, false);
        totalDeposits += msg.value;
        emit BidCommitted(auctionId, index, msg.sender, uint96(msg.value), commitment);
    }

    // ---------------------------------------------------------------- reveal

    /// @notice Reveal commit `index` during the reveal window. Anyone holding (bid, salt) may
    /// reveal it (the commitment binds the bidder); the bid must not exceed the deposit.
    function reveal(uint256 auctionId, uint256 index, uint256 bid, bytes32 salt) external nonReentrant {
        Auction storage a = _auction(auctionId);
        if (block.timestamp < a.commitEnd) revert RevealNotOpen(auctionId, block.timestamp, a.commitEnd);
        if (block.timestamp >= a.revealEnd) revert RevealClosed(auctionId, block.timestamp, a.revealEnd);
        Bid storage b = _bid(a, auctionId, index);
        if (b.revealed) revert AlreadyRevealed(auctionId, index);
        if (commitmentOf(bid, salt, b.bidder) != b.commitment) revert CommitmentMismatch(auctionId, index);
        if (bid > b.deposit) revert BidAboveDeposit(bid, b.deposit);
        b.revealed = true;
        b.amount = uint96(bid);
        // Ties go to the earliest commit whatever the order of the reveals.
        bool leading = bid >= a.reserve && bid > 0
            && (a.leader == 0 || bid > a.highestBid || (bid == a.highestBid && index + 1 < a.leader));
        if (leading) {
            a.highestBid = uint96(bid);
            a.leader = uint32(index + 1);
        }
        emit BidRevealed(auctionId, index, b.bidder, uint96(bid), leading);
    }

    // ---------------------------------------------------------------- settle

    /// @notice Settle after the reveal window (anyone, once): mint the frame to the winner (or to
    /// the holder when no valid bid came) and split the winning bid between holder and treasury.
    function settle(uint256 auctionId) external nonReentrant {
        Auction storage a = _auction(auctionId);
        if (a.settled) revert AlreadySettled(auctionId);
        if (block.timestamp < a.revealEnd) revert SettleTooEarly(auctionId, block.timestamp, a.revealEnd);
        a.settled = true;
        address winner;
        uint256 price;
        uint256 holderShare;
        if (a.leader != 0) {
            Bid storage b = _bids[auctionId][a.leader - 1];
            winner = b.bidder;
            price = a.highestBid;
            b.deposit -= uint96(price); // the bid moves from deposits to the holder and the treasury
            totalDeposits -= price;
            holderShare = price * a.holderBps / BPS;
            claimOf[a.holder] += holderShare;
            totalClaims += holderShare;
            totalProceeds += price - holderShare;
        }
        frames.mint(winner == address(0) ? a.holder : winner, auctionId);
        emit AuctionSettled(auctionId, winner, uint96(price), a.holder, holderShare, price - holderShare);
    }

    // -------------------------------------------------------------- payments

    /// @notice Withdraw commit `index`'s deposit after settlement (its bidder only, once): in full
    /// for a revealed losing bid, less the price for the winner, less `forfeitBps` of it when
    /// the commit was never revealed.
    function withdraw(uint256 auctionId, uint256 index) external nonReentrant {
        Auction storage a = _auction(auctionId);
        if (!a.settled) revert NotSettled(auctionId);
        Bid storage b = _bid(a, auctionId, index);
        if (msg.sender != b.bidder) revert NotBidder(msg.sender, b.bidder);
        if (b.withdrawn) revert AlreadyWithdrawn(auctionId, index);
        uint256 deposit = b.deposit;
        uint256 forfeited = b.revealed ? 0 : deposit * a.forfeitBps / BPS;
        b.withdrawn = true;
        totalDeposits -= deposit;
        totalProceeds += forfeited;
        emit DepositWithdrawn(auctionId, index, msg.sender, deposit - forfeited, forfeited);
        _send(msg.sender, deposit - forfeited);
    }

    /// @notice Pay the caller's holder shares.
    function claim() external nonReentrant {
        uint256 amount = claimOf[msg.sender];
        if (amount == 0) revert NothingToPay(msg.sender);
        claimOf[msg.sender] = 0;
        totalClaims -= amount;
        emit Claimed(msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @notice Send the treasury's proceeds to the treasury (anyone may trigger it).
    function withdrawProceeds() external nonReentrant {
        uint256 amount = totalProceeds;
        if (amount == 0) revert NothingToPay(treasury);
        totalProceeds = 0;
        emit ProceedsSent(treasury, amount);
        _send(treasury, amount);
    }

    // ----------------------------------------------------------------- admin

    /// @notice Parameters of auctions opened from now on (admin only); running auctions keep theirs.
    function setParameters(
        uint32 commitWindow_,
        uint32 revealWindow_,
        uint96 reserve_,
        uint16 holderBps_,
        uint16 forfeitBps_,
        address treasury_
    ) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setParameters(commitWindow_, revealWindow_, reserve_, holderBps_, forfeitBps_, treasury_);
    }

    // ----------------------------------------------------------------- views

    /// @notice Auction `auctionId` as stored.
    function auction(uint256 auctionId) external view returns (Auction memory) {
        return _auction(auctionId);
    }

    /// @notice Commit `index` of auction `auctionId` as stored.
    function bidOf(uint256 auctionId, uint256 index) external view returns (Bid memory) {
        return _bid(_auction(auctionId), auctionId, index);
    }

    // -------------------------------------------------------------- internal

    function _setParameters(
        uint32 commitWindow_,
        uint32 revealWindow_,
        uint96 reserve_,
        uint16 holderBps_,
        uint16 forfeitBps_,
        address treasury_
    ) private {
        if (treasury_ == address(0)) revert ZeroAddress();
        if (commitWindow_ == 0 || revealWindow_ == 0) revert InvalidWindow(commitWindow_, revealWindow_);
        if (holderBps_ > BPS) revert InvalidShare(holderBps_, BPS);
        if (forfeitBps_ > BPS) revert InvalidShare(forfeitBps_, BPS);
        (commitWindow, revealWindow, reserve, holderBps, forfeitBps, treasury) =
            (commitWindow_, revealWindow_, reserve_, holderBps_, forfeitBps_, treasury_);
        emit ParametersChanged(commitWindow_, revealWindow_, reserve_, holderBps_, forfeitBps_, treasury_);
    }

    function _auction(uint256 auctionId) private view returns (Auction storage a) {
        a = _auctions[auctionId];
        if (a.holder == address(0)) revert AuctionNotFound(auctionId);
    }

    function _bid(Auction storage a, uint256 auctionId, uint256 index) private view returns (Bid storage) {
        if (index >= a.bidCount) revert BidNotFound(auctionId, index);
        return _bids[auctionId][index];
    }

    /// @dev Last step of every payment (checks, effects, then this interaction).
    function _send(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }
}
