use anchor_lang::prelude::*;

/// PDA `["ledger", market]`: what a market's settlements owe and did, kept
/// apart from the `Market` so that settling (finalize, accept, dispute) never
/// writes the account every post and arm writes, and apart from the mint and
/// the treasury so that no account is written by every settlement of the
/// protocol. Burns and treasury fees stay in the escrow vault, counted here,
/// until `sweep_market` (the crank) burns and pays them in one go.
///
/// The market's open obligations are `market.open_escrow + escrow_in -
/// escrow_out`; its escrow vault holds those plus `pending_burn +
/// pending_treasury`.
#[account]
#[derive(InitSpace, Debug)]
pub struct MarketLedger {
    pub market: Pubkey,
    /// The market's escrow vault (`["escrow", market]`), so a settlement
    /// needs no read of the market.
    pub escrow_vault: Pubkey,
    /// The market's index: names its work record in ake-emissions.
    pub market_index: u16,
    /// Settled tokens in the escrow vault waiting to be burned.
    pub pending_burn: u64,
    /// Settled treasury fees in the escrow vault waiting to be paid.
    pub pending_treasury: u64,
    /// Dispute bonds deposited into the escrow vault.
    pub escrow_in: u64,
    /// Escrow, posting fees and bonds of settled jobs (paid out, pending or burned).
    pub escrow_out: u64,
    pub jobs_settled: u64,
    /// Work settled in this market, micro-USD.
    pub work_micro_usd: u64,
    /// Tokens `sweep_market` burned.
    pub tokens_burned: u64,
    /// Tokens `sweep_market` paid the treasury.
    pub treasury_paid: u64,
    pub escrow_bump: u8,
    pub bump: u8,
}

impl MarketLedger {
    pub const SPACE: usize = 8 + MarketLedger::INIT_SPACE;

    /// The market's escrow vault as a signer-capable vault.
    pub fn escrow<'info>(
        &self,
        account: AccountInfo<'info>,
        mint: &Account<'info, anchor_spl::token::Mint>,
    ) -> crate::vaults::Vault<'info> {
        crate::vaults::Vault::escrow(
            &self.market,
            self.escrow_bump,
            account,
            mint.to_account_info(),
            mint.decimals,
        )
    }

    /// Adds `amount` to a counter, failing on overflow.
    pub fn add(counter: &mut u64, amount: u64) -> Result<()> {
        *counter = counter
            .checked_add(amount)
            .ok_or(crate::errors::MarketError::MathOverflow)?;
        Ok(())
    }
}
