//! `thingstray-tray`: the resident tray (see the library's doc).

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        // Started from a launcher or at login, stderr may be closed.
        .log_internal_errors(false)
        .init();
    let args = match thingstray_tray::Args::parse(std::env::args()) {
        Ok(a) => a,
        Err(usage) => {
            eprintln!("{usage}");
            return std::process::ExitCode::from(2);
        }
    };
    run(args)
}

#[cfg(target_os = "linux")]
fn run(args: thingstray_tray::Args) -> std::process::ExitCode {
    // Two workers: the sessions' refreshes, the agent's clients and the tray's D-Bus calls
    // are all small; each thread is memory a resident process keeps all day.
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime");
    match runtime.block_on(thingstray_tray::resident::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("thingstray-tray: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn run(_args: thingstray_tray::Args) -> std::process::ExitCode {
    eprintln!("thingstray-tray: on this system the tray is the app's own; run thingstray-desktop");
    std::process::ExitCode::FAILURE
}
