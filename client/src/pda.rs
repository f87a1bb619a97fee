//! Program-derived addresses, from the programs' own seed constants.

use ake_emissions::constants::{
    EMISSIONS_CONFIG_SEED, EPOCH_SEED, MARKET_EPOCH_SEED, MINT_AUTHORITY_SEED, NODE_WORK_SEED,
};
use ake_market::constants::*;
use anchor_lang::prelude::Pubkey;

pub const MARKET_PROGRAM_ID: Pubkey = ake_market::ID;
pub const EMISSIONS_PROGRAM_ID: Pubkey = ake_emissions::ID;

fn market_pda(seeds: &[&[u8]]) -> Pubkey {
    Pubkey::find_program_address(seeds, &MARKET_PROGRAM_ID).0
}

pub fn config() -> Pubkey {
    market_pda(&[CONFIG_SEED])
}

pub fn stake_vault() -> Pubkey {
    market_pda(&[STAKE_VAULT_SEED])
}

pub fn market(index: u16) -> Pubkey {
    market_pda(&[MARKET_SEED, &index.to_le_bytes()])
}

pub fn escrow_vault(market: &Pubkey) -> Pubkey {
    market_pda(&[ESCROW_SEED, market.as_ref()])
}

/// A market's settlement books: what its settlements left to burn and pay.
pub fn ledger(market: &Pubkey) -> Pubkey {
    market_pda(&[LEDGER_SEED, market.as_ref()])
}

pub fn stake(owner: &Pubkey) -> Pubkey {
    market_pda(&[STAKE_SEED, owner.as_ref()])
}

pub fn node(node_signer: &Pubkey) -> Pubkey {
    market_pda(&[NODE_SEED, node_signer.as_ref()])
}

pub fn creator(creator: &Pubkey) -> Pubkey {
    market_pda(&[CREATOR_SEED, creator.as_ref()])
}

pub fn job(creator: &Pubkey, nonce: u64) -> Pubkey {
    market_pda(&[JOB_SEED, creator.as_ref(), &nonce.to_le_bytes()])
}

/// A batch of frames; shares the creator's nonce counter with its jobs.
pub fn batch(creator: &Pubkey, nonce: u64) -> Pubkey {
    market_pda(&[BATCH_SEED, creator.as_ref(), &nonce.to_le_bytes()])
}

/// The job account of frame `frame` of `batch` (exists once handed out).
pub fn frame_job(batch: &Pubkey, frame: u32) -> Pubkey {
    market_pda(&[FRAME_SEED, batch.as_ref(), &frame.to_le_bytes()])
}

/// Audit run `round` (1 or 2, both opened by the draw) of the audited `job`.
pub fn audit_run(job: &Pubkey, round: u8) -> Pubkey {
    market_pda(&[AUDIT_SEED, job.as_ref(), &[round]])
}

/// The mark of a spec an audit found not deterministic on `market`.
pub fn unauditable_spec(market: &Pubkey, spec_hash: &[u8; 32]) -> Pubkey {
    market_pda(&[
        ake_market::constants::UNAUDITABLE_SEED,
        market.as_ref(),
        spec_hash,
    ])
}

/// The due page of `market` for `bucket`, shard `shard` (see `DuePage`).
pub fn due_page(market: &Pubkey, bucket: u32, shard: u16) -> Pubkey {
    market_pda(&[
        ake_market::constants::DUE_SEED,
        market.as_ref(),
        &bucket.to_le_bytes(),
        &shard.to_le_bytes(),
    ])
}

/// The `#[event_cpi]` authority of a program.
pub fn event_authority(program_id: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[b"__event_authority"], program_id).0
}

/// ake-market's PDA that signs work reports to ake-emissions.
pub fn reporter() -> Pubkey {
    market_pda(&[REPORTER_SEED])
}

fn emissions_pda(seeds: &[&[u8]]) -> Pubkey {
    Pubkey::find_program_address(seeds, &EMISSIONS_PROGRAM_ID).0
}

pub fn emissions_config() -> Pubkey {
    emissions_pda(&[EMISSIONS_CONFIG_SEED])
}

/// The AKE mint's only mint authority.
pub fn mint_authority() -> Pubkey {
    emissions_pda(&[MINT_AUTHORITY_SEED])
}

/// The treasury: ake-emissions' token account PDA, its own authority. The
/// market's fees go here; it pays crank tips and timelocked spends.
pub fn treasury() -> Pubkey {
    emissions_pda(&[ake_emissions::constants::TREASURY_SEED])
}

/// The treasury spend waiting out the timelock.
pub fn treasury_pending_spend() -> Pubkey {
    emissions_pda(&[
        ake_emissions::constants::SPEND_SEED,
        emissions_config().as_ref(),
    ])
}

pub fn epoch_summary(epoch: u64) -> Pubkey {
    emissions_pda(&[EPOCH_SEED, &epoch.to_le_bytes()])
}

/// A parameter change waiting out the timelock in ake-market: `target` is
/// the config or the market it changes.
pub fn market_pending_change(target: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(
        &[ake_market::constants::PENDING_SEED, target.as_ref()],
        &ake_market::ID,
    )
    .0
}

/// The change waiting out the timelock in ake-emissions.
pub fn emissions_pending_change() -> Pubkey {
    Pubkey::find_program_address(
        &[
            ake_emissions::constants::PENDING_SEED,
            emissions_config().as_ref(),
        ],
        &ake_emissions::ID,
    )
    .0
}

/// Market `index`'s work in `epoch`, summed into the epoch when it closes.
pub fn market_epoch(epoch: u64, index: u16) -> Pubkey {
    emissions_pda(&[
        MARKET_EPOCH_SEED,
        &epoch.to_le_bytes(),
        &index.to_le_bytes(),
    ])
}

pub fn node_work(epoch: u64, node: &Pubkey) -> Pubkey {
    emissions_pda(&[NODE_WORK_SEED, &epoch.to_le_bytes(), node.as_ref()])
}
