//! The OAuth-In app from the window: the wizard's "Create the app for me" (one pasted
//! personal access token, then straight on to the sign-in), and "Check" / "Repair" in the
//! wizard's App settings step and in Settings. The token arrives over IPC, is wrapped at
//! once (wiped when dropped), used for these calls and never stored or sent back.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::sign_in::SignInStart;
use super::Desktop;
use crate::apps::{self, AppCheck, NewApp, Pat, PatBox, Repaired, PAT_BOXES, PAT_PAGE};
use crate::error::Result;

/// The wizard's one-paste form. Empty addresses mean SmartThings itself.
#[derive(Deserialize)]
pub struct CreateAppForm {
    pub pat: SecretString,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub api_url: String,
    #[serde(default)]
    pub auth_url: String,
}

/// Where to make the token and which boxes to tick (the page shows them as a checklist).
#[derive(Debug, Clone, Serialize)]
pub struct PatHelp {
    pub page: &'static str,
    pub boxes: &'static [PatBox],
    /// What the app will be called unless the user names it.
    pub display_name: String,
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

/// An app id from the window: an empty field means "the recorded one".
fn given(app_id: Option<&str>) -> Option<&str> {
    app_id.map(str::trim).filter(|s| !s.is_empty())
}

impl Desktop {
    pub fn pat_help() -> PatHelp {
        PatHelp {
            page: PAT_PAGE,
            boxes: PAT_BOXES,
            display_name: apps::display_name(&gethostname::gethostname().to_string_lossy()),
        }
    }

    /// Creates the app, saves the new connection and starts its sign-in.
    pub async fn create_app(&self, form: CreateAppForm) -> Result<SignInStart> {
        let pat = Pat::new(&form.pat)?;
        drop(form.pat);
        let new = NewApp {
            connection: None,
            display_name: some(&form.display_name),
            api_url: some(&form.api_url),
            auth_url: some(&form.auth_url),
        };
        let created =
            apps::create(&self.paths, &self.vault, pat, new, crate::http::client(self.opts.request_timeout)?).await?;
        self.open_saved(&created.connection).await
    }

    /// `app_id`: the app, when the connection cannot know it yet (set up with keys from
    /// the CLI and never signed in: `app_unknown`); it is recorded for next time.
    pub async fn check_app(&self, connection: &str, app_id: Option<&str>, pat: SecretString) -> Result<AppCheck> {
        let pat = Pat::new(&pat)?;
        apps::check(&self.paths, Some(connection), given(app_id), pat, crate::http::client(self.opts.request_timeout)?)
            .await
    }

    /// Fixes the app; with `new_secret`, the connection is opened again with the new client
    /// id and secret (its sign-in has ended: the window offers "Sign in again").
    pub async fn repair_app(
        &self,
        connection: &str,
        app_id: Option<&str>,
        pat: SecretString,
        new_secret: bool,
    ) -> Result<Repaired> {
        let pat = Pat::new(&pat)?;
        let http = crate::http::client(self.opts.request_timeout)?;
        let done =
            apps::repair(&self.paths, &self.vault, Some(connection), given(app_id), pat, new_secret, http).await?;
        if done.new_secret {
            self.reopen(connection).await?;
        }
        Ok(done)
    }
}
