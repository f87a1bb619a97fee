//! An address lookup table per market, for v0 transactions: it holds the
//! addresses every settlement of the market names (programs, config,
//! market, vaults, ledger, mint, treasury, emissions accounts), so each costs a
//! transaction one byte instead of 32 and the crank packs more jobs per
//! transaction. The authority creates it and names it on the market
//! (`set_lookup_table`); clients read it from there.

use anchor_lang::system_program;
use anchor_spl::token;
use solana_address_lookup_table_interface::instruction::{
    create_lookup_table, extend_lookup_table,
};
use solana_address_lookup_table_interface::state::AddressLookupTable;
use solana_sdk::instruction::Instruction;
use solana_sdk::message::AddressLookupTableAccount;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signer};

use crate::chain::{Chain, ChainError};
use crate::instructions as ixs;
use crate::pda;
use crate::sender::{send_instructions, with_retry, Fees, SendError};

/// The addresses market `index`'s settlements share.
pub fn market_addresses(index: u16, mint: &Pubkey, treasury: &Pubkey) -> Vec<Pubkey> {
    let market = pda::market(index);
    vec![
        ake_market::ID,
        pda::config(),
        market,
        pda::escrow_vault(&market),
        pda::ledger(&market),
        *mint,
        *treasury,
        pda::stake_vault(),
        pda::reporter(),
        pda::emissions_config(),
        pda::EMISSIONS_PROGRAM_ID,
        pda::event_authority(&ake_market::ID),
        pda::event_authority(&pda::EMISSIONS_PROGRAM_ID),
        token::ID,
        system_program::ID,
    ]
}

/// Creates market `index`'s table derived from `recent_slot`, fills it and
/// names it on the market: one transaction, signed by the authority.
pub fn create_instructions(
    authority: Pubkey,
    index: u16,
    mint: &Pubkey,
    treasury: &Pubkey,
    recent_slot: u64,
) -> (Pubkey, Vec<Instruction>) {
    let (create, table) = create_lookup_table(authority, authority, recent_slot);
    let extend = extend_lookup_table(
        table,
        authority,
        Some(authority),
        market_addresses(index, mint, treasury),
    );
    let name = ixs::set_lookup_table(authority, index, table);
    (table, vec![create, extend, name])
}

/// Creates and names market `index`'s table (the mint and treasury read
/// from ake-market's config). A table's address derives from a slot the
/// chain still remembers: the newest few are tried (the newest may not be
/// in the chain's slot history yet).
pub async fn create_for_market(
    chain: &dyn Chain,
    authority: &Keypair,
    index: u16,
    fees: Fees,
) -> Result<Pubkey, SendError> {
    let config_key = pda::config();
    let config = with_retry(|| chain.account(&config_key))
        .await?
        .and_then(|a| crate::accounts::decode::<ake_market::state::Config>(&a.data).ok())
        .ok_or_else(|| {
            ChainError::Refused("ake-market is not initialized: no config to read".into())
        })?;
    let (mint, treasury) = (&config.mint, &config.treasury);
    let slot = with_retry(|| chain.slot()).await?;
    let mut last = None;
    for back in [1, 2, 4, 8, 16] {
        let (table, ixs) = create_instructions(
            authority.pubkey(),
            index,
            mint,
            treasury,
            slot.saturating_sub(back),
        );
        match send_instructions(chain, authority, &[], &ixs, fees).await {
            Ok(_) => return Ok(table),
            Err(e @ SendError::Failed { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("at least one attempt"))
}

/// The addresses a table serves at `slot`, for compiling v0 messages:
/// None when the data is not a lookup table or the table is being
/// deactivated (it soon serves nothing); addresses added in `slot` or
/// later are left out (a table serves them from the next slot).
pub fn decode(key: Pubkey, data: &[u8], slot: u64) -> Option<AddressLookupTableAccount> {
    let table = AddressLookupTable::deserialize(data).ok()?;
    if table.meta.deactivation_slot != u64::MAX {
        return None;
    }
    let mut addresses = table.addresses.to_vec();
    if table.meta.last_extended_slot >= slot {
        addresses.truncate(usize::from(table.meta.last_extended_slot_start_index));
    }
    Some(AddressLookupTableAccount { key, addresses })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sender::pack;
    use solana_sdk::instruction::AccountMeta;

    /// An instruction shaped like a settlement: the market's shared
    /// accounts and five of its own (job, creator, node, stake, node work).
    fn settlement(shared: &[Pubkey]) -> Instruction {
        let own = (0..5).map(|_| AccountMeta::new(Pubkey::new_unique(), false));
        let shared = shared.iter().skip(1).map(|k| AccountMeta::new(*k, false));
        Instruction {
            program_id: ake_market::ID,
            accounts: own.chain(shared).collect(),
            data: vec![0; 8],
        }
    }

    #[test]
    fn a_market_table_packs_more_settlements_per_transaction() {
        let (mint, treasury) = (Pubkey::new_unique(), Pubkey::new_unique());
        let shared = market_addresses(0, &mint, &treasury);
        let table = AddressLookupTableAccount {
            key: Pubkey::new_unique(),
            addresses: shared.clone(),
        };
        let payer = Pubkey::new_unique();
        let work: Vec<Instruction> = (0..24).map(|_| settlement(&shared)).collect();
        let legacy = pack(&payer, work.clone(), 24, &[]);
        let v0 = pack(&payer, work, 24, &[table]);
        let per_tx = |groups: &[Vec<Instruction>]| groups.iter().map(Vec::len).max().unwrap();
        println!(
            "settlements per transaction: legacy {}, v0 with the market's table {}",
            per_tx(&legacy),
            per_tx(&v0)
        );
        // Five own accounts each (none shared between them) and every
        // shared one: 2 against 5.
        assert_eq!((per_tx(&legacy), per_tx(&v0)), (2, 5));
        assert_eq!(v0.iter().map(Vec::len).sum::<usize>(), 24);
    }
}
