//! The setup wizard's rules: what to answer `smartthings apps:create`, and checking the
//! three values the user copies back, field by field, as they type.

use serde::{Deserialize, Serialize};

use crate::config::{validate_base_url, validate_client_id, validate_redirect_uri, ConnectionSettings, DEFAULT_SCOPES};
use crate::error::Error;
use crate::oauth::redirect::{unregistrable, RECOMMENDED};

/// One prompt of `smartthings apps:create` and what to answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// The prompt as the CLI prints it.
    pub prompt: &'static str,
    pub answer: String,
    /// Worth a copy button (typed values, not menu choices).
    pub copy: bool,
    /// How to give the answer, when it is not typed: a menu, a checklist, just Enter.
    pub how: &'static str,
}

/// Every prompt `smartthings apps:create` asks, in its order, with ThingsTray's answer.
/// Read from SmartThingsCommunity/smartthings-cli: `getAppCreateRequestFromUser` and
/// `oauthAppCreateRequestInputDefinition` (src/lib/command/util/apps-user-input-create.ts),
/// `oauthAppScopeDef` and `redirectUrisDef` (apps-input-primitives.ts), how `objectDef`,
/// `arrayDef` and `checkboxDef` word their prompts (src/lib/item-input/), and the final menu
/// of `updateFromUserInput` (item-input/command-helpers.ts). App name, client name, type,
/// classification and principal type are filled in by the CLI without a prompt.
pub fn apps_create_answers() -> Vec<Answer> {
    let typed = |prompt, answer: &str| Answer { prompt, answer: answer.to_string(), copy: true, how: "" };
    let other = |prompt, answer: &str, how| Answer { prompt, answer: answer.to_string(), copy: false, how };
    vec![
        other(
            "What kind of app do you want to create? (Currently, only OAuth-In apps are supported.)",
            "OAuth-In App",
            "a menu: already selected, press Enter",
        ),
        typed("Display Name", "ThingsTray"),
        typed("Description", "Keeps my SmartThings devices in the tray"),
        other("Icon Image URL (optional)", "(leave empty)", "press Enter"),
        other("Target URL (optional)", "(leave empty)", "press Enter"),
        other("Select Scopes.", &DEFAULT_SCOPES.join(" "), "a checklist: check each with Space, then press Enter"),
        other(
            "Add or edit Redirect URIs.",
            "Add Redirect URI.",
            "a menu: arrow up to it, then Enter (Enter alone would add none)",
        ),
        typed("Redirect URI (? for help)", RECOMMENDED),
        other(
            "Add or edit Redirect URIs.",
            "Finish editing Redirect URIs.",
            "the same menu again: already selected, press Enter",
        ),
        other("Choose an action.", "Finish and create OAuth-In SmartApp.", "a menu: already selected, press Enter"),
    ]
}

/// The scopes `apps:create` offers to check (smartthings-cli's `availableScopes`, in its
/// order). ThingsTray asks for [`DEFAULT_SCOPES`], all of them in this list.
pub const APPS_CREATE_SCOPES: &[&str] = &[
    "r:devices:*",
    "w:devices:*",
    "x:devices:*",
    "r:hubs:*",
    "r:locations:*",
    "w:locations:*",
    "x:locations:*",
    "r:scenes:*",
    "x:scenes:*",
    "r:rules:*",
    "w:rules:*",
    "r:installedapps",
    "w:installedapps",
];

/// The redirect URI to register with `apps:create`: one, the `.invalid` address the
/// sign-in window catches before any request is made. (A list, for the IPC answer.)
/// Signing in with the system browser works with it too: the browser ends on an error
/// page whose address the user pastes back (or see docs/callback.html).
pub const REDIRECT_CHOICES: &[&str] = &[RECOMMENDED];

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
    /// Worth saying, but no reason to refuse the form: saving goes ahead.
    pub warning: bool,
}

impl FieldProblem {
    fn error(field: &'static str, message: impl Into<String>) -> FieldProblem {
        FieldProblem { field, message: message.into(), warning: false }
    }
}

/// The problems that stop the form from being saved (warnings never do).
pub fn errors(problems: Vec<FieldProblem>) -> impl Iterator<Item = FieldProblem> {
    problems.into_iter().filter(|p| !p.warning)
}

fn why(e: Error) -> String {
    match e {
        Error::InvalidSetting { why, .. } => why,
        other => other.to_string(),
    }
}

/// Every problem, one per field, so the wizard can mark each box. Empty fields the user
/// has not reached yet are problems too: the caller decides whether to show them. A
/// redirect URI that ThingsTray can use but `smartthings apps:create` could not have
/// registered is a warning (`warning: true`), with what to use instead.
pub fn check(form: &SetupForm) -> Vec<FieldProblem> {
    let mut out = Vec::new();
    if let Err(e) = validate_client_id(&form.client_id) {
        out.push(FieldProblem::error("client_id", why(e)));
    }
    let secret = form.client_secret.trim();
    if secret.is_empty() {
        out.push(FieldProblem::error(
            "client_secret",
            "it is empty; copy the OAuth Client Secret that `smartthings apps:create` printed (it is shown only once)",
        ));
    } else if secret == form.client_id.trim() {
        out.push(FieldProblem::error("client_secret", "this is the client id again; the secret is the other value"));
    } else if secret.chars().any(char::is_whitespace) {
        out.push(FieldProblem::error("client_secret", "it contains spaces; copy it again without them"));
    }
    if let Err(e) = validate_redirect_uri(&form.redirect_uri) {
        out.push(FieldProblem::error("redirect_uri", why(e)));
    } else if let Some(w) = unregistrable(form.redirect_uri.trim()) {
        out.push(FieldProblem { field: "redirect_uri", message: w.to_string(), warning: true });
    }
    for (field, value) in [("api_url", &form.api_url), ("auth_url", &form.auth_url)] {
        if let Err(e) = Some(value.trim()).filter(|v| !v.is_empty()).map_or(Ok(()), |v| validate_base_url(field, v)) {
            out.push(FieldProblem::error(field, why(e)));
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
    use crate::config::DEFAULT_REDIRECT_URI;

    const ID: &str = "8f3b7a52-1c4e-4d2a-9b7e-3e5f0a9c6d14";

    fn form(id: &str, secret: &str, uri: &str) -> SetupForm {
        SetupForm {
            client_id: id.into(),
            client_secret: secret.into(),
            redirect_uri: uri.into(),
            ..SetupForm::default()
        }
    }

    #[test]
    fn a_good_form_has_no_problems() {
        assert!(check(&form(ID, "s3cret-value", DEFAULT_REDIRECT_URI)).is_empty());
        assert_eq!(REDIRECT_CHOICES, [DEFAULT_REDIRECT_URI], "one recommendation, and no third party");
        for uri in [DEFAULT_REDIRECT_URI, "http://127.0.0.1:8765/callback", "http://localhost/callback"] {
            assert!(check(&form(ID, "x", uri)).is_empty(), "{uri}");
        }
    }

    #[test]
    fn a_redirect_uri_apps_create_refuses_is_a_warning_that_says_what_to_use() {
        for uri in ["thingstray://oauth/callback", "http://[::1]:8765/callback"] {
            let p = check(&form(ID, "s3cret-value", uri));
            assert_eq!(p.len(), 1, "{p:?}");
            assert_eq!((p[0].field, p[0].warning), ("redirect_uri", true));
            assert!(p[0].message.contains("`smartthings apps:create` could not have registered"), "{}", p[0].message);
            assert_eq!(errors(p).count(), 0, "a warning never stops the save");
        }
        let p = check(&form(ID, "s3cret-value", "thingstray://oauth/callback"));
        assert!(p[0].message.contains("https://thingstray.invalid/callback instead"), "{}", p[0].message);
        // An error says it alone: no warning on top of it.
        let p = check(&form(ID, "s3cret-value", "http://example.com/cb"));
        assert_eq!(p.len(), 1);
        assert!(!p[0].warning && p[0].message.contains("plain http"));
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

    /// The prompts of smartthings-cli's `apps:create`, in its order (see
    /// [`apps_create_answers`] for where each comes from).
    #[test]
    fn answers_follow_apps_create_prompt_by_prompt() {
        let a = apps_create_answers();
        let prompts: Vec<_> = a.iter().map(|x| x.prompt).collect();
        assert_eq!(
            prompts,
            [
                "What kind of app do you want to create? (Currently, only OAuth-In apps are supported.)",
                "Display Name",
                "Description",
                "Icon Image URL (optional)",
                "Target URL (optional)",
                "Select Scopes.",
                "Add or edit Redirect URIs.",
                "Redirect URI (? for help)",
                "Add or edit Redirect URIs.",
                "Choose an action.",
            ]
        );
        assert_eq!(a[0].answer, "OAuth-In App");
        assert_eq!(a[5].answer, "r:devices:* x:devices:* r:locations:* r:scenes:* x:scenes:*");
        assert!(!a[5].copy, "a checklist: nothing to paste");
        assert_eq!((a[7].answer.as_str(), a[7].copy), ("https://thingstray.invalid/callback", true));
        assert!(a[7].how.is_empty(), "typed");
        assert!(a.iter().all(|x| x.copy == x.how.is_empty()), "every answer is typed (copy) or says how to give it");
        assert!(crate::oauth::redirect::apps_create_accepts(&a[7].answer), "the CLI takes the URI we tell it");
        // Every scope ThingsTray asks for is one the CLI offers to check.
        for s in DEFAULT_SCOPES {
            assert!(APPS_CREATE_SCOPES.contains(s), "{s}");
        }
    }
}
