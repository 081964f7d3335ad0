//! `thingstray exec -- CMD [ARGS...]`: runs a program with a valid SmartThings token in
//! its environment, so a script needs neither a token on its command line nor a
//! `$(thingstray token)` of its own:
//!
//! - `SMARTTHINGS_TOKEN`: an access token valid for at least `--min-valid` when the
//!   program starts (got as `thingstray token` gets it: the agent, the vault, a refresh);
//! - `SMARTTHINGS_API`: the connection's API base (`https://api.smartthings.com/v1`).
//!
//! The token goes only into the child's environment: never into argv (others can read
//! that in `ps`) nor a log line. stdin, stdout and stderr are the child's; the exit code
//! is the child's (128 + the signal when a signal ended it, as shells report it; 127 when
//! the program cannot be found, 126 when it cannot be run). Exit 4 when sign-in is needed.

use std::ffi::OsString;
use std::time::Duration;

use secrecy::ExposeSecret;
use thingstray::config::Config;

use super::{CliError, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The token must stay valid at least this long after the program starts (90s, 5m, 1h).
    #[arg(long, default_value = super::token::min_valid_default(), value_parser = super::parse_duration)]
    min_valid: Duration,
    /// The program and its arguments (after `--`).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "CMD")]
    command: Vec<OsString>,
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    let Some((program, args)) = a.command.split_first() else {
        return Err(CliError::Usage("exec needs a program to run: `thingstray exec -- CMD [ARGS...]`".into()));
    };
    let handed = super::token::obtain(ctx, a.min_valid).await?;
    let config = Config::load(&ctx.paths)?;
    let (_, settings) = config.connection(ctx.connection.as_deref())?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env("SMARTTHINGS_TOKEN", handed.token.expose_secret())
        .env("SMARTTHINGS_API", &settings.api_url)
        // The child needs the access token, not the app's client secret.
        .env_remove("THINGSTRAY_CLIENT_SECRET");
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let shown = program.to_string_lossy();
            eprintln!("thingstray: cannot run `{shown}`: {e}");
            let code = if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
            return Err(CliError::Silent(code));
        }
    };
    drop(handed);
    tracing::info!(pid = child.id(), "started the program");
    let status = wait(&mut child).await.map_err(|e| CliError::Failed(format!("waiting for the program: {e}")))?;
    match exit_code(status) {
        0 => Ok(()),
        code => Err(CliError::Silent(code)),
    }
}

/// The code a shell would report for the child: its exit code, or 128 + the signal.
fn exit_code(status: std::process::ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code & 0xff).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return u8::try_from(128 + sig).unwrap_or(255);
        }
    }
    1
}

/// Waits for the child. Meanwhile (unix) Ctrl-C and Ctrl-\ do not end this process (the
/// terminal sends them to the child too: it decides), and SIGTERM or SIGHUP sent to this
/// process are passed on to the child, so a supervisor stopping `thingstray exec` stops
/// the program and still gets its exit code.
#[cfg(unix)]
async fn wait(child: &mut tokio::process::Child) -> std::io::Result<std::process::ExitStatus> {
    use tokio::signal::unix::{signal, SignalKind};
    let _int = signal(SignalKind::interrupt())?;
    let _quit = signal(SignalKind::quit())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            status = child.wait() => return status,
            _ = term.recv() => forward(child, libc::SIGTERM),
            _ = hup.recv() => forward(child, libc::SIGHUP),
        }
    }
}

#[cfg(not(unix))]
async fn wait(child: &mut tokio::process::Child) -> std::io::Result<std::process::ExitStatus> {
    child.wait().await
}

/// Sends `sig` to the child if it is still running (not yet reaped, so its pid is its own).
#[cfg(unix)]
fn forward(child: &tokio::process::Child, sig: libc::c_int) {
    let Some(pid) = child.id().and_then(|p| libc::pid_t::try_from(p).ok()) else { return };
    // SAFETY: kill(2) takes plain integers; the pid is our unreaped child's.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc != 0 {
        tracing::info!("could not pass signal {sig} on to the program: {}", std::io::Error::last_os_error());
    }
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn exit_codes_are_the_childs_or_128_plus_the_signal() {
        use std::os::unix::process::ExitStatusExt;
        use std::process::ExitStatus;
        assert_eq!(super::exit_code(ExitStatus::from_raw(7 << 8)), 7);
        assert_eq!(super::exit_code(ExitStatus::from_raw(0)), 0);
        assert_eq!(super::exit_code(ExitStatus::from_raw(15)), 128 + 15);
        assert_eq!(super::exit_code(ExitStatus::from_raw(9)), 128 + 9);
    }
}
