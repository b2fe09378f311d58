fn main() {
    // Die quietly on a closed pipe (`podproof render | head`), like other CLIs.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let code = podproof::cli::run(std::env::args_os()).unwrap_or_else(|e| {
        eprintln!("{e}");
        e.exit_code()
    });
    std::process::exit(code);
}
