//! ake-market: USD-priced GPU jobs paid in AKE. Creators escrow tokens at the
//! oracle price when they post; verified work is burned (less a treasury fee)
//! and the rest refunded. Nodes and jobs meet in a two-sided priority queue.
#![allow(unexpected_cfgs)]

use anchor_lang::prelude::*;

pub mod audit;
pub mod constants;
pub mod disputes;
pub mod due;
pub mod errors;
pub mod events;
pub mod instructions;
pub mod matching;
pub mod math;
pub mod oracle;
pub mod pool;
pub mod price_update;
pub mod release_budget;
pub mod settlement;
pub mod sla;
pub mod state;
pub mod vaults;

use due::DuePick;
use instructions::*;
use state::{Change, HardwareProfile, JobResult, Params, ReleaseReason};

declare_id!("2QskJPuWAZ7ZGacVcaRbHNfTKUAenH8hS9MxcNAS3FvB");

#[cfg(not(feature = "no-entrypoint"))]
solana_security_txt::security_txt! {
    name: "AKE market",
    project_url: "https://github.com/ake-network/ake",
    contacts: "email:security@ake.network",
    policy: "https://github.com/ake-network/ake/blob/main/SECURITY.md"
}

#[program]
pub mod ake_market {
    use super::*;

    pub fn initialize(ctx: Context<Initialize>, params: Params, arbiter: Pubkey) -> Result<()> {
        initialize::handler(ctx, params, arbiter)
    }

    pub fn propose_change(ctx: Context<ProposeChange>, change: Change) -> Result<()> {
        propose_change::handler(ctx, change)
    }

    pub fn apply_change(ctx: Context<ApplyChange>) -> Result<()> {
        apply_change::handler(ctx)
    }

    pub fn cancel_change(ctx: Context<CancelChange>) -> Result<()> {
        cancel_change::handler(ctx)
    }

    pub fn set_guardian(ctx: Context<SetGuardian>, guardian: Pubkey) -> Result<()> {
        set_guardian::handler(ctx, guardian)
    }

    pub fn propose_authority(ctx: Context<ProposeAuthority>, proposed: Pubkey) -> Result<()> {
        propose_authority::handler(ctx, proposed)
    }

    pub fn accept_authority(ctx: Context<AcceptAuthority>) -> Result<()> {
        accept_authority::handler(ctx)
    }

    pub fn set_paused(ctx: Context<SetPaused>, paused: bool) -> Result<()> {
        set_paused::handler(ctx, paused)
    }

    pub fn create_market(ctx: Context<CreateMarket>, index: u16, args: MarketArgs) -> Result<()> {
        create_market::handler(ctx, index, args)
    }

    pub fn grow_market(ctx: Context<GrowMarket>, index: u16, capacity: Capacity) -> Result<()> {
        grow_market::handler(ctx, index, capacity)
    }

    pub fn set_lookup_table(ctx: Context<SetLookupTable>, index: u16) -> Result<()> {
        set_lookup_table::handler(ctx, index)
    }

    pub fn deposit_stake(ctx: Context<DepositStake>, amount: u64) -> Result<()> {
        deposit_stake::handler(ctx, amount)
    }

    pub fn request_unstake(ctx: Context<RequestUnstake>, amount: u64) -> Result<()> {
        request_unstake::handler(ctx, amount)
    }

    pub fn withdraw_stake(ctx: Context<WithdrawStake>) -> Result<()> {
        withdraw_stake::handler(ctx)
    }

    pub fn register_node(
        ctx: Context<RegisterNode>,
        gpus: u16,
        profile: HardwareProfile,
    ) -> Result<()> {
        register_node::handler(ctx, gpus, profile)
    }

    pub fn node_ready(ctx: Context<NodeReady>) -> Result<()> {
        node_ready::handler(ctx)
    }

    pub fn node_unready(ctx: Context<NodeUnready>) -> Result<()> {
        node_unready::handler(ctx)
    }

    pub fn announce_logs(ctx: Context<AnnounceLogs>, uri: String) -> Result<()> {
        announce_logs::handler(ctx, uri)
    }

    pub fn post_job(ctx: Context<PostJob>, args: PostJobArgs) -> Result<()> {
        post_job::handler(ctx, args)
    }

    pub fn cancel_job(ctx: Context<CancelJob>) -> Result<()> {
        cancel_job::handler(ctx)
    }

    pub fn submit_result(
        ctx: Context<SubmitResult>,
        result: JobResult,
        due: DuePick,
        rearm: bool,
    ) -> Result<()> {
        submit_result::handler(ctx, result, due, rearm)
    }

    pub fn release_job<'info>(
        ctx: Context<'info, ReleaseJob<'info>>,
        reason: ReleaseReason,
    ) -> Result<()> {
        release_job::handler(ctx, reason)
    }

    pub fn accept_result(ctx: Context<AcceptResult>) -> Result<()> {
        accept_result::handler(ctx)
    }

    pub fn finalize_job(ctx: Context<FinalizeJob>) -> Result<()> {
        finalize_job::handler(ctx)
    }

    pub fn expire_job(ctx: Context<ExpireJob>) -> Result<()> {
        expire_job::handler(ctx)
    }

    pub fn dispute_job(ctx: Context<DisputeJob>, due: DuePick) -> Result<()> {
        dispute_job::handler(ctx, due)
    }

    pub fn resolve_dispute(ctx: Context<ResolveDispute>, creator_wins: bool) -> Result<()> {
        resolve_dispute::handler(ctx, creator_wins)
    }

    pub fn expire_dispute(ctx: Context<ExpireDispute>) -> Result<()> {
        expire_dispute::handler(ctx)
    }

    pub fn rearm_node(ctx: Context<RearmNode>) -> Result<()> {
        rearm_node::handler(ctx)
    }

    pub fn set_operator(ctx: Context<SetOperator>, operator: Pubkey) -> Result<()> {
        set_operator::handler(ctx, operator)
    }

    pub fn rotate_node_key(ctx: Context<RotateNodeKey>) -> Result<()> {
        rotate_node_key::handler(ctx)
    }

    pub fn close_node(ctx: Context<CloseNode>) -> Result<()> {
        close_node::handler(ctx)
    }

    pub fn close_stake(ctx: Context<CloseStake>) -> Result<()> {
        close_stake::handler(ctx)
    }

    pub fn refund_stale_job(ctx: Context<RefundStaleJob>) -> Result<()> {
        refund_stale_job::handler(ctx)
    }

    pub fn post_batch(ctx: Context<PostBatch>, args: PostBatchArgs) -> Result<()> {
        post_batch::handler(ctx, args)
    }

    pub fn match_frame(ctx: Context<MatchFrame>) -> Result<()> {
        match_frame::handler(ctx)
    }

    pub fn sweep_market(ctx: Context<SweepMarket>) -> Result<()> {
        sweep_market::handler(ctx)
    }

    pub fn requeue_batch(ctx: Context<RequeueBatch>) -> Result<()> {
        requeue_batch::handler(ctx)
    }

    pub fn resume_batch(ctx: Context<ResumeBatch>) -> Result<()> {
        resume_batch::handler(ctx)
    }

    pub fn match_job(ctx: Context<MatchJob>) -> Result<()> {
        match_job::handler(ctx)
    }

    pub fn close_due_page(ctx: Context<CloseDuePage>) -> Result<()> {
        close_due_page::handler(ctx)
    }

    pub fn cancel_batch(ctx: Context<CancelBatch>) -> Result<()> {
        cancel_batch::handler(ctx)
    }

    pub fn close_batch<'info>(ctx: Context<'info, CloseBatch<'info>>) -> Result<()> {
        close_batch::handler(ctx)
    }

    /// Anyone draws a submitted auditable job for an audit (see `audit`).
    pub fn draw_audit(ctx: Context<DrawAudit>) -> Result<()> {
        draw_audit::handler(ctx)
    }

    /// A node reveals the output digest its result sealed.
    pub fn reveal_digest(
        ctx: Context<RevealDigest>,
        digest: [u8; 32],
        salt: [u8; 32],
    ) -> Result<()> {
        reveal_digest::handler(ctx, digest, salt)
    }

    /// Anyone judges a complete audit round.
    pub fn judge_audit(ctx: Context<JudgeAudit>) -> Result<()> {
        judge_audit::handler(ctx)
    }

    /// Anyone settles an audit run, or an audited job that lost its audit.
    pub fn settle_audit(ctx: Context<SettleAudit>) -> Result<()> {
        settle_audit::handler(ctx)
    }

    /// A node appeals an audit it lost, locking a bond from its owner's stake.
    pub fn appeal_audit(ctx: Context<AppealAudit>) -> Result<()> {
        appeal_audit::handler(ctx)
    }

    /// The arbiter upholds or rejects an appeal.
    pub fn resolve_appeal(ctx: Context<ResolveAppeal>, upheld: bool) -> Result<()> {
        resolve_appeal::handler(ctx, upheld)
    }
}
