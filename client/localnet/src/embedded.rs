//! The in-process backend: a real Solana runtime bank (solana-program-test)
//! with both AKE programs registered natively and the real SPL Token program
//! beside them. `ake localnet` and `ake demo` run on it.
//!
//! The bank has a single owner: one dedicated thread, running its own
//! single-threaded runtime, holds the `ProgramTestContext` (and so the
//! banks server, whose tasks are spawned there) and carries out every
//! request (reads, simulations, sends, writes and the clock's ticks) one
//! after another. Agave's bank locks are never contended by two of our
//! operations at once (two concurrent ones deadlocked a clock tick against a
//! simulation), and blocking bank work never occupies the async workers of
//! the process that serves RPC, websockets or a daemon. A caller that gives
//! up waiting does not cancel the operation half way: it completes on the
//! owner.
#![allow(deprecated)] // program-test marks its native-program API "agave-unstable-api"

use std::sync::Arc;
use std::time::Duration;

use ake_sdk::{ake_emissions, ake_market};
use async_trait::async_trait;
use futures_util::future::BoxFuture;
use solana_address_lookup_table_interface::state::AddressLookupTable;
use solana_banks_interface::TransactionStatus as BankTxStatus;
use solana_commitment_config::CommitmentLevel;
use solana_program_test::{processor, ProgramTest, ProgramTestContext};
use solana_sdk::account::{Account, AccountSharedData};
use solana_sdk::account_info::AccountInfo;
use solana_sdk::clock::Clock;
use solana_sdk::hash::Hash;
use solana_sdk::message::v0::LoadedAddresses;
use solana_sdk::message::Message;
use solana_sdk::message::VersionedMessage;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signature, Signer};
use solana_sdk::transaction::{Transaction, VersionedTransaction};
use tokio::sync::{mpsc, oneshot};

use ake_sdk::chain::{Chain, ChainError, Simulation, TxStatus};

use crate::faults::{Faults, Verdict};
use crate::history::{History, TxRecord};

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

/// How long a caller waits for the bank's owner before saying so. Every
/// operation takes milliseconds; this only fires if the bank is stuck.
const ANSWER_LIMIT: Duration = Duration::from_secs(30);
/// A transaction the bank accepted but will never record (a fee payer that
/// cannot pay) would otherwise hold the owner until its blockhash expired,
/// which needs the clock the owner drives.
const LANDING_LIMIT: Duration = Duration::from_secs(5);
/// Requests queued for the owner before senders wait for room.
const QUEUE_DEPTH: usize = 1024;

type Ctx = ProgramTestContext;
type BankOp = Box<dyn for<'a> FnOnce(&'a mut Ctx) -> BoxFuture<'a, ()> + Send>;

enum Request {
    Op(BankOp),
    /// Tick the clock every so often from now on.
    Clock(Duration),
}

pub struct EmbeddedChain {
    requests: mpsc::Sender<Request>,
    payer: Keypair,
    history: Arc<History>,
    /// Test faults (empty unless a test injects some).
    faults: Arc<Faults>,
}

fn banks_err(e: impl std::fmt::Display) -> ChainError {
    ChainError::Unavailable(e.to_string())
}

fn stopped() -> ChainError {
    ChainError::Unavailable("the local chain has stopped".into())
}

impl EmbeddedChain {
    /// Starts a bank with both AKE programs (see [`program_test`]) on its
    /// own thread. The clock stands still until [`EmbeddedChain::start_clock`].
    pub async fn start() -> Result<Self, ChainError> {
        let (requests, inbox) = mpsc::channel(QUEUE_DEPTH);
        let (ready, started) = oneshot::channel();
        std::thread::Builder::new()
            .name("ake-bank".into())
            .spawn(move || own_the_bank(inbox, ready))
            .map_err(|e| ChainError::Unavailable(format!("cannot start the bank thread: {e}")))?;
        let payer = started.await.map_err(|_| stopped())??;
        Ok(EmbeddedChain {
            requests,
            payer,
            history: Arc::default(),
            faults: Arc::default(),
        })
    }

    /// Makes the chain refuse, fail or starve an instruction (see
    /// [`crate::faults`]): for tests only.
    #[cfg(feature = "fault-injection")]
    pub fn inject_fault(&self, fault: crate::faults::Fault) {
        self.faults.inject(fault);
    }

    /// Sets the chain's clock `secs` ahead of this host's; it never goes
    /// back, so it stays ahead until wall time catches up: for tests only.
    #[cfg(feature = "fault-injection")]
    pub async fn clock_ahead(&self, secs: i64) -> Result<Clock, ChainError> {
        self.call("a clock skew", move |ctx| {
            Box::pin(async move {
                let mut clock: Clock = ctx.banks_client.get_sysvar().await.map_err(banks_err)?;
                let wall = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(clock.unix_timestamp, |d| d.as_secs() as i64);
                clock.unix_timestamp = wall + secs;
                ctx.set_sysvar(&clock);
                Ok(clock)
            })
        })
        .await
    }

    /// Every transaction processed, and every address seen.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The bank's funded genesis keypair (faucet for airdrops).
    pub fn faucet(&self) -> &Keypair {
        &self.payer
    }

    /// Runs `op` on the bank's owner, after everything asked before it.
    async fn call<T, F>(&self, what: &'static str, op: F) -> Result<T, ChainError>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut Ctx) -> BoxFuture<'a, Result<T, ChainError>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: BankOp = Box::new(move |ctx| {
            Box::pin(async move {
                let _ = reply.send(op(ctx).await);
            })
        });
        self.requests
            .send(Request::Op(job))
            .await
            .map_err(|_| stopped())?;
        match tokio::time::timeout(ANSWER_LIMIT, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(stopped()),
            Err(_) => Err(ChainError::Unavailable(format!(
                "the local chain did not answer {what} within {} s",
                ANSWER_LIMIT.as_secs()
            ))),
        }
    }

    /// Moves to the next slot about every `every`, with the clock on wall
    /// time. Ticks are taken before any waiting request, so load cannot
    /// stop the clock.
    pub async fn start_clock(&self, every: Duration) -> Result<(), ChainError> {
        self.requests
            .send(Request::Clock(every))
            .await
            .map_err(|_| stopped())
    }

    /// One slot forward now, the clock on wall time (never back).
    pub async fn tick(&self) -> Result<Clock, ChainError> {
        self.call("a clock tick", |ctx| Box::pin(tick(ctx))).await
    }

    /// Writes an account directly (the local oracle; tests).
    pub async fn set_account(&self, key: &Pubkey, account: Account) -> Result<(), ChainError> {
        let key = *key;
        self.history.remember(key);
        self.call("an account write", move |ctx| {
            Box::pin(async move {
                ctx.set_account(&key, &AccountSharedData::from(account));
                Ok(())
            })
        })
        .await
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
        self.send(&tx.into()).await?;
        match self.status(&signature).await? {
            TxStatus::Landed => Ok(signature),
            TxStatus::Failed(e) => Err(ChainError::Refused(format!("airdrop failed: {e}"))),
            TxStatus::Unknown => Err(ChainError::Refused("airdrop did not land".into())),
        }
    }

    /// The fee for `message`; None when its blockhash is unknown or expired.
    pub async fn fee_for_message(&self, message: Message) -> Result<Option<u64>, ChainError> {
        self.call("getFeeForMessage", move |ctx| {
            Box::pin(async move {
                ctx.banks_client
                    .get_fee_for_message(message)
                    .await
                    .map_err(banks_err)
            })
        })
        .await
    }

    /// A transaction's status with the slot it landed in.
    pub async fn transaction_status(
        &self,
        signature: &Signature,
    ) -> Result<Option<BankTxStatus>, ChainError> {
        if let Some(err) = self.faults.failed(signature) {
            return Ok(Some(BankTxStatus {
                slot: self.slot().await?,
                confirmations: None,
                err: Some(err),
                confirmation_status: None,
            }));
        }
        let signature = *signature;
        self.call("getSignatureStatuses", move |ctx| {
            Box::pin(async move {
                ctx.banks_client
                    .get_transaction_status(signature)
                    .await
                    .map_err(banks_err)
            })
        })
        .await
    }
}

/// The owner thread: builds the bank, then serves requests and ticks.
fn own_the_bank(
    mut inbox: mpsc::Receiver<Request>,
    ready: oneshot::Sender<Result<Keypair, ChainError>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(ChainError::Unavailable(format!(
                "cannot start the bank's runtime: {e}"
            ))));
            return;
        }
    };
    runtime.block_on(async move {
        let mut ctx = program_test().start_with_context().await;
        if ready.send(Ok(ctx.payer.insecure_clone())).is_err() {
            return;
        }
        let mut clock: Option<tokio::time::Interval> = None;
        loop {
            let next_tick = async {
                match clock.as_mut() {
                    Some(interval) => interval.tick().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = next_tick => {
                    if let Err(e) = tick(&mut ctx).await {
                        tracing::warn!("local chain clock tick failed: {e}");
                    }
                }
                request = inbox.recv() => match request {
                    Some(Request::Op(op)) => op(&mut ctx).await,
                    Some(Request::Clock(every)) => {
                        let mut interval = tokio::time::interval(every);
                        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                        clock = Some(interval);
                    }
                    None => return,
                },
            }
        }
    });
}

async fn tick(ctx: &mut Ctx) -> Result<Clock, ChainError> {
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

/// Processes `tx` (see [`process`]) and keeps what a validator keeps: its
/// logs and inner instructions (from a simulation on the same state just
/// before: the bank has one owner, so nothing runs in between), balances,
/// slot and time. A transaction seen before or dropped is not recorded again.
async fn process_and_record(
    ctx: &mut Ctx,
    tx: VersionedTransaction,
    history: Arc<History>,
) -> Result<(), ChainError> {
    let signature = tx.signatures.first().copied().unwrap_or_default();
    let banks = &mut ctx.banks_client;
    let seen = banks
        .get_transaction_status(signature)
        .await
        .map_err(banks_err)?
        .is_some();
    let fee = banks
        .get_fee_for_message(fee_probe(&tx.message))
        .await
        .map_err(banks_err)?;
    let (Some(fee), false) = (fee, seen) else {
        return process(ctx, tx).await;
    };
    let loaded = loaded_addresses(ctx, &tx.message).await?;
    let keys: Vec<Pubkey> = tx
        .message
        .static_account_keys()
        .iter()
        .chain(&loaded.writable)
        .chain(&loaded.readonly)
        .copied()
        .collect();
    let pre_balances = balances(ctx, &keys).await?;
    let pre_accounts = match history.past_kept() {
        Some(_) => keys
            .iter()
            .copied()
            .zip(accounts_now(ctx, &keys).await?)
            .collect(),
        None => Vec::new(),
    };
    let details = ctx
        .banks_client
        .simulate_transaction_with_commitment(tx.clone(), CommitmentLevel::Processed)
        .await
        .map_err(banks_err)?
        .simulation_details;
    process(ctx, tx.clone()).await?;
    let Some(status) = ctx
        .banks_client
        .get_transaction_status(signature)
        .await
        .map_err(banks_err)?
    else {
        return Ok(());
    };
    let post_balances = balances(ctx, &keys).await?;
    history.record_past(status.slot, pre_accounts);
    let clock: Clock = ctx.banks_client.get_sysvar().await.map_err(banks_err)?;
    let (logs, inner_instructions, units_consumed) = details
        .map(|d| {
            (
                d.logs,
                d.inner_instructions.unwrap_or_default(),
                d.units_consumed,
            )
        })
        .unwrap_or_default();
    history.record(TxRecord {
        signature,
        slot: status.slot,
        block_time: clock.unix_timestamp,
        transaction: tx,
        loaded,
        err: status.err,
        logs,
        inner_instructions,
        units_consumed,
        fee,
        pre_balances,
        post_balances,
    });
    Ok(())
}

/// A legacy message that costs what `message` costs, for the bank's fee
/// query (which takes legacy messages only): the same signers, blockhash
/// and instructions (so the same compute limits and priority fee), each
/// without the accounts lookup tables would load (programs are never
/// loaded). The fee does not depend on what lookup tables load.
pub fn fee_probe(message: &VersionedMessage) -> Message {
    match message {
        VersionedMessage::Legacy(m) => m.clone(),
        VersionedMessage::V0(m) => {
            let statics = m.account_keys.len();
            let mut instructions = m.instructions.clone();
            for ix in &mut instructions {
                ix.accounts.retain(|i| usize::from(*i) < statics);
            }
            Message {
                header: m.header,
                account_keys: m.account_keys.clone(),
                recent_blockhash: m.recent_blockhash,
                instructions,
            }
        }
    }
}

/// What a v0 message's lookup tables load, read from the tables as the
/// bank holds them now (a table that is missing or malformed loads
/// nothing: the transaction then fails, and only its static keys count).
async fn loaded_addresses(
    ctx: &mut Ctx,
    message: &VersionedMessage,
) -> Result<LoadedAddresses, ChainError> {
    let mut loaded = LoadedAddresses::default();
    for lookup in message.address_table_lookups().unwrap_or_default() {
        let Some(account) = ctx
            .banks_client
            .get_account_with_commitment(lookup.account_key, CommitmentLevel::Processed)
            .await
            .map_err(banks_err)?
        else {
            continue;
        };
        let Ok(table) = AddressLookupTable::deserialize(&account.data) else {
            continue;
        };
        let pick = |indexes: &[u8]| -> Vec<Pubkey> {
            indexes
                .iter()
                .filter_map(|i| table.addresses.get(usize::from(*i)).copied())
                .collect()
        };
        loaded.writable.extend(pick(&lookup.writable_indexes));
        loaded.readonly.extend(pick(&lookup.readonly_indexes));
    }
    Ok(loaded)
}

async fn balances(ctx: &mut Ctx, keys: &[Pubkey]) -> Result<Vec<u64>, ChainError> {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        out.push(
            ctx.banks_client
                .get_balance_with_commitment(*key, CommitmentLevel::Processed)
                .await
                .map_err(banks_err)?,
        );
    }
    Ok(out)
}

/// Each of `keys`' account now, in order (None for no account).
async fn accounts_now(ctx: &mut Ctx, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, ChainError> {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        out.push(
            ctx.banks_client
                .get_account_with_commitment(*key, CommitmentLevel::Processed)
                .await
                .map_err(banks_err)?,
        );
    }
    Ok(out)
}

/// Processes `tx` on the working bank and waits until it is recorded, as a
/// validator's leader would. A transaction with an unknown or expired
/// blockhash is dropped, as a validator drops it.
async fn process(ctx: &mut Ctx, tx: VersionedTransaction) -> Result<(), ChainError> {
    let banks = &mut ctx.banks_client;
    if banks
        .get_fee_for_message(fee_probe(&tx.message))
        .await
        .map_err(banks_err)?
        .is_none()
    {
        return Ok(());
    }
    let landing = banks.process_transaction_with_commitment(tx, CommitmentLevel::Processed);
    match tokio::time::timeout(LANDING_LIMIT, landing).await {
        // Failed transactions are recorded with their error; `status` reads it.
        Ok(Ok(()))
        | Ok(Err(solana_program_test::BanksClientError::TransactionError(_)))
        | Ok(Err(solana_program_test::BanksClientError::SimulationError { .. })) => Ok(()),
        Ok(Err(e)) => Err(banks_err(e)),
        // Accepted but never recorded (the fee payer cannot pay): dropped.
        Err(_) => Ok(()),
    }
}

impl EmbeddedChain {
    /// The bank's own simulation of `tx`.
    async fn simulate_on_bank(&self, tx: &VersionedTransaction) -> Result<Simulation, ChainError> {
        let tx = tx.clone();
        self.call("simulateTransaction", move |ctx| {
            Box::pin(async move {
                let sim = ctx
                    .banks_client
                    .simulate_transaction_with_commitment(tx, CommitmentLevel::Processed)
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
            })
        })
        .await
    }
}

#[async_trait]
impl Chain for EmbeddedChain {
    /// Asking the bank costs nothing: as often as the old 150 ms.
    fn confirm_poll(&self) -> std::time::Duration {
        std::time::Duration::from_millis(150)
    }

    async fn accounts(&self, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, ChainError> {
        let keys = keys.to_vec();
        self.call("an account read", move |ctx| {
            Box::pin(async move { accounts_now(ctx, &keys).await })
        })
        .await
    }

    async fn latest_blockhash(&self) -> Result<(Hash, u64), ChainError> {
        self.call("getLatestBlockhash", |ctx| {
            Box::pin(async move {
                ctx.banks_client
                    .get_latest_blockhash_with_commitment(CommitmentLevel::Processed)
                    .await
                    .map_err(banks_err)?
                    .ok_or_else(|| ChainError::Unavailable("no blockhash yet".into()))
            })
        })
        .await
    }

    async fn block_height(&self) -> Result<u64, ChainError> {
        self.call("getBlockHeight", |ctx| {
            Box::pin(async move {
                ctx.banks_client
                    .get_block_height_with_context(tarpc_context(), CommitmentLevel::Processed)
                    .await
                    .map_err(banks_err)
            })
        })
        .await
    }

    async fn slot(&self) -> Result<u64, ChainError> {
        self.call("getSlot", |ctx| {
            Box::pin(async move {
                ctx.banks_client
                    .get_slot_with_context(tarpc_context(), CommitmentLevel::Processed)
                    .await
                    .map_err(banks_err)
            })
        })
        .await
    }

    async fn send(&self, tx: &VersionedTransaction) -> Result<(), ChainError> {
        // Processed at once; the outcome (landed, failed, already processed)
        // is read back through `status`, as on a real cluster.
        if !matches!(self.faults.send(tx), Verdict::Pass) {
            // Dropped (refused) or recorded as failed: nothing runs.
            return Ok(());
        }
        let tx = tx.clone();
        let history = Arc::clone(&self.history);
        self.call("sendTransaction", move |ctx| {
            Box::pin(process_and_record(ctx, tx, history))
        })
        .await
    }

    async fn status(&self, signature: &Signature) -> Result<TxStatus, ChainError> {
        Ok(match self.transaction_status(signature).await? {
            None => TxStatus::Unknown,
            Some(s) => match s.err {
                None => TxStatus::Landed,
                Some(err) => TxStatus::Failed(err),
            },
        })
    }

    async fn simulate(&self, tx: &VersionedTransaction) -> Result<Simulation, ChainError> {
        let fault = self.faults.simulate(tx);
        if let Verdict::Refused(err) = fault {
            return Ok(Simulation {
                err: Some(err),
                logs: vec!["fault injected: refused".into()],
                units_consumed: 0,
            });
        }
        let mut sim = self.simulate_on_bank(tx).await?;
        if let Verdict::Units(units) = fault {
            sim.units_consumed = sim.units_consumed.max(units);
        }
        Ok(sim)
    }

    async fn balance(&self, key: &Pubkey) -> Result<u64, ChainError> {
        let key = *key;
        self.call("getBalance", move |ctx| {
            Box::pin(async move {
                ctx.banks_client
                    .get_balance_with_commitment(key, CommitmentLevel::Processed)
                    .await
                    .map_err(banks_err)
            })
        })
        .await
    }

    async fn minimum_balance(&self, data_len: usize) -> Result<u64, ChainError> {
        self.call("getMinimumBalanceForRentExemption", move |ctx| {
            Box::pin(async move {
                Ok(ctx
                    .banks_client
                    .get_rent()
                    .await
                    .map_err(banks_err)?
                    .minimum_balance(data_len))
            })
        })
        .await
    }
}

fn tarpc_context() -> tarpc::context::Context {
    tarpc::context::current()
}
