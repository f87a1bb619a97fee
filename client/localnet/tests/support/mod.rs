//! What every local chain test starts with.

use std::path::Path;
use std::sync::Arc;

use ake_localnet::Localnet;
use ake_sdk::cluster_params::{Bootstrap, ClusterParams};
use solana_sdk::signature::Keypair;

/// `migrations/localnet.toml`, validated.
#[allow(dead_code)] // not every test file reads the parameters themselves
pub fn params() -> Bootstrap {
    ClusterParams::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/localnet.toml"),
    )
    .unwrap()
    .validate()
    .unwrap()
}

/// A local chain bootstrapped from [`params`].
pub async fn start() -> Arc<Localnet> {
    Localnet::start(&params(), Keypair::new()).await.unwrap()
}
