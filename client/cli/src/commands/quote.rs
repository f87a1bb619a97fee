use ake_sdk::oracle;
use clap::Args;
use serde::Serialize;

use crate::amounts::{format, usd};
use crate::context::GlobalArgs;
use crate::output::print;
use solana_sdk::signer::Signer;

#[derive(Args)]
pub struct QuoteArgs {
    #[arg(long, default_value_t = 0)]
    pub market: u16,
    #[arg(long, default_value_t = 1)]
    pub gpus: u16,
    /// The job's maximum duration in seconds.
    #[arg(long)]
    pub secs: u32,
}

#[derive(Serialize)]
pub struct Quote {
    pub market: u16,
    pub max_charge_micro_usd: u64,
    pub escrow_base_units: u64,
    /// Never refunded; burned when the job leaves the system.
    pub posting_fee_base_units: u64,
    pub ema_price_mantissa: i64,
    pub ema_conf_mantissa: u64,
    pub haircut_price_mantissa: u64,
    pub price_expo: i32,
    pub price_age_secs: i64,
    pub decimals: u8,
}

pub async fn run(g: &GlobalArgs, a: QuoteArgs) -> anyhow::Result<()> {
    let ctx = g.connect()?;
    let p = &ctx.protocol;
    let config = p.config().await?;
    let market = p.market(a.market).await?;
    let (_, update) = p.price(&config).await?;
    let decimals = ake_sdk::accounts::mint_decimals(ctx.chain(), &config.mint).await?;
    // Yours when a keypair is configured (fee steps for your jobs refunded
    // as unrunnable), else the market's.
    let fee = match ctx.signer() {
        Ok(me) => {
            p.posting_fee_for(&me.pubkey(), market.posting_fee_micro_usd, &config)
                .await?
        }
        Err(_) => market.posting_fee_micro_usd,
    };
    let quote = oracle::quote(
        &market,
        (a.gpus, a.secs),
        fee,
        &update,
        &config.params.oracle,
        decimals,
    )
    .ok_or_else(|| {
        anyhow::anyhow!("the oracle price is not usable (zero or negative after the haircut)")
    })?;
    let now = ctx.chain().clock().await?.unix_timestamp;
    let m = &update.price_message;
    let q = Quote {
        market: a.market,
        max_charge_micro_usd: quote.max_charge_micro_usd,
        escrow_base_units: quote.escrow,
        posting_fee_base_units: quote.posting_fee,
        ema_price_mantissa: m.ema_price,
        ema_conf_mantissa: m.ema_conf,
        haircut_price_mantissa: quote.price,
        price_expo: m.exponent,
        price_age_secs: now - m.publish_time,
        decimals,
    };
    print(ctx.json, &q, |q| {
        let scale = |v: u128| v as f64 * 10f64.powi(q.price_expo);
        format!(
            "market {} ({}): {} GPU x {} s at {} per GPU-second\n  max charge  {}\n  escrow      {} AKE (what is not charged comes back)\n  posting fee {} AKE ({}, never refunded)\n  AKE/USD     {:.6} (EMA) - {:.6} haircut = {:.6}, {} s old",
            q.market,
            market.name_str(),
            a.gpus,
            a.secs,
            usd(market.rate_micro_usd),
            usd(q.max_charge_micro_usd),
            format(q.escrow_base_units, q.decimals),
            format(q.posting_fee_base_units, q.decimals),
            usd(market.posting_fee_micro_usd),
            scale(q.ema_price_mantissa as u128),
            scale(q.ema_price_mantissa as u128) - scale(q.haircut_price_mantissa as u128),
            scale(q.haircut_price_mantissa as u128),
            q.price_age_secs,
        )
    });
    Ok(())
}
