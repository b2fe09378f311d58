//! `podproof promote` (being written).

use crate::error::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// App definitions to promote
    #[arg(value_name = "APP")]
    pub apps: Vec<String>,
}

pub fn run(_a: Args) -> Result<i32> {
    Ok(0)
}
