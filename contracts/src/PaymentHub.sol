// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

/// @title Idlerig payment hub
/// @notice Payment channels payer -> provider per ERC-20 token (see shared/DESIGN.md, "Payments").
/// The payer locks tokens for a provider and signs cumulative EIP-712 vouchers off-chain. Anyone
/// may submit the provider's latest voucher: the hub pays the difference to what was already
/// claimed to the provider's payout address, without closing the channel. The payer leaves by
/// requesting an unlock, waiting `unlockDelay` (during which the provider can still claim), and
/// withdrawing the remainder; the channel's epoch then moves on so no old voucher pays again.
contract PaymentHub is EIP712, ReentrancyGuardTransient, Ownable2Step {
    using SafeERC20 for IERC20;

    /// One storage slot per channel: a steady-state claim reads and writes one word.
    struct Channel {
        uint96 deposited; // locked by the payer in this epoch (never decreases within it)
        uint96 claimed; // paid out to the provider in this epoch (always <= deposited)
        uint32 epoch; // bumped by every withdrawal; vouchers name the epoch they pay
        uint32 unlockAt; // 0: locked; else the time from which the payer may withdraw
    }

    /// A voucher with its signature, as claimBatch takes it.
    struct SignedVoucher {
        address payer;
        address provider;
        address token;
        uint32 epoch;
        uint256 cumulative;
        bytes signature;
    }

    bytes32 public constant VOUCHER_TYPEHASH =
        keccak256("Voucher(address payer,address provider,address token,uint32 epoch,uint256 cumulative)");

    /// The shortest unlock timelock a hub may be deployed with. A provider's watchtower must see
    /// the unlock request and get its claim mined well inside it (DESIGN.md: claim latency).
    uint256 public constant MIN_UNLOCK_DELAY = 1 hours;

    /// Seconds between an unlock request and the earliest withdrawal.
    uint256 public immutable unlockDelay;

    mapping(address payer => mapping(address provider => mapping(address token => Channel))) private _channels;
    /// Where a provider's earnings go; zero: the provider's own address.
    mapping(address provider => address) public payoutOf;
    /// Tokens the owner has allowed (plain ERC-20s only: no fee-on-transfer or hook tokens).
    mapping(address token => bool) public tokenAllowed;

    event TokenAllowed(address indexed token, bool allowed);
    event PayoutSet(address indexed provider, address indexed payout);
    event Deposited(
        address indexed payer,
        address indexed provider,
        address indexed token,
        uint32 epoch,
        uint256 amount,
        uint256 deposited
    );
    event Claimed(
        address indexed payer,
        address indexed provider,
        address indexed token,
        uint32 epoch,
        uint256 amount,
        uint256 claimed,
        address payout
    );
    event UnlockRequested(
        address indexed payer,
        address indexed provider,
        address indexed token,
        uint32 epoch,
        uint256 unlockAt
    );
    event UnlockCancelled(address indexed payer, address indexed provider, address indexed token, uint32 epoch);
    event Withdrawn(
        address indexed payer,
        address indexed provider,
        address indexed token,
        uint32 epoch,
        uint256 amount
    );

    error UnlockDelayTooShort(uint256 given, uint256 minimum);
    error TokenNotAllowed(address token);
    error ZeroAddress();
    error ZeroAmount();
    error AmountTooLarge(uint256 total);
    error FeeOnTransfer(uint256 expected, uint256 received);
    error WrongEpoch(uint32 given, uint32 current);
    error WrongSigner(address signer, address payer);
    error UnlockNotRequested();
    error UnlockPending(uint256 unlockAt);
    error NothingToWithdraw();

    constructor(address initialOwner, uint256 unlockDelay_) EIP712("IdlerigPaymentHub", "1") Ownable(initialOwner) {
        if (unlockDelay_ < MIN_UNLOCK_DELAY) revert UnlockDelayTooShort(unlockDelay_, MIN_UNLOCK_DELAY);
        if (unlockDelay_ > type(uint32).max / 2) revert UnlockDelayTooShort(unlockDelay_, MIN_UNLOCK_DELAY);
        unlockDelay = unlockDelay_;
    }

    // ---- owner ----------------------------------------------------------------------------------

    /// Allow or disallow deposits in `token`. Channels already funded in a disallowed token can
    /// still be claimed and withdrawn: nobody's money is frozen by the owner.
    function setTokenAllowed(address token, bool allowed) external onlyOwner {
        if (token == address(0)) revert ZeroAddress();
        tokenAllowed[token] = allowed;
        emit TokenAllowed(token, allowed);
    }

    // ---- provider -------------------------------------------------------------------------------

    /// The caller (a provider's node key) sends its future earnings to `payout`; zero: itself.
    function setPayout(address payout) external {
        payoutOf[msg.sender] = payout;
        emit PayoutSet(msg.sender, payout);
    }

    // ---- payer ----------------------------------------------------------------------------------

    /// Lock `amount` of `token` for `provider` (opens the channel or tops it up).
    function deposit(address provider, address token, uint256 amount) external nonReentrant {
        if (!tokenAllowed[token]) revert TokenNotAllowed(token);
        if (provider == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        Channel storage ch = _channels[msg.sender][provider][token];
        uint256 total = uint256(ch.deposited) + amount;
        if (total > type(uint96).max) revert AmountTooLarge(total);
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received != amount) revert FeeOnTransfer(amount, received);
        ch.deposited = uint96(total);
        emit Deposited(msg.sender, provider, token, ch.epoch, amount, total);
    }

    /// Start the timelock; the provider may keep claiming until the withdrawal.
    function requestUnlock(address provider, address token) external {
        Channel storage ch = _channels[msg.sender][provider][token];
        if (ch.deposited == 0) revert NothingToWithdraw();
        uint256 unlockAt = block.timestamp + unlockDelay;
        if (unlockAt > type(uint32).max) revert UnlockDelayTooShort(unlockDelay, MIN_UNLOCK_DELAY); // after 2106
        ch.unlockAt = uint32(unlockAt);
        emit UnlockRequested(msg.sender, provider, token, ch.epoch, unlockAt);
    }

    /// Keep the channel: withdraw the unlock request.
    function cancelUnlock(address provider, address token) external {
        Channel storage ch = _channels[msg.sender][provider][token];
        if (ch.unlockAt == 0) revert UnlockNotRequested();
        ch.unlockAt = 0;
        emit UnlockCancelled(msg.sender, provider, token, ch.epoch);
    }

    /// After the timelock: take back what the provider has not claimed and start a new epoch.
    function withdraw(address provider, address token) external nonReentrant returns (uint256 amount) {
        Channel memory ch = _channels[msg.sender][provider][token];
        if (ch.unlockAt == 0) revert UnlockNotRequested();
        if (block.timestamp < ch.unlockAt) revert UnlockPending(ch.unlockAt);
        amount = ch.deposited - ch.claimed;
        _channels[msg.sender][provider][token] = Channel(0, 0, ch.epoch + 1, 0);
        emit Withdrawn(msg.sender, provider, token, ch.epoch, amount);
        if (amount > 0) IERC20(token).safeTransfer(msg.sender, amount);
    }

    // ---- anyone ---------------------------------------------------------------------------------

    /// Pay the provider what `cumulative` adds to what was claimed in this epoch (capped at the
    /// deposit). A voucher at or below the claimed total pays nothing and does not revert.
    function claim(
        address payer,
        address provider,
        address token,
        uint32 epoch,
        uint256 cumulative,
        bytes calldata signature
    ) external nonReentrant returns (uint256 amount) {
        address payout = _payout(provider);
        amount = _settle(payer, provider, token, epoch, cumulative, signature, payout);
        if (amount > 0) IERC20(token).safeTransfer(payout, amount);
    }

    /// Claim several vouchers in one transaction; returns the total paid.
    function claimBatch(SignedVoucher[] calldata vouchers) external nonReentrant returns (uint256 total) {
        for (uint256 i = 0; i < vouchers.length; ++i) {
            SignedVoucher calldata v = vouchers[i];
            address payout = _payout(v.provider);
            uint256 amount = _settle(v.payer, v.provider, v.token, v.epoch, v.cumulative, v.signature, payout);
            if (amount > 0) IERC20(v.token).safeTransfer(payout, amount);
            total += amount;
        }
    }

    // ---- views ----------------------------------------------------------------------------------

    function channel(address payer, address provider, address token) external view returns (Channel memory) {
        return _channels[payer][provider][token];
    }

    /// What a voucher for `cumulative` would pay now (0 for a stale one or another epoch).
    function claimable(
        address payer,
        address provider,
        address token,
        uint32 epoch,
        uint256 cumulative
    ) external view returns (uint256) {
        Channel memory ch = _channels[payer][provider][token];
        if (epoch != ch.epoch) return 0;
        uint256 capped = cumulative < ch.deposited ? cumulative : ch.deposited;
        return capped > ch.claimed ? capped - ch.claimed : 0;
    }

    function voucherDigest(
        address payer,
        address provider,
        address token,
        uint32 epoch,
        uint256 cumulative
    ) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, payer, provider, token, epoch, cumulative)));
    }

    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---- internals ------------------------------------------------------------------------------

    /// Checks the voucher and records what it pays; the caller transfers exactly that amount in
    /// the same call, so a failed transfer reverts the record with it.
    function _settle(
        address payer,
        address provider,
        address token,
        uint32 epoch,
        uint256 cumulative,
        bytes calldata signature,
        address payout
    ) private returns (uint256 amount) {
        if (payer == address(0)) revert ZeroAddress();
        Channel storage ch = _channels[payer][provider][token];
        (uint96 deposited, uint96 claimed, uint32 current) = (ch.deposited, ch.claimed, ch.epoch);
        if (epoch != current) revert WrongEpoch(epoch, current);
        // ECDSA rejects malleable (high-s) and non-65-byte signatures, and never returns zero.
        address signer = ECDSA.recoverCalldata(voucherDigest(payer, provider, token, epoch, cumulative), signature);
        if (signer != payer) revert WrongSigner(signer, payer);
        uint96 capped = cumulative < deposited ? uint96(cumulative) : deposited;
        if (capped <= claimed) return 0;
        amount = capped - claimed;
        ch.claimed = capped;
        emit Claimed(payer, provider, token, epoch, amount, capped, payout);
    }

    function _payout(address provider) private view returns (address) {
        address payout = payoutOf[provider];
        return payout == address(0) ? provider : payout;
    }
}
