//! Decoding AKE accounts from raw account data, and events from the data
//! of the inner instructions `emit_cpi!` makes.

use ake_market::state::{DuePage, Market, MarketView, Slot};
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

/// Decodes the zero-copy market account, its header and its slot pool
/// (copied, so alignment does not matter).
/// A due page (zero-copy: its bytes after the discriminator, read unaligned).
pub fn decode_due_page(data: &[u8]) -> Result<DuePage, DecodeError> {
    if data.len() < DuePage::SPACE || &data[..8] != DuePage::DISCRIMINATOR {
        return Err(DecodeError::WrongType("DuePage"));
    }
    Ok(bytemuck::pod_read_unaligned(&data[8..DuePage::SPACE]))
}

pub fn decode_market(data: &[u8]) -> Result<MarketView, DecodeError> {
    let size = std::mem::size_of::<Market>();
    if data.len() < 8 + size || &data[..8] != Market::DISCRIMINATOR {
        return Err(DecodeError::WrongType("Market"));
    }
    let mut market: Box<Market> = bytemuck::zeroed_box();
    bytemuck::bytes_of_mut(market.as_mut()).copy_from_slice(&data[8..8 + size]);
    let pool = &data[8 + size..];
    let slot_size = std::mem::size_of::<Slot>();
    if pool.len() < market.slot_count as usize * slot_size {
        return Err(DecodeError::Malformed(
            "Market",
            format!(
                "{} slots declared, {} bytes of pool",
                market.slot_count,
                pool.len()
            ),
        ));
    }
    let slots = pool
        .chunks_exact(slot_size)
        .take(market.slot_count as usize)
        .map(bytemuck::pod_read_unaligned::<Slot>)
        .collect();
    Ok(MarketView::new(market, slots))
}

/// Decodes an event of type `E` from an inner instruction's data: Anchor's
/// event tag, the event's discriminator, then the event (Borsh). None for
/// any other instruction or event.
pub fn decode_event<E: Discriminator + anchor_lang::AnchorDeserialize>(data: &[u8]) -> Option<E> {
    let event = data
        .strip_prefix(anchor_lang::event::EVENT_IX_TAG_LE)?
        .strip_prefix(E::DISCRIMINATOR)?;
    E::deserialize(&mut &event[..]).ok()
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

/// A program's upgrade authority: None when it is not deployed with the
/// upgradeable loader here (the local chain runs the programs natively) or
/// is immutable.
pub async fn upgrade_authority(
    chain: &dyn crate::chain::Chain,
    program: &anchor_lang::prelude::Pubkey,
) -> Result<Option<anchor_lang::prelude::Pubkey>, crate::chain::ChainError> {
    use anchor_lang::solana_program::bpf_loader_upgradeable;
    let address = bpf_loader_upgradeable::get_program_data_address(program);
    let Some(acc) = chain.account(&address).await? else {
        return Ok(None);
    };
    if acc.owner != bpf_loader_upgradeable::ID {
        return Ok(None);
    }
    let data =
        anchor_lang::prelude::ProgramData::try_deserialize(&mut &acc.data[..]).map_err(|e| {
            crate::chain::ChainError::Refused(format!("{address} is not program data: {e}"))
        })?;
    Ok(data.upgrade_authority_address)
}

/// The settings a market holds, as the arguments that would set them.
pub fn market_args(m: &Market) -> ake_market::instructions::MarketArgs {
    use ake_market::instructions::{CollateralArgs, MarketArgs, ReleaseArgs};
    MarketArgs {
        name: m.name_str().to_string(),
        rate_micro_usd: m.rate_micro_usd,
        min_stake_per_gpu: m.min_stake_per_gpu,
        max_gpus_per_job: m.max_gpus_per_job,
        max_duration_secs: m.max_duration_secs,
        posting_fee_micro_usd: m.posting_fee_micro_usd,
        collateral: CollateralArgs {
            escrow_bps: m.collateral_escrow_bps,
            result_charge_bps: m.result_collateral_bps,
        },
        release: ReleaseArgs {
            window_bps: m.release_window_bps,
            window_min_secs: m.release_window_min_secs,
            window_max_secs: m.release_window_max_secs,
            max_releases: m.max_releases,
        },
        max_queue_secs: m.max_queue_secs,
        gpu_required: m.gpu_required == 1,
        min_duration_secs: m.min_duration_secs,
        driver_capabilities: m.driver_capabilities,
    }
}
