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
