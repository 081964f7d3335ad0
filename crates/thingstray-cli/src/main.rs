//! `thingstray`: a SmartThings token for scripts, cron jobs and servers, and the devices
//! from the shell. Every command is a thin shell over the core library: only the core's
//! session ever calls the token endpoint, and the desktop app and this binary share it
//! (and its cross-process lock), so they never race a refresh.
//!
//! Exit codes: 0 ok, 1 error (the reason on stderr), 2 usage, 4 sign-in needed (as
//! `gh auth token`).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    init_logging(&args);
    // One thread is plenty for a command, and starts fastest (`thingstray token` is run
    // by scripts in loops); the server gets a worker per core.
    let runtime = if args.is_server() {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("thingstray: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(cli::run(args));
    // Don't wait for blocking jobs a command left behind (a keychain call that timed out).
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !matches!(e, cli::CliError::Silent(_)) {
                eprintln!("thingstray: {e}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// Logs go to stderr (stdout is for the answer). `THINGSTRAY_LOG` takes a tracing filter;
/// the HTTP stack below us is capped at `info` whatever it says, so no request line or
/// header dump can ever carry a token into a log.
fn init_logging(args: &cli::Cli) {
    use tracing_subscriber::EnvFilter;
    let default = match (args.verbose, args.is_server()) {
        (0, false) => "error",
        (0, true) | (1, _) => "info",
        _ => "debug",
    };
    let mut filter = std::env::var("THINGSTRAY_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    for quiet in [
        "hyper=info",
        "hyper_util=info",
        "h2=info",
        "reqwest=info",
        "rustls=info",
        "tower=info",
        "axum=info",
        "oauth2=info",
    ] {
        if let Ok(d) = quiet.parse() {
            filter = filter.add_directive(d);
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .with_target(false)
        // By default a failed write is reported with eprintln!, which panics when stderr
        // is gone (a closed terminal, `2>&-`): a server must outlive its log's reader.
        .log_internal_errors(false)
        .try_init();
}
