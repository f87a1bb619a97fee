use anchor_lang::prelude::*;

use crate::constants::{CONFIG_SEED, MARKET_SEED};
use crate::errors::MarketError;
use crate::instructions::create_market::MarketArgs;
use crate::state::{Config, Market};

#[event_cpi]
#[derive(Accounts)]
pub struct UpdateMarket<'info> {
    pub authority: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = authority @ MarketError::NotAuthority)]
    pub config: Box<Account<'info, Config>>,
    #[account(mut, seeds = [MARKET_SEED, &market.load()?.index.to_le_bytes()], bump = market.load()?.bump)]
    pub market: AccountLoader<'info, Market>,
}

/// New rates apply to jobs posted from now on; posted jobs keep their own.
pub fn handler(ctx: Context<UpdateMarket>, args: MarketArgs) -> Result<()> {
    let index = {
        let mut market = ctx.accounts.market.load_mut()?;
        args.apply(&mut market, ctx.accounts.config.params.unbonding_secs)?;
        market.index
    };
    emit_cpi!(args.event(ctx.accounts.market.key(), index, false));
    Ok(())
}
