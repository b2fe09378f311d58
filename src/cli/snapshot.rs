//! `podproof snapshot` (being written).

use crate::error::Result;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_a: Args) -> Result<i32> {
    Ok(0)
}
