//! Authorization state: pending sign-ins, codes, installed apps, access and refresh
//! tokens, with Spring Security OAuth2's rules (SmartThings runs on it).
//!
//! Rules a client must survive: codes are single-use and consumed by their first use
//! even when that use fails; every refresh rotates the refresh token and the old one is
//! dead at once; refresh tokens die on revocation or after their lifetime.

use std::collections::HashMap;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::ids::{auth_code, opaque, uuid};

/// How long a sign-in page stays usable (sim clock).
const PENDING_LIFETIME_MS: u64 = 30 * 60 * 1000;

/// A sign-in page waiting for the user's decision.
#[derive(Debug, Clone)]
pub(crate) struct PendingAuth {
    /// The app (`appId`) whose client asked; one sign-in per app and location.
    pub app_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub challenge: Option<String>,
    /// The account signing in (`sim_user=`, users.rs): the page offers only its locations.
    pub user: usize,
    pub expires_ms: u64,
}

/// What an authorization code is bound to.
#[derive(Debug, Clone)]
struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    installed_app_id: String,
    expires_ms: u64,
}

/// One authorization (one sign-in, one location): SmartThings' "installed app".
#[derive(Debug, Clone)]
pub(crate) struct InstalledApp {
    pub id: String,
    /// The app (`appId`) it was signed in with.
    pub app_id: String,
    /// The app's client id at that sign-in.
    pub client_id: String,
    pub location_id: String,
    pub scopes: Vec<String>,
    pub created_ms: u64,
}

#[derive(Debug, Clone)]
struct AccessToken {
    installed_app_id: String,
    scopes: Vec<String>,
    expires_ms: u64,
}

#[derive(Debug, Clone)]
struct RefreshToken {
    installed_app_id: String,
    issued_ms: u64,
}

/// A successful grant, ready to be written as the token response.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub scopes: Vec<String>,
    pub installed_app_id: String,
    pub location_id: String,
}

/// An OAuth error as Spring writes it: status, `error`, `error_description`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TokenError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
    /// The installed app the refused call concerns, when its code or refresh token was
    /// known (for `Stats::token_calls_by_installed_app`).
    pub installed_app_id: Option<String>,
}

impl TokenError {
    pub(crate) fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        TokenError { status, error, description: description.into(), installed_app_id: None }
    }

    fn about(mut self, installed_app_id: &str) -> Self {
        self.installed_app_id = Some(installed_app_id.to_string());
        self
    }
}

/// A caller of the REST API, resolved from its bearer token: an OAuth-In sign-in (one
/// installed app, one location) or a personal access token (the whole account).
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// `None`: a personal access token.
    pub installed_app_id: Option<String>,
    /// `None`: every location of the account (a personal access token).
    pub location_id: Option<String>,
    pub scopes: Vec<String>,
}

impl Caller {
    /// Whether objects of this location are the caller's to see: an OAuth-In token its
    /// one location; a personal access token (user 0's) every location of user 0, never
    /// another user's (users.rs).
    pub(crate) fn sees(&self, location_id: &str) -> bool {
        match self.location_id.as_deref() {
            Some(own) => own == location_id,
            None => crate::users::owner(location_id) == 0,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct OAuthStore {
    /// SmartThings' rule: one installed app per (app, location). A new sign-in for the
    /// pair reuses it, and its code exchange kills the older sign-in's refresh tokens
    /// (their access tokens work until they expire). Off: every sign-in is its own.
    pub one_sign_in_per_location: bool,
    pending: HashMap<String, PendingAuth>,
    codes: HashMap<String, CodeGrant>,
    apps: HashMap<String, InstalledApp>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
}

/// `BASE64URL-NOPAD(SHA256(verifier))`, RFC 7636's S256.
pub(crate) fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl OAuthStore {
    pub(crate) fn new(one_sign_in_per_location: bool) -> OAuthStore {
        OAuthStore { one_sign_in_per_location, ..OAuthStore::default() }
    }

    /// Remembers a sign-in page; returns its opaque id.
    pub(crate) fn add_pending(&mut self, mut pending: PendingAuth, now_ms: u64) -> String {
        self.pending.retain(|_, p| p.expires_ms > now_ms);
        pending.expires_ms = now_ms.saturating_add(PENDING_LIFETIME_MS);
        let id = opaque();
        self.pending.insert(id.clone(), pending);
        id
    }

    /// Takes a pending sign-in (single use); `None` if unknown or expired.
    pub(crate) fn take_pending(&mut self, id: &str, now_ms: u64) -> Option<PendingAuth> {
        self.pending.remove(id).filter(|p| p.expires_ms > now_ms)
    }

    /// The user approved: creates the installed app and a code bound to everything.
    pub(crate) fn issue_code(&mut self, p: &PendingAuth, location_id: &str, now_ms: u64, lifetime_s: u64) -> String {
        let existing = self
            .apps
            .values()
            .find(|a| self.one_sign_in_per_location && a.app_id == p.app_id && a.location_id == location_id)
            .map(|a| a.id.clone());
        let app = InstalledApp {
            id: existing.unwrap_or_else(uuid),
            app_id: p.app_id.clone(),
            client_id: p.client_id.clone(),
            location_id: location_id.to_string(),
            scopes: p.scopes.clone(),
            created_ms: now_ms,
        };
        self.codes.retain(|_, c| c.expires_ms > now_ms);
        let mut code = auth_code();
        while self.codes.contains_key(&code) {
            code = auth_code();
        }
        self.codes.insert(
            code.clone(),
            CodeGrant {
                client_id: p.client_id.clone(),
                redirect_uri: p.redirect_uri.clone(),
                challenge: p.challenge.clone(),
                installed_app_id: app.id.clone(),
                expires_ms: now_ms.saturating_add(lifetime_s.saturating_mul(1000)),
            },
        );
        self.apps.insert(app.id.clone(), app);
        code
    }

    fn issue_tokens(&mut self, app_id: &str, scopes: Vec<String>, now_ms: u64, expires_in: u64) -> Issued {
        let location_id = self.apps.get(app_id).map(|a| a.location_id.clone()).unwrap_or_default();
        let access_token = uuid();
        let refresh_token = uuid();
        self.access.insert(
            access_token.clone(),
            AccessToken {
                installed_app_id: app_id.to_string(),
                scopes: scopes.clone(),
                expires_ms: now_ms.saturating_add(expires_in.saturating_mul(1000)),
            },
        );
        self.refresh
            .insert(refresh_token.clone(), RefreshToken { installed_app_id: app_id.to_string(), issued_ms: now_ms });
        Issued { access_token, refresh_token, expires_in, scopes, installed_app_id: app_id.to_string(), location_id }
    }

    /// `grant_type=authorization_code`, after client authentication.
    pub(crate) fn redeem_code(
        &mut self,
        client_id: &str,
        code: Option<&str>,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
        now_ms: u64,
        expires_in: u64,
    ) -> Result<Issued, TokenError> {
        let Some(code) = code else {
            return Err(TokenError::new(400, "invalid_request", "An authorization code must be supplied."));
        };
        // Consumed by its first use, whatever happens next.
        let grant = self
            .codes
            .remove(code)
            .filter(|g| g.expires_ms > now_ms)
            .ok_or_else(|| TokenError::new(400, "invalid_grant", format!("Invalid authorization code: {code}")))?;
        let concerned = grant.installed_app_id.as_str();
        if redirect_uri != Some(grant.redirect_uri.as_str()) {
            return Err(TokenError::new(400, "invalid_grant", "Redirect URI mismatch.").about(concerned));
        }
        if grant.client_id != client_id {
            return Err(TokenError::new(401, "invalid_client", "Client ID mismatch").about(concerned));
        }
        if let Some(challenge) = &grant.challenge {
            if verifier.map(s256).as_deref() != Some(challenge.as_str()) {
                return Err(TokenError::new(400, "invalid_grant", "Invalid code verifier").about(concerned));
            }
        }
        let scopes = self.apps.get(&grant.installed_app_id).map(|a| a.scopes.clone()).unwrap_or_default();
        if self.one_sign_in_per_location {
            // Only the newest sign-in lives: the older one's refresh token dies now, and
            // its holder finds out when its access token expires (a day later, typically).
            self.refresh.retain(|_, rt| rt.installed_app_id != grant.installed_app_id);
        }
        Ok(self.issue_tokens(&grant.installed_app_id, scopes, now_ms, expires_in))
    }

    /// `grant_type=refresh_token`: rotates the refresh token; the old access token lives on.
    pub(crate) fn refresh(
        &mut self,
        client_id: &str,
        token: Option<&str>,
        narrowed_scopes: Option<Vec<String>>,
        now_ms: u64,
        expires_in: u64,
        lifetime_s: u64,
    ) -> Result<Issued, TokenError> {
        let shown = token.unwrap_or("null");
        let invalid = || TokenError::new(400, "invalid_grant", format!("Invalid refresh token: {shown}"));
        let Some(value) = token else { return Err(invalid()) };
        let Some(rt) = self.refresh.get(value).cloned() else { return Err(invalid()) };
        let concerned = rt.installed_app_id.as_str();
        let Some(app) = self.apps.get(concerned).cloned() else { return Err(invalid().about(concerned)) };
        if app.client_id != client_id {
            let d = format!("Wrong client for this refresh token: {value}");
            return Err(TokenError::new(400, "invalid_grant", d).about(concerned));
        }
        if now_ms >= rt.issued_ms.saturating_add(lifetime_s.saturating_mul(1000)) {
            self.refresh.remove(value);
            return Err(invalid().about(concerned));
        }
        let scopes = match narrowed_scopes {
            Some(s) if !s.is_empty() => {
                if s.iter().any(|x| !app.scopes.contains(x)) {
                    let d = format!("Unable to narrow the scope of the client authentication to [{}].", s.join(", "));
                    return Err(TokenError::new(400, "invalid_scope", d).about(concerned));
                }
                s
            }
            _ => app.scopes.clone(),
        };
        self.refresh.remove(value);
        Ok(self.issue_tokens(&app.id, scopes, now_ms, expires_in))
    }

    /// Every live refresh token dies.
    pub(crate) fn revoke_refresh_tokens(&mut self) {
        self.refresh.clear();
    }

    /// Resolves a bearer token that is known and not expired.
    pub(crate) fn caller(&self, token: &str, now_ms: u64) -> Option<Caller> {
        let at = self.access.get(token)?;
        if now_ms >= at.expires_ms {
            return None;
        }
        let app = self.apps.get(&at.installed_app_id)?;
        Some(Caller {
            installed_app_id: Some(app.id.clone()),
            location_id: Some(app.location_id.clone()),
            scopes: at.scopes.clone(),
        })
    }

    /// Every installed app (every sign-in's), oldest first.
    pub(crate) fn installed_apps(&self) -> Vec<&InstalledApp> {
        let mut all: Vec<&InstalledApp> = self.apps.values().collect();
        all.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then_with(|| a.id.cmp(&b.id)));
        all
    }

    /// The authorizations of an app end: the access and refresh tokens, codes and sign-in
    /// pages of its installed apps die at once (a new client secret, or the app deleted).
    /// `uninstall`: the installed apps go too (the app was deleted).
    pub(crate) fn end_app_sessions(&mut self, app_id: &str, uninstall: bool) {
        let installs: Vec<String> = self.apps.values().filter(|a| a.app_id == app_id).map(|a| a.id.clone()).collect();
        self.access.retain(|_, t| !installs.contains(&t.installed_app_id));
        self.refresh.retain(|_, t| !installs.contains(&t.installed_app_id));
        self.codes.retain(|_, c| !installs.contains(&c.installed_app_id));
        self.pending.retain(|_, p| p.app_id != app_id);
        if uninstall {
            self.apps.retain(|_, a| a.app_id != app_id);
        }
    }

    /// One installed app uninstalled (`DELETE /installedapps/{id}`): it goes, and its
    /// tokens and codes die with it. False when there was no such installed app.
    pub(crate) fn uninstall(&mut self, id: &str) -> bool {
        if self.apps.remove(id).is_none() {
            return false;
        }
        self.access.retain(|_, t| t.installed_app_id != id);
        self.refresh.retain(|_, t| t.installed_app_id != id);
        self.codes.retain(|_, c| c.installed_app_id != id);
        true
    }

    /// When a known access token expires (sim clock, ms), expired or not.
    pub(crate) fn access_expiry_ms(&self, token: &str) -> Option<u64> {
        self.access.get(token).map(|t| t.expires_ms)
    }

    pub(crate) fn installed_app(&self, id: &str) -> Option<&InstalledApp> {
        self.apps.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(challenge: Option<&str>) -> PendingAuth {
        PendingAuth {
            app_id: "app".into(),
            client_id: "c".into(),
            redirect_uri: "https://x.invalid/cb".into(),
            scopes: vec!["r:devices:*".into()],
            state: None,
            challenge: challenge.map(str::to_string),
            user: 0,
            expires_ms: 0,
        }
    }

    #[test]
    fn s256_matches_rfc7636_example() {
        assert_eq!(s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn code_is_consumed_even_when_the_redirect_is_wrong() {
        let mut s = OAuthStore::default();
        let code = s.issue_code(&pending(None), "loc", 0, 300);
        let e = s.redeem_code("c", Some(&code), Some("https://other"), None, 1, 60).unwrap_err();
        assert_eq!(e.description, "Redirect URI mismatch.");
        let e = s.redeem_code("c", Some(&code), Some("https://x.invalid/cb"), None, 1, 60).unwrap_err();
        assert_eq!(e.description, format!("Invalid authorization code: {code}"));
    }

    #[test]
    fn refresh_rotates_and_narrows() {
        let mut s = OAuthStore::default();
        let code = s.issue_code(&pending(None), "loc", 0, 300);
        let t = s.redeem_code("c", Some(&code), Some("https://x.invalid/cb"), None, 0, 60).unwrap();
        let e = s.refresh("c", Some(&t.refresh_token), Some(vec!["x:devices:*".into()]), 0, 60, 100).unwrap_err();
        assert_eq!(e.error, "invalid_scope");
        let t2 = s.refresh("c", Some(&t.refresh_token), None, 0, 60, 100).unwrap();
        assert_eq!(t2.installed_app_id, t.installed_app_id);
        assert!(s.refresh("c", Some(&t.refresh_token), None, 0, 60, 100).is_err());
        assert!(s.caller(&t.access_token, 59_999).is_some());
        assert!(s.caller(&t.access_token, 60_000).is_none());
        assert_eq!(s.refresh("c", None, None, 0, 60, 100).unwrap_err().description, "Invalid refresh token: null");
        let e = s.refresh("c", Some(&t2.refresh_token), None, 100_000, 60, 100).unwrap_err();
        assert_eq!(e.error, "invalid_grant");
    }
}
