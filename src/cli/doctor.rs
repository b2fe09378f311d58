//! `podproof doctor`: report the podman environment and the known failure modes.

use crate::doctor::{self, Status};
use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  podproof doctor")]
pub struct Args {}

pub fn run(_: Args) -> Result<i32> {
    let checks = doctor::run();
    for c in &checks {
        let tag = match c.status {
            Status::Ok => "ok  ",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        outln!("{tag}  {}: {}", c.name, c.detail);
        if let Some(f) = &c.fix {
            outln!("      fix: {f}");
        }
    }
    if doctor::can_run(&checks) {
        outln!("podman can run containers here");
        Ok(0)
    } else {
        Err(Error::runtime("podman cannot run containers here; see the fixes above"))
    }
}
