//! Faults a test injects into the local chain (feature `fault-injection`;
//! `ake localnet` never turns it on): a given instruction is refused, lands
//! and fails, or needs more compute than native execution meters, N times.
//! They play through the same simulate/send/status paths every client uses,
//! so a daemon sees what a validator would have said.

use std::collections::HashMap;
use std::sync::Mutex;

use solana_sdk::instruction::InstructionError;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Signature;
use solana_sdk::transaction::{TransactionError, VersionedTransaction};

/// What happens to a transaction carrying the instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Refused before landing: simulation (and so preflight) fails with
    /// this program error code, and a transaction sent anyway is dropped.
    Refuse { code: u32 },
    /// Simulates fine, then lands and fails with this program error code
    /// (the state moved in between); nothing it would do happens.
    Fail { code: u32 },
    /// Needs this many compute units (native execution meters none):
    /// simulation reports them, and landing under a lower limit fails with
    /// `ComputationalBudgetExceeded`.
    NeedsCompute { units: u64 },
}

/// A fault on the instructions of `program` whose data starts with
/// `prefix` (an Anchor discriminator, and more bytes to be narrower) and
/// ends with `suffix`; it acts `times` times, then is gone.
#[derive(Debug, Clone)]
pub struct Fault {
    pub program: Pubkey,
    pub prefix: Vec<u8>,
    pub suffix: Vec<u8>,
    pub effect: Effect,
    pub times: u32,
}

/// What a simulation or a send must answer instead of the bank.
pub enum Verdict {
    /// The bank's own answer.
    Pass,
    /// Simulation: report this error (and these units); send: drop it.
    Refused(TransactionError),
    /// Simulation only: the bank's answer, with at least these units.
    Units(u64),
    /// Send: record the signature as landed and failed, without running it.
    Failed(TransactionError),
}

#[derive(Default)]
pub struct Faults {
    active: Mutex<Vec<Fault>>,
    /// Signatures recorded as landed and failed.
    failed: Mutex<HashMap<Signature, TransactionError>>,
}

/// The index of the first instruction of `tx` that `fault` names.
fn matching(fault: &Fault, tx: &VersionedTransaction) -> Option<u8> {
    let keys = tx.message.static_account_keys();
    tx.message
        .instructions()
        .iter()
        .enumerate()
        .find_map(|(i, ix)| {
            let program = keys.get(usize::from(ix.program_id_index))?;
            (*program == fault.program
                && ix.data.starts_with(&fault.prefix)
                && ix.data.ends_with(&fault.suffix))
            .then_some(i as u8)
        })
}

/// The compute unit limit `tx` asks for (Solana's default without one).
fn compute_limit(tx: &VersionedTransaction) -> u64 {
    let keys = tx.message.static_account_keys();
    tx.message
        .instructions()
        .iter()
        .filter(|ix| {
            keys.get(usize::from(ix.program_id_index))
                == Some(&solana_compute_budget_interface::id())
        })
        // SetComputeUnitLimit: tag 2, then the limit as a u32 (little endian).
        .find_map(|ix| match ix.data.as_slice() {
            [2, a, b, c, d] => Some(u64::from(u32::from_le_bytes([*a, *b, *c, *d]))),
            _ => None,
        })
        .unwrap_or(200_000)
}

fn custom(index: u8, code: u32) -> TransactionError {
    TransactionError::InstructionError(index, InstructionError::Custom(code))
}

impl Faults {
    pub fn inject(&self, fault: Fault) {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(fault);
    }

    /// What a simulation of `tx` answers. A refusal counts as one of its
    /// fault's `times` (a client that simulates first is refused there).
    pub fn simulate(&self, tx: &VersionedTransaction) -> Verdict {
        self.decide(tx, true)
    }

    /// What sending `tx` does.
    pub fn send(&self, tx: &VersionedTransaction) -> Verdict {
        let verdict = self.decide(tx, false);
        if let (Verdict::Failed(error), Some(signature)) = (&verdict, tx.signatures.first()) {
            self.failed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(*signature, error.clone());
        }
        verdict
    }

    /// The failure recorded for `signature` by a `Fail` or `NeedsCompute` fault.
    pub fn failed(&self, signature: &Signature) -> Option<TransactionError> {
        self.failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(signature)
            .cloned()
    }

    fn decide(&self, tx: &VersionedTransaction, simulation: bool) -> Verdict {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let Some((at, index)) = active
            .iter()
            .enumerate()
            .find_map(|(at, f)| matching(f, tx).map(|index| (at, index)))
        else {
            return Verdict::Pass;
        };
        let verdict = match (&active[at].effect, simulation) {
            (Effect::Refuse { code }, _) => Verdict::Refused(custom(index, *code)),
            (Effect::Fail { .. }, true) => return Verdict::Pass,
            (Effect::Fail { code }, false) => Verdict::Failed(custom(index, *code)),
            (Effect::NeedsCompute { units }, true) => return Verdict::Units(*units),
            (Effect::NeedsCompute { units }, false) if compute_limit(tx) >= *units => {
                return Verdict::Pass
            }
            (Effect::NeedsCompute { .. }, false) => {
                Verdict::Failed(TransactionError::InstructionError(
                    index,
                    InstructionError::ComputationalBudgetExceeded,
                ))
            }
        };
        let fault = &mut active[at];
        fault.times = fault.times.saturating_sub(1);
        if fault.times == 0 {
            active.remove(at);
        }
        verdict
    }
}
