use clap::Args;

use crate::context::GlobalArgs;

#[derive(Args)]
pub struct DemoArgs {}

pub async fn run(_g: &GlobalArgs, _a: DemoArgs) -> anyhow::Result<()> {
    anyhow::bail!("ake demo is being wired up")
}
