//! Seeds and sizes shared by the program and the SDK.

use anchor_lang::prelude::*;

pub const CONFIG_SEED: &[u8] = b"config";
pub const MARKET_SEED: &[u8] = b"market";
pub const ESCROW_SEED: &[u8] = b"escrow";
pub const LEDGER_SEED: &[u8] = b"ledger";
pub const STAKE_SEED: &[u8] = b"stake";
pub const STAKE_VAULT_SEED: &[u8] = b"stake_vault";
pub const NODE_SEED: &[u8] = b"node";
pub const CREATOR_SEED: &[u8] = b"creator";
pub const JOB_SEED: &[u8] = b"job";
pub const BATCH_SEED: &[u8] = b"batch";
/// A batch frame's job: `["frame", batch, frame (u32 LE)]`.
pub const FRAME_SEED: &[u8] = b"frame";
/// Frames one batch may hold.
pub const MAX_BATCH_FRAMES: u32 = 10_000;
/// A page of jobs falling due: `["due", market, bucket (u32 LE), shard (u16 LE)]`.
pub const DUE_SEED: &[u8] = b"due";
/// An audit run of a job: `["audit", audited job, round]`.
pub const AUDIT_SEED: &[u8] = b"audit";
/// A spec whose audit found three different digests, not auditable on its
/// market: `["unauditable", market, spec hash]`.
pub const UNAUDITABLE_SEED: &[u8] = b"unauditable";
/// A parameter change waiting out the timelock: `["pending", target]`.
pub const PENDING_SEED: &[u8] = b"pending";
/// Signs work reports to ake-emissions; the emissions config names it.
pub const REPORTER_SEED: &[u8] = b"reporter";

/// Solana's address lookup table program (owns every lookup table).
pub const LOOKUP_TABLE_PROGRAM: Pubkey = pubkey!("AddressLookupTab1e1111111111111111111111111");

/// A node that leaves the queue (`node_unready`) waits this long before it
/// may arm again: toggling in and out of the queue cannot keep posts from
/// matching.
pub const UNREADY_COOLDOWN_SECS: i64 = 30;
/// Suspensions the owner's operator key may lift per node in one window;
/// past them only the owner re-arms, so a stolen operator key cannot walk
/// a failing node through breach after breach (each a slash).
pub const OPERATOR_REARMS_PER_WINDOW: u8 = 2;
/// The window those re-arms are counted in: a week.
pub const OPERATOR_REARM_WINDOW_SECS: i64 = 7 * 86_400;

/// A job refunded as stale (nobody took it within the market's
/// `max_queue_secs`) burns one more posting fee per this many seconds it
/// waited: holding a queue slot for days is not free.
pub const WAITING_FEE_PERIOD_SECS: u64 = 86_400;

/// Basis points in one whole.
pub const BPS: u64 = 10_000;

/// Largest inline spec (borsh bytes) that still lets `post_job` fit one
/// 1232-byte transaction; larger specs go by URI + sha256.
pub const MAX_INLINE_SPEC_BYTES: usize = 416;
pub const MAX_URI_LEN: usize = 200;
/// Owners a job remembers as having handed it back (the most `max_releases` can be).
pub const MAX_RELEASES: usize = 3;
/// Hand-backs of one job by anyone, counted or not, after which it is
/// refunded: owners beyond the three a job remembers could otherwise pass
/// it between them forever (its assignment count is a u8).
pub const MAX_HANDBACKS: u16 = 12;
/// The most posting-fee steps a creator pays for jobs refunded as
/// unrunnable in one window: owners that can refund its jobs cannot raise
/// its fee without bound.
pub const MAX_POSTING_FEE_STEPS: u16 = 10;
/// Share of the bond burned when a dispute times out unresolved: what
/// disputing costs when nobody decides.
pub const DISPUTE_TIMEOUT_FEE_BPS: u64 = 1_000;

/// A node that lost an audit may appeal for the job's challenge window
/// from the verdict, and never less than this: `ake-node` looks at its
/// audits every 10 s, and a cluster's challenge window may be shorter
/// (localnet's is 5 s).
pub const MIN_APPEAL_WINDOW_SECS: u32 = 60;
/// A dispute bond is at least this share of the job's escrow (and at least
/// the configured `dispute_bond`): disputing a large job is not cheap.
pub const DISPUTE_BOND_ESCROW_BPS: u64 = 1_000;
/// Reputation's prior, in micro-USD of failed work every node starts with
/// (10 USD): a node earns 5,000 bps with 10 USD of verified work and the
/// 9,900 ceiling with 990 USD, all without a failure.
pub const REPUTATION_PRIOR_MICRO_USD: u64 = 10_000_000;
pub const MAX_IMAGE_LEN: usize = 200;
pub const MAX_MARKET_NAME_LEN: usize = 32;
/// NVML's longest names (a MIG instance's: "NVIDIA A100-SXM4-80GB MIG
/// 1g.10gb", or "NVIDIA RTX PRO 6000 Blackwell Server Edition") fit.
pub const MAX_GPU_MODEL_LEN: usize = 64;

/// NVIDIA driver capabilities a market may grant its jobs' containers (a
/// bitmask in `Market.driver_capabilities`; names as the NVIDIA Container
/// Toolkit spells them). Nodes mount exactly these, whatever a job's image
/// asks for.
pub const DRIVER_CAPABILITIES: [(u8, &str); 6] = [
    (1, "compute"),
    (2, "utility"),
    (4, "graphics"),
    (8, "video"),
    (16, "display"),
    (32, "compat32"),
];
/// CUDA and nvidia-smi: what compute jobs need, and the least that lets them run.
pub const DEFAULT_DRIVER_CAPABILITIES: u8 = 1 | 2;

/// USD amounts are micro-USD: 10^6 per dollar.
pub const MICRO_USD_DECIMALS: u32 = 6;
