use ake_program_common::account_creation::{create_pda, is_uncreated, read_existing, write_new};
use anchor_lang::prelude::*;

use crate::constants::{EMISSIONS_CONFIG_SEED, MARKET_EPOCH_SEED, NODE_WORK_SEED};
use crate::errors::EmissionsError;
use crate::events::WorkReported;
use crate::state::{EmissionsConfig, MarketEpoch, NodeWork};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkReport {
    /// The current epoch (checked): names the records' PDAs.
    pub epoch: u64,
    /// The reporting market's index: names its epoch record.
    pub market_index: u16,
    pub node: Pubkey,
    pub node_owner: Pubkey,
    pub work_micro_usd: u64,
    pub burned_tokens: u64,
    pub burned_micro_usd: u64,
    /// GPU-seconds of the job's usage receipt (for earnings reports).
    pub gpu_secs: u64,
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
    /// CHECK: PDA ["market_epoch", epoch, market index]; created on the
    /// market's first report in the epoch.
    #[account(mut, seeds = [MARKET_EPOCH_SEED, &report.epoch.to_le_bytes(), &report.market_index.to_le_bytes()], bump)]
    pub market_epoch: UncheckedAccount<'info>,
    /// CHECK: PDA ["node_work", epoch, node]; created on the node's first report in the epoch.
    #[account(mut, seeds = [NODE_WORK_SEED, &report.epoch.to_le_bytes(), report.node.as_ref()], bump)]
    pub node_work: UncheckedAccount<'info>,
    pub system_program: Program<'info, System>,
}

/// Credits a finalized job's work to its node and its market in the current
/// epoch (work counts in the epoch it was approved in, as Render counts it).
/// Writes only per-node and per-market records: no account here is written
/// by every settlement of the protocol.
pub fn handler(ctx: Context<ReportWork>, report: WorkReport) -> Result<()> {
    let a = &ctx.accounts;
    let now = Clock::get()?.unix_timestamp;
    let s = &a.config.schedule;
    let epoch = s.epoch_at(now).ok_or(EmissionsError::BeforeGenesis)?;
    require!(report.epoch == epoch, EmissionsError::WrongEpoch);
    let payer = a.payer.to_account_info();
    let epoch_bytes = epoch.to_le_bytes();

    // The current epoch has not ended, so it is not closed: the market's
    // record is summed only once it has.
    let record_info = a.market_epoch.to_account_info();
    let index_bytes = report.market_index.to_le_bytes();
    let mut record = if is_uncreated(&record_info) {
        create_pda(
            &payer,
            &record_info,
            &crate::ID,
            MarketEpoch::SPACE,
            &[
                MARKET_EPOCH_SEED,
                &epoch_bytes,
                &index_bytes,
                &[ctx.bumps.market_epoch],
            ],
        )?;
        MarketEpoch {
            epoch,
            market_index: report.market_index,
            total_work_micro_usd: 0,
            burned_tokens: 0,
            burned_micro_usd: 0,
            jobs: 0,
            nodes: 0,
            payer: payer.key(),
            bump: ctx.bumps.market_epoch,
        }
    } else {
        read_existing::<MarketEpoch>(&record_info, &crate::ID)?
    };

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
        record.nodes = record
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
            gpu_secs: 0,
            payer: payer.key(),
            bump: ctx.bumps.node_work,
        }
    } else {
        read_existing::<NodeWork>(&work_info, &crate::ID)?
    };

    let add = |x: u64, y: u64| x.checked_add(y).ok_or(EmissionsError::MathOverflow);
    work.work_micro_usd = add(work.work_micro_usd, report.work_micro_usd)?;
    work.burned_tokens = add(work.burned_tokens, report.burned_tokens)?;
    work.gpu_secs = add(work.gpu_secs, report.gpu_secs)?;
    work.jobs = work
        .jobs
        .checked_add(1)
        .ok_or(EmissionsError::MathOverflow)?;
    record.total_work_micro_usd = add(record.total_work_micro_usd, report.work_micro_usd)?;
    record.burned_tokens = add(record.burned_tokens, report.burned_tokens)?;
    record.burned_micro_usd = add(record.burned_micro_usd, report.burned_micro_usd)?;
    record.jobs = add(record.jobs, 1)?;
    write_new(&work_info, &work)?;
    write_new(&record_info, &record)?;

    emit_cpi!(WorkReported {
        epoch,
        market_index: report.market_index,
        node: report.node,
        work_micro_usd: report.work_micro_usd,
        burned_tokens: report.burned_tokens,
        gpu_secs: report.gpu_secs,
        market_work_micro_usd: record.total_work_micro_usd,
    });
    Ok(())
}
