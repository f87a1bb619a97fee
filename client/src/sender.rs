//! Sending so that callers can be exactly-once: the signed transaction's
//! signature and last valid block height are known BEFORE anything is sent
//! (a caller journals them), the same bytes are rebroadcast until they land
//! or can never land, and nothing is re-signed before the blockhash expired.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_sdk::hash::Hash;
use solana_sdk::instruction::Instruction;
use solana_sdk::message::{v0, AddressLookupTableAccount, Message, VersionedMessage};
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signature};
use solana_sdk::signer::Signer;
use solana_sdk::transaction::{TransactionError, VersionedTransaction};

use crate::chain::{Chain, ChainError, TxStatus};
use crate::errors::explain;

/// Compute budget set on every transaction.
#[derive(Debug, Clone, Copy)]
pub struct Fees {
    pub compute_unit_limit: u32,
    /// Micro-lamports per compute unit (priority fee).
    pub compute_unit_price: u64,
}

impl Default for Fees {
    fn default() -> Self {
        Fees {
            compute_unit_limit: 400_000,
            compute_unit_price: 0,
        }
    }
}

/// A signed transaction, ready to journal and send: a legacy one, or a v0
/// one when it was compiled against address lookup tables.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub transaction: VersionedTransaction,
    pub signature: Signature,
    /// Once the chain's block height passes this, the transaction can never land.
    pub last_valid_block_height: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{explanation}")]
    Failed {
        signature: Option<Signature>,
        error: TransactionError,
        explanation: String,
    },
    #[error("transaction {signature} expired before it landed (blockhash too old); nothing happened, it is safe to build a new one")]
    Expired { signature: Signature },
    #[error("cannot build the transaction: {0}")]
    Build(String),
    #[error(transparent)]
    Chain(#[from] ChainError),
}

fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .with_max_times(8)
}

/// Retries `op` with backoff while the endpoint is unavailable.
pub async fn with_retry<T, F, Fut>(op: F) -> Result<T, ChainError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ChainError>>,
{
    op.retry(backoff()).when(ChainError::is_transient).await
}

/// Adds the compute budget and signs with a fresh blockhash: a legacy
/// transaction without `tables`, a v0 one compiled against them (each
/// address a table holds then costs one byte instead of 32).
pub async fn prepare(
    chain: &dyn Chain,
    payer: &Keypair,
    signers: &[&Keypair],
    instructions: &[Instruction],
    fees: Fees,
    tables: &[AddressLookupTableAccount],
) -> Result<Prepared, SendError> {
    let ixs = with_budget(instructions, fees);
    let (blockhash, last_valid_block_height) = with_retry(|| chain.latest_blockhash()).await?;
    let mut all: Vec<&Keypair> = vec![payer];
    all.extend(
        signers
            .iter()
            .copied()
            .filter(|s| s.pubkey() != payer.pubkey()),
    );
    let message = compile(&payer.pubkey(), &ixs, tables, blockhash)?;
    let transaction = VersionedTransaction::try_new(message, &all)
        .map_err(|e| SendError::Build(format!("signing: {e}")))?;
    let signature = transaction.signatures[0];
    Ok(Prepared {
        transaction,
        signature,
        last_valid_block_height,
    })
}

fn with_budget(instructions: &[Instruction], fees: Fees) -> Vec<Instruction> {
    let mut ixs = vec![ComputeBudgetInstruction::set_compute_unit_limit(
        fees.compute_unit_limit,
    )];
    if fees.compute_unit_price > 0 {
        ixs.push(ComputeBudgetInstruction::set_compute_unit_price(
            fees.compute_unit_price,
        ));
    }
    ixs.extend_from_slice(instructions);
    ixs
}

/// A legacy message, or a v0 one when there are lookup tables.
fn compile(
    payer: &Pubkey,
    instructions: &[Instruction],
    tables: &[AddressLookupTableAccount],
    blockhash: Hash,
) -> Result<VersionedMessage, SendError> {
    if tables.is_empty() {
        return Ok(VersionedMessage::Legacy(Message::new_with_blockhash(
            instructions,
            Some(payer),
            &blockhash,
        )));
    }
    v0::Message::try_compile(payer, instructions, tables, blockhash)
        .map(VersionedMessage::V0)
        .map_err(|e| SendError::Build(format!("compiling a v0 message: {e}")))
}

/// Simulates first (a failing transaction costs nothing), then sends.
pub async fn simulate_and_send(
    chain: &dyn Chain,
    prepared: &Prepared,
) -> Result<Signature, SendError> {
    let sim = with_retry(|| chain.simulate(&prepared.transaction)).await?;
    if let Some(error) = sim.err {
        let explanation = explain(&error, &prepared.transaction);
        return Err(SendError::Failed {
            signature: None,
            error,
            explanation,
        });
    }
    confirm(chain, prepared).await
}

/// How long the block height may stand still while a transaction is awaited.
const STALLED_CHAIN: Duration = Duration::from_secs(60);

/// Broadcasts the same bytes until they land, fail, or expire. Safe to call
/// again after a crash with the journaled `Prepared`.
pub async fn confirm(chain: &dyn Chain, prepared: &Prepared) -> Result<Signature, SendError> {
    let signature = prepared.signature;
    let mut rebroadcast = tokio::time::Instant::now();
    let mut sent = false;
    // Expiry needs the chain to move: a chain whose block height stands
    // still would otherwise be waited on forever.
    let mut last_height = None;
    let mut height_moved = tokio::time::Instant::now();
    loop {
        match with_retry(|| chain.status(&signature)).await? {
            TxStatus::Landed => return Ok(signature),
            TxStatus::Failed(error) => {
                let explanation = explain(&error, &prepared.transaction);
                return Err(SendError::Failed {
                    signature: Some(signature),
                    error,
                    explanation,
                });
            }
            TxStatus::Unknown => {}
        }
        let height = with_retry(|| chain.block_height()).await?;
        if last_height != Some(height) {
            last_height = Some(height);
            height_moved = tokio::time::Instant::now();
        } else if height_moved.elapsed() > STALLED_CHAIN {
            return Err(SendError::Chain(ChainError::Unavailable(format!(
                "waiting for transaction {signature} to land: the chain's block height has stood at {height} for {} s (is the validator or local chain still producing blocks?); it is safe to confirm the same transaction again",
                STALLED_CHAIN.as_secs()
            ))));
        }
        if height > prepared.last_valid_block_height {
            // One last look, in the ledger's history too: it may have
            // landed in the final valid block, or long before a restart.
            return match with_retry(|| chain.status_in_history(&signature)).await? {
                TxStatus::Landed => Ok(signature),
                TxStatus::Failed(error) => {
                    let explanation = explain(&error, &prepared.transaction);
                    Err(SendError::Failed {
                        signature: Some(signature),
                        error,
                        explanation,
                    })
                }
                TxStatus::Unknown => Err(SendError::Expired { signature }),
            };
        }
        if !sent || rebroadcast.elapsed() >= Duration::from_secs(2) {
            // AlreadyProcessed and friends surface through `status`.
            if let Err(e) = chain.send(&prepared.transaction).await {
                if !e.is_transient() {
                    tracing::debug!("send of {signature} refused ({e}); checking its status");
                }
            }
            sent = true;
            rebroadcast = tokio::time::Instant::now();
        }
        tokio::time::sleep(chain.confirm_poll()).await;
    }
}

/// prepare + simulate + send + confirm, for one-shot CLI commands.
pub async fn send_instructions(
    chain: &dyn Chain,
    payer: &Keypair,
    signers: &[&Keypair],
    instructions: &[Instruction],
    fees: Fees,
) -> Result<Signature, SendError> {
    send_with_tables(chain, payer, signers, instructions, fees, &[]).await
}

/// `send_instructions` as a v0 transaction compiled against `tables`.
pub async fn send_with_tables(
    chain: &dyn Chain,
    payer: &Keypair,
    signers: &[&Keypair],
    instructions: &[Instruction],
    fees: Fees,
    tables: &[AddressLookupTableAccount],
) -> Result<Signature, SendError> {
    let prepared = prepare(chain, payer, signers, instructions, fees, tables).await?;
    simulate_and_send(chain, &prepared).await
}

/// The program an instruction of a transaction calls (for explanations;
/// a program is never loaded from a lookup table, so it is a static key).
pub fn program_of(tx: &VersionedTransaction, instruction_index: u8) -> Option<Pubkey> {
    let ix = tx
        .message
        .instructions()
        .get(usize::from(instruction_index))?;
    tx.message
        .static_account_keys()
        .get(usize::from(ix.program_id_index))
        .copied()
}

/// The largest serialized transaction a validator accepts.
pub const PACKET_BYTES: usize = 1232;

/// The compute limit of one transaction.
pub const MAX_COMPUTE_UNITS: u32 = 1_400_000;

/// Splits `instructions` into consecutive groups that each fit one
/// transaction paid by `payer` (with the compute-budget instructions
/// `prepare` adds, compiled against `tables`) and at most `max_per_tx`
/// instructions: the crank's way of finalizing or expiring several jobs
/// per signature.
pub fn pack(
    payer: &Pubkey,
    instructions: Vec<Instruction>,
    max_per_tx: usize,
    tables: &[AddressLookupTableAccount],
) -> Vec<Vec<Instruction>> {
    let mut groups: Vec<Vec<Instruction>> = Vec::new();
    let mut current: Vec<Instruction> = Vec::new();
    for ix in instructions {
        current.push(ix);
        if current.len() > 1 && (current.len() > max_per_tx || !fits(payer, &current, tables)) {
            let ix = current.pop().expect("just pushed");
            groups.push(std::mem::take(&mut current));
            current.push(ix);
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

/// Whether `instructions` (plus a compute limit and price) fit one transaction.
fn fits(
    payer: &Pubkey,
    instructions: &[Instruction],
    tables: &[AddressLookupTableAccount],
) -> bool {
    let fees = Fees {
        compute_unit_limit: MAX_COMPUTE_UNITS,
        compute_unit_price: 1,
    };
    let Ok(message) = compile(
        payer,
        &with_budget(instructions, fees),
        tables,
        Hash::default(),
    ) else {
        return false;
    };
    let signatures = usize::from(message.header().num_required_signatures);
    let tx = VersionedTransaction {
        signatures: vec![Signature::default(); signatures],
        message,
    };
    bincode::serialized_size(&tx).is_ok_and(|n| n as usize <= PACKET_BYTES)
}
