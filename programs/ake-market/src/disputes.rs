//! Ending a dispute, by the arbiter or by the timeout.
//! Creator wins: escrow and bond back, the job's result collateral slashed (burned).
//! Node wins: the job settles as usual, and the bond is burned.
//! Arbiter silent past the timeout: nobody is punished. The job settles as
//! accepted (charge burned, work credited, reputation unchanged) and the
//! bond comes back less a small burned fee, so disputing everything costs
//! the creator that fee every time and never costs the node its stake.

use anchor_lang::prelude::*;

use crate::constants::DISPUTE_TIMEOUT_FEE_BPS;
use crate::due::unindex_due;
use crate::errors::MarketError;
use crate::events::DisputeResolved;
use crate::math::bps_of_ceil;
use crate::settlement::{burn_posting_fee, settle_job, SettleAccounts};
use crate::sla::{leave_queue, mark_breach, take_collateral};
use crate::state::{Job, JobState, MarketMut};
use crate::vaults::Vault;

/// How a dispute ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    CreatorWins,
    NodeWins,
    /// The arbiter did not decide before the timeout.
    ArbiterSilent,
}

pub fn resolve<'info>(
    job_key: Pubkey,
    job: &mut Job,
    s: &mut SettleAccounts<'info>,
    stake_vault: AccountInfo<'info>,
    verdict: Verdict,
    reporter_bump: u8,
) -> Result<DisputeResolved> {
    require!(
        job.state == JobState::Disputed,
        MarketError::InvalidJobState
    );
    require_keys_eq!(s.market.key(), job.market, MarketError::AccountMismatch);
    require_keys_eq!(s.node.key(), job.node, MarketError::AccountMismatch);
    require_keys_eq!(
        s.creator_token.owner,
        job.creator,
        MarketError::WrongTokenOwner
    );
    let escrow = s.escrow()?;
    let bond = job.bond;
    let node = job.node;
    let timed_out = verdict == Verdict::ArbiterSilent;

    if verdict != Verdict::CreatorWins {
        // The job settles as accepted. The node's win burns the whole bond;
        // a silent arbiter burns only the timeout fee (rounded up: the
        // protocol's favour) and changes no reputation.
        let burned = if timed_out {
            bps_of_ceil(bond, DISPUTE_TIMEOUT_FEE_BPS)
                .ok_or(MarketError::MathOverflow)?
                .min(bond)
        } else {
            bond
        };
        let refund = bond - burned;
        escrow.burn(burned)?;
        if refund > 0 {
            escrow.pay_out(&s.creator_token.to_account_info(), refund)?;
        }
        {
            let mut market = s.market.load_mut()?;
            market.open_escrow = market
                .open_escrow
                .checked_sub(bond)
                .ok_or(MarketError::MathOverflow)?;
            market.tokens_burned = market
                .tokens_burned
                .checked_add(burned)
                .ok_or(MarketError::MathOverflow)?;
        }
        job.bond = 0;
        job.state = JobState::Submitted;
        let settled = settle_job(job, s, reporter_bump, !timed_out)?;
        return Ok(DisputeResolved {
            job: job_key,
            node,
            creator_won: false,
            timed_out,
            refund,
            bond_burned: burned,
            slashed: 0,
            posting_fee_burned: settled.posting_fee_burned,
            node_left_queue: false,
        });
    }

    // Creator wins: escrow and bond back, the posting fee burned, and the
    // job's result collateral (only that) slashed and burned.
    let refund = job
        .escrow
        .checked_add(bond)
        .ok_or(MarketError::MathOverflow)?;
    escrow.pay_out(&s.creator_token.to_account_info(), refund)?;
    let stake_vault = Vault::stake(
        s.config.stake_vault_bump,
        stake_vault,
        s.mint.to_account_info(),
        s.mint.decimals,
    );
    let slash = bps_of_ceil(job.collateral, u64::from(job.terms.dispute_slash_bps))
        .ok_or(MarketError::MathOverflow)?
        .min(job.collateral);
    let mut market = MarketMut::load(&s.market)?;
    market.open_escrow = market
        .open_escrow
        .checked_sub(refund)
        .ok_or(MarketError::MathOverflow)?;
    let posting_fee_burned = burn_posting_fee(&mut market, &escrow, job)?;
    unindex_due(&s.due_page, &job.due_page)?;
    let slashed = take_collateral(
        &mut s.node_owner_stake,
        &mut market,
        &stake_vault,
        slash,
        0,
        None,
    )?;
    s.node_owner_stake.unlock(job.collateral - slash)?;
    let cooldown = s.config.params.sla.rearm_cooldown_secs;
    let now = Clock::get()?.unix_timestamp;
    mark_breach(&mut s.node, job, job.submitted_at, now, cooldown)?;
    s.node.close_job()?;
    let node_key = s.node.key();
    let left_queue = leave_queue(node_key, &mut s.node, &mut market, &mut s.node_owner_stake)?;
    job.collateral = 0;
    job.escrow = 0;
    job.bond = 0;
    job.state = JobState::Settled;
    Ok(DisputeResolved {
        job: job_key,
        node,
        creator_won: true,
        timed_out,
        refund,
        bond_burned: 0,
        slashed: slashed.slashed,
        posting_fee_burned,
        node_left_queue: left_queue,
    })
}
