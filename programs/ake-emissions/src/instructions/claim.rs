use ake_program_common::account_creation::{is_uncreated, read_existing, write_new};
use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::{EMISSIONS_CONFIG_SEED, EPOCH_SEED, MINT_AUTHORITY_SEED, NODE_WORK_SEED};
use crate::errors::EmissionsError;
use crate::events::RewardClaimed;
use crate::math::claim_amounts;
use crate::minting::{mint, remint, MintAccounts};
use crate::state::{EmissionsConfig, EpochSummary, NodeWork};

#[event_cpi]
#[derive(Accounts)]
#[instruction(epoch: u64)]
pub struct Claim<'info> {
    /// Anyone may claim; the reward always goes to the node's owner.
    pub caller: Signer<'info>,
    #[account(mut, seeds = [EMISSIONS_CONFIG_SEED], bump = config.bump, has_one = mint)]
    pub config: Box<Account<'info, EmissionsConfig>>,
    /// CHECK: PDA ["epoch", epoch]; created when the epoch's tally starts
    /// (`close_epoch`): before that the epoch is not closed.
    #[account(mut, seeds = [EPOCH_SEED, &epoch.to_le_bytes()], bump)]
    pub epoch_summary: UncheckedAccount<'info>,
    #[account(
        mut,
        seeds = [NODE_WORK_SEED, &epoch.to_le_bytes(), node_work.node.as_ref()],
        bump = node_work.bump,
        close = rent_receiver,
    )]
    pub node_work: Box<Account<'info, NodeWork>>,
    /// CHECK: whoever paid for the node-work record; gets its rent back.
    #[account(mut, address = node_work.payer)]
    pub rent_receiver: UncheckedAccount<'info>,
    #[account(
        mut,
        token::mint = mint,
        constraint = owner_token.owner == node_work.owner @ EmissionsError::WrongRewardAccount,
    )]
    pub owner_token: Box<Account<'info, TokenAccount>>,
    #[account(mut)]
    pub mint: Box<Account<'info, Mint>>,
    /// CHECK: PDA only: signs mints.
    #[account(seeds = [MINT_AUTHORITY_SEED], bump = config.mint_authority_bump)]
    pub mint_authority: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
}

/// Mints a node's reward for a closed epoch: its burn x min(multiplier,
/// max(phi, node share / all burns)). O(1), any epoch order; the record
/// closes, so it can never pay twice.
pub fn handler(mut ctx: Context<Claim>, epoch: u64) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut ctx.accounts;
    let summary_info = a.epoch_summary.to_account_info();
    require!(!is_uncreated(&summary_info), EmissionsError::EpochNotClosed);
    let summary = &mut read_existing::<EpochSummary>(&summary_info, &crate::ID)?;
    require!(summary.closed, EmissionsError::EpochNotClosed);
    // Paying yourself never pays: at most what was burned for this node's
    // jobs (times the multiplier in force at close); at least phi of it,
    // the part the schedule does not cover minted back from the burn.
    let c = claim_amounts(
        summary.node_share,
        a.node_work.burned_tokens,
        summary.burned_tokens,
        summary.max_reward_per_burn_bps,
        summary.reward_floor_bps,
    )
    .ok_or(EmissionsError::MathOverflow)?;
    // The guardian's brake on minting back: a market bug that reported a
    // vast burn can be stopped before its epoch's claims mint it.
    require!(
        !a.config.paused || c.reminted == 0,
        EmissionsError::RemintPaused
    );
    let add = |x: u64, y: u64| x.checked_add(y).ok_or(EmissionsError::MathOverflow);
    summary.claimed = add(summary.claimed, c.amount())?;
    summary.reminted = add(summary.reminted, c.reminted)?;
    require!(
        summary.claimed <= summary.payable
            && summary.claimed - summary.reminted <= summary.node_share,
        EmissionsError::NodeShareExceeded
    );
    summary.claims = summary
        .claims
        .checked_add(1)
        .ok_or(EmissionsError::MathOverflow)?;

    write_new(&summary_info, summary)?;

    let minting = MintAccounts {
        mint: a.mint.to_account_info(),
        mint_authority: a.mint_authority.to_account_info(),
    };
    let to = a.owner_token.to_account_info();
    mint(&mut a.config, &minting, &to, c.from_schedule, now)?;
    remint(&mut a.config, &minting, &to, c.reminted)?;
    let event = RewardClaimed {
        epoch,
        node: a.node_work.node,
        owner: a.node_work.owner,
        amount: c.amount(),
        pro_rata: c.pro_rata,
        cap: c.cap,
        floor: c.floor,
        reminted: c.reminted,
        jobs: a.node_work.jobs,
        gpu_secs: a.node_work.gpu_secs,
        work_micro_usd: a.node_work.work_micro_usd,
        burned_tokens: a.node_work.burned_tokens,
    };
    emit_cpi!(event);
    Ok(())
}
