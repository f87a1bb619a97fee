//! ake-emissions: the mint side of AKE's burn-and-mint equilibrium and the
//! ONLY mint authority of AKE. Each epoch emits a decaying amount; nodes
//! claim it pro rata to the tokens their verified work burned, O(1) each,
//! at most that burn and at least a floor share of it (minted back from
//! the burn when the schedule falls short); every schedule mint passes a
//! rolling-window circuit breaker. It holds the treasury (the market's
//! fees), which pays crank tips and timelocked spends. It never touches
//! escrow, and a bug in the market can never mint past the burn it reports.
#![allow(unexpected_cfgs)]

use anchor_lang::prelude::*;

pub mod constants;
pub mod errors;
pub mod events;
pub mod instructions;
pub mod math;
pub mod minting;
pub mod state;
pub mod treasury;

use instructions::*;
use state::{BreakerParams, EmissionsChange, Rewards, Schedule};

declare_id!("F8mWYPsjYpfryE2j9LgdPPVH2eaE9d1emBDDUWtJTd3J");

#[cfg(not(feature = "no-entrypoint"))]
solana_security_txt::security_txt! {
    name: "AKE emissions",
    project_url: "https://github.com/ake-network/ake",
    contacts: "email:security@ake.network",
    policy: "https://github.com/ake-network/ake/blob/main/SECURITY.md"
}

#[program]
pub mod ake_emissions {
    use super::*;

    pub fn initialize(
        ctx: Context<Initialize>,
        schedule: Schedule,
        rewards: Rewards,
        breaker: BreakerParams,
        timelock_secs: u32,
    ) -> Result<()> {
        initialize::handler(ctx, schedule, rewards, breaker, timelock_secs)
    }

    pub fn propose_change(ctx: Context<ProposeChange>, change: EmissionsChange) -> Result<()> {
        propose_change::handler(ctx, change)
    }

    pub fn apply_change(ctx: Context<ApplyChange>) -> Result<()> {
        apply_change::handler(ctx)
    }

    pub fn cancel_change(ctx: Context<CancelChange>) -> Result<()> {
        cancel_change::handler(ctx)
    }

    pub fn propose_spend(ctx: Context<ProposeSpend>, amount: u64) -> Result<()> {
        propose_spend::handler(ctx, amount)
    }

    pub fn apply_spend(ctx: Context<ApplySpend>) -> Result<()> {
        apply_spend::handler(ctx)
    }

    pub fn cancel_spend(ctx: Context<CancelSpend>) -> Result<()> {
        cancel_spend::handler(ctx)
    }

    pub fn propose_authority(ctx: Context<ProposeAuthority>, proposed: Pubkey) -> Result<()> {
        propose_authority::handler(ctx, proposed)
    }

    pub fn accept_authority(ctx: Context<AcceptAuthority>) -> Result<()> {
        accept_authority::handler(ctx)
    }

    pub fn set_guardian(ctx: Context<SetGuardian>, guardian: Pubkey) -> Result<()> {
        set_guardian::handler(ctx, guardian)
    }

    pub fn set_paused(ctx: Context<SetPaused>, paused: bool) -> Result<()> {
        set_paused::handler(ctx, paused)
    }

    pub fn report_work(ctx: Context<ReportWork>, report: WorkReport) -> Result<()> {
        report_work::handler(ctx, report)
    }

    pub fn close_epoch<'info>(ctx: Context<'info, CloseEpoch<'info>>, epoch: u64) -> Result<()> {
        close_epoch::handler(ctx, epoch)
    }

    pub fn claim(ctx: Context<Claim>, epoch: u64) -> Result<()> {
        claim::handler(ctx, epoch)
    }
}
