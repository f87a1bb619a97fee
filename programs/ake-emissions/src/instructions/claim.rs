use ake_program_common::account_creation::{is_uncreated, read_existing, write_new};
use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::{EMISSIONS_CONFIG_SEED, EPOCH_SEED, MINT_AUTHORITY_SEED, NODE_WORK_SEED};
use crate::errors::EmissionsError;
use crate::events::RewardClaimed;
use crate::math::claim_amounts;
use crate::minting::{mint, MintAccounts};
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

/// Mints a node's share of a closed epoch: node_share x work / total work.
/// O(1), any epoch order; the record closes, so it can never pay twice.
pub fn handler(mut ctx: Context<Claim>, epoch: u64) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut ctx.accounts;
    let summary_info = a.epoch_summary.to_account_info();
    require!(!is_uncreated(&summary_info), EmissionsError::EpochNotClosed);
    let summary = &mut read_existing::<EpochSummary>(&summary_info, &crate::ID)?;
    require!(summary.closed, EmissionsError::EpochNotClosed);
    // Paying yourself never pays: at most what was burned for this node's
    // jobs (times the multiplier in force at close). What the cap withholds
    // is never minted.
    let (pro_rata, cap, amount) = claim_amounts(
        summary.node_share,
        a.node_work.burned_tokens,
        summary.burned_tokens,
        summary.max_reward_per_burn_bps,
    )
    .ok_or(EmissionsError::MathOverflow)?;
    let claimed = summary
        .claimed
        .checked_add(amount)
        .ok_or(EmissionsError::MathOverflow)?;
    require!(
        claimed <= summary.node_share,
        EmissionsError::NodeShareExceeded
    );
    summary.claimed = claimed;
    summary.claims = summary
        .claims
        .checked_add(1)
        .ok_or(EmissionsError::MathOverflow)?;

    write_new(&summary_info, summary)?;

    let minting = MintAccounts {
        mint: a.mint.to_account_info(),
        mint_authority: a.mint_authority.to_account_info(),
    };
    mint(
        &mut a.config,
        &minting,
        &a.owner_token.to_account_info(),
        amount,
        now,
    )?;
    let event = RewardClaimed {
        epoch,
        node: a.node_work.node,
        owner: a.node_work.owner,
        amount,
        pro_rata,
        cap,
    };
    emit_cpi!(event);
    Ok(())
}
