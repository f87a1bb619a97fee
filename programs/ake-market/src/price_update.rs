//! Pyth's PriceUpdateV2 account, decoded here rather than through
//! `pyth-solana-receiver-sdk`: the layout is small and stable, and the SDK
//! would bring a second `solana-program`, borsh 0.9 and about a hundred
//! crates into every client of this program (ake-node among them). The
//! tests check this layout against the SDK's own encoder, byte for byte.

use anchor_lang::prelude::*;

/// The Pyth receiver program: owner of every PriceUpdateV2 account.
pub const RECEIVER_PROGRAM_ID: Pubkey = pubkey!("rec5EKMGg6MxZYaMdyBfgwp4d5rB9T1VQH5pJv5LtFJ");

/// The Pyth push oracle: the PDAs of its price feeds are the accounts
/// Pyth keeps updated on every cluster.
pub const PUSH_ORACLE_PROGRAM_ID: Pubkey = pubkey!("pythWSnswVUd12oZpeFP8e9CVaEqJg25g1Vtc2biRsT");

/// Anchor's account discriminator: sha256("account:PriceUpdateV2")[..8].
pub const DISCRIMINATOR: [u8; 8] = [34, 241, 35, 99, 157, 126, 244, 205];

/// How many Wormhole guardian signatures the receiver checked.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerificationLevel {
    Partial { num_signatures: u8 },
    Full,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceFeedMessage {
    pub feed_id: [u8; 32],
    pub price: i64,
    pub conf: u64,
    pub exponent: i32,
    pub publish_time: i64,
    pub prev_publish_time: i64,
    pub ema_price: i64,
    pub ema_conf: u64,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceUpdateV2 {
    pub write_authority: Pubkey,
    pub verification_level: VerificationLevel,
    pub price_message: PriceFeedMessage,
    pub posted_slot: u64,
}

impl PriceUpdateV2 {
    /// The account's size as the receiver allocates it (the largest
    /// encoding: a Partial level takes one byte more than Full).
    pub const LEN: usize = 8 + 32 + 2 + 32 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 8;

    /// The update in an account's data; None when the discriminator or the
    /// layout does not match.
    pub fn decode(data: &[u8]) -> Option<Self> {
        let body = data.strip_prefix(&DISCRIMINATOR)?;
        Self::deserialize(&mut &body[..]).ok()
    }

    /// The account data the receiver writes for this update.
    pub fn encode(&self) -> Vec<u8> {
        let mut data = Vec::with_capacity(Self::LEN);
        data.extend_from_slice(&DISCRIMINATOR);
        self.serialize(&mut data)
            .expect("writing to a Vec cannot fail");
        data.resize(Self::LEN, 0);
        data
    }
}
