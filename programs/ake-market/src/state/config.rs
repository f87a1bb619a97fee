use anchor_lang::prelude::*;

use crate::errors::MarketError;
use crate::math::tier_for;

/// The protocol's single configuration, PDA `["config"]`.
#[account]
#[derive(InitSpace, Debug)]
pub struct Config {
    /// Proposes (timelocked) and cancels parameter changes, names the
    /// guardian, unpauses: any address, e.g. a multisig or governance PDA.
    pub authority: Pubkey,
    /// Proposed new authority (two-step transfer); default when none.
    pub pending_authority: Pubkey,
    /// May pause at once (never unpause): any address.
    pub guardian: Pubkey,
    /// Resolves disputes (a multisig or governance PDA in production).
    pub arbiter: Pubkey,
    /// The AKE mint.
    pub mint: Pubkey,
    /// AKE token account receiving the treasury share of payments.
    pub treasury: Pubkey,
    /// Token account holding all stake, PDA `["stake_vault"]`, its own authority.
    pub stake_vault: Pubkey,
    pub paused: bool,
    /// When the last pause ended: queue waits count from then, so a pause
    /// (which stops assignment) never makes queued jobs stale.
    pub unpaused_at: i64,
    /// Markets are PDAs `["market", index]` for index in 0..market_count.
    pub market_count: u16,
    pub params: Params,
    pub bump: u8,
    pub stake_vault_bump: u8,
}

impl Config {
    pub const SPACE: usize = 8 + Config::INIT_SPACE;

    pub fn tier_of(&self, staked: u64) -> u8 {
        tier_for(staked, &self.params.tier_thresholds)
    }
}

/// Governance-tunable parameters, each checked against on-chain bounds.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq)]
pub struct Params {
    pub oracle: OracleParams,
    /// Share of each payment burned.
    pub burn_bps: u16,
    /// Share of each payment sent to the treasury.
    pub treasury_bps: u16,
    /// Seconds after a result during which the creator may check it.
    pub challenge_window_secs: u32,
    /// Seconds beyond the job's max duration before a silent node expires.
    pub completion_grace_secs: u32,
    pub unbonding_secs: u32,
    /// Staked base units for tiers 1, 2 and 3.
    pub tier_thresholds: [u64; 3],
    /// How many assignments a job gets before an expiry refunds it.
    pub max_job_attempts: u8,
    pub sla: SlaParams,
    pub release: ReleaseParams,
    /// Seconds between proposing a change to these parameters (or to a
    /// market) and applying it; changing it is itself timelocked.
    pub timelock_secs: u32,
    pub audit: AuditParams,
}

/// Audits by re-execution (see `crate::audit`).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq)]
pub struct AuditParams {
    /// Whether jobs may ask for audits: governance turns it on once the
    /// nodes' daemons reveal their digests (an `ake-node` without audit
    /// support would lose its collateral on an auditable job).
    pub enabled: bool,
    /// The audit multiplier k, in bps: a job is drawn with the chance
    /// `k x charge / R` (R the collateral it keeps locked until the draw).
    pub k_bps: u32,
    /// The lowest chance of a draw, in bps.
    pub p_min_bps: u16,
    /// Share of an auditable job's escrow its creator adds to the market's
    /// audit reserve, which pays the audit runs.
    pub fee_bps: u16,
    /// Seconds a node has to reveal its digest once every commitment of
    /// its audit round is in.
    pub reveal_secs: u32,
    /// The least reputation a node needs to run an audit (bps; the job's
    /// own minimum when higher): a sybil must first do verified work
    /// (10 USD of it for 5,000) before it can vote on anyone's result.
    pub auditor_min_reputation_bps: u16,
}

/// What breaking the SLA costs, and how disputes run.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq)]
pub struct SlaParams {
    /// Share of the job's execution collateral slashed when its node misses
    /// the deadline (never more than that job's collateral).
    pub expiry_slash_bps: u16,
    /// Share of an expiry slash paid to whoever called `expire_job`; the rest is burned.
    pub expiry_bounty_bps: u16,
    /// Share of the job's result collateral slashed (all burned) when its node loses a dispute.
    pub dispute_slash_bps: u16,
    /// Bond, in base units, a creator posts to dispute; burned if the node wins.
    pub dispute_bond: u64,
    /// An unresolved dispute settles as accepted after this long.
    pub dispute_timeout_secs: u32,
    /// A suspended node may be re-armed this long after its breach; a newly
    /// registered node waits as long before it is first armed.
    pub rearm_cooldown_secs: u32,
}

/// What handing a job back costs beyond the job's own free window (see
/// `release_job`), the same in every market.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq)]
pub struct ReleaseParams {
    /// Hand-backs an owner may make per window for each GPU it registered.
    /// Past it, a release inside the free window sends the node to the back
    /// of the queue after `over_budget_cooldown_secs`; after the window it
    /// costs what an expiry costs.
    pub budget_per_gpu: u16,
    pub budget_window_secs: u32,
    pub over_budget_cooldown_secs: u32,
    /// Verified work (micro-USD) a node needs before its hand-backs count
    /// toward refunding a job or halting a batch.
    pub proof_floor_micro_usd: u64,
    /// Each of a creator's jobs refunded as unrunnable in the budget window
    /// adds this share of the market's posting fee to its next posts.
    pub posting_fee_step_bps: u16,
}

impl ReleaseParams {
    /// The budget window containing `now`.
    pub fn window_at(&self, now: i64) -> u64 {
        now.max(0) as u64 / u64::from(self.budget_window_secs.max(1))
    }
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq)]
pub struct OracleParams {
    /// Owner of PriceUpdateV2 accounts on this cluster.
    pub receiver_program: Pubkey,
    /// The AKE/USD feed id.
    pub feed_id: [u8; 32],
    pub max_age_secs: u32,
    /// Widest EMA confidence accepted, in bps of the EMA price.
    pub max_conf_bps: u16,
    /// price used = ema_price - haircut_bps/10000 x ema_conf (Helium uses 2x).
    pub haircut_bps: u32,
}

const DAY: u32 = 86_400;

/// The highest proof floor: what a node with the highest reputation a job
/// may ask has proven (990 USD).
pub const MAX_PROOF_FLOOR_MICRO_USD: u64 = 990_000_000;
/// The treasury fee cannot be removed: with rewards capped at 1x the burn,
/// this fee is what makes paying yourself a loss.
pub const MIN_TREASURY_BPS: u16 = 100;

impl Params {
    pub fn validate(&self) -> Result<()> {
        require!(
            u32::from(self.burn_bps) + u32::from(self.treasury_bps) == 10_000
                && self.treasury_bps >= MIN_TREASURY_BPS,
            MarketError::InvalidFeeSplit
        );
        require!(
            (1..=30 * DAY).contains(&self.challenge_window_secs)
                && (1..=7 * DAY).contains(&self.completion_grace_secs),
            MarketError::InvalidWindows
        );
        let o = &self.oracle;
        require!(
            (1..=3_600).contains(&o.max_age_secs)
                && (1..=5_000).contains(&o.max_conf_bps)
                && o.haircut_bps <= 50_000,
            MarketError::InvalidOracleSettings
        );
        let t = &self.tier_thresholds;
        require!(
            t[0] > 0 && t[0] < t[1] && t[1] < t[2],
            MarketError::InvalidTierThresholds
        );
        let floor = self
            .challenge_window_secs
            .checked_add(self.completion_grace_secs)
            .ok_or(MarketError::MathOverflow)?;
        require!(
            self.unbonding_secs >= floor
                && self.unbonding_secs >= self.release.budget_window_secs
                && self.unbonding_secs <= 365 * DAY,
            MarketError::InvalidUnbonding
        );
        require!(
            (1..=10).contains(&self.max_job_attempts),
            MarketError::InvalidMaxAttempts
        );
        require!(
            ake_program_common::timelock::valid_delay(self.timelock_secs),
            MarketError::InvalidTimelock
        );
        let sla = &self.sla;
        require!(
            (1..=10_000).contains(&sla.expiry_slash_bps)
                && sla.expiry_bounty_bps <= 10_000
                && (1..=10_000).contains(&sla.dispute_slash_bps)
                && sla.dispute_bond > 0
                && (1..=30 * DAY).contains(&sla.dispute_timeout_secs)
                && sla.rearm_cooldown_secs <= 30 * DAY,
            MarketError::InvalidSlaSettings
        );
        let r = &self.release;
        require!(
            (1..=1_000).contains(&r.budget_per_gpu)
                && (1..=30 * DAY).contains(&r.budget_window_secs)
                && r.over_budget_cooldown_secs <= DAY
                && (1..=MAX_PROOF_FLOOR_MICRO_USD).contains(&r.proof_floor_micro_usd)
                && r.posting_fee_step_bps <= 50_000,
            MarketError::InvalidReleaseSettings
        );
        let a = &self.audit;
        require!(
            (10_000..=1_000_000).contains(&a.k_bps)
                && a.p_min_bps <= 10_000
                && (1..=10_000).contains(&a.fee_bps)
                && (3_600..=7 * DAY).contains(&a.reveal_secs)
                && a.auditor_min_reputation_bps <= crate::state::MAX_REPUTATION_BPS,
            MarketError::InvalidAuditSettings
        );
        Ok(())
    }
}
