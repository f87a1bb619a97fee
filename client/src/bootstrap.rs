//! Applying a cluster's parameters: the AKE mint and its genesis supply,
//! the mint authority handed to ake-emissions for good, both programs'
//! configs, and the markets. Validated first; each step one transaction.

use anchor_spl::token::spl_token;
use solana_sdk::program_pack::Pack;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signer};

use ake_market::instructions::Capacity;
use ake_market::state::{Market, MAX_GROW_SLOTS};

use crate::chain::{Chain, ChainError};
use crate::cluster_params::Bootstrap;
use crate::instructions as ixs;
use crate::pda;
use crate::sender::{send_instructions, Fees, SendError};

/// Where a bootstrap put things: every address a client needs to build any
/// instruction that is not derived from its own keys.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Deployment {
    pub market_program: String,
    pub emissions_program: String,
    pub mint: String,
    pub treasury: String,
    /// Holds the genesis supply (the admin distributes it).
    pub genesis_account: String,
    /// ake-market's config (PDA `["config"]`) and stake vault.
    pub config: String,
    pub stake_vault: String,
    /// ake-emissions' config (PDA `["emissions"]` of ake-emissions).
    pub emissions_config: String,
    /// The AKE/USD Pyth price account `post_job`, `post_batch` and
    /// `node_ready` read (the push-oracle feed account of the config's feed id).
    pub price_account: String,
    /// The markets by index, with their escrow vaults in the same order.
    pub markets: Vec<String>,
    pub escrow_vaults: Vec<String>,
    /// `event_authority` of each program (PDA `["__event_authority"]`).
    pub market_event_authority: String,
    pub emissions_event_authority: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("AKE is already bootstrapped on this cluster (config {0} exists); change parameters with `ake admin propose` (timelocked)")]
    AlreadyBootstrapped(Pubkey),
    #[error("bootstrap step '{step}' failed: {source}")]
    Step {
        step: &'static str,
        source: SendError,
    },
}

fn step(step: &'static str) -> impl FnOnce(SendError) -> BootstrapError {
    move |source| BootstrapError::Step { step, source }
}

/// Instructions creating a token account at `account` for `mint`, owned by `owner`.
pub fn create_token_account(
    payer: &Pubkey,
    account: &Pubkey,
    mint: &Pubkey,
    owner: &Pubkey,
    rent: u64,
) -> Vec<solana_sdk::instruction::Instruction> {
    vec![
        anchor_lang::solana_program::system_instruction::create_account(
            payer,
            account,
            rent,
            spl_token::state::Account::LEN as u64,
            &spl_token::ID,
        ),
        spl_token::instruction::initialize_account3(&spl_token::ID, account, mint, owner)
            .expect("valid token instruction"),
    ]
}

pub async fn bootstrap(
    chain: &dyn Chain,
    admin: &Keypair,
    b: &Bootstrap,
    fees: Fees,
    progress: &dyn Fn(&str),
) -> Result<Deployment, BootstrapError> {
    let config = pda::config();
    if chain
        .account(&config)
        .await
        .map_err(|e| step("read config")(e.into()))?
        .is_some()
    {
        return Err(BootstrapError::AlreadyBootstrapped(config));
    }
    let admin_key = admin.pubkey();
    let mint = Keypair::new();
    let genesis = Keypair::new();
    let mint_rent = chain
        .minimum_balance(spl_token::state::Mint::LEN)
        .await
        .map_err(|e| step("rent")(e.into()))?;
    let account_rent = chain
        .minimum_balance(spl_token::state::Account::LEN)
        .await
        .map_err(|e| step("rent")(e.into()))?;

    progress("creating the AKE mint");
    let create_mint = [
        anchor_lang::solana_program::system_instruction::create_account(
            &admin_key,
            &mint.pubkey(),
            mint_rent,
            spl_token::state::Mint::LEN as u64,
            &spl_token::ID,
        ),
        spl_token::instruction::initialize_mint2(
            &spl_token::ID,
            &mint.pubkey(),
            &admin_key,
            None,
            b.decimals,
        )
        .expect("valid token instruction"),
    ];
    send_instructions(chain, admin, &[&mint], &create_mint, fees)
        .await
        .map_err(step("create mint"))?;

    progress("creating the genesis account");
    let accounts = create_token_account(
        &admin_key,
        &genesis.pubkey(),
        &mint.pubkey(),
        &admin_key,
        account_rent,
    );
    send_instructions(chain, admin, &[&genesis], &accounts, fees)
        .await
        .map_err(step("create token accounts"))?;

    progress("minting the genesis supply");
    let genesis_ixs = [spl_token::instruction::mint_to(
        &spl_token::ID,
        &mint.pubkey(),
        &genesis.pubkey(),
        &admin_key,
        &[],
        b.genesis_supply,
    )
    .expect("valid token instruction")];
    send_instructions(chain, admin, &[], &genesis_ixs, fees)
        .await
        .map_err(step("genesis supply"))?;

    // The mint's authority initializes ake-emissions, which takes the mint
    // authority in the same instruction; then the authority ake-emissions
    // names initializes ake-market. Nobody can get in between.
    progress("initializing ake-emissions (it takes the mint authority)");
    let now = chain
        .clock()
        .await
        .map_err(|e| step("read clock")(e.into()))?
        .unix_timestamp;
    let schedule = b.schedule_without_genesis.starting_at(now);
    let init = ixs::emissions::initialize(
        admin_key,
        mint.pubkey(),
        schedule,
        b.rewards,
        b.breaker,
        b.timelock_secs,
    );
    send_instructions(chain, admin, &[], &[init], fees)
        .await
        .map_err(step("initialize ake-emissions"))?;

    progress("initializing ake-market");
    let init = ixs::initialize(
        admin_key,
        mint.pubkey(),
        pda::treasury(),
        b.market_params,
        admin_key,
    );
    send_instructions(chain, admin, &[], &[init], fees)
        .await
        .map_err(step("initialize ake-market"))?;

    if let Some(guardian) = b.guardian {
        progress("naming the guardian on both programs");
        let ixs = [
            ixs::set_guardian(admin_key, guardian),
            ixs::emissions::set_guardian(admin_key, guardian),
        ];
        send_instructions(chain, admin, &[], &ixs, fees)
            .await
            .map_err(step("name the guardian"))?;
    }

    let mut markets = Vec::new();
    for (index, plan) in b.markets.iter().enumerate() {
        let index = index as u16;
        progress(&format!("creating market {index} ({})", plan.args.name));
        let ix = ixs::create_market(admin_key, mint.pubkey(), index, plan.args.clone());
        send_instructions(chain, admin, &[], &[ix], fees)
            .await
            .map_err(step("create market"))?;
        grow_market(chain, admin, index, plan.capacity, fees)
            .await
            .map_err(step("grow market"))?;
        crate::lookup_tables::create_for_market(chain, admin, index, fees)
            .await
            .map_err(step("create the market's lookup table"))?;
        markets.push(pda::market(index).to_string());
    }
    Ok(Deployment {
        market_program: pda::MARKET_PROGRAM_ID.to_string(),
        emissions_program: pda::EMISSIONS_PROGRAM_ID.to_string(),
        mint: mint.pubkey().to_string(),
        treasury: pda::treasury().to_string(),
        genesis_account: genesis.pubkey().to_string(),
        config: pda::config().to_string(),
        stake_vault: pda::stake_vault().to_string(),
        emissions_config: pda::emissions_config().to_string(),
        price_account: crate::oracle::price_feed_address(&b.market_params.oracle.feed_id)
            .to_string(),
        escrow_vaults: (0..markets.len() as u16)
            .map(|i| pda::escrow_vault(&pda::market(i)).to_string())
            .collect(),
        markets,
        market_event_authority: pda::event_authority(&pda::MARKET_PROGRAM_ID).to_string(),
        emissions_event_authority: pda::event_authority(&pda::EMISSIONS_PROGRAM_ID).to_string(),
    })
}

/// Grows market `index` to `capacity`, one `grow_market` (at most
/// `MAX_GROW_SLOTS` slots, 10 KiB) per transaction, until the program
/// reports the capacities applied. Returns the transactions sent.
pub async fn grow_market(
    chain: &dyn Chain,
    authority: &Keypair,
    index: u16,
    capacity: Capacity,
    fees: Fees,
) -> Result<u32, SendError> {
    let market = pda::market(index);
    let mut sent = 0;
    // Each call adds MAX_GROW_SLOTS slots; one more reads the result.
    let calls = Market::slots_needed(capacity.jobs, capacity.nodes, capacity.in_flight)
        / MAX_GROW_SLOTS
        + 2;
    for _ in 0..calls {
        let data = chain
            .account(&market)
            .await?
            .map(|a| a.data)
            .unwrap_or_default();
        let view = crate::accounts::decode_market(&data)
            .map_err(|e| SendError::Chain(ChainError::Refused(format!("market {index}: {e}"))))?;
        let have = Capacity {
            jobs: view.job_capacity,
            nodes: view.node_capacity,
            in_flight: view.in_flight_capacity,
        };
        if have == capacity {
            return Ok(sent);
        }
        let ix = ixs::grow_market(authority.pubkey(), index, capacity);
        send_instructions(chain, authority, &[], &[ix], fees).await?;
        sent += 1;
    }
    Err(SendError::Chain(ChainError::Refused(format!(
        "market {index} did not reach {capacity:?} after {sent} grow_market transactions"
    ))))
}
