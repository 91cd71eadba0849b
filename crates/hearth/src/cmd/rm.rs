//! `hearth rm NAME...`: remove models from the store.

use clap::Args;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  hearth rm smollm2:135m\n  hearth rm gemma3 mymodel:q4")]
pub struct RmArgs {
    /// Store names (`name` or `name:tag`).
    #[arg(required = true)]
    pub models: Vec<String>,
}

pub fn run(a: RmArgs) -> anyhow::Result<()> {
    let st = store::Store::from_env();
    for name in &a.models {
        let m = st.remove(name)?;
        println!("removed {} ({})", m.reference(), store::human_bytes(m.size));
    }
    Ok(())
}
