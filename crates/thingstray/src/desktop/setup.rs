//! The setup wizard's rules: what to answer `smartthings apps:create`, and checking the
//! three values the user copies back, field by field, as they type.

use serde::{Deserialize, Serialize};

use crate::config::{validate_base_url, validate_client_id, validate_redirect_uri, ConnectionSettings, DEFAULT_REDIRECT_URI, DEFAULT_SCOPES};
use crate::error::Error;

/// One prompt of `smartthings apps:create` and what to answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub prompt: &'static str,
    pub answer: String,
    /// Worth a copy button (typed values, not menu choices).
    pub copy: bool,
}

pub fn apps_create_answers() -> Vec<Answer> {
    let a = |prompt, answer: &str, copy| Answer { prompt, answer: answer.to_string(), copy };
    vec![
        a("What kind of app do you want to create?", "OAuth-In App", false),
        a("Display Name", "ThingsTray", true),
        a("Description", "Keeps my SmartThings devices in the tray", true),
        a("Icon Image URL (optional)", "(leave empty)", false),
        a("Target URL (optional)", "(leave empty)", false),
        a("Select Scopes", &DEFAULT_SCOPES.join(" "), true),
        a("Add or edit Redirect URIs", DEFAULT_REDIRECT_URI, true),
    ]
}

/// Redirect URIs that work, best first. All of them are caught by the sign-in window
/// before anything is sent; the custom scheme also works from the system browser.
pub const REDIRECT_CHOICES: &[&str] = &[DEFAULT_REDIRECT_URI, "https://httpbin.org/get", "thingstray://oauth/callback"];

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SetupForm {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    /// "Advanced": another SmartThings-compatible server (the simulator, say). Empty
    /// means SmartThings itself.
    #[serde(default)]
    pub api_url: String,
    #[serde(default)]
    pub auth_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldProblem {
    pub field: &'static str,
    pub message: String,
}

fn why(e: Error) -> String {
    match e {
        Error::InvalidSetting { why, .. } => why,
        other => other.to_string(),
    }
}

/// Every problem, one per field, so the wizard can mark each box. Empty fields the user
/// has not reached yet are problems too: the caller decides whether to show them.
pub fn check(form: &SetupForm) -> Vec<FieldProblem> {
    let mut out = Vec::new();
    if let Err(e) = validate_client_id(&form.client_id) {
        out.push(FieldProblem { field: "client_id", message: why(e) });
    }
    let secret = form.client_secret.trim();
    if secret.is_empty() {
        out.push(FieldProblem {
            field: "client_secret",
            message: "it is empty; copy the OAuth Client Secret that `smartthings apps:create` printed (it is shown only once)".into(),
        });
    } else if secret == form.client_id.trim() {
        out.push(FieldProblem { field: "client_secret", message: "this is the client id again; the secret is the other value".into() });
    } else if secret.chars().any(char::is_whitespace) {
        out.push(FieldProblem { field: "client_secret", message: "it contains spaces; copy it again without them".into() });
    }
    if let Err(e) = validate_redirect_uri(&form.redirect_uri) {
        out.push(FieldProblem { field: "redirect_uri", message: why(e) });
    }
    for (field, value) in [("api_url", &form.api_url), ("auth_url", &form.auth_url)] {
        if let Err(e) = Some(value.trim()).filter(|v| !v.is_empty()).map_or(Ok(()), |v| validate_base_url(field, v)) {
            out.push(FieldProblem { field, message: why(e) });
        }
    }
    out
}

impl SetupForm {
    /// Settings for a new connection against SmartThings itself.
    pub fn settings(&self) -> ConnectionSettings {
        let mut s = ConnectionSettings::new(self.client_id.trim(), self.redirect_uri.trim());
        if !self.api_url.trim().is_empty() {
            s.api_url = self.api_url.trim().trim_end_matches('/').to_string();
        }
        if !self.auth_url.trim().is_empty() {
            s.auth_url = self.auth_url.trim().trim_end_matches('/').to_string();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "8f3b7a52-1c4e-4d2a-9b7e-3e5f0a9c6d14";

    fn form(id: &str, secret: &str, uri: &str) -> SetupForm {
        SetupForm { client_id: id.into(), client_secret: secret.into(), redirect_uri: uri.into(), ..SetupForm::default() }
    }

    #[test]
    fn a_good_form_has_no_problems() {
        assert!(check(&form(ID, "s3cret-value", DEFAULT_REDIRECT_URI)).is_empty());
        for uri in REDIRECT_CHOICES {
            assert!(check(&form(ID, "x", uri)).is_empty(), "{uri}");
        }
    }

    #[test]
    fn each_field_is_checked_on_its_own() {
        let p = check(&form("abc", "", "http://example.com/cb"));
        let fields: Vec<_> = p.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["client_id", "client_secret", "redirect_uri"]);
        assert!(p[0].message.contains("looks like"));
        assert!(p[2].message.contains("plain http"));
        let p = check(&form(ID, ID, DEFAULT_REDIRECT_URI));
        assert_eq!(p[0].field, "client_secret");
        assert!(p[0].message.contains("client id"));
    }

    #[test]
    fn advanced_addresses_are_optional_but_checked() {
        let mut f = form(ID, "s3cret-value", DEFAULT_REDIRECT_URI);
        assert_eq!(f.settings().api_url, crate::config::DEFAULT_API_URL);
        f.api_url = "http://127.0.0.1:8080/".into();
        f.auth_url = "http://example.com/oauth".into();
        let p = check(&f);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].field, "auth_url");
        assert!(p[0].message.contains("https"));
        f.auth_url = "http://127.0.0.1:8080/oauth".into();
        assert!(check(&f).is_empty());
        let s = f.settings();
        assert_eq!((s.api_url.as_str(), s.auth_url.as_str()), ("http://127.0.0.1:8080", "http://127.0.0.1:8080/oauth"));
    }

    #[test]
    fn answers_name_the_scopes_and_the_redirect_uri() {
        let a = apps_create_answers();
        assert_eq!(a[0].answer, "OAuth-In App");
        assert!(a.iter().any(|x| x.answer == "r:devices:* x:devices:* r:locations:* r:scenes:* x:scenes:*"));
        assert!(a.iter().any(|x| x.answer == "https://thingstray.invalid/callback" && x.copy));
    }
}
