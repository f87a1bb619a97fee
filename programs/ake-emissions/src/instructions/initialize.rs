use ake_program_common::account_creation::{create_pda, create_token_vault, write_new};
use anchor_lang::prelude::*;
use anchor_lang::solana_program::bpf_loader_upgradeable::{self, get_program_data_address};
use anchor_spl::token::{self, Mint, SetAuthority, Token};

use crate::constants::{
    EMISSIONS_CONFIG_SEED, MARKET_PROGRAM_ID, MARKET_REPORTER_SEED, MINT_AUTHORITY_SEED,
    TREASURY_SEED,
};
use crate::errors::EmissionsError;
use crate::events::EmissionsInitialized;
use crate::state::{BreakerParams, BreakerWindow, EmissionsConfig, Rewards, Schedule};

#[event_cpi]
#[derive(Accounts)]
pub struct Initialize<'info> {
    /// The mint's current mint authority: trust flows from whoever holds
    /// the asset. It becomes this program's authority.
    #[account(mut)]
    pub authority: Signer<'info>,
    /// CHECK: created here, PDA ["emissions"].
    #[account(mut, seeds = [EMISSIONS_CONFIG_SEED], bump)]
    pub config: UncheckedAccount<'info>,
    /// CHECK: PDA only; becomes the mint's only authority here.
    #[account(seeds = [MINT_AUTHORITY_SEED], bump)]
    pub mint_authority: UncheckedAccount<'info>,
    #[account(
        mut,
        constraint = mint.mint_authority == Some(authority.key()).into()
            @ EmissionsError::NotMintAuthority,
        constraint = mint.freeze_authority.is_none() @ EmissionsError::MintHasFreezeAuthority,
    )]
    pub mint: Box<Account<'info, Mint>>,
    /// CHECK: created here as a token account of `mint` that is its own
    /// authority, PDA ["treasury"]: the market's fees go here.
    #[account(mut, seeds = [TREASURY_SEED], bump)]
    pub treasury: UncheckedAccount<'info>,
    /// CHECK: this program's ProgramData under the upgradeable loader; when
    /// it exists (every deployed program), its upgrade authority must sign.
    #[account(address = get_program_data_address(&crate::ID) @ EmissionsError::NotUpgradeAuthority)]
    pub program_data: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

/// Signed by the program's upgrade authority (whoever deployed it) who also
/// holds the mint's authority, which it hands to this program's PDA in the
/// same instruction: nobody else can initialize first (not even with a mint
/// of their own), and there is no moment in which the mint is claimable.
/// The only work reporter is ake-market's `["reporter"]` PDA, derived here.
pub fn handler(
    ctx: Context<Initialize>,
    schedule: Schedule,
    rewards: Rewards,
    breaker: BreakerParams,
    timelock_secs: u32,
) -> Result<()> {
    schedule.validate()?;
    require!(
        ake_program_common::timelock::valid_delay(timelock_secs),
        EmissionsError::InvalidTimelock
    );
    // Work is credited from genesis on: settlements before it would have
    // nowhere to go. Epochs start at genesis, all of one length.
    require!(
        schedule.genesis_ts <= Clock::get()?.unix_timestamp
            && schedule.segment_first_epoch == 0
            && schedule.segment_start_ts == schedule.genesis_ts
            && schedule.previous_epoch_secs == schedule.epoch_secs,
        EmissionsError::InvalidSchedule
    );
    rewards.validate()?;
    breaker.validate(schedule.epoch_secs, schedule.first_emission)?;
    let a = &ctx.accounts;
    check_upgrade_authority(&a.program_data, &a.authority.key())?;
    token::set_authority(
        CpiContext::new(
            token::ID,
            SetAuthority {
                current_authority: a.authority.to_account_info(),
                account_or_mint: a.mint.to_account_info(),
            },
        ),
        anchor_spl::token::spl_token::instruction::AuthorityType::MintTokens,
        Some(a.mint_authority.key()),
    )?;
    create_token_vault(
        &a.authority.to_account_info(),
        &a.treasury.to_account_info(),
        &a.mint.to_account_info(),
        &[TREASURY_SEED, &[ctx.bumps.treasury]],
    )?;
    let info = a.config.to_account_info();
    create_pda(
        &a.authority.to_account_info(),
        &info,
        &crate::ID,
        EmissionsConfig::SPACE,
        &[EMISSIONS_CONFIG_SEED, &[ctx.bumps.config]],
    )?;
    let reporter = Pubkey::find_program_address(&[MARKET_REPORTER_SEED], &MARKET_PROGRAM_ID).0;
    let config = EmissionsConfig {
        authority: a.authority.key(),
        pending_authority: Pubkey::default(),
        guardian: a.authority.key(),
        paused: false,
        paused_at: 0,
        timelock_secs,
        mint: a.mint.key(),
        treasury: a.treasury.key(),
        reporter,
        schedule,
        rewards,
        breaker,
        next_epoch: 0,
        next_emission: schedule.first_emission,
        scheduled_total: 0,
        total_minted: 0,
        total_reminted: 0,
        window: BreakerWindow::default(),
        mint_authority_bump: ctx.bumps.mint_authority,
        treasury_bump: ctx.bumps.treasury,
        bump: ctx.bumps.config,
    };
    write_new(&info, &config)?;
    emit_cpi!(EmissionsInitialized {
        authority: config.authority,
        mint: config.mint,
        treasury: config.treasury,
        reporter,
        schedule,
        rewards,
        breaker,
    });
    Ok(())
}

/// On a cluster every program has a ProgramData account, and only its
/// upgrade authority may initialize. A program registered natively (the
/// local chain and the tests) has none; there the mint authority alone
/// decides, which is all a local chain needs.
fn check_upgrade_authority(program_data: &AccountInfo, signer: &Pubkey) -> Result<()> {
    if program_data.owner != &bpf_loader_upgradeable::ID {
        return Ok(());
    }
    let data = program_data.try_borrow_data()?;
    let state = ProgramData::try_deserialize(&mut &data[..])?;
    require!(
        state.upgrade_authority_address == Some(*signer),
        EmissionsError::NotUpgradeAuthority
    );
    Ok(())
}
