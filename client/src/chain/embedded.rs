//! The in-process backend: a real Solana runtime bank (solana-program-test)
//! with both AKE programs registered natively and the real SPL Token program
//! beside them. Tests, `ake localnet` and `ake demo` run on it.
#![allow(deprecated)] // program-test marks its native-program API "agave-unstable-api"

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use solana_program_test::{processor, BanksClient, ProgramTest, ProgramTestContext};
use solana_sdk::account::{Account, AccountSharedData};
use solana_sdk::account_info::AccountInfo;
use solana_sdk::clock::Clock;
use solana_sdk::hash::Hash;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signature, Signer};
use solana_sdk::transaction::Transaction;
use tokio::sync::Mutex;

use super::{Chain, ChainError, Simulation, TxStatus};

macro_rules! native_entry {
    ($name:ident, $entry:path) => {
        fn $name(
            program_id: &Pubkey,
            accounts: &[AccountInfo],
            data: &[u8],
        ) -> solana_sdk::entrypoint::ProgramResult {
            // SAFETY: Anchor's generated `entry` ties its three arguments to
            // one lifetime, which the runtime's processor type cannot name.
            // Every reference lives for the whole call; only the lifetime
            // parameters are unified, the types are unchanged.
            unsafe {
                let accounts: &[AccountInfo<'static>] = std::mem::transmute(accounts);
                let program_id: &'static Pubkey = std::mem::transmute(program_id);
                let data: &'static [u8] = std::mem::transmute(data);
                $entry(program_id, accounts, data)
            }
        }
    };
}
native_entry!(market_entry, ake_market::entry);
native_entry!(emissions_entry, ake_emissions::entry);

/// A bank builder with both AKE programs registered natively.
pub fn program_test() -> ProgramTest {
    let mut pt = ProgramTest::default();
    pt.prefer_bpf(false);
    pt.add_program("ake_market", ake_market::ID, processor!(market_entry));
    pt.add_program(
        "ake_emissions",
        ake_emissions::ID,
        processor!(emissions_entry),
    );
    pt
}

pub struct EmbeddedChain {
    ctx: Mutex<ProgramTestContext>,
    banks: BanksClient,
    payer: Keypair,
}

fn banks_err(e: impl std::fmt::Display) -> ChainError {
    ChainError::Unavailable(e.to_string())
}

impl EmbeddedChain {
    /// Starts a bank from `pt` (see [`program_test`]).
    pub async fn start(pt: ProgramTest) -> Arc<Self> {
        let ctx = pt.start_with_context().await;
        let banks = ctx.banks_client.clone();
        let payer = ctx.payer.insecure_clone();
        Arc::new(EmbeddedChain {
            ctx: Mutex::new(ctx),
            banks,
            payer,
        })
    }

    /// The bank's funded genesis keypair (faucet for airdrops).
    pub fn faucet(&self) -> &Keypair {
        &self.payer
    }

    /// Moves to the next slot and sets the clock to wall time (never back).
    pub async fn tick(&self) -> Result<Clock, ChainError> {
        let mut ctx = self.ctx.lock().await;
        let clock: Clock = ctx.banks_client.get_sysvar().await.map_err(banks_err)?;
        ctx.warp_to_slot(clock.slot + 1)
            .map_err(|e| banks_err(format!("{e:?}")))?;
        let mut next: Clock = ctx.banks_client.get_sysvar().await.map_err(banks_err)?;
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(clock.unix_timestamp);
        next.unix_timestamp = wall.max(clock.unix_timestamp);
        ctx.set_sysvar(&next);
        Ok(next)
    }

    /// Jumps the clock forward by `secs` (tests: windows and epochs pass at once).
    pub async fn advance(&self, secs: i64) -> Result<Clock, ChainError> {
        let mut ctx = self.ctx.lock().await;
        let clock: Clock = ctx.banks_client.get_sysvar().await.map_err(banks_err)?;
        let slots = (secs.max(1) as u64) * 5 / 2 + 1;
        ctx.warp_to_slot(clock.slot + slots)
            .map_err(|e| banks_err(format!("{e:?}")))?;
        let mut next: Clock = ctx.banks_client.get_sysvar().await.map_err(banks_err)?;
        next.unix_timestamp = clock.unix_timestamp + secs;
        ctx.set_sysvar(&next);
        Ok(next)
    }

    /// Keeps the chain's clock on wall time: a slot about every `every`.
    pub fn run_clock(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let chain = Arc::clone(self);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            loop {
                interval.tick().await;
                if let Err(e) = chain.tick().await {
                    tracing::warn!("local chain clock tick failed: {e}");
                }
            }
        })
    }

    /// Writes an account directly (the local oracle; tests).
    pub async fn set_account(&self, key: &Pubkey, account: Account) {
        self.ctx
            .lock()
            .await
            .set_account(key, &AccountSharedData::from(account));
    }

    /// Sends `lamports` from the bank's faucet and waits for it to land.
    pub async fn airdrop(&self, to: &Pubkey, lamports: u64) -> Result<Signature, ChainError> {
        let (blockhash, _) = self.latest_blockhash().await?;
        let ix = anchor_lang::solana_program::system_instruction::transfer(
            &self.payer.pubkey(),
            to,
            lamports,
        );
        let tx = Transaction::new_signed_with_payer(
            &[ix],
            Some(&self.payer.pubkey()),
            &[&self.payer],
            blockhash,
        );
        let signature = tx.signatures[0];
        let _no_warp = self.ctx.lock().await;
        self.banks
            .process_transaction(tx)
            .await
            .map_err(|e| ChainError::Refused(e.to_string()))?;
        Ok(signature)
    }

    pub async fn fee_for_message(
        &self,
        message: solana_sdk::message::Message,
    ) -> Result<Option<u64>, ChainError> {
        self.banks
            .get_fee_for_message(message)
            .await
            .map_err(banks_err)
    }

    pub fn banks(&self) -> &BanksClient {
        &self.banks
    }
}

#[async_trait]
impl Chain for EmbeddedChain {
    async fn accounts(&self, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, ChainError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(
                self.banks
                    .get_account_with_commitment(
                        *key,
                        solana_commitment_config::CommitmentLevel::Processed,
                    )
                    .await
                    .map_err(banks_err)?,
            );
        }
        Ok(out)
    }

    async fn latest_blockhash(&self) -> Result<(Hash, u64), ChainError> {
        let (hash, last_valid) = self
            .banks
            .get_latest_blockhash_with_commitment(
                solana_commitment_config::CommitmentLevel::Processed,
            )
            .await
            .map_err(banks_err)?
            .ok_or_else(|| ChainError::Unavailable("no blockhash yet".into()))?;
        Ok((hash, last_valid))
    }

    async fn block_height(&self) -> Result<u64, ChainError> {
        self.banks
            .get_block_height_with_context(
                tarpc_context(),
                solana_commitment_config::CommitmentLevel::Processed,
            )
            .await
            .map_err(banks_err)
    }

    async fn slot(&self) -> Result<u64, ChainError> {
        self.banks
            .get_slot_with_context(
                tarpc_context(),
                solana_commitment_config::CommitmentLevel::Processed,
            )
            .await
            .map_err(banks_err)
    }

    async fn send(&self, tx: &Transaction) -> Result<(), ChainError> {
        // Processed right away; the outcome (landed, failed, already
        // processed) is read back through `status`, as on a real cluster.
        // The lock keeps the clock from warping to a new bank mid-transaction,
        // which would drop the transaction with the old bank.
        let _no_warp = self.ctx.lock().await;
        let result = self
            .banks
            .process_transaction_with_commitment(
                tx.clone(),
                solana_commitment_config::CommitmentLevel::Processed,
            )
            .await;
        match result {
            Ok(()) | Err(solana_program_test::BanksClientError::TransactionError(_)) => Ok(()),
            Err(solana_program_test::BanksClientError::SimulationError { .. }) => Ok(()),
            Err(e) => Err(banks_err(e)),
        }
    }

    async fn status(&self, signature: &Signature) -> Result<TxStatus, ChainError> {
        let status = self
            .banks
            .get_transaction_status(*signature)
            .await
            .map_err(banks_err)?;
        Ok(match status {
            None => TxStatus::Unknown,
            Some(s) => match s.err {
                None => TxStatus::Landed,
                Some(err) => TxStatus::Failed(err),
            },
        })
    }

    async fn simulate(&self, tx: &Transaction) -> Result<Simulation, ChainError> {
        let sim = self
            .banks
            .simulate_transaction_with_commitment(
                tx.clone(),
                solana_commitment_config::CommitmentLevel::Processed,
            )
            .await
            .map_err(banks_err)?;
        let (logs, units_consumed) = sim
            .simulation_details
            .map(|d| (d.logs, d.units_consumed))
            .unwrap_or_default();
        Ok(Simulation {
            err: sim.result.and_then(|r| r.err()),
            logs,
            units_consumed,
        })
    }

    async fn balance(&self, key: &Pubkey) -> Result<u64, ChainError> {
        self.banks
            .get_balance_with_commitment(*key, solana_commitment_config::CommitmentLevel::Processed)
            .await
            .map_err(banks_err)
    }

    async fn minimum_balance(&self, data_len: usize) -> Result<u64, ChainError> {
        Ok(self
            .banks
            .get_rent()
            .await
            .map_err(banks_err)?
            .minimum_balance(data_len))
    }
}

fn tarpc_context() -> tarpc::context::Context {
    tarpc::context::current()
}
