use anchor_lang::prelude::*;

/// A spec whose audit revealed three different digests (the job's and two
/// other owners' runs): it is not deterministic on its market, so no job
/// of it may ask for `Verify::Exact` there again (an audit of it would
/// only pay its runs and decide nothing). PDA `["unauditable", market,
/// spec hash]`, created by the `judge_audit` that found it.
#[account]
#[derive(InitSpace, Debug, PartialEq, Eq)]
pub struct UnauditableSpec {
    pub market: Pubkey,
    pub spec_hash: [u8; 32],
    /// The audited job whose three digests differed.
    pub job: Pubkey,
    pub marked_at: i64,
    pub bump: u8,
}
