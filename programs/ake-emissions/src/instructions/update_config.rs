use anchor_lang::prelude::*;

use crate::constants::EMISSIONS_CONFIG_SEED;
use crate::errors::EmissionsError;
use crate::events::EmissionsUpdated;
use crate::state::{BreakerParams, EmissionsConfig, Split};

#[event_cpi]
#[derive(Accounts)]
pub struct UpdateConfig<'info> {
    pub authority: Signer<'info>,
    #[account(mut, seeds = [EMISSIONS_CONFIG_SEED], bump = config.bump, has_one = authority @ EmissionsError::NotAuthority)]
    pub config: Box<Account<'info, EmissionsConfig>>,
}

/// Changes what governance may change. Genesis and the epoch length are
/// fixed (moving them would renumber epochs); the cap can never drop below
/// what is already scheduled.
pub fn handler(
    ctx: Context<UpdateConfig>,
    decay_bps: u16,
    floor_emission: u64,
    emission_cap: u64,
    split: Split,
    breaker: BreakerParams,
) -> Result<()> {
    let config = &mut ctx.accounts.config;
    let mut schedule = config.schedule;
    schedule.decay_bps = decay_bps;
    schedule.floor_emission = floor_emission;
    schedule.emission_cap = emission_cap;
    schedule.validate()?;
    require!(
        emission_cap >= config.scheduled_total,
        EmissionsError::CapBelowScheduled
    );
    split.validate(config.next_emission)?;
    breaker.validate(schedule.epoch_secs, config.next_emission)?;
    config.schedule = schedule;
    config.split = split;
    config.breaker = breaker;
    emit_cpi!(EmissionsUpdated {
        schedule,
        split,
        breaker
    });
    Ok(())
}
