use ake_program_common::account_creation::{create_pda, is_uncreated, read_existing, write_new};
use anchor_lang::prelude::*;

use crate::constants::{EMISSIONS_CONFIG_SEED, EPOCH_SEED, NODE_WORK_SEED};
use crate::errors::EmissionsError;
use crate::events::WorkReported;
use crate::math::epoch_at;
use crate::state::{EmissionsConfig, EpochSummary, NodeWork};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkReport {
    /// The current epoch (checked): names the records' PDAs.
    pub epoch: u64,
    pub node: Pubkey,
    pub node_owner: Pubkey,
    pub work_micro_usd: u64,
    pub burned_tokens: u64,
    pub burned_micro_usd: u64,
}

#[event_cpi]
#[derive(Accounts)]
#[instruction(report: WorkReport)]
pub struct ReportWork<'info> {
    /// ake-market's reporter PDA, signing through CPI.
    pub reporter: Signer<'info>,
    #[account(mut)]
    pub payer: Signer<'info>,
    #[account(seeds = [EMISSIONS_CONFIG_SEED], bump = config.bump, has_one = reporter @ EmissionsError::NotReporter)]
    pub config: Box<Account<'info, EmissionsConfig>>,
    /// CHECK: PDA ["epoch", epoch]; created on the epoch's first report.
    #[account(mut, seeds = [EPOCH_SEED, &report.epoch.to_le_bytes()], bump)]
    pub epoch_summary: UncheckedAccount<'info>,
    /// CHECK: PDA ["node_work", epoch, node]; created on the node's first report in the epoch.
    #[account(mut, seeds = [NODE_WORK_SEED, &report.epoch.to_le_bytes(), report.node.as_ref()], bump)]
    pub node_work: UncheckedAccount<'info>,
    pub system_program: Program<'info, System>,
}

/// Credits a finalized job's work to its node in the current epoch (work
/// counts in the epoch it was approved in, as Render counts it).
pub fn handler(ctx: Context<ReportWork>, report: WorkReport) -> Result<()> {
    let a = &ctx.accounts;
    let now = Clock::get()?.unix_timestamp;
    let s = &a.config.schedule;
    let epoch = epoch_at(now, s.genesis_ts, s.epoch_secs).ok_or(EmissionsError::BeforeGenesis)?;
    require!(report.epoch == epoch, EmissionsError::WrongEpoch);
    let payer = a.payer.to_account_info();
    let epoch_bytes = epoch.to_le_bytes();

    let summary_info = a.epoch_summary.to_account_info();
    let mut summary = if is_uncreated(&summary_info) {
        create_pda(
            &payer,
            &summary_info,
            &crate::ID,
            EpochSummary::SPACE,
            &[EPOCH_SEED, &epoch_bytes, &[ctx.bumps.epoch_summary]],
        )?;
        EpochSummary::open(epoch, ctx.bumps.epoch_summary)
    } else {
        read_existing::<EpochSummary>(&summary_info, &crate::ID)?
    };
    // An ended epoch may be closed already; the current one never is.
    require!(!summary.closed, EmissionsError::EpochAlreadyClosed);

    let work_info = a.node_work.to_account_info();
    let mut work = if is_uncreated(&work_info) {
        create_pda(
            &payer,
            &work_info,
            &crate::ID,
            NodeWork::SPACE,
            &[
                NODE_WORK_SEED,
                &epoch_bytes,
                report.node.as_ref(),
                &[ctx.bumps.node_work],
            ],
        )?;
        summary.nodes = summary
            .nodes
            .checked_add(1)
            .ok_or(EmissionsError::MathOverflow)?;
        NodeWork {
            epoch,
            node: report.node,
            owner: report.node_owner,
            work_micro_usd: 0,
            burned_tokens: 0,
            jobs: 0,
            payer: payer.key(),
            bump: ctx.bumps.node_work,
        }
    } else {
        read_existing::<NodeWork>(&work_info, &crate::ID)?
    };

    let add = |x: u64, y: u64| x.checked_add(y).ok_or(EmissionsError::MathOverflow);
    work.work_micro_usd = add(work.work_micro_usd, report.work_micro_usd)?;
    work.burned_tokens = add(work.burned_tokens, report.burned_tokens)?;
    work.jobs = work
        .jobs
        .checked_add(1)
        .ok_or(EmissionsError::MathOverflow)?;
    summary.total_work_micro_usd = add(summary.total_work_micro_usd, report.work_micro_usd)?;
    summary.burned_tokens = add(summary.burned_tokens, report.burned_tokens)?;
    summary.burned_micro_usd = add(summary.burned_micro_usd, report.burned_micro_usd)?;
    summary.jobs = add(summary.jobs, 1)?;
    write_new(&work_info, &work)?;
    write_new(&summary_info, &summary)?;

    emit_cpi!(WorkReported {
        epoch,
        node: report.node,
        work_micro_usd: report.work_micro_usd,
        burned_tokens: report.burned_tokens,
        epoch_work_micro_usd: summary.total_work_micro_usd,
    });
    Ok(())
}
