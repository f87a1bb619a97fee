use anchor_lang::prelude::*;

use crate::constants::STAKE_SEED;
use crate::errors::MarketError;
use crate::events::OperatorSet;
use crate::state::Stake;

/// Writable: `owner_stake`. Compute: a few hundred units (no loop).
#[event_cpi]
#[derive(Accounts)]
pub struct SetOperator<'info> {
    pub owner: Signer<'info>,
    #[account(
        mut,
        seeds = [STAKE_SEED, owner.key().as_ref()],
        bump = owner_stake.bump,
        has_one = owner @ MarketError::NotNodeOwner,
    )]
    pub owner_stake: Box<Account<'info, Stake>>,
}

/// The owner (cold key) names the key that operates its nodes (the
/// default key: none), replacing any earlier one at once: a leaked
/// operator key is revoked without waiting. The operator can hold nodes
/// out of the queue and re-arm them, lifting at most
/// `OPERATOR_REARMS_PER_WINDOW` suspensions per node per week; it can
/// never move stake or close or re-key a node.
pub fn handler(ctx: Context<SetOperator>, operator: Pubkey) -> Result<()> {
    let owner = ctx.accounts.owner.key();
    require_keys_neq!(operator, owner, MarketError::NotNodeOperator);
    ctx.accounts.owner_stake.operator = operator;
    emit_cpi!(OperatorSet { owner, operator });
    Ok(())
}
