//! `thingstray setup`: records which SmartThings app to sign in with. The client secret is
//! read from THINGSTRAY_CLIENT_SECRET or stdin (hidden at a terminal), never from argv,
//! where `ps` and shell history would show it. Every field is checked before anything is
//! saved, and, unless `--offline`, SmartThings is asked whether the id and secret match
//! and whether the redirect URI is registered.

use std::io::{IsTerminal, Read};

use clap::ValueEnum;
use secrecy::SecretString;
use thingstray::config::{self, Config, ConnectionSettings, VaultKind};
use thingstray::oauth::OAuthClient;
use thingstray::vault::Vault;
use thingstray::{Connection, Error};

use super::{CliError, Ctx};

pub(super) const SECRET_ENV: &str = "THINGSTRAY_CLIENT_SECRET";
const DEFAULT_NAME: &str = "home";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The OAuth Client Id that `smartthings apps:create` printed (a UUID).
    #[arg(long)]
    client_id: String,
    /// One of the app's registered redirect URIs, exactly as registered. With --store:
    /// the service's callback, https://YOUR-SERVICE/v1/oauth/callback.
    #[arg(long, required_unless_present = "schema")]
    redirect_uri: Option<String>,
    /// Space-separated scopes; default: r:devices:* x:devices:* r:locations:* r:scenes:* x:scenes:*
    #[arg(long)]
    scopes: Option<String>,
    /// SmartThings' API base (for testing against a simulator).
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,
    /// SmartThings' OAuth base: <URL>/authorize and <URL>/token.
    #[arg(long, value_name = "URL")]
    auth_url: Option<String>,
    /// Where secrets live: the system keychain (default), or `file` for headless machines
    /// with no keychain (a file readable by your user only; you opt in knowingly).
    #[arg(long, value_enum)]
    vault: Option<VaultChoice>,
    /// Don't ask SmartThings to confirm the client id, secret and redirect URI.
    #[arg(long)]
    offline: bool,
    /// Make this connection the default one.
    #[arg(long)]
    default: bool,
    /// With --store: the ST Schema connector (its client id and, on stdin, its secret)
    /// whose installations' callback tokens the service keeps.
    #[arg(long)]
    schema: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(super) enum VaultChoice {
    Keychain,
    File,
}

impl VaultChoice {
    pub(super) fn kind(self) -> VaultKind {
        match self {
            VaultChoice::Keychain => VaultKind::Keychain,
            VaultChoice::File => VaultKind::File,
        }
    }
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    let redirect_uri = a.redirect_uri.clone().unwrap_or_default();
    if let Some(store) = &ctx.store {
        return in_store(store, &a, &redirect_uri).await;
    }
    if a.schema {
        return Err(CliError::Usage(
            "--schema is for a session store (--store); on this machine keep a connector's callback tokens with `thingstray schema grant`".into(),
        ));
    }
    let mut config = Config::load(&ctx.paths)?;
    let name = ctx
        .connection
        .clone()
        .or_else(|| config.default_connection.clone())
        .unwrap_or_else(|| DEFAULT_NAME.to_string());
    if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control() || c == '/') {
        return Err(CliError::Usage(format!("`{name}` can't be a connection name: use letters, digits, - and _")));
    }

    let mut settings = match config.connections.get(&name) {
        // Keep what sign-in recorded (location) when the app stays the same.
        Some(old) if old.client_id.trim() == a.client_id.trim() => old.clone(),
        _ => ConnectionSettings::new(a.client_id.trim(), redirect_uri.trim()),
    };
    settings.client_id = a.client_id.trim().to_string();
    settings.redirect_uri = redirect_uri.trim().to_string();
    apply(&mut settings, &a);
    // Each check says what is wrong with that field, in the user's words.
    config::validate_client_id(&settings.client_id)?;
    config::validate_redirect_uri(&settings.redirect_uri)?;
    config::validate_scopes(&settings.scopes)?;
    settings.validate()?;
    if let Some(w) = thingstray::oauth::redirect::unregistrable(&settings.redirect_uri) {
        eprintln!("Warning: {w}");
    }

    if let Some(v) = a.vault {
        let kind = v.kind();
        if kind != config.vault && config.connections.keys().any(|k| k != &name) {
            eprintln!(
                "Note: the other connections' secrets stay in the {} store; run setup and login again for each.",
                if kind == VaultKind::File { "keychain" } else { "file" }
            );
        }
        config.vault = kind;
    }
    if config.vault == VaultKind::File {
        eprintln!(
            "Warning: secrets will be kept in {} (vault = \"file\"): readable by your user only, but anyone who \
             can read it as you can use your SmartThings account. Prefer the keychain where there is one.",
            ctx.paths.file_vault().display()
        );
    }
    let vault = Vault::open(&config, &ctx.paths)?;
    let existing = vault.client_secret(&name).await?;
    let secret = read_secret(existing.is_some())?;
    let Some(secret_to_check) = secret.clone().or(existing) else {
        return Err(CliError::Failed("no client secret was given".into()));
    };

    if !a.offline {
        check_online(&settings, &secret_to_check).await?;
    }

    // The vault choice lives in the settings file; write it before Connection::save reads it.
    // Only what this command changes, under the settings' lock: the copy read above is
    // minutes old after the prompt and the online check, and writing it back whole would
    // drop a connection another process added since.
    let (kind, make_default) = (config.vault, a.default);
    Config::update(&ctx.paths, |c| {
        c.vault = kind;
        if make_default {
            c.default_connection = Some(name.clone());
        }
        Ok(())
    })?;
    Connection::save(&ctx.paths, &vault, &name, settings.clone(), secret).await?;

    println!("Saved connection `{name}` (secrets in: {}).", vault.describe());
    eprintln!("Next: `thingstray{} login` to sign in.", flag(&ctx.connection));
    Ok(())
}

/// The flags that shape the settings beyond the id and redirect URI.
fn apply(settings: &mut ConnectionSettings, a: &Args) {
    if let Some(s) = &a.scopes {
        settings.scopes =
            s.split(|c: char| c.is_whitespace() || c == ',').filter(|s| !s.is_empty()).map(String::from).collect();
    }
    if let Some(u) = &a.api_url {
        settings.api_url = u.trim_end_matches('/').to_string();
    }
    if let Some(u) = &a.auth_url {
        settings.auth_url = u.trim_end_matches('/').to_string();
    }
}

/// `setup --store`: the app (or, with --schema, the connector) every replica uses, kept
/// in the store with its secret sealed.
async fn in_store(store: &super::store::StoreArgs, a: &Args, redirect_uri: &str) -> Result<(), CliError> {
    let mut settings = ConnectionSettings::new(a.client_id.trim(), redirect_uri.trim());
    apply(&mut settings, a);
    if !a.schema {
        config::validate_client_id(&settings.client_id)?;
        config::validate_redirect_uri(&settings.redirect_uri)?;
        config::validate_scopes(&settings.scopes)?;
        settings.validate()?;
    }
    let Some(secret) = read_secret(false)? else {
        return Err(CliError::Failed("no client secret was given".into()));
    };
    if !a.offline && !a.schema {
        check_online(&settings, &secret).await?;
    }
    super::store::setup(store, settings, secret, a.schema).await
}

fn flag(connection: &Option<String>) -> String {
    connection.as_ref().map(|c| format!(" --connection {c}")).unwrap_or_default()
}

/// The secret from the environment, else stdin: hidden at a terminal, else the first line
/// of what was piped. Empty keeps the stored one, when there is one.
fn read_secret(have_stored: bool) -> Result<Option<SecretString>, CliError> {
    let raw = if let Ok(s) = std::env::var(SECRET_ENV) {
        s
    } else if std::io::stdin().is_terminal() {
        let prompt = if have_stored {
            "Client secret (input hidden; Enter keeps the stored one): "
        } else {
            "Client secret (input hidden): "
        };
        rpassword::prompt_password(prompt).map_err(|e| CliError::Failed(format!("could not read the secret: {e}")))?
    } else {
        let mut s = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut s)
            .map_err(|e| CliError::Failed(format!("could not read the secret from stdin: {e}")))?;
        s.lines().next().unwrap_or("").to_string()
    };
    let s = raw.trim();
    if s.is_empty() {
        return if have_stored {
            Ok(None)
        } else {
            Err(CliError::Core(Error::InvalidSetting {
                field: "client_secret".into(),
                why: format!(
                    "none was given; pipe it in (`printf %s \"$SECRET\" | thingstray setup ...`) or set {SECRET_ENV}. \
                     It is the OAuth Client Secret `smartthings apps:create` printed once \
                     (a new one: `smartthings apps:oauth:generate <app-id>`)."
                ),
            }))
        };
    }
    if s.chars().any(char::is_whitespace) {
        return Err(CliError::Core(Error::InvalidSetting {
            field: "client_secret".into(),
            why: "it contains spaces; paste only the secret itself".into(),
        }));
    }
    Ok(Some(SecretString::from(s.to_string())))
}

/// Asks SmartThings: is this id+secret pair right (it refuses `client_credentials` only
/// after authenticating the client), and does it know this redirect URI? Unreachable is
/// a warning, not a failure: the settings may be right and the network down.
async fn check_online(settings: &ConnectionSettings, secret: &SecretString) -> Result<(), CliError> {
    let http = thingstray::http::client(std::time::Duration::from_secs(15))?;
    let oauth = OAuthClient::new(settings, secret, http)?;
    let soft = |e: &Error, what: &str| {
        eprintln!("Warning: could not {what} ({}); saved anyway. `thingstray doctor` checks again.", e.code());
    };
    match oauth.check_client().await {
        Ok(()) => {}
        Err(e) if e.is_transient() => soft(&e, "check the client id and secret with SmartThings"),
        Err(e) => return Err(e.into()),
    }
    match oauth.preflight(&oauth.begin_sign_in()).await {
        Ok(()) => {}
        Err(e) if e.is_transient() => soft(&e, "check the redirect URI with SmartThings"),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
