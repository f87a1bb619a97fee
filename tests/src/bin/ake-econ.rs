//! ake-econ: three years of AKE's burn-and-mint under low, medium and high
//! demand and two price paths, through the programs' own arithmetic:
//! `ake_market::math` for what a job escrows, burns and pays the treasury,
//! `ake_emissions::math` for what closing an epoch and claiming mint. It
//! prints, per year: operator pay ÷ list (mean, and the 5th percentile over
//! jobs and price paths), the supply change, the treasury's income, and the
//! return a treasury holder makes on AKE it pays for its own jobs.
//!
//! The model (assumptions, not measurements):
//! - demand is constant in USD: low $5,000, medium $30,000, high $150,000
//!   of jobs at list price a day, eight equal jobs a day, each run and
//!   settled the day it is posted, each by its own node;
//! - AKE/USD starts at $0.50 and moves daily as geometric Brownian motion
//!   with 100% yearly volatility, drifting so that the median path ends
//!   three years later at -70% or at x3; `--paths` paths (seeded);
//! - a job escrows its list price at the posting day's price and is charged
//!   all of it; its node claims as soon as the epoch closes, at the price
//!   of the epoch's last day: pay ÷ list = reward x that price ÷ list;
//! - the insider's return is what one more job of 1% of an epoch's demand
//!   brings a holder of the treasury who also closes the epoch: its node's
//!   reward and the fee back to its treasury (the tip only moves tokens
//!   from its treasury to itself), per AKE paid, less one; the posting fee
//!   it also burns is left out, in its favour;
//! - the treasury's income is the market's fee less the crank tips;
//! - the price does not answer to supply: a burn that shrinks supply fast
//!   would raise it, and rationing would ease.
//!
//! `cargo run --release -p ake-tests --bin ake-econ -- [--params
//! migrations/mainnet.toml] [--paths 200]`

use std::path::PathBuf;

use ake_emissions::math::{claim_amounts, close_amounts, crank_tip, next_emission, ScheduleState};
use ake_emissions::state::Rewards;
use ake_market::math::{micro_usd_to_tokens_ceil, split_payment};
use ake_sdk::cluster_params::ClusterParams;
use anyhow::{bail, Context};

const DAYS: usize = 3 * 365;
const JOBS_PER_DAY: u64 = 8;
const START_PRICE_USD: f64 = 0.50;
const YEARLY_VOLATILITY: f64 = 1.0;
/// Prices are fed to the market math as mantissas at this exponent (Pyth's).
const PRICE_EXPO: i32 = -8;
/// List price of the jobs run each day, in USD. At $0.50 the first year's
/// node share is worth about $55,000 a day: low demand uses a tenth of it,
/// medium about half, high nearly three times.
const DEMANDS: [(&str, u64); 3] = [("low", 5_000), ("medium", 30_000), ("high", 150_000)];
const PRICE_PATHS: [(&str, f64); 2] = [("-70%", 0.3), ("x3", 3.0)];

struct Args {
    params: PathBuf,
    paths: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut out = Args {
        params: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations/mainnet.toml"),
        paths: 200,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let value = given
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--params" => out.params = value.into(),
            "--paths" => {
                out.paths = value
                    .parse()
                    .with_context(|| format!("--paths takes a count, not {value:?}"))?
            }
            _ => bail!("unknown flag {flag}: use --params <file.toml> and --paths <count>"),
        }
    }
    if out.paths == 0 {
        bail!("--paths must be at least 1");
    }
    Ok(out)
}

/// The parameters the simulation reads from a cluster's file.
struct Economics {
    decimals: u8,
    genesis: u64,
    burn_bps: u16,
    epoch_days: usize,
    schedule: ScheduleState,
    decay_bps: u16,
    floor_emission: u64,
    rewards: Rewards,
}

fn economics(params: &ClusterParams) -> anyhow::Result<Economics> {
    let e = &params.emissions;
    let unit = 10u64.pow(u32::from(params.token.decimals));
    if !e.epoch_secs.is_multiple_of(86_400) {
        bail!(
            "epoch_secs {} is not a whole number of days: the simulation steps by day",
            e.epoch_secs
        );
    }
    Ok(Economics {
        decimals: params.token.decimals,
        genesis: params.token.genesis_supply_ake * unit,
        burn_bps: params.market.burn_bps,
        epoch_days: (e.epoch_secs / 86_400) as usize,
        schedule: ScheduleState {
            next_emission: e.first_emission_ake * unit,
            scheduled_total: 0,
            emission_cap: e.emission_cap_ake * unit,
        },
        decay_bps: e.decay_bps,
        floor_emission: e.floor_emission_ake * unit,
        rewards: Rewards {
            crank_tip: e.crank_tip_ake * unit,
            max_reward_per_burn_bps: e.max_reward_per_burn_bps,
            reward_floor_bps: e.reward_floor_bps,
            max_remint_per_epoch: e.max_remint_per_epoch_ake * unit,
        },
    })
}

/// xorshift64*: deterministic, good enough for price noise.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal draw (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u = self.uniform().max(f64::MIN_POSITIVE);
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

/// Daily prices whose median path ends `DAYS` later at `end` x the start.
fn price_path(rng: &mut Rng, end: f64) -> Vec<f64> {
    let sigma = YEARLY_VOLATILITY / 365f64.sqrt();
    let drift = end.ln() / DAYS as f64;
    let mut log = START_PRICE_USD.ln();
    (0..=DAYS)
        .map(|_| {
            let price = log.exp();
            log += drift + sigma * rng.normal();
            price
        })
        .collect()
}

fn mantissa(price_usd: f64) -> u64 {
    ((price_usd * 1e8).round() as u64).max(1)
}

/// One year's results over every path.
#[derive(Default)]
struct Year {
    pay_ratios: Vec<f64>,
    minted: f64,
    /// Of `minted`, what was minted back above the schedule (the floor).
    reminted: f64,
    burned: f64,
    treasury_tokens: f64,
    treasury_usd: f64,
    insider_returns: Vec<f64>,
}

/// What a job pays: (burned, to the treasury), in base units.
fn job_payment(econ: &Economics, list_micro_usd: u64, price: f64) -> (u64, u64) {
    let paid = micro_usd_to_tokens_ceil(list_micro_usd, mantissa(price), PRICE_EXPO, econ.decimals)
        .expect("a priced job");
    split_payment(paid, econ.burn_bps).expect("a split payment")
}

/// One price path through the schedule, its results added to `years`.
fn run_path(econ: &Economics, demand_usd: u64, prices: &[f64], years: &mut [Year]) {
    let mut schedule = econ.schedule;
    let list = demand_usd * 1_000_000 / JOBS_PER_DAY;
    for epoch in 0..DAYS / econ.epoch_days {
        let days = epoch * econ.epoch_days..(epoch + 1) * econ.epoch_days;
        let close_price = prices[days.end];
        let year = &mut years[(days.end - 1) / 365];
        let jobs: Vec<(u64, u64)> = days
            .clone()
            .flat_map(|day| (0..JOBS_PER_DAY).map(move |_| day))
            .map(|day| job_payment(econ, list, prices[day]))
            .collect();
        let burned: u64 = jobs.iter().map(|(burn, _)| burn).sum();
        let fees: u64 = jobs.iter().map(|(_, fee)| fee).sum();
        let close = close_amounts(schedule, &econ.rewards, burned);
        let mut claimed = 0u64;
        let mut reminted = 0u64;
        for (burn, _) in &jobs {
            let claim = claim_amounts(
                close.node_share,
                *burn,
                burned,
                econ.rewards.max_reward_per_burn_bps,
                close.floor_bps,
            )
            .expect("a claim");
            claimed += claim.amount();
            reminted += claim.reminted;
            year.pay_ratios
                .push(claim.amount() as f64 * close_price / (list as f64 / 1e6) / unit(econ));
        }
        // The treasury always holds more than a tip after the first day.
        let income = fees - crank_tip(econ.rewards.crank_tip, u64::MAX, burned);
        year.minted += claimed as f64 / unit(econ);
        year.reminted += reminted as f64 / unit(econ);
        year.burned += burned as f64 / unit(econ);
        year.treasury_tokens += income as f64 / unit(econ);
        year.treasury_usd += income as f64 / unit(econ) * close_price;
        year.insider_returns.push(insider_return(
            econ,
            schedule,
            &jobs,
            prices[days.start],
            demand_usd,
        ));
        schedule.scheduled_total += close.emission;
        schedule.next_emission = next_emission(
            schedule.next_emission,
            econ.decay_bps,
            econ.floor_emission,
            None,
        );
    }
}

/// One more job, of 1% of the epoch's demand, paid by whoever holds the
/// treasury and closes the epoch: what it gets back per AKE paid, less one.
fn insider_return(
    econ: &Economics,
    schedule: ScheduleState,
    jobs: &[(u64, u64)],
    price: f64,
    demand_usd: u64,
) -> f64 {
    let list = demand_usd * 1_000_000 * econ.epoch_days as u64 / 100;
    let (burn, fee) = job_payment(econ, list, price);
    let burned: u64 = jobs.iter().map(|(b, _)| b).sum();
    let with = close_amounts(schedule, &econ.rewards, burned + burn);
    let reward = claim_amounts(
        with.node_share,
        burn,
        burned + burn,
        econ.rewards.max_reward_per_burn_bps,
        with.floor_bps,
    )
    .expect("a claim")
    .amount();
    (reward as f64 + fee as f64) / (burn + fee) as f64 - 1.0
}

fn unit(econ: &Economics) -> f64 {
    10f64.powi(i32::from(econ.decimals))
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let at = ((values.len() as f64 - 1.0) * p).round() as usize;
    values.get(at).copied().unwrap_or(0.0)
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    let params = ClusterParams::load(&args.params)
        .with_context(|| format!("reading {}", args.params.display()))?;
    let econ = economics(&params)?;
    println!(
        "AKE economics, {} ({} price paths a case, 100%/yr volatility, from $0.50)\n",
        args.params.display(),
        args.paths
    );
    println!("| demand ($/day) | price | year | pay ÷ list, mean | pay ÷ list, 5th pct | supply change (% of genesis) | minted back (M AKE) | treasury income (M AKE, $M) | insider's return |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (demand_name, demand_usd) in DEMANDS {
        for (price_name, end) in PRICE_PATHS {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ demand_usd ^ end.to_bits());
            let mut years: Vec<Year> = (0..3).map(|_| Year::default()).collect();
            for _ in 0..args.paths {
                let prices = price_path(&mut rng, end);
                run_path(&econ, demand_usd, &prices, &mut years);
            }
            let paths = args.paths as f64;
            let genesis = econ.genesis as f64 / unit(&econ);
            for (i, year) in years.iter_mut().enumerate() {
                println!(
                    "| {demand_name} ({demand_usd}) | {price_name} | {} | {:.2} | {:.2} | {:+.2}% | {:.2} | {:.2}, {:.2} | {:+.1}% |",
                    i + 1,
                    mean(&year.pay_ratios),
                    percentile(&mut year.pay_ratios, 0.05),
                    (year.minted - year.burned) / paths / genesis * 100.0,
                    year.reminted / paths / 1e6,
                    year.treasury_tokens / paths / 1e6,
                    year.treasury_usd / paths / 1e6,
                    mean(&year.insider_returns) * 100.0,
                );
            }
        }
    }
    Ok(())
}
