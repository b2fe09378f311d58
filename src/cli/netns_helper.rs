//! `podproof __netns`: the hidden helper that rootless runs start through
//! `podman unshare` (see `netns`). It is not for people to run.

use crate::error::{Error, Result};

pub fn run() -> Result<i32> {
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    crate::netns::serve(stdin, stdout).map_err(|e| Error::runtime(format!("network helper failed: {e}")))?;
    Ok(0)
}
