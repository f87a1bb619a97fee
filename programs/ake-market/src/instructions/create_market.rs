use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token};

use crate::constants::{
    CONFIG_SEED, DRIVER_CAPABILITIES, ESCROW_SEED, LEDGER_SEED, MARKET_SEED, MAX_MARKET_NAME_LEN,
    MAX_RELEASES,
};
use crate::errors::MarketError;
use crate::events::MarketSaved;
use crate::state::{Config, Market, MarketLedger};
use ake_program_common::account_creation::{create_pda, create_token_vault, write_new};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct MarketArgs {
    pub name: String,
    pub rate_micro_usd: u64,
    pub min_stake_per_gpu: u64,
    pub max_gpus_per_job: u16,
    pub max_duration_secs: u32,
    /// Not refunded: makes every post cost something (micro-USD).
    pub posting_fee_micro_usd: u64,
    pub collateral: CollateralArgs,
    pub release: ReleaseArgs,
    /// A job waiting in the queue longer than this (since it last joined
    /// it) may be refunded by anyone (`refund_stale_job`): a job no node
    /// takes never squats a slot for good.
    pub max_queue_secs: u32,
    /// GPU market: only nodes registered with GPUs (VRAM > 0) may take its
    /// jobs. Otherwise a CPU market, where a job's `gpus` counts CPU slots.
    pub gpu_required: bool,
    /// The shortest `max_duration_secs` a job may ask (1..=max_duration_secs):
    /// long enough for a node to start the job and still keep back what it
    /// needs to commit the result before the deadline.
    pub min_duration_secs: u16,
    /// NVIDIA driver capabilities the jobs' containers get (bits of
    /// `DRIVER_CAPABILITIES`, at least one): compute and utility for CUDA work;
    /// graphics, video, display or compat32 only where the market needs them.
    pub driver_capabilities: u8,
}

/// What a job puts at risk (see `math::execution_collateral`).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct CollateralArgs {
    /// Execution collateral is at least this share of the escrow.
    pub escrow_bps: u16,
    /// Result collateral is this multiple of the charge, in bps.
    pub result_charge_bps: u16,
}

/// How nodes may hand jobs back (see `release_job`).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReleaseArgs {
    /// Free window: `window_bps` of the max duration, clamped to [min, max] s.
    pub window_bps: u16,
    pub window_min_secs: u32,
    pub window_max_secs: u32,
    /// Counted hand-backs (from nodes with proven work) that refund a job (1..=3).
    pub max_releases: u8,
}

const DAY: u32 = 86_400;
/// A posting fee above 100 USD would be a typo, not a policy.
const MAX_POSTING_FEE_MICRO_USD: u64 = 100_000_000;

impl MarketArgs {
    /// Checks the bounds.
    pub fn validate(&self) -> Result<[u8; 32]> {
        require!(
            !self.name.is_empty()
                && self.name.len() <= MAX_MARKET_NAME_LEN
                && self.rate_micro_usd > 0
                && (1..=64).contains(&self.max_gpus_per_job)
                && (1..=30 * DAY).contains(&self.max_duration_secs)
                && (1..=30 * DAY).contains(&self.max_queue_secs)
                && (1..=self.max_duration_secs).contains(&u32::from(self.min_duration_secs)),
            MarketError::InvalidMarketSettings
        );
        let known = DRIVER_CAPABILITIES
            .iter()
            .fold(0u8, |all, (bit, _)| all | bit);
        require!(
            self.driver_capabilities != 0 && self.driver_capabilities & !known == 0,
            MarketError::InvalidDriverCapabilities
        );
        require!(
            (1..=MAX_POSTING_FEE_MICRO_USD).contains(&self.posting_fee_micro_usd),
            MarketError::InvalidPostingFee
        );
        let c = &self.collateral;
        require!(
            self.min_stake_per_gpu > 0
                && (1..=20_000).contains(&c.escrow_bps)
                && (10_000..=50_000).contains(&c.result_charge_bps),
            MarketError::InvalidCollateralSettings
        );
        let r = &self.release;
        require!(
            r.window_bps <= 10_000
                && (1..=r.window_max_secs).contains(&r.window_min_secs)
                && r.window_max_secs <= DAY
                && (1..=MAX_RELEASES as u8).contains(&r.max_releases),
            MarketError::InvalidReleaseSettings
        );
        let mut name = [0u8; 32];
        name[..self.name.len()].copy_from_slice(self.name.as_bytes());
        Ok(name)
    }

    pub fn apply(&self, market: &mut Market) -> Result<()> {
        market.name = self.validate()?;
        market.rate_micro_usd = self.rate_micro_usd;
        market.min_stake_per_gpu = self.min_stake_per_gpu;
        market.max_gpus_per_job = self.max_gpus_per_job;
        market.max_duration_secs = self.max_duration_secs;
        market.posting_fee_micro_usd = self.posting_fee_micro_usd;
        market.collateral_escrow_bps = self.collateral.escrow_bps;
        market.result_collateral_bps = self.collateral.result_charge_bps;
        let r = &self.release;
        market.release_window_bps = r.window_bps;
        market.release_window_min_secs = r.window_min_secs;
        market.release_window_max_secs = r.window_max_secs;
        market.max_releases = r.max_releases;
        market.max_queue_secs = self.max_queue_secs;
        market.gpu_required = u8::from(self.gpu_required);
        market.min_duration_secs = self.min_duration_secs;
        market.driver_capabilities = self.driver_capabilities;
        Ok(())
    }

    pub fn event(&self, market: Pubkey, index: u16, created: bool) -> MarketSaved {
        MarketSaved {
            market,
            index,
            args: self.clone(),
            created,
        }
    }
}

#[event_cpi]
#[derive(Accounts)]
#[instruction(index: u16)]
pub struct CreateMarket<'info> {
    #[account(mut)]
    pub authority: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump, has_one = authority @ MarketError::NotAuthority, has_one = mint)]
    pub config: Box<Account<'info, Config>>,
    /// CHECK: created here, PDA ["market", index].
    #[account(mut, seeds = [MARKET_SEED, &index.to_le_bytes()], bump)]
    pub market: UncheckedAccount<'info>,
    /// CHECK: created here as a token account, PDA ["escrow", market].
    #[account(mut, seeds = [ESCROW_SEED, market.key().as_ref()], bump)]
    pub escrow_vault: UncheckedAccount<'info>,
    /// CHECK: created here, PDA ["ledger", market]: the market's settlement books.
    #[account(mut, seeds = [LEDGER_SEED, market.key().as_ref()], bump)]
    pub ledger: UncheckedAccount<'info>,
    pub mint: Box<Account<'info, Mint>>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

pub fn handler(ctx: Context<CreateMarket>, index: u16, args: MarketArgs) -> Result<()> {
    require!(
        index == ctx.accounts.config.market_count,
        MarketError::WrongMarketIndex
    );
    args.validate()?;
    let a = &ctx.accounts;
    let payer = a.authority.to_account_info();
    let market_info = a.market.to_account_info();
    let market_bump = ctx.bumps.market;
    create_pda(
        &payer,
        &market_info,
        &crate::ID,
        Market::initial_space(),
        &[MARKET_SEED, &index.to_le_bytes(), &[market_bump]],
    )?;

    let escrow_bump = ctx.bumps.escrow_vault;
    let vault = a.escrow_vault.to_account_info();
    create_token_vault(
        &payer,
        &vault,
        &a.mint.to_account_info(),
        &[ESCROW_SEED, market_info.key.as_ref(), &[escrow_bump]],
    )?;

    let ledger = a.ledger.to_account_info();
    let ledger_bump = ctx.bumps.ledger;
    create_pda(
        &payer,
        &ledger,
        &crate::ID,
        MarketLedger::SPACE,
        &[LEDGER_SEED, market_info.key.as_ref(), &[ledger_bump]],
    )?;
    write_new(
        &ledger,
        &MarketLedger {
            market: market_info.key(),
            escrow_vault: vault.key(),
            market_index: index,
            pending_burn: 0,
            pending_treasury: 0,
            escrow_in: 0,
            escrow_out: 0,
            jobs_settled: 0,
            work_micro_usd: 0,
            tokens_burned: 0,
            treasury_paid: 0,
            escrow_bump,
            bump: ledger_bump,
        },
    )?;

    {
        let mut data = market_info.try_borrow_mut_data()?;
        data[..8].copy_from_slice(Market::DISCRIMINATOR);
        let market: &mut Market =
            bytemuck::from_bytes_mut(&mut data[8..8 + std::mem::size_of::<Market>()]);
        market.config = a.config.key();
        market.escrow_vault = vault.key();
        market.index = index;
        market.bump = market_bump;
        market.escrow_bump = escrow_bump;
        market.init_queues();
        args.apply(market)?;
    }

    let config = &mut ctx.accounts.config;
    config.market_count = index.checked_add(1).ok_or(MarketError::MathOverflow)?;
    emit_cpi!(args.event(market_info.key(), index, true));
    Ok(())
}
