//! The secrets of an `exact` audit (issue 33), shared by ake-node, which
//! makes them, and the CLI, which opens them for the creator.
//!
//! - The node derives a salt per attempt from its hot key (a signature is
//!   deterministic, so a restart derives the same salt with nothing
//!   journaled), and submits `sha256(digest ‖ salt)`.
//! - Its outputs go under a path holding [`output_token`] of the salt:
//!   nobody finds them before the salt is public, the auditor included.
//! - The salt is sealed to the job's creator ([`seal_salt`]): an X25519 box
//!   to the Montgomery form of the creator's ed25519 key, so the creator
//!   (alone) can fetch and check the outputs during the challenge window.
//!   Revealing the digest makes the salt public, and the outputs with it.

use aes_gcm_siv::aead::{Aead, KeyInit};
use aes_gcm_siv::{Aes256GcmSiv, Nonce};
use ake_market::state::SEALED_SALT_LEN;
use anchor_lang::prelude::Pubkey;
use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::montgomery::MontgomeryPoint;
use sha2::{Digest, Sha256, Sha512};
use solana_sdk::signature::Keypair;
use solana_sdk::signer::Signer;

/// The salt of `attempt` of `job`, from the node's hot key.
pub fn attempt_salt(hot_key: &Keypair, job: &Pubkey, attempt: u8) -> [u8; 32] {
    let mut message = b"ake-audit-salt".to_vec();
    message.extend_from_slice(job.as_ref());
    message.push(attempt);
    let signature = hot_key.sign_message(&message);
    sha256(&[b"ake-audit-salt", signature.as_ref()])
}

/// The token in the path of outputs sealed by `salt` (32 hex digits).
pub fn output_token(salt: &[u8; 32]) -> String {
    hex::encode(&sha256(&[b"ake-output-path", salt])[..16])
}

/// The placeholder a sealed result's output URI holds for the token.
pub const TOKEN_PLACEHOLDER: &str = "{token}";

/// `uri` with its token placeholder replaced by the token of `salt`.
pub fn unsealed_uri(uri: &str, salt: &[u8; 32]) -> String {
    uri.replace(TOKEN_PLACEHOLDER, &output_token(salt))
}

/// Seals `salt` to the holder of `recipient`'s ed25519 key. The ephemeral
/// key is derived from the salt (secret until the reveal, when the salt
/// is public anyway), so the box is the same after a restart. None when
/// `recipient` is not a curve point (an off-curve address, a PDA).
pub fn seal_salt(recipient: &Pubkey, salt: &[u8; 32]) -> Option<[u8; SEALED_SALT_LEN]> {
    let their = CompressedEdwardsY(recipient.to_bytes())
        .decompress()?
        .to_montgomery();
    let ephemeral = sha256(&[b"ake-seal-ephemeral", salt]);
    let ours = MontgomeryPoint::mul_base_clamped(ephemeral);
    let shared = their.mul_clamped(ephemeral);
    let sealed = cipher(&shared, &ours, &their)
        .encrypt(&Nonce::default(), salt.as_slice())
        .ok()?;
    let mut out = [0u8; SEALED_SALT_LEN];
    out[..32].copy_from_slice(ours.as_bytes());
    out[32..].copy_from_slice(&sealed);
    Some(out)
}

/// Opens a salt sealed to `keypair`; None when it was sealed to another key
/// or is not a sealed box.
pub fn open_salt(keypair: &Keypair, sealed: &[u8; SEALED_SALT_LEN]) -> Option<[u8; 32]> {
    // The ed25519 secret's X25519 form: the first half of sha512(seed).
    let seed = &keypair.to_bytes()[..32];
    let expanded = Sha512::digest(seed);
    let mut secret = [0u8; 32];
    secret.copy_from_slice(&expanded[..32]);
    let ours = CompressedEdwardsY(keypair.pubkey().to_bytes())
        .decompress()?
        .to_montgomery();
    let mut theirs = [0u8; 32];
    theirs.copy_from_slice(&sealed[..32]);
    let theirs = MontgomeryPoint(theirs);
    let shared = theirs.mul_clamped(secret);
    let opened = cipher(&shared, &theirs, &ours)
        .decrypt(&Nonce::default(), &sealed[32..])
        .ok()?;
    opened.try_into().ok()
}

/// One key per box (the ephemeral key differs per salt): a fixed nonce is safe.
fn cipher(
    shared: &MontgomeryPoint,
    ephemeral: &MontgomeryPoint,
    to: &MontgomeryPoint,
) -> Aes256GcmSiv {
    let key = sha256(&[
        b"ake-seal",
        shared.as_bytes(),
        ephemeral.as_bytes(),
        to.as_bytes(),
    ]);
    Aes256GcmSiv::new(&key.into())
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_creator_opens_the_salt() {
        let creator = Keypair::new();
        let stranger = Keypair::new();
        let salt = [7u8; 32];
        let sealed = seal_salt(&creator.pubkey(), &salt).unwrap();
        assert_eq!(open_salt(&creator, &sealed), Some(salt));
        assert_eq!(open_salt(&stranger, &sealed), None);
        let mut tampered = sealed;
        tampered[40] ^= 1;
        assert_eq!(open_salt(&creator, &tampered), None);
        // Deterministic: a restart seals the same box.
        assert_eq!(seal_salt(&creator.pubkey(), &salt), Some(sealed));
        assert_ne!(seal_salt(&creator.pubkey(), &[8u8; 32]), Some(sealed));
    }

    #[test]
    fn the_salt_is_the_hot_keys_and_names_the_path() {
        let node = Keypair::new();
        let job = Pubkey::new_unique();
        let salt = attempt_salt(&node, &job, 1);
        assert_eq!(
            salt,
            attempt_salt(&node, &job, 1),
            "a restart derives it again"
        );
        assert_ne!(salt, attempt_salt(&node, &job, 2));
        assert_ne!(salt, attempt_salt(&Keypair::new(), &job, 1));
        let token = output_token(&salt);
        assert_eq!(token.len(), 32);
        assert_eq!(
            unsealed_uri("http://s/jobs/x-1-{token}", &salt),
            format!("http://s/jobs/x-1-{token}")
        );
    }

    #[test]
    fn an_address_off_the_curve_cannot_be_sealed_to() {
        let pda = Pubkey::find_program_address(&[b"x"], &ake_market::ID).0;
        assert_eq!(seal_salt(&pda, &[1u8; 32]), None);
    }
}
