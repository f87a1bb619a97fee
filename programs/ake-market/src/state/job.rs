use anchor_lang::prelude::*;

use crate::constants::{MAX_IMAGE_LEN, MAX_INLINE_SPEC_BYTES, MAX_URI_LEN};
use crate::errors::MarketError;

/// A job, PDA `["job", creator, nonce (u64 LE)]`. Its account is sized for
/// its own spec plus the largest result, and closes when the job settles.
#[account]
#[derive(Debug)]
pub struct Job {
    pub creator: Pubkey,
    pub nonce: u64,
    pub market: Pubkey,
    pub spec: JobSpec,
    /// sha256 of the borsh-encoded inline spec, or the remote spec's sha256.
    pub spec_hash: [u8; 32],
    pub gpus: u16,
    pub max_duration_secs: u32,
    /// Assignment skips nodes below this reputation.
    pub min_reputation_bps: u16,
    /// The market rate when posted, micro-USD per GPU-second.
    pub rate_micro_usd: u64,
    pub max_charge_micro_usd: u64,
    /// Tokens held in the market's escrow vault for this job.
    pub escrow: u64,
    /// The haircut AKE/USD price locked at posting.
    pub price: LockedPrice,
    pub tier: u8,
    pub state: JobState,
    /// Assignments so far (an expiry re-queues until the config's maximum).
    pub attempts: u8,
    pub posted_at: i64,
    pub assigned_at: i64,
    /// The node must submit by then; afterwards anyone may expire the job.
    pub deadline: i64,
    pub submitted_at: i64,
    pub node: Pubkey,
    /// The node's owner, whose stake backs this job.
    pub node_owner: Pubkey,
    /// Owner stake locked while the job is assigned, submitted or disputed.
    pub locked_stake: u64,
    /// The creator's dispute bond, held in the escrow vault.
    pub bond: u64,
    pub disputed_at: i64,
    pub result: Option<JobResult>,
    pub bump: u8,
}

impl Job {
    /// Bytes of a job whose borsh spec takes `spec_len` bytes, result included.
    pub fn space_for(spec_len: usize) -> usize {
        8 // discriminator
            + 32 + 8 + 32 // creator, nonce, market
            + spec_len
            + 32 + 2 + 4 + 2 // spec hash, gpus, duration, min reputation
            + 8 + 8 + 8 // rate, max charge, escrow
            + LockedPrice::INIT_SPACE
            + 1 + 1 + 1 // tier, state, attempts
            + 8 * 4 // timestamps
            + 32 + 32 + 8 // node, node owner, locked stake
            + 8 + 8 // bond, disputed at
            + 1 + JobResult::INIT_SPACE
            + 1 // bump
    }

    pub fn is_open(&self) -> bool {
        !matches!(self.state, JobState::Settled)
    }
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Assigned,
    Submitted,
    /// The creator challenged the result; waiting for the arbiter or the timeout.
    Disputed,
    /// Only seen in events: a settled job's account is closed.
    Settled,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq)]
pub struct LockedPrice {
    /// USD per whole token = mantissa x 10^expo.
    pub mantissa: u64,
    pub expo: i32,
    pub decimals: u8,
}

/// What to run: inline when it fits one transaction, else a URI the node
/// fetches and checks against the sha256.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub enum JobSpec {
    Inline(InlineSpec),
    Remote(RemoteSpec),
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct InlineSpec {
    /// e.g. `ghcr.io/ake/render@sha256:...` (a digest pins the image).
    pub image: String,
    pub command: Vec<String>,
    pub env: Vec<EnvVar>,
    pub inputs: Vec<InputFile>,
    /// Largest total output the node will upload, bytes.
    pub max_output_bytes: u64,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    pub url: String,
    pub sha256: [u8; 32],
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct RemoteSpec {
    pub uri: String,
    pub sha256: [u8; 32],
}

impl JobSpec {
    /// Checks the bounds and returns (borsh bytes length, spec hash).
    pub fn validate(&self) -> Result<(usize, [u8; 32])> {
        let bytes =
            anchor_lang::prelude::borsh::to_vec(self).map_err(|_| MarketError::InvalidSpec)?;
        match self {
            JobSpec::Inline(s) => {
                require!(
                    bytes.len() <= MAX_INLINE_SPEC_BYTES,
                    MarketError::SpecTooLarge
                );
                require!(
                    !s.image.is_empty() && s.image.len() <= MAX_IMAGE_LEN,
                    MarketError::InvalidSpec
                );
                require!(
                    s.inputs.iter().all(|i| i.url.len() <= MAX_URI_LEN),
                    MarketError::InvalidSpec
                );
                Ok((bytes.len(), solana_sha256_hasher::hash(&bytes).to_bytes()))
            }
            JobSpec::Remote(r) => {
                require!(
                    !r.uri.is_empty() && r.uri.len() <= MAX_URI_LEN,
                    MarketError::InvalidSpec
                );
                Ok((bytes.len(), r.sha256))
            }
        }
    }
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, InitSpace, Debug, PartialEq, Eq)]
pub struct JobResult {
    /// Merkle root over outputs, logs, image digest, spec hash, exit code and usage.
    pub commitment: [u8; 32],
    #[max_len(MAX_URI_LEN)]
    pub output_uri: String,
    pub usage: UsageReceipt,
}

#[derive(
    AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq, Default,
)]
pub struct UsageReceipt {
    pub wall_secs: u64,
    pub gpu_secs: u64,
    pub energy_mj: u64,
}
