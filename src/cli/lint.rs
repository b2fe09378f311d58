//! `podproof lint` (being written).

use crate::error::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files or directories to lint (`-` for stdin)
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
}

pub fn run(_a: Args) -> Result<i32> {
    Ok(0)
}
