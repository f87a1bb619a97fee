//! The audit draw reads the runtime's own SlotHashes sysvar, raw.

use ake_market::audit::{draw_seed, DRAW_SPAN_SLOTS};
use ake_tests::Chain;
use solana_sdk::hash::hashv;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::slot_hashes::SlotHashes;
use solana_sdk::sysvar;

#[allow(deprecated)] // program-test's warp is "agave-unstable-api"
#[tokio::test]
async fn the_draw_seed_is_made_of_the_slot_hashes_the_runtime_keeps() {
    let mut chain = Chain::start().await;
    // Slot by slot, then one skipped (program-test's warp to W + 3 builds
    // banks at W + 2 and W + 3: W + 1 has no hash), then on.
    for step in [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1, 1, 1, 1, 1] {
        let slot = chain.clock().await.slot;
        chain.ctx.warp_to_slot(slot + step).unwrap();
    }
    let account = chain.raw_account(&sysvar::slot_hashes::id()).await.unwrap();
    let kept: SlotHashes = account.deserialize_data().unwrap();
    assert!(kept.len() >= 12, "{} slot hashes", kept.len());
    let newest = kept.first().unwrap().0;
    // A window over the skipped slots, and one running past the newest.
    let skipped = seed_of_window(&kept, &account.data, newest - 9);
    assert_eq!(skipped, 7, "one slot of the window skipped");
    assert_eq!(seed_of_window(&kept, &account.data, newest - 4), 5);
}

/// The seed of the window from `s0` is made of the hashes `kept` holds in
/// it (skipped slots, and slots past the newest, are absent); returns how
/// many it holds.
fn seed_of_window(kept: &SlotHashes, data: &[u8], s0: u64) -> usize {
    let job = Pubkey::new_unique();
    let commitment = [9u8; 32];
    let window: Vec<[u8; 32]> = (s0..s0 + DRAW_SPAN_SLOTS)
        .filter_map(|slot| kept.get(&slot).map(|h| h.to_bytes()))
        .collect();
    let mut parts: Vec<&[u8]> = vec![job.as_ref(), &commitment];
    parts.extend(window.iter().map(|h| h.as_slice()));
    let seed = draw_seed(&job, &commitment, data, s0).unwrap();
    assert_eq!(seed, hashv(&parts).to_bytes());
    window.len()
}
