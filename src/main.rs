fn main() {
    let code = match podproof::cli::run(std::env::args_os()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
