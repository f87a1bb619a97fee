//! Indexing submitted and disputed jobs by when they fall due, in
//! [`DuePage`]s the crank reads from the clock (no program scan), so such
//! jobs never hold a slot of the market: nothing can fill the index, and
//! settlements never write the market's pool.

use anchor_lang::prelude::*;
use anchor_lang::Discriminator;

use ake_program_common::account_creation::{create_pda, is_uncreated};

use crate::constants::DUE_SEED;
use crate::errors::MarketError;
use crate::events::DuePageOpened;
use crate::state::DuePage;

/// The page a client names for a job falling due: the bucket, and the
/// shard it read as the first with room. The program takes the next shard
/// when that one filled in the meantime.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DuePick {
    pub bucket: u32,
    pub shard: u16,
}

/// The named page, the next shard (its spill) and who pays for creating either.
pub struct DuePages<'a, 'info> {
    pub page: &'a AccountInfo<'info>,
    pub spill: &'a AccountInfo<'info>,
    pub payer: &'a AccountInfo<'info>,
}

pub fn due_page_address(market: &Pubkey, bucket: u32, shard: u16) -> (Pubkey, u8) {
    Pubkey::find_program_address(
        &[
            DUE_SEED,
            market.as_ref(),
            &bucket.to_le_bytes(),
            &shard.to_le_bytes(),
        ],
        &crate::ID,
    )
}

/// Where `index_due` put a job, and the page it opened for it, if any.
pub struct Indexed {
    pub page: Pubkey,
    pub opened: Option<DuePageOpened>,
}

/// Indexes `job`, due at `due_ts`, in the named page, or in the next shard
/// when that one is full; creates the page it uses when missing (shard 0,
/// or the shard after a full one). Fails only when both are full or gone
/// (the market moved on since the client read it: it re-reads and retries).
pub fn index_due(
    market: Pubkey,
    job: Pubkey,
    due_ts: i64,
    pick: DuePick,
    pages: DuePages,
) -> Result<Indexed> {
    require!(
        DuePage::accepts_due(pick.bucket, due_ts),
        MarketError::WrongDueBucket
    );
    let spill_shard = pick.shard.checked_add(1).ok_or(MarketError::MathOverflow)?;
    let page = due_page_address(&market, pick.bucket, pick.shard);
    let spill = due_page_address(&market, pick.bucket, spill_shard);
    require_keys_eq!(pages.page.key(), page.0, MarketError::WrongDuePage);
    require_keys_eq!(pages.spill.key(), spill.0, MarketError::WrongDuePage);
    let page_exists = !is_uncreated(pages.page);
    let mut opened = None;
    if !page_exists && pick.shard == 0 {
        let at = (pick.bucket, pick.shard);
        opened = Some(create(pages.page, pages.payer, market, at, page.1)?);
    }
    if (page_exists || pick.shard == 0) && push(pages.page, job)? {
        return Ok(Indexed {
            page: page.0,
            opened,
        });
    }
    // The named page is full: the next shard, created after a full one only,
    // so a bucket's shards stay a prefix a reader can walk.
    if is_uncreated(pages.spill) {
        require!(page_exists || pick.shard == 0, MarketError::DuePageFull);
        let at = (pick.bucket, spill_shard);
        opened = Some(create(pages.spill, pages.payer, market, at, spill.1)?);
    }
    require!(push(pages.spill, job)?, MarketError::DuePageFull);
    Ok(Indexed {
        page: spill.0,
        opened,
    })
}

/// A job indexed in `page` left it (settled, or moved by a dispute).
pub fn unindex_due(page: &AccountLoader<DuePage>, job_due_page: &Pubkey) -> Result<()> {
    require_keys_eq!(page.key(), *job_due_page, MarketError::WrongDuePage);
    let mut p = page.load_mut()?;
    p.open = p.open.checked_sub(1).ok_or(MarketError::MathOverflow)?;
    Ok(())
}

fn create<'info>(
    info: &AccountInfo<'info>,
    payer: &AccountInfo<'info>,
    market: Pubkey,
    (bucket, shard): (u32, u16),
    bump: u8,
) -> Result<DuePageOpened> {
    let rent = Rent::get()?;
    require!(
        payer.lamports() >= rent.minimum_balance(DuePage::SPACE) + rent.minimum_balance(0),
        MarketError::PayerCannotPayRent
    );
    create_pda(
        payer,
        info,
        &crate::ID,
        DuePage::SPACE,
        &[
            DUE_SEED,
            market.as_ref(),
            &bucket.to_le_bytes(),
            &shard.to_le_bytes(),
            &[bump],
        ],
    )?;
    let mut data = info.try_borrow_mut_data()?;
    data[..8].copy_from_slice(DuePage::DISCRIMINATOR);
    let page: &mut DuePage = bytemuck::from_bytes_mut(&mut data[8..DuePage::SPACE]);
    page.market = market;
    page.payer = payer.key();
    page.bucket = bucket;
    page.shard = shard;
    page.bump = bump;
    Ok(DuePageOpened {
        page: info.key(),
        market,
        bucket,
        shard,
        payer: payer.key(),
        rent: info.lamports(),
    })
}

/// Appends `job` to the page at `info` (its address already checked);
/// false when the page is full.
fn push(info: &AccountInfo, job: Pubkey) -> Result<bool> {
    require_keys_eq!(*info.owner, crate::ID, MarketError::WrongDuePage);
    let mut data = info.try_borrow_mut_data()?;
    require!(
        data.len() >= DuePage::SPACE && data[..8] == *DuePage::DISCRIMINATOR,
        MarketError::WrongDuePage
    );
    let page: &mut DuePage = bytemuck::from_bytes_mut(&mut data[8..DuePage::SPACE]);
    if page.is_full() {
        return Ok(false);
    }
    page.jobs[usize::from(page.len)] = job;
    page.len += 1;
    page.open = page.open.checked_add(1).ok_or(MarketError::MathOverflow)?;
    Ok(true)
}
