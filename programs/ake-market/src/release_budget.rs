//! Giving owners back the release budget a hand-back cost them when the
//! job they handed back turns out unrunnable (refunded after counted
//! hand-backs): spam never uses up an honest fleet's budget.

use ake_program_common::account_creation::{read_existing, write_new};
use anchor_lang::prelude::*;

use crate::constants::STAKE_SEED;
use crate::errors::MarketError;
use crate::state::{ReleaseParams, Releases, Stake};

/// Gives one hand-back back to each releaser in `releases` other than
/// `except` (whose stake the instruction holds already). `stakes` are
/// their stake accounts, PDA `["stake", owner]`, in `releases` order (ake-sdk
/// passes them): each is checked, none may be `held` (an account the
/// instruction writes back itself), and one the owner closed since is
/// skipped. Returns how many got budget back (at most `MAX_RELEASES`).
pub fn return_release_budgets(
    stakes: &[AccountInfo],
    releases: &Releases,
    (except, held): (&Pubkey, Option<Pubkey>),
    now: i64,
    rules: &ReleaseParams,
) -> Result<u8> {
    let owners = releases.by[..usize::from(releases.recorded)]
        .iter()
        .filter(|owner| *owner != except);
    let mut returned = 0;
    let mut given = stakes.iter();
    for owner in owners {
        let info = given.next().ok_or(MarketError::WrongStakeAccount)?;
        let (expected, _) = Pubkey::find_program_address(&[STAKE_SEED, owner.as_ref()], &crate::ID);
        require!(
            info.key() == expected && info.is_writable && Some(expected) != held,
            MarketError::WrongStakeAccount
        );
        if info.owner != &crate::ID || info.data_is_empty() {
            continue; // closed since: nothing to give back
        }
        let mut stake = read_existing::<Stake>(info, &crate::ID)?;
        stake.return_release(now, rules);
        write_new(info, &stake)?;
        returned += 1;
    }
    Ok(returned)
}
