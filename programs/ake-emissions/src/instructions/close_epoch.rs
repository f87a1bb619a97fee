use ake_program_common::account_creation::{
    close_into, create_pda, is_uncreated, read_existing, write_new,
};
use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::constants::{
    EMISSIONS_CONFIG_SEED, EPOCH_SEED, MARKET_EPOCH_SEED, MARKET_PROGRAM_ID, MARKET_SEED,
};
use crate::errors::EmissionsError;
use crate::events::{EpochClosed, EpochTallied};
use crate::math::{close_amounts, crank_tip, next_emission, EpochClose, ScheduleState};
use crate::state::{EmissionsConfig, EpochSummary, MarketEpoch};
use crate::treasury::pay_from_treasury;

#[event_cpi]
#[derive(Accounts)]
#[instruction(epoch: u64)]
pub struct CloseEpoch<'info> {
    /// Anyone; paid the crank tip.
    #[account(mut)]
    pub caller: Signer<'info>,
    #[account(mut, token::mint = config.mint)]
    pub caller_token: Box<Account<'info, TokenAccount>>,
    #[account(mut, seeds = [EMISSIONS_CONFIG_SEED], bump = config.bump, has_one = treasury)]
    pub config: Box<Account<'info, EmissionsConfig>>,
    /// CHECK: PDA ["epoch", epoch]; created here when nobody reported work in the epoch.
    #[account(mut, seeds = [EPOCH_SEED, &epoch.to_le_bytes()], bump)]
    pub epoch_summary: UncheckedAccount<'info>,
    /// Pays the tip.
    #[account(mut)]
    pub treasury: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
    // Remaining accounts: the tally, in market index order from the
    // summary's `markets_tallied`: each market's work record
    // `["market_epoch", epoch, index]` followed by its payer (any account
    // when the record was never created), then the ake-market market PDA
    // of the first index with no market, which ends the tally.
}

/// Closes an ended epoch, exactly once and in order. First it sums the
/// markets' work records into the summary (closing each, rent back to its
/// payer); once the tally reached the first index with no market, it fixes
/// the epoch's emission and what nodes may claim, and pays the caller's tip
/// out of the treasury; it mints nothing. A call that does not reach the end
/// keeps its progress (more markets than one transaction can name). Work
/// is reported per market, so no settlement writes a protocol-wide account.
pub fn handler<'info>(mut ctx: Context<'info, CloseEpoch<'info>>, epoch: u64) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut ctx.accounts;
    let config = &mut a.config;
    require!(
        epoch >= config.next_epoch,
        EmissionsError::EpochAlreadyClosed
    );
    require!(epoch == config.next_epoch, EmissionsError::EpochOutOfOrder);
    let s = config.schedule;
    let ends = s.epoch_end(epoch).ok_or(EmissionsError::MathOverflow)?;
    require!(now >= ends, EmissionsError::EpochNotEnded);
    // A pause stops new emission, never what was earned: an epoch that
    // ended before the pause still closes (its nodes can then claim).
    require!(
        !config.paused || ends <= config.paused_at,
        EmissionsError::Paused
    );

    let info = a.epoch_summary.to_account_info();
    let bump = ctx.bumps.epoch_summary;
    let mut summary = if is_uncreated(&info) {
        create_pda(
            &a.caller.to_account_info(),
            &info,
            &crate::ID,
            EpochSummary::SPACE,
            &[EPOCH_SEED, &epoch.to_le_bytes(), &[bump]],
        )?;
        EpochSummary::open(epoch, bump)
    } else {
        read_existing::<EpochSummary>(&info, &crate::ID)?
    };

    if !tally(&mut summary, ctx.remaining_accounts)? {
        write_new(&info, &summary)?;
        emit_cpi!(EpochTallied {
            epoch,
            markets_tallied: summary.markets_tallied,
            total_work_micro_usd: summary.total_work_micro_usd,
            burned_tokens: summary.burned_tokens,
        });
        return Ok(());
    }

    // Nothing is minted here: nodes claim what the close fixes (see
    // close_amounts), and the tip comes out of the fees the treasury holds.
    let EpochClose {
        emission,
        node_share,
        payable,
        floor_bps,
    } = close_amounts(
        ScheduleState {
            next_emission: config.next_emission,
            scheduled_total: config.scheduled_total,
            emission_cap: s.emission_cap,
        },
        &config.rewards,
        summary.burned_tokens,
    );
    let tip = crank_tip(
        config.rewards.crank_tip,
        a.treasury.amount,
        summary.burned_tokens,
    );
    pay_from_treasury(
        config,
        &a.treasury.to_account_info(),
        &a.caller_token.to_account_info(),
        tip,
    )?;

    config.scheduled_total = config
        .scheduled_total
        .checked_add(emission)
        .ok_or(EmissionsError::MathOverflow)?;
    // After the last epoch of an old length the next ones emit at the same
    // yearly rate in epochs of the new length.
    let rescale = (epoch.checked_add(1) == Some(s.segment_first_epoch))
        .then_some((s.epoch_secs, s.previous_epoch_secs));
    config.next_emission =
        next_emission(config.next_emission, s.decay_bps, s.floor_emission, rescale);
    config.next_epoch = epoch.checked_add(1).ok_or(EmissionsError::MathOverflow)?;

    summary.closed = true;
    summary.closed_at = now;
    summary.emission = emission;
    summary.node_share = node_share;
    summary.payable = payable;
    summary.crank_tip = tip;
    summary.max_reward_per_burn_bps = config.rewards.max_reward_per_burn_bps;
    summary.reward_floor_bps = floor_bps;
    write_new(&info, &summary)?;

    let event = EpochClosed {
        epoch,
        emission,
        node_share,
        payable,
        crank_tip: tip,
        total_work_micro_usd: summary.total_work_micro_usd,
        burned_tokens: summary.burned_tokens,
        burned_micro_usd: summary.burned_micro_usd,
        jobs: summary.jobs,
        closed_by: a.caller.key(),
    };
    emit_cpi!(event);
    Ok(())
}

/// Sums the markets' work records in `accounts` (in index order from
/// `markets_tallied`) into `summary`, closing each into its payer. True once
/// the ake-market market PDA of the next index is shown uncreated: every
/// market was summed. Bounded by the accounts one transaction carries; each
/// step derives two PDAs (~3k CU).
fn tally<'info>(summary: &mut EpochSummary, accounts: &[AccountInfo<'info>]) -> Result<bool> {
    let epoch_bytes = summary.epoch.to_le_bytes();
    let mut rest = accounts.iter();
    while let Some(next) = rest.next() {
        let index = summary.markets_tallied;
        let index_bytes = index.to_le_bytes();
        let market =
            Pubkey::find_program_address(&[MARKET_SEED, &index_bytes], &MARKET_PROGRAM_ID).0;
        if next.key() == market {
            // A market created after the epoch ended has no work in it.
            require!(is_uncreated(next), EmissionsError::MarketNotLast);
            return Ok(true);
        }
        let record = Pubkey::find_program_address(
            &[MARKET_EPOCH_SEED, &epoch_bytes, &index_bytes],
            &crate::ID,
        )
        .0;
        require_keys_eq!(next.key(), record, EmissionsError::WrongTallyAccount);
        let payer = rest.next().ok_or(EmissionsError::WrongTallyAccount)?;
        if !is_uncreated(next) {
            let r = read_existing::<MarketEpoch>(next, &crate::ID)?;
            require_keys_eq!(payer.key(), r.payer, EmissionsError::WrongTallyAccount);
            let add = |x: u64, y: u64| x.checked_add(y).ok_or(EmissionsError::MathOverflow);
            summary.total_work_micro_usd =
                add(summary.total_work_micro_usd, r.total_work_micro_usd)?;
            summary.burned_tokens = add(summary.burned_tokens, r.burned_tokens)?;
            summary.burned_micro_usd = add(summary.burned_micro_usd, r.burned_micro_usd)?;
            summary.jobs = add(summary.jobs, r.jobs)?;
            summary.nodes = summary
                .nodes
                .checked_add(r.nodes)
                .ok_or(EmissionsError::MathOverflow)?;
            // Its rent goes back, unless the payer cannot take lamports
            // (an executable account): the record then stays, counted,
            // rather than hold the epoch (and every later one) open.
            if !payer.executable {
                close_into(next, payer)?;
            }
        }
        summary.markets_tallied = index.checked_add(1).ok_or(EmissionsError::MathOverflow)?;
    }
    Ok(false)
}
