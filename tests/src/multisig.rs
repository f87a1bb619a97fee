//! A stand-in for a multisig or governance program (Squads, SPL
//! Governance): it signs for its PDA `["authority"]` by `invoke_signed`,
//! which is all either program does when it executes an approved
//! transaction. The tests hand AKE's authority to that PDA.

use anchor_lang::solana_program::account_info::AccountInfo;
use anchor_lang::solana_program::entrypoint::ProgramResult;
use anchor_lang::solana_program::instruction::{AccountMeta, Instruction};
use anchor_lang::solana_program::program::invoke_signed;
use anchor_lang::solana_program::program_error::ProgramError;
use solana_sdk::pubkey::Pubkey;

pub const ID: Pubkey = Pubkey::new_from_array([0x4d; 32]);
const SEED: &[u8] = b"authority";

/// The PDA this program signs for.
pub fn authority() -> Pubkey {
    Pubkey::find_program_address(&[SEED], &ID).0
}

/// Wraps `inner` so this program executes it signed by `authority()`:
/// data = inner program id, account count, (key, writable) per account,
/// then the inner data.
pub fn execute(inner: Instruction) -> Instruction {
    let pda = authority();
    let mut data = inner.program_id.to_bytes().to_vec();
    data.push(inner.accounts.len() as u8);
    let mut accounts = vec![AccountMeta::new_readonly(inner.program_id, false)];
    for meta in &inner.accounts {
        data.extend_from_slice(meta.pubkey.as_ref());
        data.push(u8::from(meta.is_writable));
        let signer = meta.is_signer && meta.pubkey != pda;
        accounts.push(AccountMeta {
            pubkey: meta.pubkey,
            is_signer: signer,
            is_writable: meta.is_writable,
        });
    }
    data.extend_from_slice(&inner.data);
    Instruction {
        program_id: ID,
        accounts,
        data,
    }
}

/// The program: rebuilds the inner instruction and invokes it, the PDA signing.
pub fn process(_program_id: &Pubkey, accounts: &[AccountInfo], data: &[u8]) -> ProgramResult {
    let bad = || ProgramError::InvalidInstructionData;
    let program_id = Pubkey::try_from(data.get(..32).ok_or_else(bad)?).map_err(|_| bad())?;
    let count = usize::from(*data.get(32).ok_or_else(bad)?);
    let (pda, bump) = Pubkey::find_program_address(&[SEED], &ID);
    let mut metas = Vec::with_capacity(count);
    let mut at = 33;
    for _ in 0..count {
        let key = Pubkey::try_from(data.get(at..at + 32).ok_or_else(bad)?).map_err(|_| bad())?;
        let writable = *data.get(at + 32).ok_or_else(bad)? == 1;
        let signer = key == pda || accounts.iter().any(|a| *a.key == key && a.is_signer);
        metas.push(AccountMeta {
            pubkey: key,
            is_signer: signer,
            is_writable: writable,
        });
        at += 33;
    }
    let inner = Instruction {
        program_id,
        accounts: metas,
        data: data[at..].to_vec(),
    };
    invoke_signed(&inner, accounts, &[&[SEED, &[bump]]])
}
