//! Program error codes turned into sentences a user understands.

use ake_emissions::errors::EmissionsError;
use ake_market::errors::MarketError;
use solana_sdk::instruction::InstructionError;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::transaction::{TransactionError, VersionedTransaction};

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
    let message = match framework_hint(e) {
        Some(hint) => format!("{e}: {hint}"),
        None => e.to_string(),
    };
    Some(ProgramFailure {
        program,
        name: e.name(),
        code,
        message,
    })
}

/// Every Anchor framework error (anchor-lang 1.2.2), so none reaches a user
/// as a bare number.
const FRAMEWORK_ERRORS: [anchor_lang::error::ErrorCode; 82] = {
    use anchor_lang::error::ErrorCode as E;
    [
        E::InstructionMissing,
        E::InstructionFallbackNotFound,
        E::InstructionDidNotDeserialize,
        E::InstructionDidNotSerialize,
        E::IdlInstructionStub,
        E::IdlInstructionInvalidProgram,
        E::IdlAccountNotEmpty,
        E::EventInstructionStub,
        E::ConstraintMut,
        E::ConstraintHasOne,
        E::ConstraintSigner,
        E::ConstraintRaw,
        E::ConstraintOwner,
        E::ConstraintRentExempt,
        E::ConstraintSeeds,
        E::ConstraintExecutable,
        E::ConstraintState,
        E::ConstraintAssociated,
        E::ConstraintAssociatedInit,
        E::ConstraintClose,
        E::ConstraintAddress,
        E::ConstraintZero,
        E::ConstraintTokenMint,
        E::ConstraintTokenOwner,
        E::ConstraintMintMintAuthority,
        E::ConstraintMintFreezeAuthority,
        E::ConstraintMintDecimals,
        E::ConstraintSpace,
        E::ConstraintAccountIsNone,
        E::ConstraintTokenTokenProgram,
        E::ConstraintMintTokenProgram,
        E::ConstraintAssociatedTokenTokenProgram,
        E::ConstraintMintGroupPointerExtension,
        E::ConstraintMintGroupPointerExtensionAuthority,
        E::ConstraintMintGroupPointerExtensionGroupAddress,
        E::ConstraintMintGroupMemberPointerExtension,
        E::ConstraintMintGroupMemberPointerExtensionAuthority,
        E::ConstraintMintGroupMemberPointerExtensionMemberAddress,
        E::ConstraintMintMetadataPointerExtension,
        E::ConstraintMintMetadataPointerExtensionAuthority,
        E::ConstraintMintMetadataPointerExtensionMetadataAddress,
        E::ConstraintMintCloseAuthorityExtension,
        E::ConstraintMintCloseAuthorityExtensionAuthority,
        E::ConstraintMintPermanentDelegateExtension,
        E::ConstraintMintPermanentDelegateExtensionDelegate,
        E::ConstraintMintTransferHookExtension,
        E::ConstraintMintTransferHookExtensionAuthority,
        E::ConstraintMintTransferHookExtensionProgramId,
        E::ConstraintDuplicateMutableAccount,
        E::AccountAlreadyMigrated,
        E::AccountNotMigrated,
        E::ConstraintMintPausableExtension,
        E::ConstraintMintPausableAuthority,
        E::RequireViolated,
        E::RequireEqViolated,
        E::RequireKeysEqViolated,
        E::RequireNeqViolated,
        E::RequireKeysNeqViolated,
        E::RequireGtViolated,
        E::RequireGteViolated,
        E::AccountDiscriminatorAlreadySet,
        E::AccountDiscriminatorNotFound,
        E::AccountDiscriminatorMismatch,
        E::AccountDidNotDeserialize,
        E::AccountDidNotSerialize,
        E::AccountNotEnoughKeys,
        E::AccountNotMutable,
        E::AccountOwnedByWrongProgram,
        E::InvalidProgramId,
        E::InvalidProgramExecutable,
        E::AccountNotSigner,
        E::AccountNotSystemOwned,
        E::AccountNotInitialized,
        E::AccountNotProgramData,
        E::AccountNotAssociatedTokenAccount,
        E::AccountSysvarMismatch,
        E::AccountReallocExceedsLimit,
        E::AccountDuplicateReallocs,
        E::DeclaredProgramIdMismatch,
        E::TryingToInitPayerAsProgramAccount,
        E::InvalidNumericConversion,
        E::Deprecated,
    ]
};

fn framework_error(code: u32) -> Option<anchor_lang::error::ErrorCode> {
    FRAMEWORK_ERRORS.into_iter().find(|e| u32::from(*e) == code)
}

/// What to do about the framework errors AKE users can meet.
fn framework_hint(e: anchor_lang::error::ErrorCode) -> Option<&'static str> {
    use anchor_lang::error::ErrorCode as E;
    Some(match e {
        E::ConstraintDuplicateMutableAccount => "one account was passed twice where the program writes both; rebuild the transaction with distinct accounts (a client bug: please report it)",
        E::ConstraintSeeds | E::ConstraintAddress => "an account is not the one AKE derives for it (another node, stake, job or market?); rebuild the transaction from current on-chain state",
        E::ConstraintHasOne | E::ConstraintRaw => "an account does not belong with the others (wrong owner, node, market or mint)",
        E::AccountNotInitialized | E::AccountDiscriminatorNotFound => "an account the instruction needs does not exist (not registered or staked yet, or already closed)",
        E::AccountOwnedByWrongProgram | E::AccountDiscriminatorMismatch | E::AccountDidNotDeserialize => "an account is of the wrong kind for this instruction (check the addresses you passed)",
        E::ConstraintSigner | E::AccountNotSigner => "a required signer did not sign (use the keypair that owns the account)",
        E::ConstraintTokenMint | E::ConstraintTokenOwner => "a token account is for another mint or owner (use your AKE account)",
        E::InstructionDidNotDeserialize | E::InstructionFallbackNotFound => "the program does not understand this instruction: the CLI and the deployed program differ in version",
        _ => return None,
    })
}

/// A sentence for a failed transaction: which program said what, and what to do.
pub fn explain(error: &TransactionError, tx: &VersionedTransaction) -> String {
    match error {
        TransactionError::InstructionError(index, InstructionError::Custom(code)) => {
            let program = program_of(tx, *index);
            // Codes under 100 are SPL Token's (Anchor's own start at 100), also
            // when they surface through an AKE program's CPI.
            if program == Some(anchor_spl::token::spl_token::ID) {
                return token_error(*code);
            }
            if program == Some(anchor_lang::system_program::ID) {
                return system_error(*code);
            }
            // Under 100, through an AKE program's CPI: SPL Token's or the
            // System program's (both say "1" for too little).
            if *code == 1 {
                return format!(
                    "{}; or, where the instruction creates an account, the paying wallet holds too little SOL",
                    token_error(1)
                );
            }
            if *code < 100 {
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

/// The System program's errors, as far as AKE users meet them.
fn system_error(code: u32) -> String {
    let what = match code {
        0 => "the account already exists",
        1 => "the paying wallet has too little SOL (fund it: `solana airdrop 1` on devnet)",
        _ => return format!("the System program refused it (error {code})"),
    };
    format!("the System program refused it: {what}")
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
        // Every framework error has its name and a sentence, not a number.
        for e in FRAMEWORK_ERRORS {
            let f = decode(&ake_market::ID, u32::from(e)).unwrap();
            assert_eq!(f.name, e.name());
            assert!(f.message.len() > 10, "{}", f.name);
        }
        let f = decode(&ake_market::ID, 2040).unwrap();
        assert_eq!(f.name, "ConstraintDuplicateMutableAccount");
        assert!(f.message.contains("distinct accounts"), "{}", f.message);
        assert!(decode(&ake_market::ID, 6999).is_none());
    }
}
