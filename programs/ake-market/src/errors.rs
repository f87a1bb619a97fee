use anchor_lang::prelude::*;

/// `FromRepr` lets clients turn an on-chain code back into the error.
#[error_code]
#[derive(strum::FromRepr, strum::EnumIter)]
pub enum MarketError {
    #[msg("arithmetic overflow")]
    MathOverflow,
    #[msg("the protocol is paused: posting jobs and arming nodes are stopped; refunds, cancels and withdrawals still work")]
    Paused,
    #[msg("signer is not the config authority")]
    NotAuthority,
    #[msg("signer is not the proposed authority")]
    NotPendingAuthority,
    #[msg("burn bps + treasury bps must equal 10000, with at least 100 bps to the treasury (the fee that makes paying yourself a loss)")]
    InvalidFeeSplit,
    #[msg("challenge window must be 1 s..30 days and completion grace 1 s..7 days")]
    InvalidWindows,
    #[msg("oracle settings out of bounds: max age 1..3600 s, max confidence 1..5000 bps, haircut at most 50000 bps (5x)")]
    InvalidOracleSettings,
    #[msg("stake tier thresholds must be strictly increasing")]
    InvalidTierThresholds,
    #[msg("unbonding period must be at least the challenge window plus the completion grace and at most 365 days")]
    InvalidUnbonding,
    #[msg("max job attempts must be 1..10")]
    InvalidMaxAttempts,
    #[msg("SLA settings out of bounds: slashes 1..10000 bps of the job's collateral, bounty at most 10000 bps, dispute bond > 0, dispute timeout 1 s..30 days")]
    InvalidSlaSettings,
    #[msg("market settings out of bounds: name 1..32 bytes, price > 0, 1..=64 GPUs per job, duration and max queue wait 1 s..30 days, min duration 1 s..the max duration")]
    InvalidMarketSettings,
    #[msg("market index must be the next free index in the config")]
    WrongMarketIndex,
    #[msg("the price account is not owned by the configured Pyth receiver program")]
    OracleWrongOwner,
    #[msg("the price account could not be decoded as a Pyth PriceUpdateV2")]
    OracleMalformed,
    #[msg("the price update is for another feed than the configured AKE/USD feed")]
    OracleWrongFeed,
    #[msg("the price update is not fully verified by Wormhole guardians")]
    OracleNotFullyVerified,
    #[msg("the price update is older than the configured maximum age; post a fresh update")]
    OracleStale,
    #[msg("the oracle price (after the confidence haircut) is zero or negative")]
    OracleNonPositivePrice,
    #[msg("the oracle confidence interval is wider than the configured maximum")]
    OracleConfidenceTooWide,
    #[msg("the escrow needed exceeds max_tokens (slippage guard); quote again")]
    SlippageExceeded,
    #[msg("GPUs must be 1..market max, and duration 1..market max seconds")]
    InvalidJobShape,
    #[msg("the inline spec is too large for one transaction; post it by URI + sha256")]
    SpecTooLarge,
    #[msg("the spec is invalid: image required, URIs at most 200 bytes")]
    InvalidSpec,
    #[msg("job nonce does not match the creator's next nonce; re-read the Creator account")]
    NonceMismatch,
    #[msg("the market's job queue is full; try again later")]
    /// No longer returned (the pool grows on demand); kept so later codes keep their numbers.
    JobQueueFull,
    #[msg("the market's node queue is full; try again later")]
    /// No longer returned (the pool grows on demand).
    NodeQueueFull,
    #[msg("the market has too many jobs in flight; try again later")]
    /// No longer returned (the pool grows on demand).
    InFlightFull,
    #[msg(
        "a waiting counterpart must be passed for assignment: re-read the market queue and retry"
    )]
    /// No longer returned (a missing pick queues); kept so later codes keep their numbers.
    MatchCandidateMissing,
    #[msg("the work (job or batch) and node passed are not each other's best waiting counterpart; re-read the market queue (`ake crank` pairs them)")]
    WrongMatchCandidate,
    #[msg("the job is not in the state this instruction needs")]
    InvalidJobState,
    #[msg("the job is not waiting in the queue (it was assigned, settled or cancelled since it was read); only a queued job can be cancelled, refunded as stale or matched")]
    NotQueued,
    #[msg("signer is not the job's creator")]
    NotCreator,
    #[msg("signer is not the node's signer key")]
    NotNodeSigner,
    #[msg("signer is not the node's owner")]
    NotNodeOwner,
    #[msg("the job is not assigned to this node")]
    NotAssignedNode,
    #[msg("the result deadline has passed")]
    DeadlinePassed,
    #[msg("the result deadline has not passed yet")]
    DeadlineNotReached,
    #[msg("the challenge window is still open")]
    ChallengeWindowOpen,
    #[msg("the node is not idle")]
    NodeNotIdle,
    #[msg("the node is not waiting in the queue")]
    NodeNotQueued,
    #[msg("the node's owner has too little free stake for this market")]
    InsufficientStake,
    #[msg("amount must be greater than zero")]
    ZeroAmount,
    #[msg("that stake backs an assigned job or a waiting node and cannot leave")]
    StakeLocked,
    #[msg("the unbonding period has not ended")]
    StillUnbonding,
    #[msg("nothing is unbonding")]
    NothingUnbonding,
    #[msg("not enough staked")]
    InsufficientStakeBalance,
    #[msg("token account has the wrong mint")]
    WrongMint,
    #[msg("token account has the wrong owner")]
    WrongTokenOwner,
    #[msg("account does not match the one recorded on-chain")]
    AccountMismatch,
    #[msg("invalid hardware profile: 1..=64 GPUs, model 1..32 bytes")]
    InvalidNodeProfile,
    #[msg("the output URI is longer than 200 bytes")]
    OutputUriTooLong,
    #[msg("the challenge window has closed: the result can no longer be disputed")]
    ChallengeWindowClosed,
    #[msg("signer is not the arbiter")]
    NotArbiter,
    #[msg("the dispute has not timed out yet; the arbiter may still resolve it")]
    DisputeNotTimedOut,
    #[msg("the node is suspended after breaking its SLA; its owner must re-arm it")]
    NodeSuspended,
    #[msg("the node is neither suspended nor held out of the queue: there is nothing to re-arm")]
    NodeNotSuspended,
    #[msg("the node is cooling down (after registering, a suspension, a hand-back past its owner's release budget, or leaving the queue); it can be armed once the node's armable_at time has passed")]
    NodeCoolingDown,
    #[msg("jobs assigned to this node have not settled yet; close or re-key it once they have (after their challenge windows)")]
    NodeHasOpenJobs,
    #[msg("the stake account still holds tokens (active, locked or unbonding); request an unstake and withdraw everything first")]
    StakeNotEmpty,
    #[msg("the job has not waited in the queue past the market's max_queue_secs yet")]
    JobNotStale,
    #[msg("timelock out of bounds: 1 s..30 days, and at least half the current delay")]
    InvalidTimelock,
    #[msg("the change was not applied within 14 days of its eta: cancel it and propose again")]
    ChangeExpired,
    #[msg(
        "the change is still timelocked: apply it at or after its eta (see `ake admin pending`)"
    )]
    TimelockNotElapsed,
    #[msg("a change to this account is already pending: apply or cancel it first")]
    ChangeAlreadyPending,
    #[msg("the pending change is for another account")]
    WrongChangeTarget,
    #[msg("only the authority may unpause; the guardian may only pause")]
    OnlyAuthorityUnpauses,
    #[msg("posting fee must be 1 micro-USD..100 USD: every post must cost something")]
    InvalidPostingFee,
    #[msg("collateral settings out of bounds: stake per GPU > 0, escrow share 1..20000 bps, result collateral 10000..50000 bps of the charge")]
    InvalidCollateralSettings,
    #[msg("release settings out of bounds: a market's window share at most 10000 bps, 1 <= min <= max <= 1 day, max releases 1..3; the config's budget 1..=1000 per GPU, budget window 1 s..30 days and at most the unbonding period, over-budget cooldown at most a day, proof floor 1..=990,000,000 micro-USD, posting fee step at most 50,000 bps")]
    InvalidReleaseSettings,
    #[msg("the reported wall seconds exceed the time since assignment on the chain's clock")]
    UsageExceedsClock,
    #[msg("the reported GPU-seconds exceed wall seconds x the job's GPUs")]
    GpuSecondsExceedWall,
    #[msg("a result must report at least one second of work; hand the job back with release_job instead")]
    UsageZero,
    #[msg("this is a GPU market: register the node with its GPUs (model and VRAM), or serve a CPU market")]
    GpuMarketNeedsGpus,
    #[msg("invalid frame range: a batch holds 1..=10000 frames and its last frame number must fit in 32 bits")]
    InvalidFrameRange,
    #[msg("the batch has no frames waiting: all were handed out or cancelled")]
    BatchHasNoFramesWaiting,
    #[msg("the frame account is not the batch's next frame (another node took it since it was read): read the batch again and retry")]
    FrameTaken,
    #[msg("no waiting node can take this batch's frames now")]
    NoNodeForBatch,
    #[msg("the batch is not finished: frames are still waiting (cancel them) or a frame's job has not settled yet")]
    BatchNotFinished,
    #[msg(
        "only the creator may cancel a batch that has not waited past the market's max_queue_secs"
    )]
    BatchNotStale,
    #[msg("capacities may only rise, up to 10000 waiting jobs, 4096 waiting nodes and 16384 jobs in flight")]
    InvalidCapacity,
    #[msg("not an address lookup table: create one with the lookup table program first")]
    NotALookupTable,
    #[msg("the lookup table must be active and held by the protocol's authority (or frozen), so no one else can deactivate it")]
    LookupTableNotHeld,
    #[msg("the job's max_duration_secs is below the market's min_duration_secs: a node keeps part of the deadline back to commit the result, so a shorter job could not be run in time; ask at least the market's minimum")]
    JobTooShort,
    #[msg("driver capabilities must name at least one of compute (1), utility (2), graphics (4), video (8), display (16), compat32 (32) and nothing else")]
    InvalidDriverCapabilities,
    #[msg("the market's pool holds 65,535 entries, the most it can (its counts are 16-bit): wait for entries to leave or use another market")]
    MarketFull,
    #[msg("the due page named is not the PDA [\"due\", market, bucket, shard] of the pick passed, or not a due page")]
    WrongDuePage,
    #[msg("the due bucket passed is more than 900 s from when the job falls due: pick the bucket ceil(due / 300) (ake-sdk does)")]
    WrongDueBucket,
    #[msg("the due page named and the next shard are both full or gone (the market moved since it was read): re-read the pages and retry (ake-sdk does)")]
    DuePageFull,
    #[msg("the due page still indexes open jobs, or jobs can still be added to its bucket, or the next shard still exists (shards close from the last)")]
    DuePageInUse,
    #[msg("the payer holds too few lamports for the rent of the account this instruction creates or grows (a market pool slot, 556,800 lamports, or a due page, 8,630,400) while keeping its own 890,880: fund it and retry")]
    PayerCannotPayRent,
    #[msg("invalid parallelism: a batch keeps 1..=frame_count frames out at once (it reserves one frame account's rent for each)")]
    InvalidParallelism,
    #[msg("the batch is not parked: it is in the queue already, halted, cancelled, or has no frames waiting")]
    BatchNotParked,
    #[msg("no frame of the parked batch has closed since it parked, so it cannot create another frame yet: retry once one settles")]
    BatchReserveInUse,
    #[msg("the market's settlements left nothing to burn or pay: nothing to sweep")]
    NothingToSweep,
    #[msg("the owner still has registered nodes (their GPUs set its release budget): close them with `ake node close` first")]
    StakeHasNodes,
    #[msg("the batch is not halted: only a halted batch can be resumed")]
    BatchNotHalted,
    #[msg("a frame's submit or release must name the frame's batch (ake-sdk does)")]
    BatchMissing,
    #[msg("the remaining accounts must be the writable stake accounts (PDA [\"stake\", owner]) of the other owners that handed the work back, in the order the job or batch records them (ake-sdk passes them)")]
    WrongStakeAccount,
    #[msg("the treasury must be ake-emissions' treasury (its PDA [\"treasury\"]): fees go where only that program spends them")]
    WrongTreasury,
    #[msg(
        "signer is neither the node's owner nor the operator its owner named (`ake node operator`)"
    )]
    NotNodeOperator,
    #[msg("the operator has lifted this node's suspension as often as a week allows; only the owner can re-arm it now")]
    OperatorRearmCapReached,
    #[msg("the node is held out of the queue by its owner or operator; one of them re-arms it (`ake node rearm`)")]
    NodeHeld,
    #[msg("the live logs URI must be 1 to 200 bytes")]
    InvalidLogsUri,
    #[msg("audit settings out of bounds: k 1x..100x (10,000..1,000,000 bps), p_min and fee at most 10,000 bps (fee at least 1), reveal 1 h..7 days")]
    InvalidAuditSettings,
    #[msg("audits are not enabled on this cluster yet: post with verify = \"none\"")]
    AuditsDisabled,
    #[msg("an auditable job's result must carry its sealed digest sha256(digest || salt); ake-node computes it")]
    SealedDigestMissing,
    #[msg("the job is not waiting for its audit draw")]
    NotAwaitingDraw,
    #[msg("the draw's slots are not all past yet: retry 8 slots after the job's draw slot")]
    DrawTooEarly,
    #[msg("the account passed is not the SlotHashes sysvar")]
    NotSlotHashes,
    #[msg("the audit run account is not the one this audit names")]
    WrongAuditRun,
    #[msg("the revealed digest and salt do not hash to the sealed digest the node committed")]
    RevealMismatch,
    #[msg("not every run of this audit round has committed its result yet: reveal after")]
    RevealTooEarly,
    #[msg("the digest was revealed already")]
    AlreadyRevealed,
    #[msg("the audit round is not complete: a run has not revealed yet and its reveal deadline has not passed")]
    AuditNotReady,
    #[msg("an audit run cannot be cancelled")]
    AuditRunNotCancellable,
    #[msg("the job's audit is not over: draw it (`ake crank` does) and wait for its verdict before settling")]
    AuditPending,
    #[msg("the remaining accounts must name, for each audit run, the waiting node the draw picks and its owner's stake (ake-sdk computes them): the queue changed since they were read; read it again")]
    StaleAuditorPick,
    #[msg("verify = \"exact\" needs the image pinned by digest (name@sha256:<64 hex>): a tag can move between the job's run and its audit's, which would fail an honest node")]
    ExactNeedsPinnedImage,
    #[msg("an audit of this spec on this market found three different digests: it is not deterministic, so it cannot ask for verify = \"exact\" here; post it with verify = \"none\", or make it deterministic (a changed spec has a new hash)")]
    SpecNotAuditable,
    #[msg("an exact job's post must name the spec's unauditable-mark address (ake-sdk does)")]
    MissingUnauditableMark,
    #[msg("only an audit this node lost with its digest revealed can be appealed, once")]
    NotAppealable,
    #[msg("the time to appeal this verdict (the job's challenge window counted from the verdict, at least 60 s) is over")]
    AppealWindowClosed,
    #[msg("the node may still appeal this verdict: settle it after the job's challenge window counted from the verdict (at least 60 s)")]
    AppealWindowOpen,
    #[msg("the node appealed this verdict: the arbiter decides it, or anyone settles it after the dispute timeout plus the job's max duration")]
    AppealUndecided,
    #[msg("no appeal of this job is waiting for the arbiter")]
    NoAppeal,
    #[msg("the arbiter's time to decide this appeal (the dispute timeout plus the job's max duration, from the appeal) is over: anyone settles it, penalising nobody")]
    AppealDecisionLate,
}
