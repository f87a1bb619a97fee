use anchor_lang::prelude::*;

use crate::constants::{CONFIG_SEED, MARKET_SEED};
use crate::errors::MarketError;
use crate::events::MarketGrown;
use crate::pool::resize_paid;
use crate::state::{Config, Market, MAX_GROW_SLOTS};

/// The most a market may hold: about 2.2 MB of account at 72 bytes a slot.
pub const MAX_JOB_CAPACITY: u16 = 10_000;
pub const MAX_NODE_CAPACITY: u16 = 4_096;
pub const MAX_IN_FLIGHT_CAPACITY: u16 = 16_384;

/// How many waiting jobs (and batches), waiting nodes and jobs in flight a
/// market holds.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacity {
    pub jobs: u16,
    pub nodes: u16,
    pub in_flight: u16,
}

#[event_cpi]
#[derive(Accounts)]
#[instruction(index: u16)]
pub struct GrowMarket<'info> {
    /// Pays the rent of the added slots.
    #[account(mut)]
    pub authority: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = authority @ MarketError::NotAuthority)]
    pub config: Box<Account<'info, Config>>,
    #[account(
        mut,
        seeds = [MARKET_SEED, &index.to_le_bytes()],
        bump = market.load()?.bump,
        constraint = market.load()?.config == config.key() @ MarketError::AccountMismatch,
    )]
    pub market: AccountLoader<'info, Market>,
    pub system_program: Program<'info, System>,
}

/// The authority pre-allocates a market's pool (so early posts and arms do
/// not pay its growth); capacities never shrink (an entry is never
/// evicted), so no timelock protects anyone from it. One call adds
/// at most `MAX_GROW_SLOTS` slots (the 10 KiB an instruction may grow an
/// account by), the authority paying their rent; the capacities apply on
/// the call that completes the pool (`MarketGrown.applied`), so call it
/// until then (the SDK's `grow_market` does).
/// `_index` only seeds the market's address (checked by Anchor), so a
/// client holding only the IDL can derive it.
pub fn handler(ctx: Context<GrowMarket>, _index: u16, capacity: Capacity) -> Result<()> {
    let a = &ctx.accounts;
    let (current, slot_count) = {
        let m = a.market.load()?;
        (
            Capacity {
                jobs: m.job_capacity,
                nodes: m.node_capacity,
                in_flight: m.in_flight_capacity,
            },
            m.slot_count,
        )
    };
    require!(
        capacity.jobs >= current.jobs
            && capacity.nodes >= current.nodes
            && capacity.in_flight >= current.in_flight
            && capacity.jobs <= MAX_JOB_CAPACITY
            && capacity.nodes <= MAX_NODE_CAPACITY
            && capacity.in_flight <= MAX_IN_FLIGHT_CAPACITY,
        MarketError::InvalidCapacity
    );
    let needed = Market::slots_needed(capacity.jobs, capacity.nodes, capacity.in_flight);
    let added = needed.saturating_sub(slot_count).min(MAX_GROW_SLOTS);
    if added > 0 {
        let len = Market::space_for(slot_count + added);
        resize_paid(&a.market.to_account_info(), &a.authority, len)?;
    }
    let mut market = a.market.load_mut()?;
    market.slot_count = slot_count + added;
    let applied = market.slot_count >= needed;
    if applied {
        market.job_capacity = capacity.jobs;
        market.node_capacity = capacity.nodes;
        market.in_flight_capacity = capacity.in_flight;
    }
    let event = MarketGrown {
        market: a.market.key(),
        slot_count: market.slot_count,
        job_capacity: market.job_capacity,
        node_capacity: market.node_capacity,
        in_flight_capacity: market.in_flight_capacity,
        applied,
    };
    drop(market);
    emit_cpi!(event);
    Ok(())
}
