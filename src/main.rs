// SIGPIPE keeps Rust's default (ignored): a closed stdout or stderr makes
// writes fail, the output layer stops writing, and the command still cleans
// up and exits with its own code (`podproof test 2>&1 | head -1`).
fn main() {
    let code = podproof::cli::run(std::env::args_os()).unwrap_or_else(|e| {
        podproof::errln!("{e}");
        e.exit_code()
    });
    // The last podproof process using the owned podman service stops it.
    podproof::podman::shutdown();
    std::process::exit(code);
}
