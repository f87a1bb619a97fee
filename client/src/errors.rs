//! Program error codes turned into sentences a user understands.

use ake_emissions::errors::EmissionsError;
use ake_market::errors::MarketError;
use solana_sdk::instruction::InstructionError;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::transaction::{Transaction, TransactionError};

use crate::sender::program_of;

/// The error a program returned, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramFailure {
    pub program: &'static str,
    pub name: String,
    pub code: u32,
    pub message: String,
}

/// Decodes a custom error code of `program`.
pub fn decode(program: &Pubkey, code: u32) -> Option<ProgramFailure> {
    let offset = anchor_lang::error::ERROR_CODE_OFFSET;
    if code >= offset {
        if *program == ake_market::ID {
            let e = MarketError::from_repr(code - offset)?;
            return Some(ProgramFailure {
                program: "ake-market",
                name: e.name(),
                code,
                message: e.to_string(),
            });
        }
        if *program == ake_emissions::ID {
            let e = EmissionsError::from_repr(code - offset)?;
            return Some(ProgramFailure {
                program: "ake-emissions",
                name: e.name(),
                code,
                message: e.to_string(),
            });
        }
        return None;
    }
    let e = framework_error(code)?;
    let program = if *program == ake_market::ID {
        "ake-market"
    } else if *program == ake_emissions::ID {
        "ake-emissions"
    } else {
        "program"
    };
    Some(ProgramFailure {
        program,
        name: e.name(),
        code,
        message: e.to_string(),
    })
}

/// The Anchor framework errors AKE's account checks can raise.
fn framework_error(code: u32) -> Option<anchor_lang::error::ErrorCode> {
    use anchor_lang::error::ErrorCode as E;
    let all = [
        E::ConstraintMut,
        E::ConstraintHasOne,
        E::ConstraintSigner,
        E::ConstraintRaw,
        E::ConstraintOwner,
        E::ConstraintSeeds,
        E::ConstraintAddress,
        E::ConstraintClose,
        E::ConstraintTokenMint,
        E::ConstraintTokenOwner,
        E::AccountDiscriminatorNotFound,
        E::AccountDiscriminatorMismatch,
        E::AccountDidNotDeserialize,
        E::AccountNotEnoughKeys,
        E::AccountNotMutable,
        E::AccountOwnedByWrongProgram,
        E::InvalidProgramId,
        E::AccountNotSigner,
        E::AccountNotSystemOwned,
        E::AccountNotInitialized,
        E::InstructionDidNotDeserialize,
    ];
    all.into_iter().find(|e| u32::from(*e) == code)
}

/// A sentence for a failed transaction: which program said what, and what to do.
pub fn explain(error: &TransactionError, tx: &Transaction) -> String {
    match error {
        TransactionError::InstructionError(index, InstructionError::Custom(code)) => {
            let program = program_of(tx, *index);
            // Codes under 100 are SPL Token's (Anchor's own start at 100), also
            // when they surface through an AKE program's CPI.
            if program == Some(anchor_spl::token::spl_token::ID) || *code < 100 {
                return token_error(*code);
            }
            match program.and_then(|p| decode(&p, *code)) {
                Some(f) => format!("{} refused it: {} ({} {})", f.program, f.message, f.name, f.code),
                None => format!("instruction {index} failed with custom error {code}"),
            }
        }
        TransactionError::InstructionError(index, e) => format!("instruction {index} failed: {e}"),
        TransactionError::InsufficientFundsForFee => {
            "the fee payer has too little SOL for the fee: fund it (e.g. `solana airdrop 1` on devnet)".into()
        }
        TransactionError::AccountNotFound => {
            "an account the transaction needs does not exist (is the payer funded, the protocol bootstrapped?)".into()
        }
        TransactionError::BlockhashNotFound => "the blockhash expired before the transaction landed; send it again".into(),
        other => format!("the transaction failed: {other}"),
    }
}

/// SPL Token's errors, as far as AKE users meet them.
fn token_error(code: u32) -> String {
    let what = match code {
        1 => "a token account holds too few tokens for this (top up your AKE account)",
        3 => "a token account is for another mint than AKE",
        4 => "a token account belongs to someone else",
        17 => "a token account is frozen",
        _ => return format!("the SPL Token program refused it (error {code})"),
    };
    format!("the SPL Token program refused it: {what}")
}

/// A market error with the numbers that make it actionable.
pub fn oracle_stale(age_secs: i64, limit_secs: u32) -> String {
    format!("the oracle price is {age_secs} s old; the limit is {limit_secs} s: post a fresh Pyth update and retry")
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn every_program_error_decodes_back() {
        for e in MarketError::iter() {
            let f = decode(&ake_market::ID, u32::from(e)).unwrap();
            assert_eq!(f.name, e.name());
            assert_eq!(f.message, e.to_string());
        }
        for e in EmissionsError::iter() {
            let f = decode(&ake_emissions::ID, u32::from(e)).unwrap();
            assert_eq!(f.name, e.name());
        }
        let f = decode(&ake_market::ID, 2006).unwrap();
        assert_eq!(f.name, "ConstraintSeeds");
        assert!(decode(&ake_market::ID, 6999).is_none());
    }
}
