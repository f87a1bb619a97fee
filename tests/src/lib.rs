//! The one test harness: the AKE programs registered natively in a real
//! Solana runtime bank (solana-program-test), the real SPL Token program
//! beside them, an AKE mint and a Pyth PriceUpdateV2 account for AKE/USD.
#![allow(deprecated)] // program-test marks its native-program API "agave-unstable-api"

pub mod multisig;

use ake_emissions::state::{BreakerParams, EmissionsConfig, Rewards, Schedule};
use ake_market::due::DuePick;
use ake_market::errors::MarketError;
use ake_market::instructions::{
    CollateralArgs, MarketArgs, PostBatchArgs, PostJobArgs, ReleaseArgs,
};
use ake_market::price_update::VerificationLevel;
use ake_market::state::{
    Batch, DuePage, HardwareProfile, InlineSpec, Job, JobSpec, Market, MarketView, OracleParams,
    Params, ReleaseParams, SlaParams,
};
use ake_sdk::instructions as ixs;
use ake_sdk::pda;
use anchor_lang::solana_program::system_instruction;
use anchor_lang::AccountDeserialize;
use anchor_spl::token::spl_token;
use solana_program_test::ProgramTestContext;
use solana_sdk::account::{Account, AccountSharedData};
use solana_sdk::clock::Clock;
use solana_sdk::instruction::{Instruction, InstructionError};
use solana_sdk::message::{v0, AddressLookupTableAccount, VersionedMessage};
use solana_sdk::program_pack::Pack;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signer};
use solana_sdk::transaction::{Transaction, TransactionError, VersionedTransaction};

pub const DECIMALS: u8 = 6;
pub const AKE: u64 = 1_000_000;
pub const FEED_ID: [u8; 32] = [7; 32];
/// AKE/USD 0.50 with 0.1% confidence (expo -8).
pub const PRICE: i64 = 50_000_000;
pub const CONF: u64 = 50_000;
pub const EXPO: i32 = -8;
/// Market 0: 200 micro-USD per GPU-second.
pub const RATE: u64 = 200;
pub const MIN_STAKE_PER_GPU: u64 = 200 * AKE;

/// 1,000,000,000 AKE minted before the protocol starts.
pub const GENESIS_SUPPLY: u64 = 1_000_000_000 * AKE;
pub const EPOCH_SECS: u32 = 86_400;
pub const FIRST_EMISSION: u64 = 1_000 * AKE;
pub const CRANK_TIP: u64 = 10 * AKE;

pub fn default_schedule(genesis_ts: i64) -> Schedule {
    Schedule {
        genesis_ts,
        epoch_secs: EPOCH_SECS,
        segment_first_epoch: 0,
        segment_start_ts: genesis_ts,
        previous_epoch_secs: EPOCH_SECS,
        first_emission: FIRST_EMISSION,
        decay_bps: 48,
        floor_emission: 0,
        emission_cap: 200_000 * AKE,
    }
}

/// Mainnet's: at most 1x and at least 0.8x a node's burn, at most 100
/// epochs' emission minted back per epoch.
pub fn default_rewards() -> Rewards {
    Rewards {
        crank_tip: CRANK_TIP,
        max_reward_per_burn_bps: 10_000,
        reward_floor_bps: 8_000,
        max_remint_per_epoch: 100 * FIRST_EMISSION,
    }
}

/// 3 x a week's scheduled emission over any 7 days.
pub fn default_breaker() -> BreakerParams {
    BreakerParams {
        window_secs: 7 * 86_400,
        window_limit: 3 * 7 * FIRST_EMISSION,
    }
}

pub fn default_params() -> Params {
    Params {
        oracle: OracleParams {
            receiver_program: ake_market::price_update::RECEIVER_PROGRAM_ID,
            feed_id: FEED_ID,
            max_age_secs: 60,
            max_conf_bps: 200,
            haircut_bps: 20_000,
        },
        burn_bps: 9_500,
        treasury_bps: 500,
        challenge_window_secs: 3_600,
        completion_grace_secs: 600,
        unbonding_secs: 1_209_600,
        tier_thresholds: [1_000 * AKE, 10_000 * AKE, 100_000 * AKE],
        max_job_attempts: 3,
        sla: SlaParams {
            expiry_slash_bps: 5_000,
            expiry_bounty_bps: 2_000,
            dispute_slash_bps: 10_000,
            dispute_bond: 100 * AKE,
            dispute_timeout_secs: 259_200,
            rearm_cooldown_secs: 0,
        },
        release: ReleaseParams {
            budget_per_gpu: RELEASE_BUDGET,
            budget_window_secs: RELEASE_BUDGET_WINDOW_SECS,
            over_budget_cooldown_secs: OVER_BUDGET_COOLDOWN_SECS,
            proof_floor_micro_usd: PROOF_FLOOR_MICRO_USD,
            posting_fee_step_bps: 10_000,
        },
        timelock_secs: TIMELOCK_SECS,
        audit: ake_market::state::AuditParams {
            enabled: true,
            k_bps: 30_000,
            p_min_bps: 100,
            fee_bps: 300,
            reveal_secs: AUDIT_REVEAL_SECS,
            auditor_min_reputation_bps: 0,
        },
    }
}

/// What a node has to reveal its digest once its audit round is committed.
pub const AUDIT_REVEAL_SECS: u32 = 3_600;

/// The delay between proposing a parameter change and applying it, on
/// both programs.
pub const TIMELOCK_SECS: u32 = 60;

/// One cent per post.
pub const POSTING_FEE_MICRO_USD: u64 = 10_000;
/// That cent in AKE at the haircut price 0.499: ceil(10000e8 / 49.9e6).
pub const POSTING_FEE: u64 = 20_041;
/// Execution collateral: at least half the escrow.
pub const COLLATERAL_ESCROW_BPS: u16 = 5_000;
/// Result collateral: twice the charge.
pub const RESULT_CHARGE_BPS: u16 = 20_000;
pub const RELEASE_BUDGET: u16 = 5;
pub const MAX_QUEUE_SECS: u32 = 86_400;
pub const RELEASE_BUDGET_WINDOW_SECS: u32 = 86_400;
pub const OVER_BUDGET_COOLDOWN_SECS: u32 = 600;
/// A node's hand-backs count toward refunds once it has this much verified
/// work: one settled test job (`RATE` x a minute) is more.
pub const PROOF_FLOOR_MICRO_USD: u64 = 1_000;

/// What `Chain::start` grows market 0 to (one `grow_market`).
pub const TEST_CAPACITY: ake_market::instructions::Capacity = ake_market::instructions::Capacity {
    jobs: 48,
    nodes: 48,
    in_flight: 96,
};

pub fn default_market() -> MarketArgs {
    MarketArgs {
        name: "rtx-4090".into(),
        rate_micro_usd: RATE,
        min_stake_per_gpu: MIN_STAKE_PER_GPU,
        max_gpus_per_job: 8,
        max_duration_secs: 3_600,
        posting_fee_micro_usd: POSTING_FEE_MICRO_USD,
        collateral: CollateralArgs {
            escrow_bps: COLLATERAL_ESCROW_BPS,
            result_charge_bps: RESULT_CHARGE_BPS,
        },
        release: ReleaseArgs {
            window_bps: 1_000,
            window_min_secs: 60,
            window_max_secs: 900,
            max_releases: 3,
        },
        max_queue_secs: MAX_QUEUE_SECS,
        gpu_required: true,
        min_duration_secs: MIN_DURATION_SECS,
        driver_capabilities: ake_market::constants::DEFAULT_DRIVER_CAPABILITIES,
    }
}

/// The test market's shortest job.
pub const MIN_DURATION_SECS: u16 = 10;

/// The result every test node reports: `wall_secs` of one GPU.
pub fn result_of(wall_secs: u64) -> ake_market::state::JobResult {
    ake_market::state::JobResult {
        commitment: [5; 32],
        output_uri: "s3://out/frame".into(),
        usage: ake_market::state::UsageReceipt {
            wall_secs,
            gpu_secs: wall_secs,
            energy_mj: 1_000,
        },
        sealed_digest: [0; 32],
        sealed_salt: [0; ake_market::state::SEALED_SALT_LEN],
    }
}

pub fn render_spec() -> JobSpec {
    JobSpec::Inline(InlineSpec {
        image: "ake/render@sha256:1111111111111111111111111111111111111111111111111111111111111111"
            .into(),
        command: vec!["render".into(), "--frame".into(), "1".into()],
        env: vec![],
        inputs: vec![],
        max_output_bytes: 16 << 20,
    })
}

pub fn profile() -> HardwareProfile {
    HardwareProfile {
        gpu_model: "NVIDIA RTX 4090".into(),
        vram_mib: 24_564,
        benchmark_hash: [9; 32],
    }
}

/// The exact error code of an ake-market error.
pub fn market_error(e: MarketError) -> u32 {
    anchor_lang::error::ERROR_CODE_OFFSET + e as u32
}

/// The exact error code of an Anchor framework error.
pub fn anchor_error(e: anchor_lang::error::ErrorCode) -> u32 {
    e.into()
}

/// Asserts that a transaction failed with custom program error `code`.
#[track_caller]
pub fn assert_code(result: Result<(), TransactionError>, code: u32) {
    match result {
        Err(TransactionError::InstructionError(_, InstructionError::Custom(c))) if c == code => {}
        other => panic!("expected custom error {code}, got {other:?}"),
    }
}

#[track_caller]
pub fn assert_market_error(result: Result<(), TransactionError>, e: MarketError) {
    let name = format!("{e:?}");
    match result {
        Err(TransactionError::InstructionError(_, InstructionError::Custom(c)))
            if c == market_error(e) => {}
        other => panic!(
            "expected {name} ({}), got {other:?}",
            anchor_lang::error::ERROR_CODE_OFFSET
        ),
    }
}

/// A funded wallet with an AKE token account.
pub struct User {
    pub key: Keypair,
    pub token: Pubkey,
}

impl User {
    pub fn pubkey(&self) -> Pubkey {
        self.key.pubkey()
    }
}

/// A registered node: its owner (cold), signer (hot) and account.
pub struct TestNode {
    pub owner: User,
    pub signer: Keypair,
    pub account: Pubkey,
}

pub struct Chain {
    pub ctx: ProgramTestContext,
    pub admin: Keypair,
    pub mint_authority: Keypair,
    pub mint: Pubkey,
    pub treasury: Pubkey,
    pub price_update: Pubkey,
    pub params: Params,
    /// Supply minted before the protocol started.
    pub genesis_supply: u64,
    /// Holds the genesis supply; `user` hands tokens out of it.
    pub faucet: Pubkey,
    /// The context payer's AKE account (crank tips and bounties land here).
    pub payer_token: Pubkey,
    pub genesis_ts: i64,
    /// The emission schedule ake-emissions is (or will be) initialized with.
    pub emissions: EmissionsSetup,
    /// Transactions `send` processed (landed or failed), and their signatures.
    pub transactions: u64,
    pub signatures: u64,
    /// Sign with the last blockhash instead of waiting for a new one (for
    /// benchmarks, whose transactions all differ anyway).
    pub reuse_blockhash: bool,
}

/// What ake-emissions is initialized with (the schedule's genesis is set at start).
#[derive(Debug, Clone, Copy)]
pub struct EmissionsSetup {
    pub schedule: Schedule,
    pub rewards: Rewards,
    pub breaker: BreakerParams,
}

/// 1,000 AKE a day, for tests that want short numbers.
pub fn default_emissions() -> EmissionsSetup {
    EmissionsSetup {
        schedule: default_schedule(0),
        rewards: default_rewards(),
        breaker: default_breaker(),
    }
}

/// The mainnet proposal (migrations/mainnet.toml): daily epochs of 137,362 AKE.
pub fn mainnet_emissions() -> EmissionsSetup {
    EmissionsSetup {
        schedule: Schedule {
            genesis_ts: 0,
            epoch_secs: 86_400,
            segment_first_epoch: 0,
            segment_start_ts: 0,
            previous_epoch_secs: 86_400,
            first_emission: 137_362 * AKE,
            decay_bps: 7,
            floor_emission: 0,
            emission_cap: 200_000_000 * AKE,
        },
        rewards: default_rewards(),
        breaker: BreakerParams {
            window_secs: 604_800,
            window_limit: 2_884_614 * AKE,
        },
    }
}

impl Chain {
    /// A bank with AKE bootstrapped: ake-emissions initialized by the mint's
    /// authority (the admin), then ake-market, and market 0 created.
    pub async fn start() -> Self {
        Chain::start_with(default_emissions()).await
    }

    /// As `start`, with the given emission schedule (its genesis is set to now).
    pub async fn start_with(setup: EmissionsSetup) -> Self {
        let mut chain = Chain::bare().await;
        let admin = chain.admin.insecure_clone();
        chain.genesis_ts = chain.now().await;
        chain.emissions = setup;
        chain
            .send_ok(&[chain.initialize_emissions_ix(&admin.pubkey())], &[&admin])
            .await;
        chain
            .send_ok(&[chain.initialize_market_ix(&admin.pubkey())], &[&admin])
            .await;
        let market = ixs::create_market(admin.pubkey(), chain.mint, 0, default_market());
        chain.send_ok(&[market], &[&admin]).await;
        chain.grow_market(TEST_CAPACITY).await;
        chain
    }

    /// A bank with the AKE mint (the admin its mint authority), the genesis
    /// supply, the treasury and the price account: nothing initialized yet.
    pub async fn bare() -> Self {
        let mut pt = ake_localnet::embedded::program_test();
        pt.add_program(
            "ake_test_multisig",
            multisig::ID,
            solana_program_test::processor!(multisig::process),
        );
        let price_update = Pubkey::new_unique();
        pt.add_account(
            price_update,
            price_account(PRICE, CONF, 0, VerificationLevel::Full, FEED_ID),
        );
        // As on a cluster: ake-emissions has a ProgramData account naming its
        // upgrade authority (the admin), who alone may initialize it.
        let admin = Keypair::new();
        pt.add_account(
            anchor_lang::solana_program::bpf_loader_upgradeable::get_program_data_address(
                &ake_emissions::ID,
            ),
            program_data_account(&admin.pubkey()),
        );
        let ctx = pt.start_with_context().await;
        let mut chain = Chain {
            ctx,
            mint_authority: admin.insecure_clone(),
            admin,
            mint: Pubkey::default(),
            treasury: Pubkey::default(),
            price_update,
            params: default_params(),
            genesis_supply: 0,
            faucet: Pubkey::default(),
            payer_token: Pubkey::default(),
            genesis_ts: 0,
            emissions: default_emissions(),
            transactions: 0,
            signatures: 0,
            reuse_blockhash: false,
        };
        chain.airdrop(&chain.admin.pubkey(), 100_000_000_000).await;
        chain.mint = chain.create_mint().await;
        chain.treasury = pda::treasury();
        chain.refresh_price().await;
        let admin = chain.admin.insecure_clone();
        chain.faucet = chain.token_account(&admin.pubkey()).await;
        let payer = chain.payer().pubkey();
        chain.payer_token = chain.token_account(&payer).await;
        let genesis = spl_token::instruction::mint_to(
            &spl_token::ID,
            &chain.mint,
            &chain.faucet,
            &admin.pubkey(),
            &[],
            GENESIS_SUPPLY,
        )
        .unwrap();
        chain.send_ok(&[genesis], &[&admin]).await;
        chain.genesis_supply = GENESIS_SUPPLY;
        chain
    }

    /// ake-emissions' initialize, signed by `authority` (the mint's
    /// authority, for it to succeed).
    pub fn initialize_emissions_ix(&self, authority: &Pubkey) -> Instruction {
        let schedule = self.emissions.schedule.starting_at(self.genesis_ts);
        ixs::emissions::initialize(
            *authority,
            self.mint,
            schedule,
            self.emissions.rewards,
            self.emissions.breaker,
            TIMELOCK_SECS,
        )
    }

    /// Proposes `change` as the admin, waits out the timelock, applies it.
    pub async fn govern(&mut self, change: ake_market::state::Change) {
        let admin = self.admin.insecure_clone();
        let target = ixs::change_target(&change);
        self.send_ok(
            &[ixs::propose_change(admin.pubkey(), admin.pubkey(), change)],
            &[&admin],
        )
        .await;
        let delay = self
            .account::<ake_market::state::Config>(&pda::config())
            .await
            .unwrap()
            .params
            .timelock_secs;
        self.advance(i64::from(delay)).await;
        self.send_ok(&[ixs::apply_change(target, admin.pubkey())], &[])
            .await;
    }

    /// Sets the protocol parameters through the timelock (arbiter unchanged).
    pub async fn set_params(&mut self, params: Params) {
        let arbiter = self.admin.pubkey();
        self.govern(ake_market::state::Change::Config { params, arbiter })
            .await;
        self.params = params;
    }

    /// Proposes an emissions change as the admin, waits, applies it.
    pub async fn govern_emissions(&mut self, change: ake_emissions::state::EmissionsChange) {
        let admin = self.admin.insecure_clone();
        let propose = ixs::emissions::propose_change(admin.pubkey(), admin.pubkey(), change);
        self.send_ok(&[propose], &[&admin]).await;
        let delay = self.emissions_config().await.timelock_secs;
        self.advance(i64::from(delay)).await;
        self.send_ok(&[ixs::emissions::apply_change(admin.pubkey())], &[])
            .await;
    }

    /// ake-market's initialize, signed by `authority` (the authority
    /// ake-emissions names, for it to succeed).
    pub fn initialize_market_ix(&self, authority: &Pubkey) -> Instruction {
        ixs::initialize(
            *authority,
            self.mint,
            self.treasury,
            self.params,
            self.admin.pubkey(),
        )
    }

    pub fn payer(&self) -> Keypair {
        self.ctx.payer.insecure_clone()
    }

    /// Sends `ixs` with a fresh blockhash, the context payer paying fees.
    pub async fn send(
        &mut self,
        ixs: &[Instruction],
        signers: &[&Keypair],
    ) -> Result<(), TransactionError> {
        let tx = self.transaction(ixs, signers).await;
        self.transactions += 1;
        self.signatures += tx.signatures.len() as u64;
        match self.ctx.banks_client.process_transaction(tx).await {
            Ok(()) => Ok(()),
            Err(e) => Err(e.unwrap()),
        }
    }

    /// Creates market 0's lookup table as bootstrap does, names it on the
    /// market, and waits the slot after which it serves.
    pub async fn market_lookup_table(&mut self) -> AddressLookupTableAccount {
        self.advance(1).await;
        let admin = self.admin.insecure_clone();
        let slot = self.clock().await.slot - 1;
        let (key, ixs) = ake_sdk::lookup_tables::create_instructions(
            admin.pubkey(),
            0,
            &self.mint,
            &self.treasury,
            slot,
        );
        self.send_ok(&ixs, &[&admin]).await;
        self.advance(1).await;
        AddressLookupTableAccount {
            key,
            addresses: ake_sdk::lookup_tables::market_addresses(0, &self.mint, &self.treasury),
        }
    }

    /// `send` as a v0 transaction compiled against `tables`.
    pub async fn send_v0(
        &mut self,
        ixs: &[Instruction],
        signers: &[&Keypair],
        tables: &[AddressLookupTableAccount],
    ) -> Result<(), TransactionError> {
        let blockhash = self.blockhash().await;
        let payer = self.payer();
        let message = v0::Message::try_compile(&payer.pubkey(), ixs, tables, blockhash).unwrap();
        let mut all: Vec<&Keypair> = vec![&payer];
        all.extend_from_slice(signers);
        let tx = VersionedTransaction::try_new(VersionedMessage::V0(message), &all).unwrap();
        self.transactions += 1;
        self.signatures += tx.signatures.len() as u64;
        match self.ctx.banks_client.process_transaction(tx).await {
            Ok(()) => Ok(()),
            Err(e) => Err(e.unwrap()),
        }
    }

    async fn blockhash(&mut self) -> solana_sdk::hash::Hash {
        match self.reuse_blockhash {
            true => self.ctx.banks_client.get_latest_blockhash().await.unwrap(),
            false => self.ctx.get_new_latest_blockhash().await.unwrap(),
        }
    }

    pub async fn send_ok(&mut self, ixs: &[Instruction], signers: &[&Keypair]) {
        if let Err(e) = self.send(ixs, signers).await {
            panic!("transaction failed: {e:?}");
        }
    }

    async fn transaction(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> Transaction {
        let blockhash = self.blockhash().await;
        let payer = self.payer();
        let mut all: Vec<&Keypair> = vec![&payer];
        all.extend_from_slice(signers);
        Transaction::new_signed_with_payer(ixs, Some(&payer.pubkey()), &all, blockhash)
    }

    /// Serialized size of the transaction these instructions make.
    pub async fn transaction_size(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> usize {
        let tx = self.transaction(ixs, signers).await;
        bincode_len(&tx)
    }

    /// Simulates, returning the events the programs emitted (`emit_cpi!`)
    /// as (discriminator, borsh data), then sends for real.
    pub async fn send_with_events(
        &mut self,
        ixs: &[Instruction],
        signers: &[&Keypair],
    ) -> Result<Vec<Vec<u8>>, TransactionError> {
        self.send_with_events_of(ixs, signers, ake_market::ID).await
    }

    /// Account keys and data bytes a transaction loads, from a simulation.
    pub async fn loaded_accounts(
        &mut self,
        ixs: &[Instruction],
        signers: &[&Keypair],
    ) -> (usize, u32) {
        let tx = self.transaction(ixs, signers).await;
        let keys = tx.message.account_keys.len();
        let sim = self
            .ctx
            .banks_client
            .simulate_transaction(tx)
            .await
            .unwrap();
        let details = sim.simulation_details.expect("simulation details");
        (keys, details.loaded_accounts_data_size)
    }

    /// As `send_with_events`, for the events of `program`.
    pub async fn send_with_events_of(
        &mut self,
        ixs: &[Instruction],
        signers: &[&Keypair],
        program_id: Pubkey,
    ) -> Result<Vec<Vec<u8>>, TransactionError> {
        let tx = self.transaction(ixs, signers).await;
        let sim = self
            .ctx
            .banks_client
            .simulate_transaction(tx.clone())
            .await
            .unwrap();
        if let Some(Err(e)) = sim.result {
            return Err(e);
        }
        let mut events = Vec::new();
        let keys = &tx.message.account_keys;
        for inner in sim
            .simulation_details
            .and_then(|d| d.inner_instructions)
            .unwrap_or_default()
        {
            for ix in inner {
                let program = keys[ix.instruction.program_id_index as usize];
                let data = &ix.instruction.data;
                if program == program_id && data.starts_with(anchor_lang::event::EVENT_IX_TAG_LE) {
                    events.push(data[8..].to_vec());
                }
            }
        }
        self.ctx
            .banks_client
            .process_transaction(tx)
            .await
            .map_err(|e| e.unwrap())?;
        Ok(events)
    }

    pub async fn airdrop(&mut self, to: &Pubkey, lamports: u64) {
        let payer = self.payer();
        let ix = system_instruction::transfer(&payer.pubkey(), to, lamports);
        self.send_ok(&[ix], &[]).await;
    }

    async fn create_mint(&mut self) -> Pubkey {
        self.create_mint_with_freeze(None).await
    }

    /// A mint whose mint authority is the admin, with `freeze` as its freeze authority.
    pub async fn create_mint_with_freeze(&mut self, freeze: Option<&Pubkey>) -> Pubkey {
        let mint = Keypair::new();
        let payer = self.payer();
        let rent = self.ctx.banks_client.get_rent().await.unwrap();
        let ixs = [
            system_instruction::create_account(
                &payer.pubkey(),
                &mint.pubkey(),
                rent.minimum_balance(spl_token::state::Mint::LEN),
                spl_token::state::Mint::LEN as u64,
                &spl_token::ID,
            ),
            spl_token::instruction::initialize_mint2(
                &spl_token::ID,
                &mint.pubkey(),
                &self.mint_authority.pubkey(),
                freeze,
                DECIMALS,
            )
            .unwrap(),
        ];
        self.send_ok(&ixs, &[&mint]).await;
        mint.pubkey()
    }

    /// A new AKE token account owned by `owner`.
    pub async fn token_account(&mut self, owner: &Pubkey) -> Pubkey {
        let account = Keypair::new();
        let payer = self.payer();
        let rent = self.ctx.banks_client.get_rent().await.unwrap();
        let ixs = ake_sdk::bootstrap::create_token_account(
            &payer.pubkey(),
            &account.pubkey(),
            &self.mint,
            owner,
            rent.minimum_balance(spl_token::state::Account::LEN),
        );
        self.send_ok(&ixs, &[&account]).await;
        account.pubkey()
    }

    /// Hands out genesis tokens from the faucet.
    pub async fn fund(&mut self, to: &Pubkey, amount: u64) {
        let admin = self.admin.insecure_clone();
        let ix = spl_token::instruction::transfer_checked(
            &spl_token::ID,
            &self.faucet,
            &self.mint,
            to,
            &admin.pubkey(),
            &[],
            amount,
            DECIMALS,
        )
        .unwrap();
        self.send_ok(&[ix], &[&admin]).await;
    }

    /// A wallet with 10 SOL and `tokens` AKE base units.
    pub async fn user(&mut self, tokens: u64) -> User {
        let key = Keypair::new();
        self.airdrop(&key.pubkey(), 10_000_000_000).await;
        let token = self.token_account(&key.pubkey()).await;
        if tokens > 0 {
            self.fund(&token, tokens).await;
        }
        User { key, token }
    }

    pub async fn balance(&mut self, token_account: &Pubkey) -> u64 {
        let acc = self
            .ctx
            .banks_client
            .get_account(*token_account)
            .await
            .unwrap()
            .expect("token account");
        spl_token::state::Account::unpack(&acc.data).unwrap().amount
    }

    pub async fn supply(&mut self) -> u64 {
        let acc = self
            .ctx
            .banks_client
            .get_account(self.mint)
            .await
            .unwrap()
            .unwrap();
        spl_token::state::Mint::unpack(&acc.data).unwrap().supply
    }

    pub async fn lamports(&mut self, key: &Pubkey) -> u64 {
        self.ctx.banks_client.get_balance(*key).await.unwrap()
    }

    pub async fn raw_account(&mut self, key: &Pubkey) -> Option<Account> {
        self.ctx.banks_client.get_account(*key).await.unwrap()
    }

    /// Decodes an ake-market account; None when it was never created or was
    /// closed (an address that only holds lamports someone sent is not created).
    pub async fn account<T: AccountDeserialize>(&mut self, key: &Pubkey) -> Option<T> {
        self.account_of(key, &ake_market::ID).await
    }

    /// Decodes an account owned by `program`; None otherwise.
    pub async fn account_of<T: AccountDeserialize>(
        &mut self,
        key: &Pubkey,
        program: &Pubkey,
    ) -> Option<T> {
        let acc = self.raw_account(key).await?;
        if acc.owner != *program {
            return None;
        }
        Some(ake_sdk::accounts::decode(&acc.data).unwrap())
    }

    pub async fn market(&mut self, index: u16) -> MarketView {
        let acc = self.raw_account(&pda::market(index)).await.expect("market");
        ake_sdk::accounts::decode_market(&acc.data).unwrap()
    }

    pub async fn clock(&mut self) -> Clock {
        self.ctx.banks_client.get_sysvar::<Clock>().await.unwrap()
    }

    pub async fn now(&mut self) -> i64 {
        self.clock().await.unix_timestamp
    }

    /// Moves the chain's clock forward (slot and unix time) and republishes
    /// the oracle price at the new time.
    pub async fn advance(&mut self, secs: i64) {
        let clock = self.clock().await;
        self.ctx
            .warp_to_slot(clock.slot + (secs.max(1) as u64) * 5 / 2 + 1)
            .unwrap();
        let mut moved = self.clock().await;
        moved.unix_timestamp = clock.unix_timestamp + secs;
        self.ctx.set_sysvar(&moved);
        self.refresh_price().await;
    }

    /// Advances to the first second of the next release-budget window.
    /// Windows are aligned to the clock (`now / window`) and the bank's
    /// clock starts at the wall clock's time, so a test that spends a
    /// budget and then advances would otherwise cross into a new window
    /// (a fresh budget) whenever it runs shortly before midnight UTC.
    pub async fn advance_to_budget_window(&mut self) {
        let window = i64::from(RELEASE_BUDGET_WINDOW_SECS);
        let now = self.now().await;
        self.advance(window - now.rem_euclid(window)).await;
    }

    /// Republishes AKE/USD at the default price, published now.
    pub async fn refresh_price(&mut self) {
        let now = self.now().await;
        self.set_price(PRICE, CONF, now, VerificationLevel::Full, FEED_ID)
            .await;
    }

    /// Overwrites an account directly (test-only: oracle faults, griefing).
    pub fn set_raw_account(&mut self, key: &Pubkey, account: Account) {
        self.ctx.set_account(key, &AccountSharedData::from(account));
    }

    pub async fn set_price(
        &mut self,
        price: i64,
        conf: u64,
        publish_time: i64,
        level: VerificationLevel,
        feed: [u8; 32],
    ) {
        let key = self.price_update;
        self.set_raw_account(&key, price_account(price, conf, publish_time, level, feed));
    }

    // ----- protocol flows through the SDK -----

    pub async fn deposit_stake(
        &mut self,
        user: &User,
        amount: u64,
    ) -> Result<(), TransactionError> {
        let ix = ixs::deposit_stake(user.pubkey(), self.mint, user.token, amount);
        self.send(&[ix], &[&user.key]).await
    }

    /// Grows market 0 to `capacity` as the authority, one `grow_market` per
    /// transaction, checking each adds at most 10 KiB and exactly its rent;
    /// returns the transactions it took.
    pub async fn grow_market(&mut self, capacity: ake_market::instructions::Capacity) -> u32 {
        let admin = self.admin.insecure_clone();
        let market = pda::market(0);
        let mut len = self.raw_account(&market).await.unwrap().data.len();
        let before = self.market(0).await.job_capacity;
        let mut steps = 0;
        loop {
            let ix = ixs::grow_market(admin.pubkey(), 0, capacity);
            self.send_ok(&[ix], &[&admin]).await;
            steps += 1;
            let account = self.raw_account(&market).await.unwrap();
            assert!(
                account.data.len() - len <= 10_240,
                "one step adds at most 10 KiB"
            );
            len = account.data.len();
            assert_eq!(
                account.lamports,
                solana_sdk::rent::Rent::default().minimum_balance(len),
                "the authority pays the rent of what it adds, no more"
            );
            let m = self.market(0).await;
            if m.job_capacity == capacity.jobs {
                assert_eq!(len, Market::space_for(m.slot_count));
                return steps;
            }
            // Capacities apply with the step that completes the pool.
            assert_eq!(m.job_capacity, before);
        }
    }

    /// A node on market 0 whose owner staked `stake` base units.
    pub async fn node(&mut self, gpus: u16, stake: u64) -> TestNode {
        let owner = self.user(stake).await;
        if stake > 0 {
            self.deposit_stake(&owner, stake).await.unwrap();
        }
        self.node_of(&owner, gpus).await
    }

    /// A node whose hand-backs count toward refunds: it ran and settled one
    /// job (a minute at `RATE`, past `PROOF_FLOOR_MICRO_USD`). Call it
    /// while no other job waits for the node.
    pub async fn proven_node(&mut self, gpus: u16, stake: u64) -> TestNode {
        let node = self.node(gpus, stake).await;
        let creator = self.user(1_000 * AKE).await;
        self.node_ready(&node).await.unwrap();
        let job = self.post_job(&creator, 1, 600).await.unwrap();
        assert_eq!(self.job(&job).await.unwrap().node, node.account);
        self.advance(60).await;
        self.submit(&node, &job, 60).await.unwrap();
        self.accept(&creator, &job).await.unwrap();
        node
    }

    /// A node on market 0 registered by `owner` (who may own others).
    pub async fn node_of(&mut self, owner: &User, gpus: u16) -> TestNode {
        let owner = User {
            key: owner.key.insecure_clone(),
            token: owner.token,
        };
        let signer = Keypair::new();
        self.airdrop(&signer.pubkey(), 1_000_000_000).await;
        let ix = ixs::register_node(
            owner.pubkey(),
            signer.pubkey(),
            pda::market(0),
            gpus,
            profile(),
        );
        self.send_ok(&[ix], &[&owner.key, &signer]).await;
        TestNode {
            account: pda::node(&signer.pubkey()),
            owner,
            signer,
        }
    }

    /// Arms a node, passing the best job it can serve as the SDK would.
    pub async fn node_ready(&mut self, node: &TestNode) -> Result<(), TransactionError> {
        let n: ake_market::state::Node = self.account(&node.account).await.unwrap();
        let next = self.next_work_for(node).await;
        let ix = ixs::node_ready(node.signer.pubkey(), node.owner.pubkey(), n.market, next);
        self.send(&[ix], &[&node.signer]).await
    }

    /// The best queued work for `node` as the SDK names it (a job, or a
    /// batch with its next frame).
    pub async fn next_work_for(&mut self, node: &TestNode) -> Option<ixs::NextWork> {
        let n: ake_market::state::Node = self.account(&node.account).await.unwrap();
        let free = self.stake_of(&node.owner.pubkey()).await.free();
        let best = self
            .market(0)
            .await
            .best_job_for(&ake_market::state::Seeker::node(&n, free))?;
        Some(self.next_work(best).await)
    }

    /// A queue entry as work: a batch (with its next frame) or a job.
    pub async fn next_work(&mut self, key: Pubkey) -> ixs::NextWork {
        match self.batch(&key).await {
            Some(batch) => ixs::NextWork::Frame {
                batch: key,
                frame_job: pda::frame_job(&key, batch.next_frame()),
            },
            None => ixs::NextWork::Job(key),
        }
    }

    /// A batch account; None when it is something else or gone.
    pub async fn batch(&mut self, key: &Pubkey) -> Option<Batch> {
        use anchor_lang::Discriminator;
        let acc = self.raw_account(key).await?;
        if acc.owner != ake_market::ID || !acc.data.starts_with(Batch::DISCRIMINATOR) {
            return None;
        }
        Some(ake_sdk::accounts::decode(&acc.data).unwrap())
    }

    pub fn batch_args(&self, nonce: u64, first_frame: u32, frame_count: u32) -> PostBatchArgs {
        PostBatchArgs {
            nonce,
            first_frame,
            frame_count,
            parallelism: frame_count,
            gpus: 1,
            max_duration_secs: 600,
            min_reputation_bps: 0,
            max_tokens: u64::MAX,
            spec: render_spec(),
        }
    }

    /// Posts a batch on market 0 as the SDK would.
    pub async fn post_batch_with(
        &mut self,
        creator: &User,
        args: PostBatchArgs,
    ) -> Result<Pubkey, TransactionError> {
        let staked = self
            .account::<ake_market::state::Stake>(&pda::stake(&creator.pubkey()))
            .await
            .is_some();
        let batch = pda::batch(&creator.pubkey(), args.nonce);
        let ix = ixs::post_batch(
            ixs::PostBatchAccounts {
                creator: creator.pubkey(),
                market: pda::market(0),
                mint: self.mint,
                creator_token: creator.token,
                price_update: self.price_update,
                creator_staked: staked,
            },
            args,
        );
        self.send(&[ix], &[&creator.key]).await.map(|_| batch)
    }

    pub async fn post_batch(
        &mut self,
        creator: &User,
        first_frame: u32,
        frame_count: u32,
    ) -> Result<Pubkey, TransactionError> {
        let nonce = self.next_nonce(&creator.pubkey()).await;
        let args = self.batch_args(nonce, first_frame, frame_count);
        self.post_batch_with(creator, args).await
    }

    /// Hands the batch's next frame to the best waiting node, paid by `payer`.
    pub async fn match_frame(
        &mut self,
        payer: &User,
        batch: &Pubkey,
    ) -> Result<Pubkey, TransactionError> {
        let b = self.batch(batch).await.expect("batch");
        let best = self
            .market(0)
            .await
            .best_node_for(b.gpus, b.min_reputation_bps, 0);
        let node = self.candidate(best).await.expect("a waiting node");
        let frame = b.next_frame();
        let ix = ixs::match_frame(payer.pubkey(), pda::market(0), *batch, frame, node);
        self.send(&[ix], &[&payer.key])
            .await
            .map(|_| pda::frame_job(batch, frame))
    }

    /// match_job for a waiting job and node, sent by the context payer.
    pub async fn match_job(
        &mut self,
        job: &Pubkey,
        node: &TestNode,
    ) -> Result<(), TransactionError> {
        let payer = self.payer();
        let candidate = ixs::Candidate {
            node: node.account,
            owner: node.owner.pubkey(),
        };
        let ix = ixs::match_job(payer.pubkey(), pda::market(0), *job, candidate);
        self.send(&[ix], &[&payer]).await
    }

    pub fn batch_keys(&self, batch: &Pubkey, creator: &User) -> ixs::BatchKeys {
        ixs::BatchKeys {
            batch: *batch,
            creator: creator.pubkey(),
            market: pda::market(0),
            mint: self.mint,
            creator_token: creator.token,
        }
    }

    /// The creator's next job nonce.
    pub async fn next_nonce(&mut self, creator: &Pubkey) -> u64 {
        self.account::<ake_market::state::Creator>(&pda::creator(creator))
            .await
            .map_or(0, |c| c.next_nonce)
    }

    pub fn post_args(&self, nonce: u64, gpus: u16, secs: u32) -> PostJobArgs {
        PostJobArgs {
            nonce,
            gpus,
            max_duration_secs: secs,
            min_reputation_bps: 0,
            max_tokens: u64::MAX,
            spec: render_spec(),
            verify: ake_market::state::Verify::None,
        }
    }

    /// Posts on market 0 as the SDK would: next nonce, best waiting node.
    pub async fn post_job_with(
        &mut self,
        creator: &User,
        args: PostJobArgs,
    ) -> Result<Pubkey, TransactionError> {
        let job = pda::job(&creator.pubkey(), args.nonce);
        let ix = self.post_job_ix(creator, args).await;
        self.send(&[ix], &[&creator.key]).await.map(|_| job)
    }

    /// The post of `post_job_with`, unsent.
    pub async fn post_job_ix(&mut self, creator: &User, args: PostJobArgs) -> Instruction {
        let staked = self
            .account::<ake_market::state::Stake>(&pda::stake(&creator.pubkey()))
            .await
            .is_some();
        let best = self
            .market(0)
            .await
            .best_node_for(args.gpus, args.min_reputation_bps, 0);
        let candidate = self.candidate(best).await;
        ixs::post_job(
            ixs::PostJobAccounts {
                creator: creator.pubkey(),
                market: pda::market(0),
                mint: self.mint,
                creator_token: creator.token,
                price_update: self.price_update,
                creator_staked: staked,
                candidate_node: candidate,
            },
            args,
        )
    }

    pub async fn post_job(
        &mut self,
        creator: &User,
        gpus: u16,
        secs: u32,
    ) -> Result<Pubkey, TransactionError> {
        let nonce = self.next_nonce(&creator.pubkey()).await;
        let args = self.post_args(nonce, gpus, secs);
        self.post_job_with(creator, args).await
    }

    pub async fn job(&mut self, key: &Pubkey) -> Option<Job> {
        self.account(key).await
    }

    pub async fn stake_of(&mut self, owner: &Pubkey) -> ake_market::state::Stake {
        self.account(&pda::stake(owner)).await.expect("stake")
    }

    /// A waiting node with its owner, as the SDK passes it.
    pub async fn candidate(&mut self, node: Option<Pubkey>) -> Option<ixs::Candidate> {
        let node = node?;
        let owner = self
            .account::<ake_market::state::Node>(&node)
            .await
            .expect("node")
            .owner;
        Some(ixs::Candidate { node, owner })
    }

    /// The best waiting node for a job that needs one again.
    pub async fn candidate_for(&mut self, job: &Job) -> Option<ixs::Candidate> {
        let best = self.market(0).await.best_node_for(
            job.gpus,
            job.min_reputation_bps,
            job.excluded_marks(),
        );
        self.candidate(best).await
    }

    /// The node hands its job back.
    pub async fn release(
        &mut self,
        node: &TestNode,
        job_key: &Pubkey,
        creator_token: Pubkey,
        reason: ake_market::state::ReleaseReason,
    ) -> Result<(), TransactionError> {
        let job = self.job(job_key).await.expect("job");
        // As the program will see it: this owner recorded too.
        let mut after = job.clone();
        after.releases.record(job.node_owner, false);
        let candidate = self.candidate_for(&after).await;
        let ix = ixs::release_job(
            node.signer.pubkey(),
            *job_key,
            &job,
            ixs::ReleaseKeys {
                mint: self.mint,
                creator_token,
                candidate_node: candidate,
            },
            reason,
        );
        self.send(&[ix], &[&node.signer]).await
    }

    /// Submits a result and leaves the node idle.
    pub async fn submit(
        &mut self,
        node: &TestNode,
        job: &Pubkey,
        wall_secs: u64,
    ) -> Result<(), TransactionError> {
        self.submit_then(node, job, wall_secs, ixs::AfterSubmit::StayIdle)
            .await
    }

    /// Submits a result and re-arms in the same instruction, naming the
    /// node's best queued work as the daemon does.
    pub async fn submit_and_rearm(
        &mut self,
        node: &TestNode,
        job: &Pubkey,
        wall_secs: u64,
    ) -> Result<(), TransactionError> {
        let next = self.next_work_for(node).await;
        self.submit_then(node, job, wall_secs, ixs::AfterSubmit::Rearm(next))
            .await
    }

    pub async fn submit_then(
        &mut self,
        node: &TestNode,
        job: &Pubkey,
        wall_secs: u64,
        after: ixs::AfterSubmit,
    ) -> Result<(), TransactionError> {
        self.submit_result(node, job, result_of(wall_secs), after)
            .await
    }

    /// Submits `result` for `job` as `node`.
    pub async fn submit_result(
        &mut self,
        node: &TestNode,
        job: &Pubkey,
        result: ake_market::state::JobResult,
        after: ixs::AfterSubmit,
    ) -> Result<(), TransactionError> {
        let due = self.submit_pick(job).await;
        let batch = self.job(job).await.and_then(|j| j.batch());
        let ix = ixs::submit_result(
            node.signer.pubkey(),
            node.owner.pubkey(),
            (*job, pda::market(0), batch),
            result,
            after,
            due,
        );
        self.send(&[ix], &[&node.signer]).await
    }

    /// `draw_audit` for `job_key` as the SDK builds it: naming the waiting
    /// nodes the draw picks for its runs (`ake_sdk::protocol::DrawView`).
    pub async fn draw_audit_ix(&mut self, caller: Pubkey, job_key: &Pubkey) -> Instruction {
        let job = self.job(job_key).await.expect("job");
        let market = self.market(0).await;
        let slot_hashes = self
            .raw_account(&ake_market::audit::SLOT_HASHES_ID)
            .await
            .map(|a| a.data)
            .unwrap_or_default();
        let mut owners = std::collections::HashMap::new();
        for entry in market.queued_nodes() {
            if let Some(node) = self.account::<ake_market::state::Node>(&entry.key).await {
                owners.insert(entry.key, node.owner);
            }
        }
        let slot = self.clock().await.slot;
        let config = self
            .account::<ake_market::state::Config>(&pda::config())
            .await
            .expect("config");
        let draw = ake_sdk::protocol::DrawView {
            job: (*job_key, &job),
            market: &market,
            paused: config.paused,
            auditor_floor_bps: config.params.audit.auditor_min_reputation_bps,
            slot_hashes: &slot_hashes,
            slot,
        };
        ixs::draw_audit(caller, *job_key, &job, &draw.auditors(&owners))
    }

    /// The due page a submit of `job` landing now names (as the SDK picks it).
    pub async fn submit_pick(&mut self, job: &Pubkey) -> DuePick {
        // An auditable job is due at once (its draw).
        let window = match self.job(job).await {
            Some(j) if j.verify == ake_market::state::Verify::Exact && !j.audit.is_run() => 0,
            Some(j) => i64::from(j.terms.challenge_window_secs),
            None => 0,
        };
        let due = self.now().await + window;
        self.due_pick(&pda::market(0), due).await
    }

    /// The first shard with room of the due bucket of `due_ts`.
    pub async fn due_pick(&mut self, market: &Pubkey, due_ts: i64) -> DuePick {
        let bucket = DuePage::bucket_of(due_ts).unwrap();
        let mut shard = 0;
        loop {
            match self.due_page(market, bucket, shard).await {
                Some(page) if page.is_full() => shard += 1,
                // A new shard is opened as the spill of the full one before it.
                None if shard > 0 => {
                    return DuePick {
                        bucket,
                        shard: shard - 1,
                    }
                }
                _ => return DuePick { bucket, shard },
            }
        }
    }

    pub async fn due_page(&mut self, market: &Pubkey, bucket: u32, shard: u16) -> Option<DuePage> {
        let account = self
            .raw_account(&pda::due_page(market, bucket, shard))
            .await?;
        ake_sdk::accounts::decode_due_page(&account.data).ok()
    }

    /// The emissions epoch the chain's clock is in now.
    pub async fn epoch(&mut self) -> u64 {
        let now = self.now().await;
        // The schedule on chain: a governance change may have moved the length.
        self.emissions_config()
            .await
            .schedule
            .epoch_at(now)
            .unwrap()
    }

    pub async fn settle_keys(&mut self, creator_token: Pubkey, payer: Pubkey) -> ixs::SettleKeys {
        let epoch = self.epoch().await;
        // The harness's jobs run on market 0.
        ixs::SettleKeys {
            mint: self.mint,
            creator_token,
            payer,
            epoch,
            market_index: 0,
        }
    }

    pub async fn accept(
        &mut self,
        creator: &User,
        job_key: &Pubkey,
    ) -> Result<(), TransactionError> {
        let job = self.job(job_key).await.expect("job");
        let keys = self.settle_keys(creator.token, creator.pubkey()).await;
        let ix = ixs::accept_result(*job_key, &job, &keys);
        self.send(&[ix], &[&creator.key]).await
    }

    pub async fn finalize(
        &mut self,
        creator_token: Pubkey,
        job_key: &Pubkey,
    ) -> Result<(), TransactionError> {
        let job = self.job(job_key).await.expect("job");
        let payer = self.payer().pubkey();
        let keys = self.settle_keys(creator_token, payer).await;
        let ix = ixs::finalize_job(*job_key, &job, &keys);
        self.send(&[ix], &[]).await
    }

    pub async fn emissions_config(&mut self) -> EmissionsConfig {
        self.account_of(&pda::emissions_config(), &ake_emissions::ID)
            .await
            .expect("emissions config")
    }

    /// Closes `epoch`, paying the tip to `caller`'s token account: the
    /// whole tally (every market's work record) in one call, as the SDK does.
    pub async fn close_epoch(&mut self, caller: &User, epoch: u64) -> Result<(), TransactionError> {
        let tally = self.epoch_tally(epoch, 0).await;
        let ix = ixs::emissions::close_epoch(caller.pubkey(), caller.token, epoch, &tally);
        self.send(&[ix], &[&caller.key]).await
    }

    /// `epoch`'s tally from market `first` to the last market, each work
    /// record with its payer (the record itself when never created).
    pub async fn epoch_tally(&mut self, epoch: u64, first: u16) -> ixs::emissions::EpochTally {
        let count = self
            .account::<ake_market::state::Config>(&pda::config())
            .await
            .expect("config")
            .market_count;
        let mut records = Vec::new();
        for index in first..count {
            let key = pda::market_epoch(epoch, index);
            let record: Option<ake_emissions::state::MarketEpoch> =
                self.account_of(&key, &ake_emissions::ID).await;
            records.push((key, record.map_or(key, |r| r.payer)));
        }
        ixs::emissions::EpochTally {
            first,
            records,
            reaches_end: true,
        }
    }

    /// Burns and pays what market 0's settlements left (as the crank does);
    /// Ok(false) when there was nothing to sweep.
    pub async fn sweep(&mut self) -> bool {
        let payer = self.payer();
        let ix = ixs::sweep_market(payer.pubkey(), pda::market(0), self.mint, self.treasury);
        self.send(&[ix], &[]).await.is_ok()
    }

    /// Market 0's settlement books.
    pub async fn ledger(&mut self) -> ake_market::state::MarketLedger {
        self.account(&pda::ledger(&pda::market(0)))
            .await
            .expect("ledger")
    }

    /// Claims `node`'s reward for `epoch` (the context payer sends it).
    pub async fn claim(&mut self, node: &TestNode, epoch: u64) -> Result<(), TransactionError> {
        let work: Option<ake_emissions::state::NodeWork> = self
            .account_of(&pda::node_work(epoch, &node.account), &ake_emissions::ID)
            .await;
        let rent_receiver = work.map_or(Pubkey::default(), |w| w.payer);
        let payer = self.payer().pubkey();
        let ix = ixs::emissions::claim(
            payer,
            epoch,
            &node.account,
            node.owner.token,
            rent_receiver,
            self.mint,
        );
        self.send(&[ix], &[]).await
    }

    pub async fn expire(
        &mut self,
        creator_token: Pubkey,
        job_key: &Pubkey,
    ) -> Result<(), TransactionError> {
        let job = self.job(job_key).await.expect("job");
        let candidate = self.candidate_for(&job).await;
        let keys = ixs::ExpireKeys {
            caller: self.payer().pubkey(),
            caller_token: self.payer_token,
            mint: self.mint,
            creator_token,
            candidate_node: candidate,
        };
        let ix = ixs::expire_job(*job_key, &job, keys);
        self.send(&[ix], &[]).await
    }

    /// The creator disputes a submitted job, posting the bond.
    pub async fn dispute(
        &mut self,
        creator: &User,
        job_key: &Pubkey,
    ) -> Result<(), TransactionError> {
        let job = self.job(job_key).await.expect("job");
        let timeout_at = self.now().await + i64::from(job.terms.dispute_timeout_secs);
        let due = self.due_pick(&job.market, timeout_at).await;
        let ix = ixs::dispute_job(*job_key, &job, (self.mint, creator.token), due);
        self.send(&[ix], &[&creator.key]).await
    }

    /// The arbiter (the admin here) decides a dispute.
    pub async fn resolve(
        &mut self,
        creator_token: Pubkey,
        job_key: &Pubkey,
        creator_wins: bool,
    ) -> Result<(), TransactionError> {
        let job = self.job(job_key).await.expect("job");
        let arbiter = self.admin.insecure_clone();
        let keys = self.settle_keys(creator_token, arbiter.pubkey()).await;
        let ix = ixs::resolve_dispute(*job_key, &job, &keys, creator_wins);
        self.send(&[ix], &[&arbiter]).await
    }

    /// Anyone ends a timed-out dispute.
    pub async fn expire_dispute(
        &mut self,
        creator_token: Pubkey,
        job_key: &Pubkey,
    ) -> Result<(), TransactionError> {
        let job = self.job(job_key).await.expect("job");
        let payer = self.payer().pubkey();
        let keys = self.settle_keys(creator_token, payer).await;
        let ix = ixs::expire_dispute(*job_key, &job, &keys);
        self.send(&[ix], &[]).await
    }

    /// The node's owner lifts a suspension.
    pub async fn rearm(&mut self, node: &TestNode) -> Result<(), TransactionError> {
        let ix = ixs::rearm_node(node.owner.pubkey(), node.account, node.owner.pubkey());
        self.send(&[ix], &[&node.owner.key]).await
    }

    pub async fn cancel(
        &mut self,
        creator: &User,
        job_key: &Pubkey,
    ) -> Result<(), TransactionError> {
        let ix = ixs::cancel_job(
            creator.pubkey(),
            *job_key,
            creator.pubkey(),
            pda::market(0),
            self.mint,
            creator.token,
        );
        self.send(&[ix], &[&creator.key]).await
    }

    /// One whole job on `node` (armed, alone in the queue): post, run for
    /// `wall_secs`, accept. Returns the job's settled charge in micro-USD.
    pub async fn work(&mut self, node: &TestNode, creator: &User, wall_secs: u64) -> u64 {
        self.node_ready(node).await.unwrap();
        let gpus = node_gpus(self, node).await;
        let job = self.post_job(creator, gpus, 3_600).await.unwrap();
        assert_eq!(
            self.job(&job).await.unwrap().node,
            node.account,
            "job went to another node"
        );
        // Usage is bounded by the chain's clock since assignment.
        self.advance(wall_secs as i64).await;
        self.submit(node, &job, wall_secs).await.unwrap();
        self.accept(creator, &job).await.unwrap();
        let rate = self.market(0).await.rate_micro_usd;
        wall_secs.min(3_600) * rate * u64::from(gpus)
    }

    /// Moves the clock to the first second of `epoch`.
    pub async fn advance_to_epoch(&mut self, epoch: u64) {
        let schedule = self.emissions_config().await.schedule;
        let start = match epoch.checked_sub(1) {
            Some(before) => schedule.epoch_end(before).unwrap(),
            None => schedule.genesis_ts,
        };
        let now = self.now().await;
        assert!(start >= now, "epoch {epoch} already started");
        self.advance(start - now).await;
    }

    /// Sets market 0's rate (micro-USD per GPU-second) as the admin.
    pub async fn set_market_rate(&mut self, rate_micro_usd: u64) {
        let mut args = default_market();
        args.rate_micro_usd = rate_micro_usd;
        self.govern(ake_market::state::Change::Market { index: 0, args })
            .await;
    }

    pub async fn escrow_balance(&mut self) -> u64 {
        self.balance(&pda::escrow_vault(&pda::market(0))).await
    }
}

async fn node_gpus(chain: &mut Chain, node: &TestNode) -> u16 {
    chain
        .account::<ake_market::state::Node>(&node.account)
        .await
        .unwrap()
        .gpus
}

/// The first event of type `T` among `events` (discriminator + borsh, as
/// `Chain::send_with_events` returns them).
pub fn find_event<T: anchor_lang::Event + anchor_lang::AnchorDeserialize>(
    events: &[Vec<u8>],
) -> Option<T> {
    events.iter().find_map(|e| {
        e.strip_prefix(T::DISCRIMINATOR)
            .and_then(|rest| T::deserialize(&mut &rest[..]).ok())
    })
}

/// A ProgramData account of the upgradeable loader (its bincode layout:
/// variant 3, the deploy slot, then the optional upgrade authority).
pub fn program_data_account(upgrade_authority: &Pubkey) -> Account {
    let mut data = 3u32.to_le_bytes().to_vec();
    data.extend_from_slice(&0u64.to_le_bytes());
    data.push(1);
    data.extend_from_slice(upgrade_authority.as_ref());
    Account {
        lamports: 1_000_000_000,
        data,
        owner: anchor_lang::solana_program::bpf_loader_upgradeable::ID,
        executable: false,
        rent_epoch: 0,
    }
}

/// A PriceUpdateV2 account as the Pyth receiver writes it.
pub fn price_account(
    price: i64,
    conf: u64,
    publish_time: i64,
    level: VerificationLevel,
    feed_id: [u8; 32],
) -> Account {
    ake_sdk::oracle::price_update_account_with(
        price,
        conf,
        publish_time,
        feed_id,
        ake_market::price_update::RECEIVER_PROGRAM_ID,
        level,
    )
}

fn bincode_len(tx: &Transaction) -> usize {
    // Signatures + message, as the wire format counts them.
    let message = tx.message.serialize();
    1 + tx.signatures.len() * 64 + message.len()
}
