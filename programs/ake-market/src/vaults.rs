//! The program's token vaults (a market's escrow, the stake vault): token
//! accounts that are their own authority, moved by PDA signature.

use anchor_lang::prelude::*;
use anchor_spl::token::{self, Burn, TransferChecked};

use crate::constants::{ESCROW_SEED, STAKE_VAULT_SEED};

pub struct Vault<'info> {
    pub account: AccountInfo<'info>,
    pub mint: AccountInfo<'info>,
    pub decimals: u8,
    seeds: Vec<Vec<u8>>,
}

impl<'info> Vault<'info> {
    /// A market's escrow vault, PDA `["escrow", market]`.
    pub fn escrow(
        market: &Pubkey,
        bump: u8,
        account: AccountInfo<'info>,
        mint: AccountInfo<'info>,
        decimals: u8,
    ) -> Self {
        let seeds = vec![ESCROW_SEED.to_vec(), market.to_bytes().to_vec(), vec![bump]];
        Vault {
            account,
            mint,
            decimals,
            seeds,
        }
    }

    /// The stake vault, PDA `["stake_vault"]`.
    pub fn stake(
        bump: u8,
        account: AccountInfo<'info>,
        mint: AccountInfo<'info>,
        decimals: u8,
    ) -> Self {
        let seeds = vec![STAKE_VAULT_SEED.to_vec(), vec![bump]];
        Vault {
            account,
            mint,
            decimals,
            seeds,
        }
    }

    pub fn pay_out(&self, to: &AccountInfo<'info>, amount: u64) -> Result<()> {
        if amount == 0 {
            return Ok(());
        }
        let seeds: Vec<&[u8]> = self.seeds.iter().map(Vec::as_slice).collect();
        token::transfer_checked(
            CpiContext::new_with_signer(
                token::ID,
                TransferChecked {
                    from: self.account.clone(),
                    mint: self.mint.clone(),
                    to: to.clone(),
                    authority: self.account.clone(),
                },
                &[&seeds],
            ),
            amount,
            self.decimals,
        )
    }

    pub fn burn(&self, amount: u64) -> Result<()> {
        if amount == 0 {
            return Ok(());
        }
        let seeds: Vec<&[u8]> = self.seeds.iter().map(Vec::as_slice).collect();
        token::burn(
            CpiContext::new_with_signer(
                token::ID,
                Burn {
                    mint: self.mint.clone(),
                    from: self.account.clone(),
                    authority: self.account.clone(),
                },
                &[&seeds],
            ),
            amount,
        )
    }
}

/// Moves `amount` from a user's token account into a vault; the user signs.
pub fn deposit<'info>(
    from: AccountInfo<'info>,
    vault: AccountInfo<'info>,
    mint: AccountInfo<'info>,
    user: AccountInfo<'info>,
    amount: u64,
    decimals: u8,
) -> Result<()> {
    token::transfer_checked(
        CpiContext::new(
            token::ID,
            TransferChecked {
                from,
                mint,
                to: vault,
                authority: user,
            },
        ),
        amount,
        decimals,
    )
}
