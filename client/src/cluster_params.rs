//! Per-cluster bootstrap parameters (`migrations/<cluster>.toml`): parsed,
//! checked against the same bounds the programs enforce, and turned into
//! the programs' own parameter types. Nothing is sent before all of it holds.

use std::path::Path;

use ake_emissions::state::{BreakerParams, Rewards, Schedule};
use ake_market::constants::DRIVER_CAPABILITIES;
use ake_market::instructions::{
    Capacity, CollateralArgs, MarketArgs, ReleaseArgs, MAX_IN_FLIGHT_CAPACITY, MAX_JOB_CAPACITY,
    MAX_NODE_CAPACITY,
};
use ake_market::state::{
    AuditParams, OracleParams, Params, ReleaseParams, SlaParams, INITIAL_IN_FLIGHT_CAPACITY,
    INITIAL_JOB_CAPACITY, INITIAL_NODE_CAPACITY,
};
use anchor_lang::prelude::Pubkey;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid parameters: {message}")]
    Parse { path: String, message: String },
    #[error("{field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
}

fn invalid(field: &'static str, problem: impl Into<String>) -> ParamsError {
    ParamsError::Invalid {
        field,
        problem: problem.into(),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterParams {
    /// localnet, devnet or mainnet-beta.
    pub cluster: String,
    pub token: TokenParams,
    pub oracle: OracleSection,
    pub market: MarketSection,
    pub sla: SlaSection,
    pub releases: ReleasesSection,
    pub audits: AuditsSection,
    pub emissions: EmissionsSection,
    pub governance: GovernanceSection,
    pub markets: Vec<MarketEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenParams {
    pub decimals: u8,
    pub genesis_supply_ake: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OracleSection {
    pub receiver_program: String,
    /// 32 bytes, hex, `0x` optional.
    pub feed_id: String,
    pub max_age_secs: u32,
    pub max_conf_bps: u16,
    pub haircut_bps: u32,
    /// Localnet only: the price the local chain publishes, in USD.
    pub local_price_usd: Option<String>,
    pub local_conf_bps: Option<u16>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketSection {
    pub burn_bps: u16,
    pub treasury_bps: u16,
    pub challenge_window_secs: u32,
    pub completion_grace_secs: u32,
    pub unbonding_secs: u32,
    pub tier_thresholds_ake: [u64; 3],
    pub max_job_attempts: u8,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaSection {
    pub expiry_slash_bps: u16,
    pub expiry_bounty_bps: u16,
    pub dispute_slash_bps: u16,
    pub dispute_bond_ake: u64,
    pub dispute_timeout_secs: u32,
    pub rearm_cooldown_secs: u32,
}

/// Audits by re-execution (README "Audits").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditsSection {
    pub enabled: bool,
    pub k_bps: u32,
    pub p_min_bps: u16,
    pub fee_bps: u16,
    pub reveal_secs: u32,
    pub auditor_min_reputation_bps: u16,
}

/// What handing jobs back costs, in every market (README "Releases").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasesSection {
    pub budget_per_gpu: u16,
    pub budget_window_secs: u32,
    pub over_budget_cooldown_secs: u32,
    pub proof_floor_micro_usd: u64,
    pub posting_fee_step_bps: u16,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmissionsSection {
    pub epoch_secs: u32,
    pub first_emission_ake: u64,
    pub decay_bps: u16,
    pub floor_emission_ake: u64,
    pub emission_cap_ake: u64,
    /// Paid to whoever closes an epoch, out of the treasury.
    pub crank_tip_ake: u64,
    /// A node earns at most its jobs' burn times this (bps, at most 10,000).
    pub max_reward_per_burn_bps: u16,
    /// ... and at least its jobs' burn times this (phi, bps, at most the
    /// multiplier): minted back from the burn when the schedule falls short.
    pub reward_floor_bps: u16,
    /// The most an epoch mints back to hold the floor (AKE).
    pub max_remint_per_epoch_ake: u64,
    pub breaker_window_secs: u32,
    pub breaker_limit_ake: u64,
}

/// Who may change what, and how fast (README "Governance").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernanceSection {
    /// Seconds between proposing a parameter change and applying it, on
    /// both programs (at least a day on mainnet-beta).
    pub timelock_secs: u32,
    /// May pause posting, assignment and epoch closing at once; the
    /// bootstrapping key when absent.
    pub guardian: Option<String>,
}

/// `migrations/localnet.toml` as built into the binaries.
pub const LOCALNET: &str = include_str!("../../migrations/localnet.toml");

/// The shortest timelock mainnet-beta accepts: users must be able to react.
pub const MAINNET_MIN_TIMELOCK_SECS: u32 = 86_400;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketEntry {
    pub name: String,
    pub rate_micro_usd_per_gpu_sec: u64,
    pub min_stake_per_gpu_ake: u64,
    pub max_gpus_per_job: u16,
    pub max_duration_secs: u32,
    pub posting_fee_micro_usd: u64,
    pub collateral_escrow_bps: u16,
    pub result_collateral_charge_bps: u16,
    pub release_window_bps: u16,
    pub release_window_min_secs: u32,
    pub release_window_max_secs: u32,
    pub max_releases: u8,
    /// A job queued longer than this may be refunded by anyone (the crank).
    pub max_queue_secs: u32,
    /// A GPU market (nodes need registered GPUs) or a CPU market.
    pub gpu_required: bool,
    /// The shortest max duration a job may ask. With the completion grace
    /// it must leave a default node (which keeps `NODE_DEADLINE_RESERVE_SECS`
    /// of the deadline back) time to start the job: see README's job specs.
    pub min_duration_secs: u16,
    /// NVIDIA driver capabilities the jobs' containers get: names from
    /// `compute`, `utility`, `graphics`, `video`, `display`, `compat32`.
    #[serde(default = "default_driver_capabilities")]
    pub driver_capabilities: Vec<String>,
    /// What the market holds: waiting jobs (a batch is one), waiting nodes,
    /// jobs in flight. Bootstrap grows the market to it (rent: 72 bytes a slot).
    pub job_capacity: u16,
    pub node_capacity: u16,
    pub in_flight_capacity: u16,
}

fn default_driver_capabilities() -> Vec<String> {
    vec!["compute".into(), "utility".into()]
}

/// The bitmask of driver capability names (`compute`, `utility`, ...).
pub fn driver_capability_bits(names: &[String]) -> Result<u8, String> {
    names.iter().try_fold(0u8, |bits, name| {
        DRIVER_CAPABILITIES
            .iter()
            .find(|(_, known)| known == name)
            .map(|(bit, _)| bits | bit)
            .ok_or_else(|| {
                let known: Vec<&str> = DRIVER_CAPABILITIES.iter().map(|(_, n)| *n).collect();
                format!("'{name}' is not a driver capability; use some of {known:?}")
            })
    })
}

/// A market to create, and the capacities to grow it to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketPlan {
    pub args: MarketArgs,
    pub capacity: Capacity,
}

/// Everything the programs need, in their own types and base units.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub cluster: String,
    pub decimals: u8,
    pub genesis_supply: u64,
    pub market_params: Params,
    pub schedule_without_genesis: Schedule,
    pub rewards: Rewards,
    pub breaker: BreakerParams,
    pub markets: Vec<MarketPlan>,
    /// Both programs' timelock (the market's is also in `market_params`).
    pub timelock_secs: u32,
    /// None: the bootstrapping key stays the guardian.
    pub guardian: Option<Pubkey>,
    /// Localnet: (price mantissa at expo -8, confidence mantissa).
    pub local_price: Option<(i64, u64)>,
}

impl ClusterParams {
    pub fn load(path: &Path) -> Result<Self, ParamsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ParamsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            ParamsError::Parse { message, .. } => ParamsError::Parse {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    /// The localnet parameters built into every binary
    /// (`migrations/localnet.toml` when it was built), so `ake localnet`
    /// and `ake demo` need no file.
    pub fn localnet() -> Self {
        Self::parse(LOCALNET).expect("migrations/localnet.toml parses (checked by a test)")
    }

    pub fn parse(text: &str) -> Result<Self, ParamsError> {
        toml::from_str(text).map_err(|e| ParamsError::Parse {
            path: "parameters".into(),
            message: e.to_string(),
        })
    }

    /// Checks every bound and converts to base units.
    pub fn validate(&self) -> Result<Bootstrap, ParamsError> {
        let localnet = self.cluster == "localnet";
        if !["localnet", "devnet", "mainnet-beta"].contains(&self.cluster.as_str()) {
            return Err(invalid(
                "cluster",
                "must be localnet, devnet or mainnet-beta",
            ));
        }
        let d = self.token.decimals;
        if d > 9 {
            return Err(invalid("token.decimals", "must be 0..=9"));
        }
        let unit = 10u64.pow(u32::from(d));
        let ake = |field: &'static str, v: u64| {
            v.checked_mul(unit)
                .ok_or_else(|| invalid(field, "too large for u64 base units"))
        };

        let receiver: Pubkey = self
            .oracle
            .receiver_program
            .parse()
            .map_err(|_| invalid("oracle.receiver_program", "not a base58 public key"))?;
        let feed_id = parse_feed_id(&self.oracle.feed_id)?;
        if !localnet && feed_id == [0; 32] {
            return Err(invalid(
                "oracle.feed_id",
                "is all zeros: set the AKE/USD Pyth feed id before bootstrapping this cluster",
            ));
        }
        let m = &self.market;
        let t = &m.tier_thresholds_ake;
        let market_params = Params {
            oracle: OracleParams {
                receiver_program: receiver,
                feed_id,
                max_age_secs: self.oracle.max_age_secs,
                max_conf_bps: self.oracle.max_conf_bps,
                haircut_bps: self.oracle.haircut_bps,
            },
            burn_bps: m.burn_bps,
            treasury_bps: m.treasury_bps,
            challenge_window_secs: m.challenge_window_secs,
            completion_grace_secs: m.completion_grace_secs,
            unbonding_secs: m.unbonding_secs,
            timelock_secs: self.governance.timelock_secs,
            tier_thresholds: [
                ake("market.tier_thresholds_ake", t[0])?,
                ake("market.tier_thresholds_ake", t[1])?,
                ake("market.tier_thresholds_ake", t[2])?,
            ],
            max_job_attempts: m.max_job_attempts,
            sla: SlaParams {
                expiry_slash_bps: self.sla.expiry_slash_bps,
                expiry_bounty_bps: self.sla.expiry_bounty_bps,
                dispute_slash_bps: self.sla.dispute_slash_bps,
                dispute_bond: ake("sla.dispute_bond_ake", self.sla.dispute_bond_ake)?,
                dispute_timeout_secs: self.sla.dispute_timeout_secs,
                rearm_cooldown_secs: self.sla.rearm_cooldown_secs,
            },
            release: ReleaseParams {
                budget_per_gpu: self.releases.budget_per_gpu,
                budget_window_secs: self.releases.budget_window_secs,
                over_budget_cooldown_secs: self.releases.over_budget_cooldown_secs,
                proof_floor_micro_usd: self.releases.proof_floor_micro_usd,
                posting_fee_step_bps: self.releases.posting_fee_step_bps,
            },
            audit: AuditParams {
                enabled: self.audits.enabled,
                k_bps: self.audits.k_bps,
                p_min_bps: self.audits.p_min_bps,
                fee_bps: self.audits.fee_bps,
                reveal_secs: self.audits.reveal_secs,
                auditor_min_reputation_bps: self.audits.auditor_min_reputation_bps,
            },
        };
        market_params
            .validate()
            .map_err(|e| invalid("market/oracle/sla", program_message(e)))?;

        let e = &self.emissions;
        let schedule = Schedule {
            genesis_ts: 0,
            epoch_secs: e.epoch_secs,
            segment_first_epoch: 0,
            segment_start_ts: 0,
            previous_epoch_secs: e.epoch_secs,
            first_emission: ake("emissions.first_emission_ake", e.first_emission_ake)?,
            decay_bps: e.decay_bps,
            floor_emission: ake("emissions.floor_emission_ake", e.floor_emission_ake)?,
            emission_cap: ake("emissions.emission_cap_ake", e.emission_cap_ake)?,
        };
        schedule
            .validate()
            .map_err(|err| invalid("emissions", program_message(err)))?;
        let rewards = Rewards {
            crank_tip: ake("emissions.crank_tip_ake", e.crank_tip_ake)?,
            max_reward_per_burn_bps: e.max_reward_per_burn_bps,
            reward_floor_bps: e.reward_floor_bps,
            max_remint_per_epoch: ake(
                "emissions.max_remint_per_epoch_ake",
                e.max_remint_per_epoch_ake,
            )?,
        };
        rewards.validate().map_err(|err| {
            invalid(
                "emissions.max_reward_per_burn_bps/reward_floor_bps",
                program_message(err),
            )
        })?;
        let breaker = BreakerParams {
            window_secs: e.breaker_window_secs,
            window_limit: ake("emissions.breaker_limit_ake", e.breaker_limit_ake)?,
        };
        breaker
            .validate(schedule.epoch_secs, schedule.first_emission)
            .map_err(|err| invalid("emissions.breaker_*", program_message(err)))?;

        if self.markets.is_empty() {
            return Err(invalid(
                "markets",
                "at least one [[markets]] entry is needed",
            ));
        }
        let mut markets = Vec::new();
        for entry in &self.markets {
            let args = MarketArgs {
                name: entry.name.clone(),
                rate_micro_usd: entry.rate_micro_usd_per_gpu_sec,
                min_stake_per_gpu: ake(
                    "markets.min_stake_per_gpu_ake",
                    entry.min_stake_per_gpu_ake,
                )?,
                max_gpus_per_job: entry.max_gpus_per_job,
                max_duration_secs: entry.max_duration_secs,
                posting_fee_micro_usd: entry.posting_fee_micro_usd,
                collateral: CollateralArgs {
                    escrow_bps: entry.collateral_escrow_bps,
                    result_charge_bps: entry.result_collateral_charge_bps,
                },
                release: ReleaseArgs {
                    window_bps: entry.release_window_bps,
                    window_min_secs: entry.release_window_min_secs,
                    window_max_secs: entry.release_window_max_secs,
                    max_releases: entry.max_releases,
                },
                max_queue_secs: entry.max_queue_secs,
                gpu_required: entry.gpu_required,
                min_duration_secs: entry.min_duration_secs,
                driver_capabilities: driver_capability_bits(&entry.driver_capabilities)
                    .map_err(|why| invalid("markets.driver_capabilities", why))?,
            };
            args.validate().map_err(|err| {
                invalid(
                    "markets",
                    format!("{}: {}", entry.name, program_message(err)),
                )
            })?;
            let capacity = Capacity {
                jobs: entry.job_capacity,
                nodes: entry.node_capacity,
                in_flight: entry.in_flight_capacity,
            };
            if capacity.jobs < INITIAL_JOB_CAPACITY
                || capacity.nodes < INITIAL_NODE_CAPACITY
                || capacity.in_flight < INITIAL_IN_FLIGHT_CAPACITY
                || capacity.jobs > MAX_JOB_CAPACITY
                || capacity.nodes > MAX_NODE_CAPACITY
                || capacity.in_flight > MAX_IN_FLIGHT_CAPACITY
            {
                return Err(invalid(
                    "markets.*_capacity",
                    format!(
                        "{}: capacities run from {INITIAL_JOB_CAPACITY}/{INITIAL_NODE_CAPACITY}/{INITIAL_IN_FLIGHT_CAPACITY} \
                         (a new market) to {MAX_JOB_CAPACITY}/{MAX_NODE_CAPACITY}/{MAX_IN_FLIGHT_CAPACITY} \
                         (jobs/nodes/in flight)",
                        entry.name
                    ),
                ));
            }
            markets.push(MarketPlan { args, capacity });
        }

        let local_price = match (&self.oracle.local_price_usd, localnet) {
            (Some(p), true) => Some(parse_local_price(
                p,
                self.oracle.local_conf_bps.unwrap_or(10),
            )?),
            (None, true) => {
                return Err(invalid(
                    "oracle.local_price_usd",
                    "localnet needs a starting price",
                ))
            }
            (Some(_), false) => {
                return Err(invalid(
                    "oracle.local_price_usd",
                    "only localnet publishes its own price",
                ))
            }
            (None, false) => None,
        };

        let g = &self.governance;
        if self.cluster == "mainnet-beta" && g.timelock_secs < MAINNET_MIN_TIMELOCK_SECS {
            return Err(invalid(
                "governance.timelock_secs",
                format!("mainnet-beta needs at least {MAINNET_MIN_TIMELOCK_SECS} s (a day) so users can react to a change"),
            ));
        }
        let guardian = match &g.guardian {
            Some(text) => Some(
                text.parse::<Pubkey>()
                    .map_err(|_| invalid("governance.guardian", "not a base58 public key"))?,
            ),
            None => None,
        };
        Ok(Bootstrap {
            cluster: self.cluster.clone(),
            decimals: d,
            genesis_supply: ake("token.genesis_supply_ake", self.token.genesis_supply_ake)?,
            market_params,
            schedule_without_genesis: schedule,
            rewards,
            breaker,
            markets,
            timelock_secs: self.governance.timelock_secs,
            guardian,
            local_price,
        })
    }
}

fn program_message(e: anchor_lang::error::Error) -> String {
    match e {
        anchor_lang::error::Error::AnchorError(a) => a.error_msg.clone(),
        other => other.to_string(),
    }
}

fn parse_feed_id(s: &str) -> Result<[u8; 32], ParamsError> {
    let hex = s.strip_prefix("0x").unwrap_or(s);
    if hex.len() != 64 {
        return Err(invalid(
            "oracle.feed_id",
            "must be 32 bytes of hex (64 digits)",
        ));
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|_| invalid("oracle.feed_id", "contains a non-hex digit"))?;
    }
    Ok(out)
}

/// "0.50" -> 50_000_000 at expo -8; confidence in bps of it.
pub fn parse_local_price(usd: &str, conf_bps: u16) -> Result<(i64, u64), ParamsError> {
    let field = "oracle.local_price_usd";
    let (whole, frac) = usd.split_once('.').unwrap_or((usd, ""));
    if frac.len() > 8 || whole.is_empty() && frac.is_empty() {
        return Err(invalid(
            field,
            "a decimal USD price with at most 8 decimals, e.g. \"0.50\"",
        ));
    }
    let digits = format!("{whole}{frac:0<8}");
    let mantissa: i64 = digits.parse().map_err(|_| {
        invalid(
            field,
            "a decimal USD price with at most 8 decimals, e.g. \"0.50\"",
        )
    })?;
    if mantissa <= 0 {
        return Err(invalid(field, "must be above zero"));
    }
    let conf = (mantissa as u128 * u128::from(conf_bps) / 10_000) as u64;
    Ok((mantissa, conf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrations() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations")
    }

    #[test]
    fn shipped_parameter_files_validate() {
        let local = ClusterParams::load(&migrations().join("localnet.toml"))
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(local.local_price, Some((50_000_000, 50_000)));
        ClusterParams::localnet().validate().unwrap();
        assert_eq!(local.schedule_without_genesis.epoch_secs, 30);
        ClusterParams::load(&migrations().join("devnet.toml"))
            .unwrap()
            .validate()
            .expect_err("devnet needs its feed id set");
        let main = ClusterParams::load(&migrations().join("mainnet.toml")).unwrap();
        let err = main.validate().unwrap_err().to_string();
        assert!(err.starts_with("oracle.feed_id"), "{err}");
        let mut main = main;
        main.oracle.feed_id = format!("0x{}", "ab".repeat(32));
        let b = main.validate().unwrap();
        assert_eq!(b.schedule_without_genesis.first_emission, 137_362_000_000);
        assert_eq!(b.schedule_without_genesis.epoch_secs, 86_400);
        assert_eq!(b.market_params.tier_thresholds[0], 1_000_000_000);
    }

    /// Once audits are on, the crank reads mainnet's due pages back far
    /// enough to see its longest audit end, worked out by hand from
    /// mainnet.toml: three attempts at each run (a day in the queue, the
    /// time to reveal being shorter than the queue's 3 days; a day running;
    /// 600 s of grace) = 520,200 s, a day to reveal, a 3,600 s window to
    /// appeal, the arbiter's 3 days plus the job's day, a fresh 3,600 s
    /// window after an upheld appeal, and the day every page is read
    /// anyway: 1,045,800 s, about 12 days of 5-minute pages (35 reads of
    /// 100 pages a market, each pass). One day while audits are off.
    #[test]
    fn the_crank_reads_back_far_enough_for_every_mainnet_audit() {
        use crate::protocol::{due_lookback_secs, DUE_LOOKBACK_SECS};
        let mut main = ClusterParams::load(&migrations().join("mainnet.toml")).unwrap();
        main.oracle.feed_id = format!("0x{}", "ab".repeat(32));
        let b = main.validate().unwrap();
        let mut params = b.market_params;
        for plan in &b.markets {
            let market = (plan.args.max_queue_secs, plan.args.max_duration_secs);
            params.audit.enabled = false;
            assert_eq!(due_lookback_secs(&params, market), DUE_LOOKBACK_SECS);
            params.audit.enabled = true;
            assert_eq!(due_lookback_secs(&params, market), 1_045_800);
        }
    }

    /// Every shipped market's shortest job can be started and committed in
    /// time by a node with the default deadline reserve, and gets only the
    /// driver capabilities CUDA needs.
    #[test]
    fn a_default_node_can_run_every_shipped_market_s_shortest_job() {
        use crate::job_spec::{NODE_DEADLINE_RESERVE_SECS, NODE_START_SECS};
        for cluster in ["localnet", "devnet", "mainnet"] {
            let file = ClusterParams::load(&migrations().join(format!("{cluster}.toml"))).unwrap();
            for market in &file.markets {
                let window = u64::from(market.min_duration_secs)
                    + u64::from(file.market.completion_grace_secs);
                assert!(
                    window >= NODE_DEADLINE_RESERVE_SECS + NODE_START_SECS,
                    "{cluster} {}: min_duration_secs + completion_grace_secs = {window} s",
                    market.name
                );
                assert_eq!(driver_capability_bits(&market.driver_capabilities), Ok(3));
            }
        }
        assert!(driver_capability_bits(&["all".into()])
            .unwrap_err()
            .contains("'all' is not a driver capability"));
    }

    #[test]
    fn errors_name_the_field() {
        let text = std::fs::read_to_string(migrations().join("localnet.toml")).unwrap();
        let broken = text.replace("burn_bps = 9_500", "burn_bps = 9_000");
        let err = ClusterParams::parse(&broken)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("burn bps + treasury bps must equal 10000"),
            "{err}"
        );
        let broken = text.replace("epoch_secs = 30", "epoch_secs = 0");
        let err = ClusterParams::parse(&broken)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("emissions"), "{err}");
        let typo = text.replace("decay_bps", "decay_bsp");
        let err = ClusterParams::parse(&typo).unwrap_err().to_string();
        assert!(err.contains("decay_bsp"), "{err}");
        assert!(parse_local_price("abc", 10).is_err());
        assert_eq!(
            parse_local_price("1", 100).unwrap(),
            (100_000_000, 1_000_000)
        );
    }
}
