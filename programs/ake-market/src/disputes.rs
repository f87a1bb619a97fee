//! Ending a dispute, by the arbiter or by the timeout.
//! Creator wins: escrow and bond back, the job's result collateral slashed
//! (burned with the market's other settled burns at its next sweep).
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
use crate::settlement::{settle_job, SettleAccounts};
use crate::sla::{leave_queue, mark_breach};
use crate::state::{Job, JobState, Market, MarketLedger, MarketMut};

/// How a dispute ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    CreatorWins,
    NodeWins,
    /// The arbiter did not decide before the timeout.
    ArbiterSilent,
}

/// Ends a disputed job. `market` (writable) is needed when the creator
/// wins: a node waiting in the queue leaves it (it is suspended).
pub fn resolve<'info>(
    job_key: Pubkey,
    job: &mut Job,
    s: &mut SettleAccounts<'info>,
    stake_vault: AccountInfo<'info>,
    verdict: Verdict,
    reporter_bump: u8,
    market: Option<&AccountLoader<'info, Market>>,
) -> Result<DisputeResolved> {
    require!(
        job.state == JobState::Disputed,
        MarketError::InvalidJobState
    );
    s.require_job(job)?;
    require_keys_eq!(
        s.creator_token.owner,
        job.creator,
        MarketError::WrongTokenOwner
    );
    let escrow = s.escrow();
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
        escrow.pay_out(&s.creator_token.to_account_info(), refund)?;
        MarketLedger::add(&mut s.ledger.escrow_out, bond)?;
        MarketLedger::add(&mut s.ledger.pending_burn, burned)?;
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
    // job's result collateral (only that) slashed: moved from the stake
    // vault into the escrow vault and burned with the market's other burns.
    let market = market.ok_or(MarketError::AccountMismatch)?;
    require_keys_eq!(market.key(), job.market, MarketError::AccountMismatch);
    let refund = job
        .escrow
        .checked_add(bond)
        .ok_or(MarketError::MathOverflow)?;
    escrow.pay_out(&s.creator_token.to_account_info(), refund)?;
    let slash = bps_of_ceil(job.collateral, u64::from(job.terms.dispute_slash_bps))
        .ok_or(MarketError::MathOverflow)?
        .min(job.collateral);
    s.slash_to_burn(stake_vault, slash)?;
    let posting_fee_burned = job.posting_fee;
    let ledger = &mut s.ledger;
    MarketLedger::add(&mut ledger.escrow_out, refund)?;
    MarketLedger::add(&mut ledger.escrow_out, posting_fee_burned)?;
    MarketLedger::add(&mut ledger.pending_burn, posting_fee_burned)?;
    job.posting_fee = 0;
    unindex_due(&s.due_page, &job.due_page)?;
    s.node_owner_stake.unlock(job.collateral - slash)?;
    let cooldown = s.config.params.sla.rearm_cooldown_secs;
    let now = Clock::get()?.unix_timestamp;
    mark_breach(&mut s.node, job, job.submitted_at, now, cooldown)?;
    s.node.close_job()?;
    let node_key = s.node.key();
    let mut market = MarketMut::load(market)?;
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
        slashed: slash,
        posting_fee_burned,
        node_left_queue: left_queue,
    })
}
