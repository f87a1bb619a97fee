use anchor_lang::prelude::*;

use crate::constants::CONFIG_SEED;
use crate::errors::MarketError;
use crate::events::ConfigUpdated;
use crate::state::{Config, Params};

#[event_cpi]
#[derive(Accounts)]
pub struct UpdateConfig<'info> {
    pub authority: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump, has_one = authority @ MarketError::NotAuthority)]
    pub config: Box<Account<'info, Config>>,
}

pub fn handler(ctx: Context<UpdateConfig>, params: Params, arbiter: Pubkey) -> Result<()> {
    params.validate()?;
    let config = &mut ctx.accounts.config;
    config.params = params;
    config.arbiter = arbiter;
    emit_cpi!(ConfigUpdated { params, arbiter });
    Ok(())
}
