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
/// renderer re-draws); other tokens see price moves, crashes and rebases at
/// their next render, through `poolState()` and `effectiveWeights()`.
///
/// Units: ETH in wei; pigment in units of 1e-18 pigment; the rebase index in
/// units of 1 / INDEX_ONE.
///
/// Pricing (hue h, reserves stored in one slot):
///   x = ethReserve + virtualEth,  y = pigmentReserve
///   start: ethReserve = 0, pigmentReserve = initialPigment, so the first
///   price is virtualEth / initialPigment and the first buyer needs no
///   liquidity provider; virtualEth is never paid out (see invariant 3).
///   buy  v wei:  fee = v * feeBps / 10_000 (to the fee pot), in = v - fee,
///                out = y * in / (x + in)                   (rounded down)
///   sell p pigment: gross = x * p / (y + p) (rounded down),
///                fee = gross * feeBps / 10_000 (to the fee pot), out = gross - fee
///   marginal price (wei per whole pigment) = x * 1e18 / y: buying a hue
///   makes it dearer.
///
/// Flash crash: a hue is crashed while pigmentReserve < floorReserve
/// (= initialPigment * floorBps / 10_000). The state is derived from the
/// reserve, never stored, so it cannot drift; FlashCrash / Recovered are
/// emitted by the one update that crosses the floor.
///
/// Rebase (overuse): a hue is overused while pigmentReserve < overuseReserve
/// (= initialPigment * overuseBps / 10_000). Every full `rebasePeriod` it
/// stays overused multiplies its index by (1 - rebaseBps / 10_000),
/// compounded, never below MIN_INDEX. A holder's effective pigment is
/// shares * index / INDEX_ONE, so every holder's weight of the hue shrinks
/// at once, and the pigment the holders lose,
///   (initialPigment - pigmentReserve) * (1 - newIndex / oldIndex),
/// flows back into the pool's reserve: the hue gets cheaper again and the
/// rebase stops once the hue is no longer overused. The overuse clock starts
/// at the update that leaves the hue overused (reserves only change at
/// updates, so the overused time is exact); a due rebase is applied by the
/// next trade on the hue, or by anyone calling `rebase(hue)`.
///
/// Invariants (checked where they could break):
/// 1. k = x * y never decreases (`_store`, the only writer of a pool).
/// 2. address(this).balance == sum of ethReserve + fees + totalCredits:
///    every wei that comes in is a reserve or a fee, every wei that goes out
///    leaves one of them, and ETH that cannot be pushed becomes a credit.
///    (ETH forced in without a call is moved to the fee pot by `skim`.)
/// 3. pigment is conserved: pigmentReserve + the sum of every token's
///    effective pigment <= initialPigment; hence a sale never needs more than
///    the real ETH reserve (checked in `sell`).
/// 4. crashed <=> pigmentReserve < floorReserve (derived).
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
    /// @notice A hue is crashed while its pigment reserve is below this.
    uint256 public immutable floorReserve;
    /// @notice A hue is overused (and rebases) while its pigment reserve is below this.
    uint256 public immutable overuseReserve;
    /// @notice How much an overused hue's index falls per period, in basis points.
    uint256 public immutable rebaseBps;
    /// @notice Seconds of overuse per rebase step.
    uint256 public immutable rebasePeriod;

    /// @dev One slot per hue, the only state a trade writes besides the token's shares and the fee pot.
    struct Pool {
        uint96 ethReserve; // real wei, not counting virtualEth
        uint96 pigmentReserve;
        uint32 index; // rebase index, INDEX_ONE = 1
        uint32 overusedSince; // start of the current rebase period while overused (unix time: good until 2106)
    }

    /// @dev Two hues' shares per slot: a token holding neighbouring hues pays for one slot.
    struct SharePair {
        uint128 even;
        uint128 odd;
    }

    /// @notice One hue as `poolState()` reports it.
    struct HueState {
        uint256 ethReserve; // real wei in the pool
        uint256 pigmentReserve;
        uint256 price; // marginal price, wei per whole pigment: (ethReserve + virtualEth) * 1e18 / pigmentReserve
        bool crashed; // pigmentReserve < floorReserve
        uint256 rebaseIndex; // INDEX_ONE = no rebase yet
        uint256 nextRebaseAt; // when the next rebase step is due (may be past); 0 while not overused
    }

    mapping(uint256 hue => Pool) private _pools;
    mapping(uint256 tokenId => mapping(uint256 huePair => SharePair)) private _shares;

    /// @notice Trading fees not yet withdrawn by the owner, in wei.
    uint256 public fees;
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
    /// @notice `hue`'s pigment reserve fell under its floor: the renderer splits the RGB channels of its holders.
    event FlashCrash(uint256 indexed hue, uint256 reserve, uint256 floor);
    /// @notice `hue`'s pigment reserve is back at or above its floor.
    event Recovered(uint256 indexed hue, uint256 reserve);
    /// @notice `hue`'s rebase index fell to `index` (of INDEX_ONE).
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
    error UnknownHue(uint256 hue, uint256 hueCount);
    error InsufficientOutput(uint256 amountOut, uint256 minOut);
    error NotTokenOwner(uint256 tokenId, address caller);
    error InsufficientPigment(uint256 tokenId, uint256 hue, uint256 held, uint256 wanted);
    error ReserveOverflow(uint256 hue, uint256 ethReserve);
    error ReserveUnderflow(uint256 hue, uint256 ethReserve, uint256 ethOut);
    error KDecreased(uint256 hue, uint256 kBefore, uint256 kAfter);
    error NotOverused(uint256 hue, uint256 pigmentReserve, uint256 overuseReserve);
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
    /// @param rebasePeriod_ Seconds per rebase step (> 0).
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
        uint256 rebasePeriod_
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
        canvas = canvas_;
        hueCount = hueCount_;
        virtualEth = virtualEth_;
        initialPigment = initialPigment_;
        feeBps = feeBps_;
        floorReserve = initialPigment_ * floorBps_ / BPS;
        overuseReserve = initialPigment_ * overuseBps_ / BPS;
        rebaseBps = rebaseBps_;
        rebasePeriod = rebasePeriod_;
        Pool memory fresh = Pool(0, uint96(initialPigment_), uint32(INDEX_ONE), uint32(block.timestamp));
        for (uint256 hue = 0; hue < hueCount_; ++hue) {
            _pools[hue] = fresh;
        }
    }

    // ---------------------------------------------------------------- trades

    /// @notice Buy pigment of `hue` with all the ETH sent, for token `tokenId` (anyone may
    /// buy for any existing token). The token is re-coloured: its generation goes up.
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
        canvas.recolour(tokenId); // reverts for a token that does not exist
        (Pool memory before, Pool memory pool) = _load(hue);
        uint256 fee;
        uint256 ethIn;
        (fee, ethIn, pigmentOut) = _buyAmounts(pool, msg.value);
        if (pigmentOut == 0 || pigmentOut < minPigmentOut) revert InsufficientOutput(pigmentOut, minPigmentOut);
        uint256 ethReserve = pool.ethReserve + ethIn;
        if (ethReserve > type(uint96).max) revert ReserveOverflow(hue, ethReserve);

        pool.ethReserve = uint96(ethReserve);
        pool.pigmentReserve -= uint96(pigmentOut); // pigmentOut < pigmentReserve
        _addShares(tokenId, hue, pigmentOut * INDEX_ONE / pool.index);
        fees += fee;
        _store(hue, before, pool);
        emit Bought(tokenId, hue, msg.sender, msg.value, pigmentOut);
    }

    /// @notice Sell `pigmentIn` of your token's pigment of `hue` back to the pool, for ETH
    /// (the token's owner only). The ETH is sent to you, or credited to you if it cannot be.
    /// The token is re-coloured: its generation goes up.
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
        (Pool memory before, Pool memory pool) = _load(hue);
        _removeShares(tokenId, hue, pigmentIn, pool.index);
        uint256 fee;
        uint256 gross;
        (fee, gross, ethOut) = _sellAmounts(pool, pigmentIn);
        if (ethOut == 0 || ethOut < minEthOut) revert InsufficientOutput(ethOut, minEthOut);
        if (gross > pool.ethReserve) revert ReserveUnderflow(hue, pool.ethReserve, gross); // invariant 3

        pool.ethReserve -= uint96(gross);
        pool.pigmentReserve += uint96(pigmentIn); // stays <= initialPigment (invariant 3)
        fees += fee;
        _store(hue, before, pool);
        emit Sold(tokenId, hue, msg.sender, pigmentIn, ethOut);
        _pay(msg.sender, ethOut);
    }

    /// @notice Apply the rebase steps due to an overused hue (anyone may call; trades on
    /// the hue do it too). Reverts when the hue is not overused or no full period has passed.
    /// @return index The hue's new rebase index.
    function rebase(uint256 hue) external nonReentrant returns (uint256 index) {
        if (hue >= hueCount) revert UnknownHue(hue, hueCount);
        (Pool memory before, Pool memory pool) = _load(hue);
        if (before.pigmentReserve >= overuseReserve) {
            revert NotOverused(hue, before.pigmentReserve, overuseReserve);
        }
        if (pool.overusedSince == before.overusedSince) {
            revert RebaseNotDue(hue, uint256(before.overusedSince) + rebasePeriod);
        }
        _store(hue, before, pool);
        return pool.index;
    }

    /// @inheritdoc IPigmentSettlement
    /// @dev Every hue the token holds is sold at market (fee included) without re-colouring:
    /// the token is gone. Loops over the hues (a constant), not over tokens.
    function settle(uint256 tokenId, address owner) external nonReentrant returns (uint256 ethOut) {
        if (msg.sender != address(canvas)) revert NotCanvas(msg.sender);
        for (uint256 hue = 0; hue < hueCount; ++hue) {
            uint256 shares = _sharesOf(tokenId, hue);
            if (shares == 0) continue;
            (Pool memory before, Pool memory pool) = _load(hue);
            uint256 pigmentIn = shares * pool.index / INDEX_ONE;
            _removeShares(tokenId, hue, pigmentIn, pool.index);
            _clearShares(tokenId, hue); // the rounding dust of a rebased hue goes with the token
            (uint256 fee, uint256 gross, uint256 out) = _sellAmounts(pool, pigmentIn);
            if (gross > pool.ethReserve) revert ReserveUnderflow(hue, pool.ethReserve, gross); // invariant 3
            pool.ethReserve -= uint96(gross);
            pool.pigmentReserve += uint96(pigmentIn);
            fees += fee;
            ethOut += out;
            _store(hue, before, pool);
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

    /// @notice Send the fee pot to `to` (owner only).
    function withdrawFees(address payable to) external onlyOwner nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        uint256 amount = fees;
        fees = 0;
        _send(to, amount);
        emit FeesWithdrawn(to, amount);
    }

    /// @notice Add ETH that reached this contract without a trade (a forced send) to the
    /// fee pot, restoring invariant 2 (owner only).
    /// @return amount The wei skimmed.
    function skim() external onlyOwner nonReentrant returns (uint256 amount) {
        amount = address(this).balance - accountedEth();
        fees += amount;
        emit Skimmed(amount);
    }

    // ----------------------------------------------------------------- views

    /// @notice Every hue's state, in hue order: what a render reads (call it at the
    /// block being rendered for a reproducible render). Stored state: a rebase that
    /// is due but not yet applied shows in `nextRebaseAt`, not in the index.
    function poolState() external view returns (HueState[] memory states) {
        states = new HueState[](hueCount);
        for (uint256 hue = 0; hue < states.length; ++hue) {
            Pool memory pool = _pools[hue];
            bool overused = pool.pigmentReserve < overuseReserve;
            states[hue] = HueState({
                ethReserve: pool.ethReserve,
                pigmentReserve: pool.pigmentReserve,
                price: (uint256(pool.ethReserve) + virtualEth) * WAD / pool.pigmentReserve,
                crashed: pool.pigmentReserve < floorReserve,
                rebaseIndex: pool.index,
                nextRebaseAt: overused ? uint256(pool.overusedSince) + rebasePeriod : 0
            });
        }
    }

    /// @notice A token's effective pigment of every hue, after rebases (shares * index),
    /// in hue order. Zero for a token that never held pigment.
    function effectiveWeights(uint256 tokenId) external view returns (uint256[] memory weights) {
        weights = new uint256[](hueCount);
        for (uint256 hue = 0; hue < weights.length; ++hue) {
            weights[hue] = _sharesOf(tokenId, hue) * _pools[hue].index / INDEX_ONE;
        }
    }

    /// @notice A token's effective pigment of one hue: the most it can sell.
    function pigmentOf(uint256 tokenId, uint256 hue) external view returns (uint256) {
        if (hue >= hueCount) revert UnknownHue(hue, hueCount);
        return _sharesOf(tokenId, hue) * _pools[hue].index / INDEX_ONE;
    }

    /// @notice Pigment that `buy` would give for `ethIn` wei now (a due rebase included).
    function quoteBuy(uint256 hue, uint256 ethIn) external view returns (uint256 pigmentOut) {
        if (hue >= hueCount) revert UnknownHue(hue, hueCount);
        (, Pool memory pool) = _load(hue);
        (,, pigmentOut) = _buyAmounts(pool, ethIn);
    }

    /// @notice Wei that `sell` of `pigmentIn` would pay now, after the fee (a due rebase included).
    function quoteSell(uint256 hue, uint256 pigmentIn) external view returns (uint256 ethOut) {
        if (hue >= hueCount) revert UnknownHue(hue, hueCount);
        (, Pool memory pool) = _load(hue);
        (,, ethOut) = _sellAmounts(pool, pigmentIn);
    }

    /// @notice ETH this contract accounts for: every real reserve + fees + credits
    /// (equal to its balance unless ETH was forced in; see `skim`).
    function accountedEth() public view returns (uint256 total) {
        for (uint256 hue = 0; hue < hueCount; ++hue) {
            total += _pools[hue].ethReserve;
        }
        return total + fees + totalCredits;
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

    /// @dev The stored pool (`before`) and a copy with any due rebase applied (`pool`).
    function _load(uint256 hue) private view returns (Pool memory before, Pool memory pool) {
        before = _pools[hue];
        pool = Pool(before.ethReserve, before.pigmentReserve, before.index, before.overusedSince);
        if (pool.pigmentReserve >= overuseReserve) return (before, pool);
        uint256 periods = (block.timestamp - pool.overusedSince) / rebasePeriod;
        if (periods == 0) return (before, pool);
        pool.overusedSince += uint32(periods * rebasePeriod); // <= block.timestamp
        uint256 index = _decayed(pool.index, periods);
        if (index < pool.index) {
            // The holders' pigment shrinks by index / oldIndex; what they lose returns to the pool.
            uint256 held = initialPigment - pool.pigmentReserve;
            pool.pigmentReserve += uint96(held * (pool.index - index) / pool.index);
            pool.index = uint32(index);
        }
    }

    /// @dev `index * (1 - rebaseBps / 10 000) ** periods`, by squaring, never below MIN_INDEX.
    function _decayed(uint256 index, uint256 periods) private view returns (uint256) {
        uint256 factor = (BPS - rebaseBps) * (WAD / BPS);
        uint256 scale = WAD;
        while (periods != 0) {
            if (periods & 1 != 0) scale = scale * factor / WAD;
            factor = factor * factor / WAD;
            periods >>= 1;
        }
        index = index * scale / WAD;
        return index < MIN_INDEX ? MIN_INDEX : index;
    }

    /// @dev The only writer of a pool: checks invariant 1, runs the overuse clock, and
    /// emits Rebased / FlashCrash / Recovered when the update crosses a line.
    function _store(uint256 hue, Pool memory before, Pool memory pool) private {
        uint256 kBefore = (uint256(before.ethReserve) + virtualEth) * before.pigmentReserve;
        uint256 kAfter = (uint256(pool.ethReserve) + virtualEth) * pool.pigmentReserve;
        if (kAfter < kBefore) revert KDecreased(hue, kBefore, kAfter);
        // Overuse can only have begun at this update if the stored pool was not overused.
        if (before.pigmentReserve >= overuseReserve) pool.overusedSince = uint32(block.timestamp);
        _pools[hue] = pool;

        if (pool.index != before.index) emit Rebased(hue, pool.index);
        bool wasCrashed = before.pigmentReserve < floorReserve;
        bool crashed = pool.pigmentReserve < floorReserve;
        if (crashed && !wasCrashed) emit FlashCrash(hue, pool.pigmentReserve, floorReserve);
        else if (wasCrashed && !crashed) emit Recovered(hue, pool.pigmentReserve);
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

    /// @dev Burns the shares worth `pigment` at `index`, rounded up, or reverts when the token holds less.
    function _removeShares(uint256 tokenId, uint256 hue, uint256 pigment, uint256 index) private {
        SharePair storage pair = _shares[tokenId][hue >> 1];
        uint256 shares = hue & 1 == 0 ? pair.even : pair.odd;
        uint256 held = shares * index / INDEX_ONE;
        if (pigment > held) revert InsufficientPigment(tokenId, hue, held, pigment);
        uint256 burnt = (pigment * INDEX_ONE + index - 1) / index; // <= shares since pigment <= held
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
