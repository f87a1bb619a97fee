//! Instruction builders for ake-emissions.

use ake_emissions::accounts as acc;
use ake_emissions::instruction as ix;
use ake_emissions::state::{BreakerParams, EmissionsChange, Rewards, Schedule};
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::{AccountMeta, Instruction};
use anchor_lang::{system_program, InstructionData, ToAccountMetas};
use anchor_spl::token;

use crate::pda;

const PROGRAM: Pubkey = ake_emissions::ID;

fn build(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    super::build(PROGRAM, accounts, data)
}

fn event_authority() -> Pubkey {
    pda::event_authority(&PROGRAM)
}

/// Signed by `authority`, the mint's current mint authority, which hands it
/// to ake-emissions in the same instruction; creates the treasury
/// (`pda::treasury()`).
pub fn initialize(
    authority: Pubkey,
    mint: Pubkey,
    schedule: Schedule,
    rewards: Rewards,
    breaker: BreakerParams,
    timelock_secs: u32,
) -> Instruction {
    build(
        acc::Initialize {
            authority,
            config: pda::emissions_config(),
            mint_authority: pda::mint_authority(),
            mint,
            treasury: pda::treasury(),
            program_data:
                anchor_lang::solana_program::bpf_loader_upgradeable::get_program_data_address(
                    &PROGRAM,
                ),
            token_program: anchor_spl::token::ID,
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::Initialize {
            schedule,
            rewards,
            breaker,
            timelock_secs,
        },
    )
}

/// The authority proposes a timelocked change to the schedule, cap,
/// rewards or breaker.
pub fn propose_change(authority: Pubkey, payer: Pubkey, change: EmissionsChange) -> Instruction {
    build(
        acc::ProposeChange {
            authority,
            payer,
            config: pda::emissions_config(),
            pending: pda::emissions_pending_change(),
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::ProposeChange { change },
    )
}

/// Anyone applies the pending change once due; `payer` is its proposer.
pub fn apply_change(payer: Pubkey) -> Instruction {
    build(
        acc::ApplyChange {
            config: pda::emissions_config(),
            pending: pda::emissions_pending_change(),
            payer,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::ApplyChange {},
    )
}

pub fn cancel_change(authority: Pubkey, payer: Pubkey) -> Instruction {
    build(
        acc::CancelChange {
            authority,
            config: pda::emissions_config(),
            pending: pda::emissions_pending_change(),
            payer,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::CancelChange {},
    )
}

/// The authority proposes paying `amount` of the treasury to the AKE token
/// account `to`, applicable by anyone after the timelock.
pub fn propose_spend(authority: Pubkey, payer: Pubkey, to: Pubkey, amount: u64) -> Instruction {
    build(
        acc::ProposeSpend {
            authority,
            payer,
            config: pda::emissions_config(),
            to,
            pending: pda::treasury_pending_spend(),
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::ProposeSpend { amount },
    )
}

/// Anyone pays out the pending spend once due; `payer` is its proposer,
/// `to` the account it names.
pub fn apply_spend(payer: Pubkey, to: Pubkey) -> Instruction {
    build(
        acc::ApplySpend {
            config: pda::emissions_config(),
            pending: pda::treasury_pending_spend(),
            payer,
            treasury: pda::treasury(),
            to,
            token_program: token::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::ApplySpend {},
    )
}

pub fn cancel_spend(authority: Pubkey, payer: Pubkey) -> Instruction {
    build(
        acc::CancelSpend {
            authority,
            config: pda::emissions_config(),
            pending: pda::treasury_pending_spend(),
            payer,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::CancelSpend {},
    )
}

pub fn propose_authority(authority: Pubkey, proposed: Pubkey) -> Instruction {
    build(
        acc::ProposeAuthority {
            authority,
            config: pda::emissions_config(),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::ProposeAuthority { proposed },
    )
}

pub fn accept_authority(new_authority: Pubkey) -> Instruction {
    build(
        acc::AcceptAuthority {
            new_authority,
            config: pda::emissions_config(),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::AcceptAuthority {},
    )
}

pub fn set_guardian(authority: Pubkey, guardian: Pubkey) -> Instruction {
    build(
        acc::SetGuardian {
            authority,
            config: pda::emissions_config(),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::SetGuardian { guardian },
    )
}

/// `caller`: the guardian or the authority to pause, the authority to unpause.
pub fn set_paused(caller: Pubkey, paused: bool) -> Instruction {
    build(
        acc::SetPaused {
            caller,
            config: pda::emissions_config(),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::SetPaused { paused },
    )
}

/// Anyone closes an ended epoch; the tip goes to `caller_token`.
/// Markets one `close_epoch` sums at most: two accounts each (a record
/// and its payer, all distinct at worst) beside the instruction's own and
/// a tip account's creation, within a legacy transaction's 1,232 bytes.
pub const TALLY_MARKETS_PER_TX: usize = 5;

/// An epoch's tally from market `first` on: each market's work record and
/// who paid for it (any account when the record was never created), and
/// whether the list reaches the last market (then the instruction also
/// names the first index with no market, and the epoch closes).
pub struct EpochTally {
    pub first: u16,
    pub records: Vec<(Pubkey, Pubkey)>,
    pub reaches_end: bool,
}

pub fn close_epoch(
    caller: Pubkey,
    caller_token: Pubkey,
    epoch: u64,
    tally: &EpochTally,
) -> Instruction {
    let mut ix = build(
        acc::CloseEpoch {
            caller,
            caller_token,
            config: pda::emissions_config(),
            epoch_summary: pda::epoch_summary(epoch),
            treasury: pda::treasury(),
            token_program: token::ID,
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::CloseEpoch { epoch },
    );
    for (record, payer) in &tally.records {
        ix.accounts.push(AccountMeta::new(*record, false));
        ix.accounts.push(AccountMeta::new(*payer, false));
    }
    if tally.reaches_end {
        let end = tally.first + tally.records.len() as u16;
        ix.accounts
            .push(AccountMeta::new_readonly(pda::market(end), false));
    }
    ix
}

/// Claims `node`'s reward for `epoch` into its owner's token account; the
/// record's rent goes back to `rent_receiver` (whoever paid for it).
pub fn claim(
    caller: Pubkey,
    epoch: u64,
    node: &Pubkey,
    owner_token: Pubkey,
    rent_receiver: Pubkey,
    mint: Pubkey,
) -> Instruction {
    build(
        acc::Claim {
            caller,
            config: pda::emissions_config(),
            epoch_summary: pda::epoch_summary(epoch),
            node_work: pda::node_work(epoch, node),
            rent_receiver,
            owner_token,
            mint,
            mint_authority: pda::mint_authority(),
            token_program: token::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::Claim { epoch },
    )
}
