// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IRecolourable} from "./interfaces/IRecolourable.sol";
import {IPigmentSettlement} from "./interfaces/IPigmentSettlement.sol";

/// @title Colour pools
/// @notice The colour AMM of Chaos Canvas: one constant-product market per hue
/// between ETH and that hue's pigment. Pigment is bought *for a token* and
/// credited to the token's palette; only the token's owner may sell it back.
/// Every trade asks the canvas to re-colour the token (a new generation the
/// renderer re-draws, at most one per token per block); other tokens see price
/// moves, crashes and rebases at their next render, through `poolState()` and
/// `effectiveWeights()`.
///
/// Units: ETH in wei; pigment in units of 1e-18 pigment; the rebase index in
/// units of 1 / INDEX_ONE.
///
/// Pricing (hue h, reserves stored in one slot):
///   x = ethReserve + virtualEth,  y = pigmentReserve
///   start: ethReserve = 0, pigmentReserve = initialPigment, so the first
///   price is virtualEth / initialPigment and the first buyer needs no
///   liquidity provider; virtualEth is never paid out (see invariant 3).
///   buy  v wei:  fee = v * feeBps / 10_000 (to the hue's fee pot), in = v - fee,
///                out = y * in / (x + in)                   (rounded down)
///   sell p pigment: gross = x * p / (y + p) (rounded down),
///                fee = gross * feeBps / 10_000 (to the hue's fee pot), out = gross - fee
///   spot price (wei per whole pigment) = x * 1e18 / y: buying a hue makes it dearer.
///   A trade moves at least `minTrade` wei (a buy's value, a sell's gross; a sale of a
///   token's whole holding of the hue is always allowed), so re-colouring someone's
///   token costs what a paid mutation does, not one wei.
///
/// Time-weighted reserve (what renders and the overuse rule read):
///   Each hue keeps `tw`, a moving average of its pigment reserve over `twapWindow`
///   seconds: at every update (and every period boundary), with the reserve r that
///   held since the last one, dt seconds ago,
///       tw += (r - tw) * min(dt, twapWindow) / twapWindow
///   A trade's new reserve only enters `tw` from the next second on, so a reserve
///   pushed down and restored within one block never moves it, and one held for
///   one 12-second block moves it by 12 / twapWindow of the way.
///   Renders read prices and crash flags from `tw` (`poolState`): the price on the
///   curve at reserve tw, k * 1e18 / tw**2, and crashed <=> tw < floorReserve. The
///   token's own pigment (`effectiveWeights`) is read as it is at the rendered block,
///   so a purchase colours its own re-colouring at once. The renderer still makes one
///   eth_call at the event's block: the views advance `tw` to that block's time.
///
/// Rebase (overuse): periods of `rebasePeriod` seconds run on a fixed schedule from
/// deployment. At each period boundary, a hue whose `tw` is under `overuseReserve`
/// takes one rebase step: its index is multiplied by (1 - rebaseBps / 10 000) (never
/// below MIN_INDEX), so every holder's effective pigment (shares * index) shrinks at
/// once; the pigment the holders lose, (initialPigment - pigmentReserve) * (1 -
/// newIndex / oldIndex), flows back into the reserve, and the ETH that backed it
/// leaves the reserve for the hue's fee pot (the reserve keeps x = k / y, k unchanged):
/// no ETH is left in a pool without pigment to claim it.
/// Boundaries nobody called at are replayed one by one by the next update, each step
/// seeing the pigment the previous one returned (twapWindow <= rebasePeriod, so `tw`
/// has caught up with the reserve at the next boundary): a hue that one step brings
/// back over the threshold takes no second step, however late the call. A brief
/// sell-and-buy-back around a boundary moves `tw` by its duration / twapWindow only,
/// so it cannot skip a step. At most MAX_REBASE_STEPS boundaries are replayed per
/// update (anything beyond is forgiven, never compounded).
///
/// Invariants (checked where they could break):
/// 1. k = x * y never decreases (`_store`, the only writer of a pool; a rebase step
///    rounds the ETH that stays up).
/// 2. address(this).balance == sum of ethReserve + sum of fee pots + totalCredits:
///    every wei that comes in is a reserve or a fee, every wei that goes out
///    leaves one of them, and ETH that cannot be pushed becomes a credit.
///    (ETH forced in without a call is moved to a fee pot by `skim`.)
/// 3. pigment is conserved: pigmentReserve + the sum of every token's
///    effective pigment <= initialPigment; with k >= virtualEth * initialPigment,
///    a sale never needs more than the real ETH reserve (checked in `sell`), and
///    once every holder has sold, at most rounding dust of ETH is left in a reserve.
/// 4. crashed <=> tw < floorReserve (derived, never stored).
/// 5. the index only decreases, and never below MIN_INDEX.
/// No function loops over tokens or holders; every external entry that
/// changes state is `nonReentrant`.
contract ColourPools is Ownable2Step, ReentrancyGuardTransient, IPigmentSettlement {
    /// @notice The rebase index of a hue that has never been rebased.
    uint256 public constant INDEX_ONE = 1e9;
    /// @notice The rebase index never falls below this (0.1 %).
    uint256 public constant MIN_INDEX = 1e6;
    /// @notice Largest trading fee accepted at deployment (10 %).
    uint256 public constant MAX_FEE_BPS = 1_000;
    /// @notice Most period boundaries one update replays (see the rebase rule).
    uint256 public constant MAX_REBASE_STEPS = 128;
    uint256 private constant BPS = 10_000;
    uint256 private constant WAD = 1e18;

    /// @notice The canvas whose tokens hold pigment.
    IRecolourable public immutable canvas;
    /// @notice Number of hues; hue `h` spans degrees [h * 360 / hueCount, (h + 1) * 360 / hueCount).
    uint256 public immutable hueCount;
    /// @notice Virtual ETH added to every pool's real ETH reserve in the price curve.
    uint256 public immutable virtualEth;
    /// @notice Every pool's starting pigment reserve (and the most it can ever hold).
    uint256 public immutable initialPigment;
    /// @notice Trading fee in basis points, taken in ETH on both sides and kept for the owner.
    uint256 public immutable feeBps;
    /// @notice A hue is crashed while its time-weighted pigment reserve is below this.
    uint256 public immutable floorReserve;
    /// @notice A hue takes a rebase step at a period boundary if its time-weighted pigment reserve is below this.
    uint256 public immutable overuseReserve;
    /// @notice How much an overused hue's index falls per step, in basis points.
    uint256 public immutable rebaseBps;
    /// @notice Seconds per rebase period; boundaries fall at `epochStart + n * rebasePeriod`.
    uint256 public immutable rebasePeriod;
    /// @notice Seconds over which the pigment reserve is averaged (`tw`), at most `rebasePeriod`.
    uint256 public immutable twapWindow;
    /// @notice Least wei a buy may pay, or a sell (not of a whole holding) may return before its fee.
    uint256 public immutable minTrade;
    /// @notice Deployment time: the start of the first rebase period.
    uint256 public immutable epochStart;

    /// @dev Slot 1 of a hue: what every trade moves.
    struct Pool {
        uint96 ethReserve; // real wei, not counting virtualEth
        uint96 pigmentReserve;
        uint32 index; // rebase index, INDEX_ONE = 1
        uint32 updatedAt; // time up to which `Meter.tw` and the rebase periods are accounted (good until 2106)
    }

    /// @dev Slot 2 of a hue: its fee pot and its time-weighted reserve, written by every trade.
    struct Meter {
        uint128 fees; // wei for the owner: trading fees, and the ETH freed by rebase steps
        uint128 tw; // time-weighted pigment reserve as of `Pool.updatedAt`; 0 until the hue's first update
    }

    /// @dev Two hues' shares per slot: a token holding neighbouring hues pays for one slot.
    struct SharePair {
        uint128 even;
        uint128 odd;
    }

    /// @notice One hue as `poolState()` reports it, advanced to the block's time.
    struct HueState {
        uint256 ethReserve; // real wei in the pool
        uint256 pigmentReserve; // spot reserve
        uint256 price; // time-weighted: the curve's price at twPigmentReserve, k * 1e18 / tw**2
        bool crashed; // time-weighted: twPigmentReserve < floorReserve
        uint256 rebaseIndex; // INDEX_ONE = no rebase yet
        uint256 nextRebaseAt; // the next period boundary while overused (tw < overuseReserve); 0 otherwise
        uint256 twPigmentReserve; // the time-weighted reserve renders read
        uint256 spotPrice; // (ethReserve + virtualEth) * 1e18 / pigmentReserve: what the next trade pays
    }

    mapping(uint256 hue => Pool) private _pools;
    mapping(uint256 hue => Meter) private _meters;
    mapping(uint256 tokenId => mapping(uint256 huePair => SharePair)) private _shares;

    /// @notice Sum of `credits`.
    uint256 public totalCredits;
    /// @notice ETH owed to accounts that could not receive a push, withdrawable with `withdrawCredit`.
    mapping(address account => uint256) public credits;

    /// @notice `buyer` paid `ethIn` wei (fee included) for `pigmentOut` of `hue`, credited to `tokenId`.
    event Bought(uint256 indexed tokenId, uint256 indexed hue, address indexed buyer, uint256 ethIn, uint256 pigmentOut);
    /// @notice `owner` sold `pigmentIn` of `tokenId`'s `hue` for `ethOut` wei (after the fee).
    event Sold(uint256 indexed tokenId, uint256 indexed hue, address indexed owner, uint256 pigmentIn, uint256 ethOut);
    /// @notice Burnt token `tokenId`'s pigment was sold back; `owner`, its last owner, got `ethOut` wei.
    event Settled(uint256 indexed tokenId, address indexed owner, uint256 ethOut);
    /// @notice `hue`'s time-weighted reserve fell under its floor (seen at this update): the
    /// renderer splits the RGB channels of its holders.
    event FlashCrash(uint256 indexed hue, uint256 reserve, uint256 floor);
    /// @notice `hue`'s time-weighted reserve is back at or above its floor.
    event Recovered(uint256 indexed hue, uint256 reserve);
    /// @notice `hue`'s rebase index fell to `index` (of INDEX_ONE); the pigment that came back
    /// took the ETH that backed it from the reserve to the hue's fee pot.
    event Rebased(uint256 indexed hue, uint256 index);
    /// @notice `amount` wei could not be pushed to `account` and is held for it.
    event Credited(address indexed account, uint256 amount);
    /// @notice `account` withdrew its credit of `amount` wei to `to`.
    event CreditWithdrawn(address indexed account, address indexed to, uint256 amount);
    /// @notice The owner withdrew `amount` wei of fees to `to`.
    event FeesWithdrawn(address indexed to, uint256 amount);
    /// @notice `amount` wei that arrived without a trade was added to the fee pot.
    event Skimmed(uint256 amount);

    error Expired(uint256 deadline, uint256 timestamp);
    error ZeroAmount();
    error BelowMinimumTrade(uint256 amountWei, uint256 minTradeWei);
    error UnknownHue(uint256 hue, uint256 hueCount);
    error InsufficientOutput(uint256 amountOut, uint256 minOut);
    error NotTokenOwner(uint256 tokenId, address caller);
    error InsufficientPigment(uint256 tokenId, uint256 hue, uint256 held, uint256 wanted);
    error ReserveOverflow(uint256 hue, uint256 ethReserve);
    error ReserveUnderflow(uint256 hue, uint256 ethReserve, uint256 ethOut);
    error KDecreased(uint256 hue, uint256 kBefore, uint256 kAfter);
    error NotOverused(uint256 hue, uint256 twPigmentReserve, uint256 overuseReserve);
    error RebaseNotDue(uint256 hue, uint256 dueAt);
    error NothingToWithdraw(address account);
    error TransferFailed(address to, uint256 amount);
    error ZeroAddress();
    error BadParameter(string name, uint256 value);
    error NotCanvas(address caller);

    /// @param canvas_ The canvas; grant this contract its POOLS_ROLE after deployment.
    /// @param admin Owner: withdraws fees and skims.
    /// @param hueCount_ Number of hues, a divisor of 360 (12 gives hues of 30 degrees).
    /// @param virtualEth_ Virtual ETH of every pool, in wei (> 0).
    /// @param initialPigment_ Starting pigment reserve of every pool (> 0).
    /// @param feeBps_ Trading fee in basis points (at most MAX_FEE_BPS).
    /// @param floorBps_ Crash floor, in basis points of `initialPigment_`.
    /// @param overuseBps_ Overuse threshold, in basis points of `initialPigment_` (>= `floorBps_`).
    /// @param rebaseBps_ Index decay per period of overuse, in basis points (< 10 000).
    /// @param rebasePeriod_ Seconds per rebase period (> 0).
    /// @param twapWindow_ Seconds the reserve is averaged over (0 < twapWindow_ <= rebasePeriod_).
    /// @param minTrade_ Least wei a trade moves (> 0).
    constructor(
        IRecolourable canvas_,
        address admin,
        uint256 hueCount_,
        uint256 virtualEth_,
        uint256 initialPigment_,
        uint256 feeBps_,
        uint256 floorBps_,
        uint256 overuseBps_,
        uint256 rebaseBps_,
        uint256 rebasePeriod_,
        uint256 twapWindow_,
        uint256 minTrade_
    ) Ownable(admin) {
        if (address(canvas_) == address(0)) revert ZeroAddress();
        if (hueCount_ == 0 || 360 % hueCount_ != 0) revert BadParameter("hueCount", hueCount_);
        if (virtualEth_ == 0 || virtualEth_ > type(uint96).max) revert BadParameter("virtualEth", virtualEth_);
        if (initialPigment_ == 0 || initialPigment_ > type(uint96).max) {
            revert BadParameter("initialPigment", initialPigment_);
        }
        if (feeBps_ > MAX_FEE_BPS) revert BadParameter("feeBps", feeBps_);
        if (overuseBps_ > BPS) revert BadParameter("overuseBps", overuseBps_);
        if (floorBps_ > overuseBps_) revert BadParameter("floorBps", floorBps_);
        if (rebaseBps_ >= BPS) revert BadParameter("rebaseBps", rebaseBps_);
        if (rebasePeriod_ == 0 || rebasePeriod_ > type(uint32).max) revert BadParameter("rebasePeriod", rebasePeriod_);
        if (twapWindow_ == 0 || twapWindow_ > rebasePeriod_) revert BadParameter("twapWindow", twapWindow_);
        if (minTrade_ == 0) revert BadParameter("minTrade", minTrade_);
        canvas = canvas_;
        hueCount = hueCount_;
        virtualEth = virtualEth_;
        initialPigment = initialPigment_;
        feeBps = feeBps_;
        floorReserve = initialPigment_ * floorBps_ / BPS;
        overuseReserve = initialPigment_ * overuseBps_ / BPS;
        rebaseBps = rebaseBps_;
        rebasePeriod = rebasePeriod_;
        twapWindow = twapWindow_;
        minTrade = minTrade_;
        epochStart = block.timestamp;
        Pool memory fresh = Pool(0, uint96(initialPigment_), uint32(INDEX_ONE), uint32(block.timestamp));
        for (uint256 hue = 0; hue < hueCount_; ++hue) {
            _pools[hue] = fresh; // meters start empty: see `_meter`
        }
    }

    // ---------------------------------------------------------------- trades

    /// @notice Buy pigment of `hue` with all the ETH sent (at least `minTrade`), for token
    /// `tokenId` (anyone may buy for any existing token). The token is re-coloured: its
    /// generation goes up, unless it already drew one in this block.
    /// @param tokenId The canvas token whose palette gets the pigment.
    /// @param hue The pool, 0 <= hue < hueCount.
    /// @param minPigmentOut Revert unless at least this much pigment comes out (slippage bound).
    /// @param deadline Revert after this block timestamp.
    /// @return pigmentOut Pigment bought; the token's effective pigment grows by this much
    /// (less at most one unit of rounding once the hue has been rebased).
    function buy(uint256 tokenId, uint256 hue, uint256 minPigmentOut, uint256 deadline)
        external
        payable
        nonReentrant
        returns (uint256 pigmentOut)
    {
        _checkTrade(hue, msg.value, deadline);
        if (msg.value < minTrade) revert BelowMinimumTrade(msg.value, minTrade);
        canvas.recolour(tokenId); // reverts for a token that does not exist
        (Pool memory before, Pool memory pool, Meter memory meter) = _load(hue);
        uint256 fee;
        uint256 ethIn;
        (fee, ethIn, pigmentOut) = _buyAmounts(pool, msg.value);
        if (pigmentOut == 0 || pigmentOut < minPigmentOut) revert InsufficientOutput(pigmentOut, minPigmentOut);
        uint256 ethReserve = pool.ethReserve + ethIn;
        if (ethReserve > type(uint96).max) revert ReserveOverflow(hue, ethReserve);

        pool.ethReserve = uint96(ethReserve);
        pool.pigmentReserve -= uint96(pigmentOut); // pigmentOut < pigmentReserve
        _addShares(tokenId, hue, pigmentOut * INDEX_ONE / pool.index);
        meter.fees += uint128(fee);
        _store(hue, before, pool, meter);
        emit Bought(tokenId, hue, msg.sender, msg.value, pigmentOut);
    }

    /// @notice Sell `pigmentIn` of your token's pigment of `hue` back to the pool, for ETH
    /// (the token's owner only). The ETH is sent to you, or credited to you if it cannot be.
    /// The token is re-coloured (at most once per block). A sale must return at least
    /// `minTrade` wei before its fee, unless it sells the token's whole holding of the hue.
    /// @param tokenId A canvas token you own.
    /// @param hue The pool, 0 <= hue < hueCount.
    /// @param pigmentIn Effective pigment to sell (at most `pigmentOf(tokenId, hue)`).
    /// @param minEthOut Revert unless at least this many wei come out, after the fee.
    /// @param deadline Revert after this block timestamp.
    /// @return ethOut Wei paid (or credited) to the owner.
    function sell(uint256 tokenId, uint256 hue, uint256 pigmentIn, uint256 minEthOut, uint256 deadline)
        external
        nonReentrant
        returns (uint256 ethOut)
    {
        _checkTrade(hue, pigmentIn, deadline);
        if (canvas.recolour(tokenId) != msg.sender) revert NotTokenOwner(tokenId, msg.sender);
        (Pool memory before, Pool memory pool, Meter memory meter) = _load(hue);
        uint256 held = _removeShares(tokenId, hue, pigmentIn, pool.index);
        uint256 fee;
        uint256 gross;
        (fee, gross, ethOut) = _sellAmounts(pool, pigmentIn);
        if (gross < minTrade && pigmentIn != held) revert BelowMinimumTrade(gross, minTrade);
        if (ethOut == 0 || ethOut < minEthOut) revert InsufficientOutput(ethOut, minEthOut);
        if (gross > pool.ethReserve) revert ReserveUnderflow(hue, pool.ethReserve, gross); // invariant 3

        pool.ethReserve -= uint96(gross);
        pool.pigmentReserve += uint96(pigmentIn); // stays <= initialPigment (invariant 3)
        meter.fees += uint128(fee);
        _store(hue, before, pool, meter);
        emit Sold(tokenId, hue, msg.sender, pigmentIn, ethOut);
        _pay(msg.sender, ethOut);
    }

    /// @notice Apply the rebase steps due to `hue` (anyone may call; every trade on the hue does
    /// it too). Reverts with `NotOverused` when no step is due and the hue is not overused, or
    /// `RebaseNotDue` (with the next boundary) when it is overused but no boundary has passed.
    /// @return index The hue's new rebase index.
    function rebase(uint256 hue) external nonReentrant returns (uint256 index) {
        if (hue >= hueCount) revert UnknownHue(hue, hueCount);
        (Pool memory before, Pool memory pool, Meter memory meter) = _load(hue);
        if (pool.index == before.index) {
            if (meter.tw >= overuseReserve) revert NotOverused(hue, meter.tw, overuseReserve);
            revert RebaseNotDue(hue, _nextBoundary(block.timestamp));
        }
        _store(hue, before, pool, meter);
        return pool.index;
    }

    /// @inheritdoc IPigmentSettlement
    /// @dev Every hue the token holds is sold at market (fee included) without re-colouring,
    /// and without a minimum trade: the token is gone. Loops over the hues (a constant).
    function settle(uint256 tokenId, address owner) external nonReentrant returns (uint256 ethOut) {
        if (msg.sender != address(canvas)) revert NotCanvas(msg.sender);
        for (uint256 hue = 0; hue < hueCount; ++hue) {
            uint256 shares = _sharesOf(tokenId, hue);
            if (shares == 0) continue;
            (Pool memory before, Pool memory pool, Meter memory meter) = _load(hue);
            uint256 pigmentIn = shares * pool.index / INDEX_ONE;
            _clearShares(tokenId, hue); // with the rounding dust of a rebased hue: the token is gone
            (uint256 fee, uint256 gross, uint256 out) = _sellAmounts(pool, pigmentIn);
            if (gross > pool.ethReserve) revert ReserveUnderflow(hue, pool.ethReserve, gross); // invariant 3
            pool.ethReserve -= uint96(gross);
            pool.pigmentReserve += uint96(pigmentIn);
            meter.fees += uint128(fee);
            ethOut += out;
            _store(hue, before, pool, meter);
        }
        emit Settled(tokenId, owner, ethOut);
        if (ethOut != 0) _pay(owner, ethOut);
    }

    // ------------------------------------------------------------- payments

    /// @notice Withdraw the ETH credited to you (after a push failed) to `to`.
    function withdrawCredit(address payable to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        credits[msg.sender] = 0;
        totalCredits -= amount;
        _send(to, amount);
        emit CreditWithdrawn(msg.sender, to, amount);
    }

    /// @notice Send every hue's fee pot to `to` (owner only).
    function withdrawFees(address payable to) external onlyOwner nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        uint256 amount = 0;
        for (uint256 hue = 0; hue < hueCount; ++hue) {
            amount += _meters[hue].fees;
            _meters[hue].fees = 0;
        }
        _send(to, amount);
        emit FeesWithdrawn(to, amount);
    }

    /// @notice Add ETH that reached this contract without a trade (a forced send) to hue 0's
    /// fee pot, restoring invariant 2 (owner only).
    /// @return amount The wei skimmed.
    function skim() external onlyOwner nonReentrant returns (uint256 amount) {
        amount = address(this).balance - accountedEth();
        _meters[0].fees += uint128(amount);
        emit Skimmed(amount);
    }

    // ----------------------------------------------------------------- views

    /// @notice Every hue's state, in hue order, as of this block's time (rebase steps due and
    /// the time-weighted reserve advanced, as the next update would store them): what a render
    /// reads, at the block being rendered, for a reproducible render.
    function poolState() external view returns (HueState[] memory states) {
        states = new HueState[](hueCount);
        for (uint256 hue = 0; hue < states.length; ++hue) {
            (, Pool memory pool, Meter memory meter) = _load(hue);
            uint256 x = uint256(pool.ethReserve) + virtualEth;
            uint256 tw = meter.tw;
            states[hue] = HueState({
                ethReserve: pool.ethReserve,
                pigmentReserve: pool.pigmentReserve,
                price: x * pool.pigmentReserve / tw * WAD / tw,
                crashed: tw < floorReserve,
                rebaseIndex: pool.index,
                nextRebaseAt: tw < overuseReserve ? _nextBoundary(block.timestamp) : 0,
                twPigmentReserve: tw,
                spotPrice: x * WAD / pool.pigmentReserve
            });
        }
    }

    /// @notice A token's effective pigment of every hue, after rebases (shares * index),
    /// in hue order, at this block. Zero for a token that never held pigment.
    function effectiveWeights(uint256 tokenId) external view returns (uint256[] memory weights) {
        weights = new uint256[](hueCount);
        for (uint256 hue = 0; hue < weights.length; ++hue) {
            weights[hue] = _pigmentOf(tokenId, hue);
        }
    }

    /// @notice A token's effective pigment of one hue: the most it can sell.
    function pigmentOf(uint256 tokenId, uint256 hue) external view returns (uint256) {
        if (hue >= hueCount) revert UnknownHue(hue, hueCount);
        return _pigmentOf(tokenId, hue);
    }

    /// @notice Pigment that `buy` would give for `ethIn` wei now (due rebase steps included).
    function quoteBuy(uint256 hue, uint256 ethIn) external view returns (uint256 pigmentOut) {
        if (hue >= hueCount) revert UnknownHue(hue, hueCount);
        (, Pool memory pool,) = _load(hue);
        (,, pigmentOut) = _buyAmounts(pool, ethIn);
    }

    /// @notice Wei that `sell` of `pigmentIn` would pay now, after the fee (due rebase steps included).
    function quoteSell(uint256 hue, uint256 pigmentIn) external view returns (uint256 ethOut) {
        if (hue >= hueCount) revert UnknownHue(hue, hueCount);
        (, Pool memory pool,) = _load(hue);
        (,, ethOut) = _sellAmounts(pool, pigmentIn);
    }

    /// @notice Trading fees and rebase proceeds not yet withdrawn by the owner, in wei (every hue's pot).
    function fees() public view returns (uint256 total) {
        for (uint256 hue = 0; hue < hueCount; ++hue) {
            total += _meters[hue].fees;
        }
    }

    /// @notice ETH this contract accounts for: every real reserve + fees + credits
    /// (equal to its balance unless ETH was forced in; see `skim`). Stored values: a due
    /// rebase step only moves ETH from a reserve to a fee pot.
    function accountedEth() public view returns (uint256 total) {
        for (uint256 hue = 0; hue < hueCount; ++hue) {
            total += _pools[hue].ethReserve;
        }
        return total + fees() + totalCredits;
    }

    // -------------------------------------------------------------- internals

    function _checkTrade(uint256 hue, uint256 amount, uint256 deadline) private view {
        if (block.timestamp > deadline) revert Expired(deadline, block.timestamp);
        if (amount == 0) revert ZeroAmount();
        if (hue >= hueCount) revert UnknownHue(hue, hueCount);
    }

    function _buyAmounts(Pool memory pool, uint256 value)
        private
        view
        returns (uint256 fee, uint256 ethIn, uint256 pigmentOut)
    {
        fee = value * feeBps / BPS;
        ethIn = value - fee;
        pigmentOut = uint256(pool.pigmentReserve) * ethIn / (uint256(pool.ethReserve) + virtualEth + ethIn);
    }

    function _sellAmounts(Pool memory pool, uint256 pigmentIn)
        private
        view
        returns (uint256 fee, uint256 gross, uint256 ethOut)
    {
        gross = (uint256(pool.ethReserve) + virtualEth) * pigmentIn / (uint256(pool.pigmentReserve) + pigmentIn);
        fee = gross * feeBps / BPS;
        ethOut = gross - fee;
    }

    function _nextBoundary(uint256 time) private view returns (uint256) {
        return epochStart + ((time - epochStart) / rebasePeriod + 1) * rebasePeriod;
    }

    /// @dev The stored pool (`before`), and copies of the pool and its meter advanced to now:
    /// every period boundary since the last update replayed (a rebase step where `tw` is
    /// under the overuse threshold), then `tw` blended up to now.
    function _load(uint256 hue) private view returns (Pool memory before, Pool memory pool, Meter memory meter) {
        before = _pools[hue];
        meter = _meter(hue);
        pool = Pool(before.ethReserve, before.pigmentReserve, before.index, before.updatedAt);
        uint256 t = pool.updatedAt;
        if (block.timestamp <= t) return (before, pool, meter); // same second: nothing has passed
        uint256 tw = meter.tw;
        uint256 boundary = _nextBoundary(t);
        for (uint256 steps = 0; boundary <= block.timestamp && steps < MAX_REBASE_STEPS; ++steps) {
            tw = _blend(tw, pool.pigmentReserve, boundary - t);
            t = boundary;
            if (tw < overuseReserve && pool.index > MIN_INDEX) {
                _rebaseStep(pool, meter);
            } else if (pool.pigmentReserve >= overuseReserve || pool.index <= MIN_INDEX) {
                break; // nothing later can change: the reserve is constant until the next update
            }
            boundary += rebasePeriod;
        }
        meter.tw = uint128(_blend(tw, pool.pigmentReserve, block.timestamp - t));
        pool.updatedAt = uint32(block.timestamp);
    }

    /// @dev A hue's meter; one never updated holds nothing yet and averages its untouched reserve
    /// (a stored `tw` is never 0 afterwards: it stays at or above the smallest reserve, >= 1).
    function _meter(uint256 hue) private view returns (Meter memory meter) {
        meter = _meters[hue];
        if (meter.tw == 0) meter.tw = uint128(initialPigment);
    }

    /// @dev `tw` moved toward `reserve` by min(dt, twapWindow) / twapWindow of the way.
    function _blend(uint256 tw, uint256 reserve, uint256 dt) private view returns (uint256) {
        if (dt >= twapWindow) return reserve;
        return reserve > tw ? tw + (reserve - tw) * dt / twapWindow : tw - (tw - reserve) * dt / twapWindow;
    }

    /// @dev One rebase step: the index falls by rebaseBps, the holders' lost pigment returns to
    /// the reserve, and the ETH above k / newReserve (rounded up, so k never decreases) moves to
    /// the hue's fee pot.
    function _rebaseStep(Pool memory pool, Meter memory meter) private view {
        uint256 oldIndex = pool.index;
        uint256 index = oldIndex * (BPS - rebaseBps) / BPS;
        if (index < MIN_INDEX) index = MIN_INDEX;
        uint256 reserve = pool.pigmentReserve;
        uint256 back = (initialPigment - reserve) * (oldIndex - index) / oldIndex;
        uint256 x = uint256(pool.ethReserve) + virtualEth;
        uint256 newReserve = reserve + back;
        uint256 newX = (x * reserve + newReserve - 1) / newReserve; // >= virtualEth: k >= virtualEth * initialPigment
        meter.fees += uint128(x - newX);
        pool.ethReserve = uint96(newX - virtualEth);
        pool.pigmentReserve = uint96(newReserve);
        pool.index = uint32(index);
    }

    /// @dev The only writer of a pool: checks invariant 1 and emits Rebased / FlashCrash /
    /// Recovered when the update crosses a line.
    function _store(uint256 hue, Pool memory before, Pool memory pool, Meter memory meter) private {
        uint256 kBefore = (uint256(before.ethReserve) + virtualEth) * before.pigmentReserve;
        uint256 kAfter = (uint256(pool.ethReserve) + virtualEth) * pool.pigmentReserve;
        if (kAfter < kBefore) revert KDecreased(hue, kBefore, kAfter);
        uint256 twBefore = _meter(hue).tw; // warm: _load read it
        _pools[hue] = pool;
        _meters[hue] = meter;

        if (pool.index != before.index) emit Rebased(hue, pool.index);
        bool wasCrashed = twBefore < floorReserve;
        bool crashed = meter.tw < floorReserve;
        if (crashed && !wasCrashed) emit FlashCrash(hue, meter.tw, floorReserve);
        else if (wasCrashed && !crashed) emit Recovered(hue, meter.tw);
    }

    function _pigmentOf(uint256 tokenId, uint256 hue) private view returns (uint256) {
        uint256 shares = _sharesOf(tokenId, hue);
        if (shares == 0) return 0;
        (, Pool memory pool,) = _load(hue);
        return shares * pool.index / INDEX_ONE;
    }

    function _sharesOf(uint256 tokenId, uint256 hue) private view returns (uint256) {
        SharePair storage pair = _shares[tokenId][hue >> 1];
        return hue & 1 == 0 ? pair.even : pair.odd;
    }

    /// @dev Shares stay far below 2**128: effective pigment <= initialPigment < 2**96
    /// and index >= MIN_INDEX = INDEX_ONE / 1000.
    function _addShares(uint256 tokenId, uint256 hue, uint256 shares) private {
        SharePair storage pair = _shares[tokenId][hue >> 1];
        if (hue & 1 == 0) pair.even += uint128(shares);
        else pair.odd += uint128(shares);
    }

    /// @dev Burns the shares worth `pigment` at `index`, rounded up, or reverts when the token
    /// holds less. A sale of the whole holding burns every share (no dust left behind).
    /// @return held The token's effective pigment of the hue before the sale.
    function _removeShares(uint256 tokenId, uint256 hue, uint256 pigment, uint256 index)
        private
        returns (uint256 held)
    {
        SharePair storage pair = _shares[tokenId][hue >> 1];
        uint256 shares = hue & 1 == 0 ? pair.even : pair.odd;
        held = shares * index / INDEX_ONE;
        if (pigment > held) revert InsufficientPigment(tokenId, hue, held, pigment);
        uint256 burnt = pigment == held ? shares : (pigment * INDEX_ONE + index - 1) / index; // <= shares
        if (hue & 1 == 0) pair.even = uint128(shares - burnt);
        else pair.odd = uint128(shares - burnt);
    }

    function _clearShares(uint256 tokenId, uint256 hue) private {
        SharePair storage pair = _shares[tokenId][hue >> 1];
        if (hue & 1 == 0) pair.even = 0;
        else pair.odd = 0;
    }

    /// @dev Push `amount` to `to`; if it cannot take it, credit it (pull payment).
    /// No return data is copied, so a receiver cannot make the push run out of gas that way.
    function _pay(address to, uint256 amount) private {
        bool ok;
        assembly ("memory-safe") {
            ok := call(gas(), to, amount, 0, 0, 0, 0)
        }
        if (!ok) {
            credits[to] += amount;
            totalCredits += amount;
            emit Credited(to, amount);
        }
    }

    function _send(address to, uint256 amount) private {
        bool ok;
        assembly ("memory-safe") {
            ok := call(gas(), to, amount, 0, 0, 0, 0)
        }
        if (!ok) revert TransferFailed(to, amount);
    }
}
