//! Ending a dispute, by the arbiter or by the timeout.
//! Creator wins: escrow and bond back, the node's owner slashed (burned).
//! Node wins: the job settles as usual, and the bond is burned.

use anchor_lang::prelude::*;

use crate::errors::MarketError;
use crate::events::DisputeResolved;
use crate::settlement::{settle_job, SettleAccounts};
use crate::sla::penalize;
use crate::state::{Job, JobState};
use crate::vaults::Vault;

pub fn resolve<'info>(
    job_key: Pubkey,
    job: &mut Job,
    s: &mut SettleAccounts<'info>,
    stake_vault: AccountInfo<'info>,
    creator_wins: bool,
    timed_out: bool,
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

    if !creator_wins {
        escrow.burn(bond)?;
        {
            let mut market = s.market.load_mut()?;
            market.open_escrow = market
                .open_escrow
                .checked_sub(bond)
                .ok_or(MarketError::MathOverflow)?;
            market.tokens_burned = market
                .tokens_burned
                .checked_add(bond)
                .ok_or(MarketError::MathOverflow)?;
        }
        job.bond = 0;
        job.state = JobState::Submitted;
        settle_job(job_key, job, s, reporter_bump)?;
        return Ok(DisputeResolved {
            job: job_key,
            node,
            creator_won: false,
            timed_out,
            refund: 0,
            bond_burned: bond,
            slashed: 0,
        });
    }

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
    let bps = s.config.params.sla.dispute_slash_bps;
    let mut market = s.market.load_mut()?;
    market.open_escrow = market
        .open_escrow
        .checked_sub(refund)
        .ok_or(MarketError::MathOverflow)?;
    market.untrack(&job_key);
    let slash = penalize(
        &mut s.node,
        &mut s.node_owner_stake,
        &mut market,
        &stake_vault,
        bps,
        0,
        None,
    )?;
    s.node_owner_stake.unlock(job.locked_stake)?;
    job.locked_stake = 0;
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
        slashed: slash.slashed,
    })
}
