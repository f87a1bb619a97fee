//! Seeds shared by the program and the SDK.

pub const EMISSIONS_CONFIG_SEED: &[u8] = b"emissions";
pub const MINT_AUTHORITY_SEED: &[u8] = b"mint_authority";
pub const EPOCH_SEED: &[u8] = b"epoch";
pub const NODE_WORK_SEED: &[u8] = b"node_work";

pub const BPS: u64 = 10_000;
