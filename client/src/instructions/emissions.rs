//! Instruction builders for ake-emissions.

use ake_emissions::accounts as acc;
use ake_emissions::instruction as ix;
use ake_emissions::state::{BreakerParams, Schedule, Split};
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
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

/// The mint's authority must already be `pda::mint_authority()`.
/// Signed by `authority`, the mint's current mint authority, which hands it
/// to ake-emissions in the same instruction.
pub fn initialize(
    authority: Pubkey,
    mint: Pubkey,
    treasury: Pubkey,
    schedule: Schedule,
    split: Split,
    breaker: BreakerParams,
) -> Instruction {
    build(
        acc::Initialize {
            authority,
            config: pda::emissions_config(),
            mint_authority: pda::mint_authority(),
            mint,
            treasury,
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
            split,
            breaker,
        },
    )
}

pub fn update_config(
    authority: Pubkey,
    decay_bps: u16,
    floor_emission: u64,
    emission_cap: u64,
    split: Split,
    breaker: BreakerParams,
) -> Instruction {
    build(
        acc::UpdateConfig {
            authority,
            config: pda::emissions_config(),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::UpdateConfig {
            decay_bps,
            floor_emission,
            emission_cap,
            split,
            breaker,
        },
    )
}

/// Anyone closes an ended epoch; the tip goes to `caller_token`.
pub fn close_epoch(
    caller: Pubkey,
    caller_token: Pubkey,
    mint: Pubkey,
    treasury: Pubkey,
    epoch: u64,
) -> Instruction {
    build(
        acc::CloseEpoch {
            caller,
            caller_token,
            config: pda::emissions_config(),
            epoch_summary: pda::epoch_summary(epoch),
            mint,
            mint_authority: pda::mint_authority(),
            treasury,
            token_program: token::ID,
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::CloseEpoch { epoch },
    )
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
