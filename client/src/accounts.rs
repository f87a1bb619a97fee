//! Decoding AKE accounts from raw account data.

use ake_market::state::Market;
use anchor_lang::{AccountDeserialize, Discriminator};

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("account data is not a {0} account (wrong discriminator or size)")]
    WrongType(&'static str),
    #[error("{0} account could not be decoded: {1}")]
    Malformed(&'static str, String),
}

/// Decodes a borsh (`#[account]`) account, checking its discriminator.
pub fn decode<T: AccountDeserialize>(data: &[u8]) -> Result<T, DecodeError> {
    let name = std::any::type_name::<T>()
        .rsplit("::")
        .next()
        .unwrap_or("AKE");
    T::try_deserialize(&mut &data[..]).map_err(|e| DecodeError::Malformed(name, e.to_string()))
}

/// Decodes the zero-copy market account (copied, so alignment does not matter).
pub fn decode_market(data: &[u8]) -> Result<Box<Market>, DecodeError> {
    let size = std::mem::size_of::<Market>();
    if data.len() < 8 + size || &data[..8] != Market::DISCRIMINATOR {
        return Err(DecodeError::WrongType("Market"));
    }
    let mut market: Box<Market> = bytemuck::zeroed_box();
    bytemuck::bytes_of_mut(market.as_mut()).copy_from_slice(&data[8..8 + size]);
    Ok(market)
}

/// The decimals of a mint.
pub async fn mint_decimals(
    chain: &dyn crate::chain::Chain,
    mint: &anchor_lang::prelude::Pubkey,
) -> Result<u8, crate::chain::ChainError> {
    use solana_sdk::program_pack::Pack;
    let acc = chain
        .account(mint)
        .await?
        .ok_or_else(|| crate::chain::ChainError::Refused(format!("mint {mint} does not exist")))?;
    anchor_spl::token::spl_token::state::Mint::unpack(&acc.data)
        .map(|m| m.decimals)
        .map_err(|e| crate::chain::ChainError::Refused(format!("{mint} is not a mint: {e}")))
}
