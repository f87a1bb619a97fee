//! Creating PDAs so that nobody can block them by pre-funding the address.
//!
//! Job, creator, stake and node addresses are predictable, and anyone may
//! send lamports to an address before it exists. Anchor's `init` then needs
//! the system program's CreateAccountAllowPrefund, which not every runtime
//! has. Instead: top up to rent exemption, then allocate and assign, each
//! signed with the PDA's seeds; plain create_account when nothing was sent.

use anchor_lang::prelude::*;
use anchor_lang::system_program::{self, Allocate, Assign, CreateAccount, Transfer};

/// Creates `target` (a PDA of `seeds`) owned by `owner`, pre-funded or not.
pub fn create_pda<'info>(
    payer: &AccountInfo<'info>,
    target: &AccountInfo<'info>,
    owner: &Pubkey,
    space: usize,
    seeds: &[&[u8]],
) -> Result<()> {
    require!(is_uncreated(target), ErrorCode::AccountNotSystemOwned);
    let required = Rent::get()?.minimum_balance(space);
    let held = target.lamports();
    let signer: &[&[&[u8]]] = &[seeds];
    if held == 0 {
        return system_program::create_account(
            CpiContext::new_with_signer(
                system_program::ID,
                CreateAccount {
                    from: payer.clone(),
                    to: target.clone(),
                },
                signer,
            ),
            required,
            space as u64,
            owner,
        );
    }
    if required > held {
        system_program::transfer(
            CpiContext::new(
                system_program::ID,
                Transfer {
                    from: payer.clone(),
                    to: target.clone(),
                },
            ),
            required - held,
        )?;
    }
    allocate_and_assign(target, owner, space, seeds)
}

/// Creates `vault` (a PDA of `seeds`) as a token account of `mint` that is
/// its own authority: only the program that derives it can move its tokens.
pub fn create_token_vault<'info>(
    payer: &AccountInfo<'info>,
    vault: &AccountInfo<'info>,
    mint: &AccountInfo<'info>,
    seeds: &[&[u8]],
) -> Result<()> {
    use anchor_spl::token::{self, InitializeAccount3, TokenAccount};
    create_pda(payer, vault, &token::ID, TokenAccount::LEN, seeds)?;
    token::initialize_account3(CpiContext::new(
        token::ID,
        InitializeAccount3 {
            account: vault.clone(),
            mint: mint.clone(),
            authority: vault.clone(),
        },
    ))
}

/// Gives the PDA `target` its space and owner without funding it: the
/// caller then moves its rent in from an account the program owns (done
/// after this, so the system program's CPIs see balanced accounts).
pub fn allocate_and_assign<'info>(
    target: &AccountInfo<'info>,
    owner: &Pubkey,
    space: usize,
    seeds: &[&[u8]],
) -> Result<()> {
    require!(is_uncreated(target), ErrorCode::AccountNotSystemOwned);
    let signer: &[&[&[u8]]] = &[seeds];
    system_program::allocate(
        CpiContext::new_with_signer(
            system_program::ID,
            Allocate {
                account_to_allocate: target.clone(),
            },
            signer,
        ),
        space as u64,
    )?;
    system_program::assign(
        CpiContext::new_with_signer(
            system_program::ID,
            Assign {
                account_to_assign: target.clone(),
            },
            signer,
        ),
        owner,
    )
}

/// Writes a freshly created account (discriminator + borsh).
pub fn write_new<T: AccountSerialize>(target: &AccountInfo, value: &T) -> Result<()> {
    let mut data = target.try_borrow_mut_data()?;
    let mut dst: &mut [u8] = &mut data;
    value.try_serialize(&mut dst)
}

/// True when the PDA has not been created yet (maybe pre-funded).
pub fn is_uncreated(target: &AccountInfo) -> bool {
    *target.owner == system_program::ID && target.data_is_empty()
}

/// Decodes an existing account of `program_id` (owner and discriminator checked).
pub fn read_existing<T: AccountDeserialize>(
    target: &AccountInfo,
    program_id: &Pubkey,
) -> Result<T> {
    require_keys_eq!(
        *target.owner,
        *program_id,
        ErrorCode::AccountOwnedByWrongProgram
    );
    let data = target.try_borrow_data()?;
    T::try_deserialize(&mut &data[..])
}

/// Closes an account this program owns into `to`: every lamport moves, the
/// data goes, and the system program owns it again (so it reads as never
/// created, and only its program could give it data again).
pub fn close_into<'info>(target: &AccountInfo<'info>, to: &AccountInfo<'info>) -> Result<()> {
    require_keys_neq!(*target.key, *to.key, ErrorCode::ConstraintClose);
    to.add_lamports(target.lamports())?;
    target.sub_lamports(target.lamports())?;
    target.assign(&system_program::ID);
    target.resize(0).map_err(Into::into)
}
