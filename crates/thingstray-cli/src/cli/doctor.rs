//! `thingstray doctor`: checks what sign-in and refreshes depend on, in the order a
//! failure would cascade, and says how to fix each problem.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thingstray::config::Config;
use thingstray::oauth::OAuthClient;
use thingstray::session::Status;
use thingstray::vault::Vault;
use thingstray::Connection;

use super::{span, CliError, Ctx};

/// SmartThings' tokens are checked against its clock; beyond this, expiry times shown
/// here and refresh scheduling drift noticeably.
const MAX_SKEW: Duration = Duration::from_secs(120);

struct Report {
    failed: bool,
}

impl Report {
    fn ok(&self, what: &str, detail: impl AsRef<str>) {
        println!("ok    {what:<12} {}", detail.as_ref());
    }
    fn warn(&self, what: &str, detail: impl AsRef<str>, fix: impl AsRef<str>) {
        println!("warn  {what:<12} {}\n      fix: {}", detail.as_ref(), fix.as_ref());
    }
    fn fail(&mut self, what: &str, detail: impl AsRef<str>, fix: impl AsRef<str>) {
        self.failed = true;
        println!("FAIL  {what:<12} {}\n      fix: {}", detail.as_ref(), fix.as_ref());
    }
}

pub async fn run(ctx: &Ctx) -> Result<(), CliError> {
    let mut r = Report { failed: false };
    let result = checks(ctx, &mut r).await;
    if r.failed || result.is_err() {
        return Err(CliError::Silent(1));
    }
    Ok(())
}

async fn checks(ctx: &Ctx, r: &mut Report) -> Result<(), ()> {
    let setup = "run `thingstray setup --client-id ID --redirect-uri URI`";
    // Settings.
    let config = match Config::load(&ctx.paths) {
        Ok(c) => c,
        Err(e) => {
            r.fail("settings", e.to_string(), format!("fix or remove {}", ctx.paths.config_file().display()));
            return Err(());
        }
    };
    let (name, settings) = match config.connection(ctx.connection.as_deref()) {
        Ok((n, s)) if !config.connections.is_empty() => (n, s.clone()),
        Ok(_) => {
            r.fail("settings", "no connection is set up", setup);
            return Err(());
        }
        Err(e) => {
            let fix = if config.connections.is_empty() {
                setup.to_string()
            } else {
                "pick one with --connection NAME".into()
            };
            r.fail("settings", e.to_string(), fix);
            return Err(());
        }
    };
    if let Err(e) = settings.validate() {
        r.fail("settings", e.to_string(), setup);
        return Err(());
    }
    r.ok("settings", format!("{} valid, connection `{name}`", ctx.paths.config_file().display()));
    // A paired connection has no redirect URI of its own (its owner signs in).
    let own_redirect = settings.paired.is_none().then_some(settings.redirect_uri.as_str());
    if let Some(w) = own_redirect.and_then(thingstray::oauth::redirect::unregistrable) {
        let fix = format!(
            "register {} with `smartthings apps:oauth:update <app-id>`, then `thingstray setup --redirect-uri {}`",
            w.instead, w.instead
        );
        r.warn("redirect", w.why, fix);
    }

    // The vault.
    let vault = match Vault::open(&config, &ctx.paths) {
        Ok(v) => v,
        Err(e) => {
            r.fail("vault", e.to_string(), "see above; `thingstray setup --vault file` on machines without a keychain");
            return Err(());
        }
    };
    if let Some(with) = &settings.paired {
        return paired(r, &ctx.paths, &vault, &name, with).await;
    }
    let secret = match vault.client_secret(&name).await {
        Ok(Some(s)) => {
            r.ok("vault", format!("{} reachable; client secret stored", vault.describe()));
            Some(s)
        }
        Ok(None) => {
            r.fail(
                "vault",
                format!("{} reachable, but no client secret is stored for `{name}`", vault.describe()),
                setup,
            );
            None
        }
        Err(e) => {
            r.fail(
                "vault",
                e.to_string(),
                "unlock or start the keychain; or `thingstray setup --vault file` on a headless machine",
            );
            return Err(());
        }
    };

    // The clock and the API, in one request: any answer proves reachability and carries a Date.
    let http = match thingstray::http::client(Duration::from_secs(10)) {
        Ok(http) => http,
        Err(e) => {
            r.fail("api", e.to_string(), "fix or unset THINGSTRAY_CA_FILE");
            return Err(());
        }
    };
    match http.get(&settings.api_url).send().await {
        Ok(resp) => {
            r.ok("api", format!("{} answered (HTTP {})", settings.api_url, resp.status().as_u16()));
            match resp.headers().get("date").and_then(|d| d.to_str().ok()).and_then(parse_http_date) {
                Some(theirs) => {
                    let ours = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
                    let skew = ours.abs_diff(theirs);
                    if skew <= MAX_SKEW.as_secs() {
                        r.ok("clock", format!("within {skew} s of SmartThings' clock"));
                    } else {
                        r.fail(
                            "clock",
                            format!("{} {} SmartThings' clock", span(skew), if ours > theirs { "ahead of" } else { "behind" }),
                            "turn on network time (`timedatectl set-ntp true` on Linux; Date & Time settings elsewhere)",
                        );
                    }
                }
                None => r.warn(
                    "clock",
                    "SmartThings' answer had no readable Date header",
                    "nothing to do unless tokens expire early",
                ),
            }
        }
        Err(e) => r.fail(
            "api",
            thingstray::http::transport(e).to_string(),
            format!("check the network, proxy and firewall; the API URL is {}", settings.api_url),
        ),
    }

    // The token endpoint, and whether it accepts the client id + secret.
    if let Some(secret) = &secret {
        match OAuthClient::new(&settings, secret, http.clone()) {
            Ok(oauth) => match oauth.check_client().await {
                Ok(()) => r.ok("oauth", format!("{} accepts the client id and secret", settings.token_url())),
                Err(e) if e.is_transient() => {
                    r.fail("oauth", e.to_string(), "check the network; SmartThings may be down")
                }
                Err(e) => r.fail("oauth", e.to_string(), "enter the id and secret again with `thingstray setup`"),
            },
            Err(e) => r.fail("oauth", e.to_string(), setup),
        }
    }

    // The session: a token that SmartThings accepts.
    if secret.is_none() {
        return Err(());
    }
    let conn = match Connection::open(&ctx.paths, Some(&name)).await {
        Ok(c) => c,
        Err(e) => {
            r.fail("session", e.to_string(), "run `thingstray login`");
            return Err(());
        }
    };
    if matches!(conn.session.status(), Status::SignedOut) {
        r.fail("session", "signed out", "run `thingstray login`");
        return Err(());
    }
    match conn.session.token_valid_for(Duration::from_secs(60)).await {
        Ok(grant) => match conn.api.locations().await {
            Ok(_) => r.ok(
                "session",
                format!("signed in; token accepted, valid for {}", span(grant.remaining(SystemTime::now()).as_secs())),
            ),
            Err(e) => r.fail("session", e.to_string(), "if this persists, `thingstray login` again"),
        },
        Err(e) if e.needs_sign_in() => r.fail("session", e.to_string(), "run `thingstray login`"),
        Err(e) => r.fail("session", e.to_string(), "check the network; ThingsTray retries by itself"),
    }
    Ok(())
}

/// A paired connection has no OAuth app here: its checks are the pairing secret, the
/// owner (reached, with the pinned certificate, and handing out a token), and the token
/// working at SmartThings.
async fn paired(
    r: &mut Report,
    paths: &thingstray::config::Paths,
    vault: &Vault,
    name: &str,
    with: &thingstray::config::PairedWith,
) -> Result<(), ()> {
    let again =
        format!("pair again: `thingstray share invite` on {}, then `thingstray connect INVITE` here", with.owner);
    let creds = match thingstray::share::pairing::credentials(vault, name, with).await {
        Ok(c) => {
            r.ok("vault", format!("{} reachable; pairing secret stored", vault.describe()));
            c
        }
        Err(e) => {
            r.fail("vault", e.to_string(), &again);
            return Err(());
        }
    };
    match thingstray::share::client::token(&creds, Duration::from_secs(60)).await {
        Ok(t) => r.ok(
            "owner",
            format!(
                "{} at {} (fingerprint {}) handed out a token valid for {}",
                with.owner,
                with.at,
                creds.fingerprint.short(),
                span(t.grant.remaining(SystemTime::now()).as_secs())
            ),
        ),
        Err(e) if e.is_transient() => r.fail(
            "owner",
            e.to_string(),
            format!("start `thingstray serve --share` (or sharing in the app) on {}", with.owner),
        ),
        Err(e) => r.fail("owner", e.to_string(), &again),
    }
    let conn = match Connection::open(paths, Some(name)).await {
        Ok(c) => c,
        Err(e) => {
            r.fail("session", e.to_string(), &again);
            return Err(());
        }
    };
    match conn.session.token_valid_for(Duration::from_secs(60)).await {
        Ok(_) => match conn.api.locations().await {
            Ok(_) => r.ok("session", format!("paired with {}; SmartThings accepts its token", with.owner)),
            Err(e) => r.fail("session", e.to_string(), format!("check the session on {}", with.owner)),
        },
        Err(e) => r.fail("session", e.to_string(), "see the message above"),
    }
    Ok(())
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` -> Unix secs.
fn parse_http_date(s: &str) -> Option<u64> {
    let t = httpdate::parse_http_date(s).ok()?;
    t.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_dates() {
        assert_eq!(super::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(super::parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT"), Some(1_709_164_800));
        assert_eq!(super::parse_http_date("yesterday"), None);
    }
}
