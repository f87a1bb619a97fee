use anchor_lang::prelude::*;

/// `FromRepr` lets clients turn an on-chain code back into the error.
#[error_code]
#[derive(strum::FromRepr, strum::EnumIter)]
pub enum EmissionsError {
    #[msg("arithmetic overflow")]
    MathOverflow,
    #[msg("signer is not the emissions authority")]
    NotAuthority,
    #[msg("only the market's reporter PDA may report work")]
    NotReporter,
    #[msg("initialize must be signed by the mint's current mint authority (it hands the authority to this program in the same instruction)")]
    NotMintAuthority,
    #[msg("the mint has a freeze authority: AKE must not be freezable; create a mint without one")]
    MintHasFreezeAuthority,
    #[msg("initialize must be signed by this program's upgrade authority (whoever deployed it)")]
    NotUpgradeAuthority,
    #[msg("schedule out of bounds: epoch 1 s..365 days, first emission 1..cap, decay at most 5000 bps, floor at most the first emission")]
    InvalidSchedule,
    #[msg("the emission cap cannot drop below what is already scheduled")]
    CapBelowScheduled,
    #[msg("rewards out of bounds: max reward per burn 1..10000 bps, and the reward floor at most the max reward per burn")]
    InvalidRewards,
    #[msg("circuit breaker out of bounds: window at least one epoch, limit at least the emission the window spans plus one epoch of catch-up")]
    InvalidBreaker,
    #[msg(
        "the epoch changed while the transaction was in flight; rebuild it for the current epoch"
    )]
    WrongEpoch,
    #[msg("the chain clock is before the emission genesis")]
    BeforeGenesis,
    #[msg("that epoch has not ended yet")]
    EpochNotEnded,
    #[msg("that epoch is already closed")]
    EpochAlreadyClosed,
    #[msg("epochs close in order: close the earlier epoch first")]
    EpochOutOfOrder,
    #[msg("that epoch is not closed yet: rewards can be claimed once it is")]
    EpochNotClosed,
    #[msg("the mint circuit breaker tripped: too much minted in the rolling window; the claim stays valid, retry later")]
    CircuitBreakerTripped,
    #[msg("the total emission cap is reached")]
    EmissionCapReached,
    #[msg("the claim would pay out more than the epoch's payable rewards, or more out of the schedule than its node share")]
    NodeShareExceeded,
    #[msg("token account does not belong to the node's owner")]
    WrongRewardAccount,
    #[msg("timelock out of bounds: 1 s..30 days, and at least half the current delay")]
    InvalidTimelock,
    #[msg("the change was not applied within 14 days of its eta: cancel it and propose again")]
    ChangeExpired,
    #[msg("an epoch has ended but is not closed: close it first (`ake crank`), so a change never reaches work already done")]
    CloseEndedEpochsFirst,
    #[msg(
        "the change is still timelocked: apply it at or after its eta (see `ake admin pending`)"
    )]
    TimelockNotElapsed,
    #[msg("a change is already pending: apply or cancel it first")]
    ChangeAlreadyPending,
    #[msg("the emission cap may rise at most 10% per change")]
    CapRaiseTooLarge,
    #[msg("signer is not the proposed authority")]
    NotPendingAuthority,
    #[msg("only the authority may unpause; the guardian may only pause")]
    OnlyAuthorityUnpauses,
    #[msg("emissions are paused: no epoch closes until the authority unpauses; claims that mint nothing back still work")]
    Paused,
    #[msg("close_epoch's remaining accounts are not the next market's work record and its payer, or the first market index with no market: pass them in market index order from the epoch's tally (ake-sdk does)")]
    WrongTallyAccount,
    #[msg("the market named to end the tally exists: its work record must be summed first")]
    MarketNotLast,
    #[msg("a new epoch length must be 1 hour..30 days and at most 7x longer or shorter than the current one (change it in steps)")]
    EpochLengthChangeTooLarge,
    #[msg("emissions are paused: a claim that mints back above the schedule (the reward floor) waits until the authority unpauses; nothing is lost, retry then")]
    RemintPaused,
    #[msg("a treasury spend is already pending: apply or cancel it first")]
    SpendAlreadyPending,
    #[msg("the treasury holds less than the spend: propose a smaller amount")]
    TreasuryTooSmall,
    #[msg("a treasury spend must be more than 0 and go to a token account of the AKE mint other than the treasury")]
    InvalidSpend,
}
