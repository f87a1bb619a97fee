//! The narrow interface everything talks to a chain through. The JSON-RPC
//! backend (devnet, mainnet, any provider, `ake localnet`) is here; the
//! in-process bank (tests, the local chain) is in the `ake-localnet` crate.

pub mod rpc;

use async_trait::async_trait;
use solana_sdk::account::Account;
use solana_sdk::clock::Clock;
use solana_sdk::hash::Hash;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Signature;
use solana_sdk::transaction::{TransactionError, VersionedTransaction};

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// Worth retrying: the endpoint is down, slow or overloaded.
    #[error("the chain endpoint did not answer ({0}); retrying is safe")]
    Unavailable(String),
    /// The endpoint answered with a refusal that retrying will not change.
    #[error("the chain refused the request: {0}")]
    Refused(String),
}

impl ChainError {
    pub fn is_transient(&self) -> bool {
        matches!(self, ChainError::Unavailable(_))
    }
}

/// What a simulation says about a transaction, without landing it.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub err: Option<TransactionError>,
    pub logs: Vec<String>,
    pub units_consumed: u64,
}

/// The signatures of the successful transactions of an address, newest
/// first, and whether they reach back to its first transaction (an
/// endpoint returns a bounded part).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub signatures: Vec<Signature>,
    pub complete: bool,
}

/// A transaction's fate as the chain sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxStatus {
    /// Not seen (yet, or never: check the block height against its last valid height).
    Unknown,
    Landed,
    Failed(TransactionError),
}

#[async_trait]
pub trait Chain: Send + Sync {
    /// Accounts by address, in order; None for an address with no account.
    async fn accounts(&self, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, ChainError>;
    /// A recent blockhash and the last block height at which it is valid.
    async fn latest_blockhash(&self) -> Result<(Hash, u64), ChainError>;
    async fn block_height(&self) -> Result<u64, ChainError>;
    async fn slot(&self) -> Result<u64, ChainError>;
    /// Broadcasts without waiting. Sending the same bytes again is harmless.
    async fn send(&self, tx: &VersionedTransaction) -> Result<(), ChainError>;
    async fn status(&self, signature: &Signature) -> Result<TxStatus, ChainError>;
    /// As `status`, also searching the ledger's history beyond the recent
    /// status cache: the last look before calling a transaction expired (it
    /// may have landed long before a restart).
    async fn status_in_history(&self, signature: &Signature) -> Result<TxStatus, ChainError> {
        self.status(signature).await
    }
    async fn simulate(&self, tx: &VersionedTransaction) -> Result<Simulation, ChainError>;
    async fn balance(&self, key: &Pubkey) -> Result<u64, ChainError>;
    async fn minimum_balance(&self, data_len: usize) -> Result<u64, ChainError>;
    /// Priority fees (micro-lamports per compute unit) paid in recent slots
    /// by transactions writing `accounts`; empty when the chain has none.
    async fn recent_prioritization_fees(
        &self,
        _accounts: &[Pubkey],
    ) -> Result<Vec<u64>, ChainError> {
        Ok(Vec::new())
    }

    /// A websocket endpoint for account subscriptions, when there is one.
    fn websocket_url(&self) -> Option<String> {
        None
    }

    /// How often a sender asks whether its transaction landed: each ask is
    /// two requests, so over JSON-RPC about a slot (400 ms), not faster; an
    /// in-process chain answers for free.
    fn confirm_poll(&self) -> std::time::Duration {
        std::time::Duration::from_millis(400)
    }

    /// The newest part of `key`'s history (an endpoint that keeps
    /// transaction history; a closed account's history stays).
    async fn signatures_for(&self, _key: &Pubkey) -> Result<History, ChainError> {
        Err(no_history())
    }

    /// The data of every inner instruction `program` ran in the transaction
    /// `signature`, in order (where `emit_cpi!` events are); None when the
    /// endpoint does not know the transaction or it failed (a failed
    /// transaction's inner instructions prove nothing: a program can fake
    /// an event's bytes in a CPI that then fails).
    async fn inner_instructions(
        &self,
        _signature: &Signature,
        _program: &Pubkey,
    ) -> Result<Option<Vec<Vec<u8>>>, ChainError> {
        Err(no_history())
    }

    async fn account(&self, key: &Pubkey) -> Result<Option<Account>, ChainError> {
        Ok(self
            .accounts(std::slice::from_ref(key))
            .await?
            .pop()
            .flatten())
    }

    /// The chain's clock (unix time, slot, epoch).
    async fn clock(&self) -> Result<Clock, ChainError> {
        let account = self
            .account(&solana_sdk::sysvar::clock::ID)
            .await?
            .ok_or_else(|| ChainError::Refused("the clock sysvar is missing".into()))?;
        bincode_clock(&account.data)
    }
}

fn no_history() -> ChainError {
    ChainError::Refused("this chain keeps no transaction history".into())
}

fn bincode_clock(data: &[u8]) -> Result<Clock, ChainError> {
    // Clock is five little-endian 8-byte fields.
    if data.len() < 40 {
        return Err(ChainError::Refused("the clock sysvar is malformed".into()));
    }
    let field = |i: usize| u64::from_le_bytes(data[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    Ok(Clock {
        slot: field(0),
        epoch_start_timestamp: field(1) as i64,
        epoch: field(2),
        leader_schedule_epoch: field(3),
        unix_timestamp: field(4) as i64,
    })
}
