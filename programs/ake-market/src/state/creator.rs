use anchor_lang::prelude::*;

/// Per-creator job counter, PDA `["creator", creator]`: job n of a creator is
/// PDA `["job", creator, n (u64 LE)]`, so a creator's jobs are enumerable
/// without scanning the program.
#[account]
#[derive(InitSpace, Debug)]
pub struct Creator {
    pub creator: Pubkey,
    pub next_nonce: u64,
    pub bump: u8,
}

impl Creator {
    pub const SPACE: usize = 8 + Creator::INIT_SPACE;
}
