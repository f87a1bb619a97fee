//! What the local chain processed, kept so that it can answer like a
//! validator with transaction history: `getTransaction` (logs and inner
//! instructions, so `emit_cpi!` events can be read back),
//! `getSignaturesForAddress`, `getTransactionCount`, the account index behind
//! `getProgramAccounts` and the token queries, and the websocket
//! `signatureSubscribe` and `logsSubscribe` notifications.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use solana_sdk::account::Account;
use solana_sdk::message::inner_instruction::InnerInstructions;
use solana_sdk::message::v0::LoadedAddresses;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Signature;
use solana_sdk::transaction::{TransactionError, VersionedTransaction};
use tokio::sync::broadcast;

/// One processed transaction.
#[derive(Clone, Debug)]
pub struct TxRecord {
    pub signature: Signature,
    pub slot: u64,
    pub block_time: i64,
    pub transaction: VersionedTransaction,
    /// What the transaction's lookup tables loaded (none for a legacy one).
    pub loaded: LoadedAddresses,
    pub err: Option<TransactionError>,
    pub logs: Vec<String>,
    pub inner_instructions: Vec<InnerInstructions>,
    pub units_consumed: u64,
    pub fee: u64,
    pub pre_balances: Vec<u64>,
    pub post_balances: Vec<u64>,
}

impl TxRecord {
    /// Every address the transaction names, as a validator lists them: its
    /// static keys, then the addresses its lookup tables loaded (writable,
    /// then read-only).
    pub fn account_keys(&self) -> impl Iterator<Item = &Pubkey> {
        self.transaction
            .message
            .static_account_keys()
            .iter()
            .chain(&self.loaded.writable)
            .chain(&self.loaded.readonly)
    }
}

/// Everything processed, by signature and by address, in order.
pub struct History {
    inner: Mutex<Inner>,
    published: broadcast::Sender<std::sync::Arc<TxRecord>>,
}

#[derive(Default)]
struct Inner {
    by_signature: HashMap<Signature, std::sync::Arc<TxRecord>>,
    /// Oldest first, with each transaction's place in the whole history.
    by_address: HashMap<Pubkey, Vec<(u64, Signature)>>,
    order: HashMap<Signature, u64>,
    addresses: BTreeSet<Pubkey>,
    count: u64,
    /// Kept while a lagging endpoint serves: how far back it looks (slots),
    /// and each account as it was before the transactions that named it,
    /// oldest first, with their slots.
    keep_past: Option<u64>,
    past: HashMap<Pubkey, Vec<(u64, Option<Account>)>>,
    /// The keys of `past` in the order their states were kept, with the
    /// slots: pruning walks it from the oldest, so states of keys never
    /// named again go too.
    past_order: std::collections::VecDeque<(u64, Pubkey)>,
}

impl Default for History {
    fn default() -> Self {
        History {
            inner: Mutex::default(),
            published: broadcast::channel(1024).0,
        }
    }
}

impl History {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record(&self, record: TxRecord) {
        let record = std::sync::Arc::new(record);
        {
            let mut inner = self.lock();
            let seq = inner.count;
            for key in record.account_keys() {
                inner
                    .by_address
                    .entry(*key)
                    .or_default()
                    .push((seq, record.signature));
                inner.addresses.insert(*key);
            }
            inner.order.insert(record.signature, seq);
            inner.count += 1;
            inner
                .by_signature
                .insert(record.signature, std::sync::Arc::clone(&record));
        }
        let _ = self.published.send(record);
    }

    /// From now on, keep accounts' past states `slots` back (the largest
    /// lag asked for wins).
    pub fn keep_past(&self, slots: u64) {
        let mut inner = self.lock();
        inner.keep_past = Some(inner.keep_past.unwrap_or(0).max(slots));
    }

    /// How far back past states are kept, if they are.
    pub fn past_kept(&self) -> Option<u64> {
        self.lock().keep_past
    }

    /// The accounts a transaction that landed in `slot` named, as they were
    /// just before it; what no lagging view can reach any more is dropped.
    pub fn record_past(&self, slot: u64, accounts: Vec<(Pubkey, Option<Account>)>) {
        let mut inner = self.lock();
        let Some(keep) = inner.keep_past else { return };
        let inner = &mut *inner;
        while let Some(&(at, key)) = inner.past_order.front() {
            if at.saturating_add(keep) >= slot {
                break;
            }
            inner.past_order.pop_front();
            if let Some(states) = inner.past.get_mut(&key) {
                states.retain(|(at, _)| at.saturating_add(keep) >= slot);
                if states.is_empty() {
                    inner.past.remove(&key);
                }
            }
        }
        for (key, account) in accounts {
            inner.past.entry(key).or_default().push((slot, account));
            inner.past_order.push_back((slot, key));
        }
    }

    /// `key` as a view at `slot` saw it: its state before the first later
    /// transaction that named it; None when none did (it is as it is now).
    pub fn as_of(&self, key: &Pubkey, slot: u64) -> Option<Option<Account>> {
        let inner = self.lock();
        let states = inner.past.get(key)?;
        states
            .iter()
            .find(|(at, _)| *at > slot)
            .map(|(_, account)| account.clone())
    }

    /// Addresses set outside a transaction (genesis, local writes).
    pub fn remember(&self, address: Pubkey) {
        self.lock().addresses.insert(address);
    }

    pub fn transaction(&self, signature: &Signature) -> Option<std::sync::Arc<TxRecord>> {
        self.lock().by_signature.get(signature).cloned()
    }

    /// Newest first: older than `before` and newer than `until` (either may
    /// be any recorded transaction, mentioning the address or not), at most
    /// `limit`. None when `before` or `until` is unknown.
    pub fn signatures_for(
        &self,
        address: &Pubkey,
        before: Option<Signature>,
        until: Option<Signature>,
        limit: usize,
    ) -> Option<Vec<std::sync::Arc<TxRecord>>> {
        let inner = self.lock();
        let place = |s: Option<Signature>| match s {
            Some(s) => inner.order.get(&s).copied().map(Some),
            None => Some(None),
        };
        let (before, until) = (place(before)?, place(until)?);
        let Some(list) = inner.by_address.get(address) else {
            return Some(Vec::new());
        };
        Some(
            list.iter()
                .rev()
                .filter(|(seq, _)| before.is_none_or(|b| *seq < b))
                .take_while(|(seq, _)| until.is_none_or(|u| *seq > u))
                .take(limit)
                .filter_map(|(_, s)| inner.by_signature.get(s).cloned())
                .collect(),
        )
    }

    pub fn transaction_count(&self) -> u64 {
        self.lock().count
    }

    /// Every address the chain has seen written or read.
    pub fn addresses(&self) -> Vec<Pubkey> {
        self.lock().addresses.iter().copied().collect()
    }

    /// Transactions as they are processed.
    pub fn subscribe(&self) -> broadcast::Receiver<std::sync::Arc<TxRecord>> {
        self.published.subscribe()
    }
}
