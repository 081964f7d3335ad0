//! Setup and sign-in: saving a new connection, and the ONE callback handler every sign-in
//! answer goes through (the sign-in window, a `thingstray://` deep link, a pasted address).

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{Desktop, Pending};
use crate::config::{Config, ConnectionSettings};
use crate::connection::Connection;
use crate::desktop::setup::{check, errors, FieldProblem, SetupForm};
use crate::error::{Error, Result};
#[derive(Debug, Clone, Serialize)]
pub struct SignInStart {
    pub connection: String,
    pub authorize_url: String,
    pub redirect_uri: String,
    /// SmartThings' sign-in page already refuses this sign-in (a redirect URI the app
    /// does not have): asked before the window opens, for keys typed by hand, because
    /// the window itself would only show SmartThings' plain-text refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<Error>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedIn {
    pub connection: String,
    pub location_name: Option<String>,
    pub device_count: usize,
}

impl Desktop {
    pub fn check_setup(form: &SetupForm) -> Vec<FieldProblem> {
        check(form)
    }

    /// Saves a new connection (settings to the file, secret to the vault) and starts its
    /// sign-in. `name`: `None` picks `home`, `home-2`, … (one connection per location).
    /// Only errors refuse the form; a warning (a redirect URI `apps:create` could not
    /// have registered) was shown under its field and does not stop the save.
    pub async fn setup(&self, name: Option<&str>, form: SetupForm) -> Result<SignInStart> {
        if let Some(p) = errors(check(&form)).next() {
            return Err(Error::InvalidSetting { field: p.field.into(), why: p.message });
        }
        let secret = SecretString::from(form.client_secret.trim().to_string());
        let mut start = self.setup_with(name, form.settings(), secret).await?;
        start.refused = self.preflight(&start.connection).await;
        Ok(start)
    }

    /// Whether SmartThings' sign-in page refuses the sign-in in progress outright. Only a
    /// refusal counts: the network or a server error is no reason to stop the user.
    async fn preflight(&self, connection: &str) -> Option<Error> {
        let conn = self.connection(connection).ok()?;
        // A sign-in of its own, never finished: only its address is asked for.
        let probe = conn.begin_sign_in().ok()?;
        match conn.session.oauth().ok()?.preflight(&probe).await {
            Err(e @ Error::RedirectUriMismatch { .. }) => Some(e),
            _ => None,
        }
    }

    pub async fn setup_with(
        &self,
        name: Option<&str>,
        settings: ConnectionSettings,
        secret: SecretString,
    ) -> Result<SignInStart> {
        let name = match name {
            Some(n) => n.to_string(),
            None => self.free_name(),
        };
        Connection::save(&self.paths, &self.vault, &name, settings, Some(secret)).await?;
        self.open_saved(&name).await
    }

    /// Opens a connection just saved (by the form, or "Create the app for me") and starts
    /// its sign-in.
    pub(super) async fn open_saved(&self, name: &str) -> Result<SignInStart> {
        self.reopen(name).await?;
        self.begin_sign_in(name)
    }

    /// (Re)opens a connection from its settings and vault, replacing the open one (whose
    /// refresher stops): after a save, or a new client id and secret.
    pub(super) async fn reopen(&self, name: &str) -> Result<()> {
        let config = Config::load(&self.paths)?;
        self.state().default = config.default_connection.clone();
        let conn =
            Connection::open_with(&self.paths, &config, self.vault.clone(), Some(name), self.opts.clone()).await?;
        self.adopt(conn);
        self.bump();
        Ok(())
    }

    pub(super) fn free_name(&self) -> String {
        Config::load(&self.paths).unwrap_or_default().free_name()
    }

    /// Starts (or restarts) a sign-in. Signing in again replaces only the tokens.
    pub fn begin_sign_in(&self, connection: &str) -> Result<SignInStart> {
        let conn = self.connection(connection)?;
        let sign_in = conn.begin_sign_in()?;
        let start = SignInStart {
            connection: conn.name.clone(),
            authorize_url: sign_in.authorize_url().to_string(),
            redirect_uri: sign_in.redirect_uri().to_string(),
            refused: None,
        };
        self.state().pending = Some(Pending { connection: conn.name.clone(), sign_in, started: self.opts.clock.now() });
        Ok(start)
    }

    /// For the sign-in window's navigation hook: is this the redirect of the sign-in in
    /// progress? (Then the window cancels the navigation and hands the URL to
    /// [`Desktop::finish_sign_in`]; the code never leaves the machine.)
    pub fn is_sign_in_redirect(&self, url: &str) -> bool {
        self.state().pending(self.opts.clock.now()).is_some_and(|p| p.sign_in.is_redirect(url))
    }

    pub fn sign_in_pending(&self) -> Option<String> {
        self.state().pending(self.opts.clock.now()).map(|p| p.connection.clone())
    }

    /// Where the sign-in in progress starts (for the sign-in window or the browser).
    pub fn pending_authorize_url(&self) -> Option<String> {
        self.state().pending(self.opts.clock.now()).map(|p| p.sign_in.authorize_url().to_string())
    }

    pub fn cancel_sign_in(&self) {
        self.state().pending = None;
    }

    /// The sign-in window showing `authorize_url` closed: that sign-in is over (its state
    /// and PKCE verifier need not wait 30 minutes for a callback that cannot come). A
    /// newer sign-in, started meanwhile, is not touched.
    pub fn sign_in_window_closed(&self, authorize_url: &str) {
        let mut st = self.state();
        if st.pending.as_ref().is_some_and(|p| p.sign_in.authorize_url().as_str() == authorize_url) {
            st.pending = None;
        }
    }

    /// The one callback handler: a redirect caught in the sign-in window, a
    /// `thingstray://` deep link, a pasted address or a bare code. A refused answer leaves
    /// the sign-in pending, so a stray or forged callback changes nothing.
    pub async fn finish_sign_in(&self, answer: &str) -> Result<SignedIn> {
        let pending = {
            let mut st = self.state();
            st.pending(self.opts.clock.now());
            st.pending.take().ok_or(Error::NoSignInPending)?
        };
        let conn = match self.connection(&pending.connection) {
            Ok(c) => c,
            Err(e) => return Err(e),
        };
        if let Err(e) = conn.finish_sign_in(&self.paths, &pending.sign_in, answer).await {
            let mut st = self.state();
            if st.pending.is_none() {
                st.pending = Some(pending);
            }
            return Err(e);
        }
        let location_name = Config::load(&self.paths)
            .ok()
            .and_then(|c| c.connections.get(&conn.name).and_then(|s| s.location_name.clone()));
        if let Some(l) = self.state().live.get_mut(&conn.name) {
            l.location_name = location_name.clone();
            l.devices = None;
            l.places_read = None;
        }
        self.bump();
        let device_count = match self.refresh_devices(&conn.name).await {
            Ok(()) => self.state().live.get(&conn.name).and_then(|l| l.devices.as_ref().map(Vec::len)).unwrap_or(0),
            Err(_) => 0,
        };
        Ok(SignedIn { connection: conn.name, location_name, device_count })
    }

    /// Forgets this connection's tokens; its settings, secret and favorites stay.
    pub async fn sign_out(&self, connection: &str) -> Result<()> {
        let conn = self.connection(connection)?;
        conn.session.sign_out().await?;
        if let Some(l) = self.state().live.get_mut(connection) {
            l.devices = None;
            l.last_read = None;
        }
        self.bump();
        Ok(())
    }
}
