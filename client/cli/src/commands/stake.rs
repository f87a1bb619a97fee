use ake_sdk::instructions as ixs;
use ake_sdk::pda;
use ake_sdk::protocol::associated_token;
use clap::Subcommand;
use serde::Serialize;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signer::Signer;

use crate::amounts::{format, parse};
use crate::context::GlobalArgs;
use crate::output::print;

#[derive(Subcommand)]
pub enum StakeCommand {
    /// Stake AKE from your token account.
    Deposit { amount: String },
    /// Start unbonding AMOUNT; withdraw after the unbonding period.
    Unstake { amount: String },
    /// Withdraw unbonded stake.
    Withdraw,
    /// Close your empty stake account (all unstaked and withdrawn) and get its rent back.
    Close,
    /// Stake, tier and unbonding of OWNER (default: you).
    Show { owner: Option<Pubkey> },
}

#[derive(Serialize)]
struct StakeView {
    owner: String,
    staked: u64,
    locked: u64,
    unbonding: u64,
    unlock_at: i64,
    tier: u8,
    decimals: u8,
}

pub async fn run(g: &GlobalArgs, c: StakeCommand) -> anyhow::Result<()> {
    let ctx = g.connect()?;
    let p = &ctx.protocol;
    let config = p.config().await?;
    let decimals = ake_sdk::accounts::mint_decimals(ctx.chain(), &config.mint).await?;
    match c {
        StakeCommand::Deposit { amount } => {
            let owner = ctx.signer()?;
            let amount = parse(&amount, decimals)?;
            let token = associated_token(&owner.pubkey(), &config.mint);
            let have = p.token_balance(&token).await?;
            anyhow::ensure!(
                have >= amount,
                "your AKE account {token} holds {} AKE, less than the {} AKE to stake",
                format(have, decimals),
                format(amount, decimals)
            );
            let ix = ixs::deposit_stake(owner.pubkey(), config.mint, token, amount);
            let sig = ctx.send(&owner, &[], &[ix]).await?;
            print(
                ctx.json,
                &serde_json::json!({"signature": sig.to_string(), "amount": amount}),
                |_| format!("staked {} AKE ({sig})", format(amount, decimals)),
            );
        }
        StakeCommand::Unstake { amount } => {
            let owner = ctx.signer()?;
            let amount = parse(&amount, decimals)?;
            let sig = ctx
                .send(&owner, &[], &[ixs::request_unstake(owner.pubkey(), amount)])
                .await?;
            let s = p
                .stake(&owner.pubkey())
                .await?
                .expect("stake exists after unstaking");
            print(
                ctx.json,
                &serde_json::json!({"signature": sig.to_string(), "amount": amount, "unlock_at": s.unlock_at}),
                |_| {
                    format!(
                        "unbonding {} AKE; withdraw after unix time {} ({sig})",
                        format(amount, decimals),
                        s.unlock_at
                    )
                },
            );
        }
        StakeCommand::Withdraw => {
            let owner = ctx.signer()?;
            let token = associated_token(&owner.pubkey(), &config.mint);
            let create = ake_sdk::protocol::create_associated_token(
                &owner.pubkey(),
                &owner.pubkey(),
                &config.mint,
            );
            let amount = p.stake(&owner.pubkey()).await?.map_or(0, |s| s.unbonding);
            let sig = ctx
                .send(
                    &owner,
                    &[],
                    &[
                        create,
                        ixs::withdraw_stake(owner.pubkey(), config.mint, token),
                    ],
                )
                .await?;
            print(
                ctx.json,
                &serde_json::json!({"signature": sig.to_string(), "amount": amount}),
                |_| format!("withdrew {} AKE ({sig})", format(amount, decimals)),
            );
        }
        StakeCommand::Close => {
            let owner = ctx.signer()?;
            let sig = ctx
                .send(&owner, &[], &[ixs::close_stake(owner.pubkey())])
                .await?;
            print(
                ctx.json,
                &serde_json::json!({"signature": sig.to_string()}),
                |_| {
                    format!(
                        "stake account {} closed, rent returned ({sig})",
                        pda::stake(&owner.pubkey())
                    )
                },
            );
        }
        StakeCommand::Show { owner } => {
            let owner = match owner {
                Some(o) => o,
                None => ctx.signer()?.pubkey(),
            };
            let s = p.stake(&owner).await?;
            let view = StakeView {
                owner: owner.to_string(),
                staked: s.as_ref().map_or(0, |s| s.amount),
                locked: s.as_ref().map_or(0, |s| s.locked),
                unbonding: s.as_ref().map_or(0, |s| s.unbonding),
                unlock_at: s.as_ref().map_or(0, |s| s.unlock_at),
                tier: config.tier_of(s.as_ref().map_or(0, |s| s.amount)),
                decimals,
            };
            print(ctx.json, &view, |v| {
                format!(
                    "stake of {} ({})\n  staked     {} AKE (tier {})\n  locked     {} AKE (backing nodes and jobs)\n  unbonding  {} AKE, withdrawable from unix time {}",
                    v.owner,
                    pda::stake(&owner),
                    format(v.staked, decimals),
                    v.tier,
                    format(v.locked, decimals),
                    format(v.unbonding, decimals),
                    v.unlock_at
                )
            });
        }
    }
    Ok(())
}
