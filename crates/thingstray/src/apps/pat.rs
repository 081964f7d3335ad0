//! The personal access token the user pastes once to let ThingsTray create or fix its
//! OAuth-In app. It is held only as a [`SecretString`] (wiped from memory when dropped),
//! never stored, logged, put in argv or sent back to the webview.

use secrecy::{ExposeSecret, SecretString};

use super::refusals::refusal;
use crate::error::Result;

/// Where personal access tokens are made.
pub const PAT_PAGE: &str = "https://account.smartthings.com/tokens";

/// A box to tick on [`PAT_PAGE`]: the scope, the box's words, and why ThingsTray needs it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PatBox {
    pub scope: &'static str,
    pub label: &'static str,
    pub why: &'static str,
}

/// The boxes to tick, and nothing more (docs/app-setup.md cites where each comes from).
pub const PAT_BOXES: &[PatBox] = &[
    PatBox {
        scope: "r:apps:*",
        label: "Applications: See all apps",
        why: "read the app's redirect URIs and scopes (check)",
    },
    PatBox {
        scope: "w:apps:*",
        label: "Applications: Manage all apps",
        why: "create the app, fix its redirect URIs and scopes, issue a new client secret, delete it",
    },
    PatBox {
        scope: "r:installedapps:*",
        label: "Installed Applications: See all installed apps",
        why: "find which app an existing sign-in belongs to (check and repair of an app made with the CLI)",
    },
];

/// The box's words for a scope (the scope itself when it is not one of ours).
pub(crate) fn box_for(scope: &str) -> &str {
    PAT_BOXES.iter().find(|b| b.scope == scope).map(|b| b.label).unwrap_or(scope)
}

/// A personal access token, checked for shape before any call.
pub struct Pat(SecretString);

impl Pat {
    /// Takes what was pasted: surrounding space and a leading `Bearer ` are dropped; an
    /// empty paste, or one with spaces or control characters inside, is refused before
    /// SmartThings sees it.
    pub fn new(pasted: &SecretString) -> Result<Pat> {
        let raw = pasted.expose_secret().trim();
        let raw = raw.strip_prefix("Bearer ").or_else(|| raw.strip_prefix("bearer ")).unwrap_or(raw).trim();
        if raw.is_empty() {
            return Err(refusal("pat_malformed", "No personal access token was given."));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(refusal("pat_malformed", "The personal access token has spaces or line breaks inside."));
        }
        if raw.len() < 16 || raw.len() > 512 {
            return Err(refusal(
                "pat_malformed",
                format!("That is {} characters; a personal access token is about 36.", raw.len()),
            ));
        }
        Ok(Pat(SecretString::from(raw.to_string())))
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Pat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pat(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(s: &str) -> Result<Pat> {
        Pat::new(&SecretString::from(s.to_string()))
    }

    #[test]
    fn a_pasted_token_is_cleaned_or_refused_before_any_call() {
        let t = "5f3c8e1a-9b2d-4c7e-8a6f-0d1e2f3a4b5c";
        assert_eq!(pat(&format!("  {t}\n")).unwrap().expose(), t);
        assert_eq!(pat(&format!("Bearer {t}")).unwrap().expose(), t);
        for bad in ["", "   ", "abc", "5f3c8e1a 9b2d-4c7e-8a6f-0d1e2f3a4b5c"] {
            assert_eq!(pat(bad).unwrap_err().code(), "pat_malformed", "{bad:?}");
        }
        assert!(!format!("{:?}", pat(t).unwrap()).contains(t));
    }

    #[test]
    fn every_box_names_its_scope() {
        assert_eq!(box_for("w:apps:*"), "Applications: Manage all apps");
        assert_eq!(box_for("x:unknown"), "x:unknown");
        assert!(PAT_BOXES.iter().all(|b| !b.why.is_empty()));
    }
}
