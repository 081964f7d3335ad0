//! What the app should look like, and how the app SmartThings holds differs from it: pure
//! rules, no HTTP. The redirect URI must match exactly (scheme, host, port, path, trailing
//! slash), and every scope the sign-in asks for must be one the app allows, or the sign-in
//! page refuses it: the two mistakes users of every other tool make.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::ConnectionSettings;
use crate::error::Result;

use super::refusals::refusal;

/// SmartThings keeps at most this many redirect URIs per app.
pub const MAX_REDIRECT_URIS: usize = 10;
/// Display names longer than this are cut (SmartThings' limit; docs/app-setup.md).
pub const DISPLAY_NAME_MAX: usize = 75;
pub const DESCRIPTION: &str = "ThingsTray: keeps this SmartThings account connected and its devices in the tray";

/// "ThingsTray (laptop)": which computer made the app, for the user reading their list of
/// apps and Linked Services later. Only letters, digits, spaces and `-_.'` survive.
pub fn display_name(host: &str) -> String {
    let host: String = host
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '\''))
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let name = if host.is_empty() { "ThingsTray".to_string() } else { format!("ThingsTray ({host})") };
    clip_display_name(&name)
}

/// A user's own display name, cut to what SmartThings takes.
pub fn clip_display_name(name: &str) -> String {
    let name = name.trim();
    if name.chars().count() <= DISPLAY_NAME_MAX {
        return name.to_string();
    }
    let cut: String = name.chars().take(DISPLAY_NAME_MAX - 1).collect();
    format!("{}…", cut.trim_end())
}

/// The unique `appName`, as smartthings-cli makes it (apps-user-input-create.ts): the
/// display name's lower-case ASCII letters and digits, a dash, a random UUID (names are
/// unique across SmartThings), and an `a` in front unless it starts with a letter.
pub fn app_name(display_name: &str, uuid: &str) -> String {
    let stem: String =
        display_name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).take(40).collect();
    let stem = if stem.is_empty() { "thingstray".to_string() } else { stem };
    let name = format!("{stem}-{uuid}");
    if name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name
    } else {
        format!("a{name}")
    }
}

/// An app's OAuth settings as `GET /apps/{id}/oauth` answers and `PUT` takes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthSettings {
    #[serde(default)]
    pub client_name: String,
    #[serde(default)]
    pub scope: Vec<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
}

/// The `POST /apps` body for a connection's settings.
pub fn create_body(settings: &ConnectionSettings, display_name: &str, app_name: &str) -> Value {
    json!({
        "appName": app_name,
        "displayName": display_name,
        "description": DESCRIPTION,
        "appType": "API_ONLY",
        "classifications": ["CONNECTED_SERVICE"],
        "singleInstance": true,
        "apiOnly": {},
        "oauth": {
            "clientName": display_name,
            "scope": settings.scopes,
            "redirectUris": [settings.redirect_uri],
        },
    })
}

/// One way the app differs from the settings, in words that say what fails because of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// `redirect_uri_not_registered` or `scope_not_allowed`.
    pub code: &'static str,
    pub message: String,
}

/// Why two URIs that look alike are not the same to SmartThings.
fn near_miss(wanted: &str, registered: &str) -> Option<&'static str> {
    if wanted.trim_end_matches('/') == registered.trim_end_matches('/') {
        Some("differs only in the trailing slash")
    } else if wanted.eq_ignore_ascii_case(registered) {
        Some("differs only in upper and lower case")
    } else if wanted.split_once("://").map(|p| p.1) == registered.split_once("://").map(|p| p.1) {
        Some("differs only in the scheme (http or https)")
    } else {
        None
    }
}

/// Every difference that makes a sign-in fail, in a stable order: the redirect URI,
/// then each missing scope. Scopes the app allows beyond the settings' are fine.
pub fn compare(settings: &ConnectionSettings, app: &OAuthSettings) -> Vec<Difference> {
    let mut out = Vec::new();
    let wanted = settings.redirect_uri.as_str();
    if !app.redirect_uris.iter().any(|u| u == wanted) {
        let registered = if app.redirect_uris.is_empty() {
            "none".to_string()
        } else {
            app.redirect_uris.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", ")
        };
        let hint = app
            .redirect_uris
            .iter()
            .find_map(|u| near_miss(wanted, u).map(|why| format!(" (`{u}` {why}: SmartThings compares them exactly)")))
            .unwrap_or_default();
        out.push(Difference {
            code: "redirect_uri_not_registered",
            message: format!(
                "ThingsTray signs in with the redirect URI `{wanted}`, which the app does not have{hint}; the app has {registered}. The sign-in page would refuse it."
            ),
        });
    }
    for s in &settings.scopes {
        if !app.scope.iter().any(|a| a == s) {
            out.push(Difference {
                code: "scope_not_allowed",
                message: format!("ThingsTray asks for the scope `{s}`, which the app does not allow; the sign-in page would answer invalid_scope."),
            });
        }
    }
    out
}

/// The app's settings with the differences fixed: the settings' redirect URI added (the
/// others kept, other programs may use them) and the missing scopes added.
pub fn repaired(settings: &ConnectionSettings, app: &OAuthSettings) -> Result<OAuthSettings> {
    let mut fixed = app.clone();
    if !fixed.redirect_uris.iter().any(|u| u == &settings.redirect_uri) {
        if fixed.redirect_uris.len() >= MAX_REDIRECT_URIS {
            return Err(refusal(
                "app_settings_rejected",
                format!(
                    "The app already has {MAX_REDIRECT_URIS} redirect URIs, SmartThings' most, so `{}` cannot be added; remove one it no longer needs (`smartthings apps:oauth:update`) first.",
                    settings.redirect_uri
                ),
            ));
        }
        fixed.redirect_uris.push(settings.redirect_uri.clone());
    }
    for s in &settings.scopes {
        if !fixed.scope.contains(s) {
            fixed.scope.push(s.clone());
        }
    }
    if fixed.client_name.trim().is_empty() {
        fixed.client_name = "ThingsTray".into();
    }
    Ok(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DEFAULT_REDIRECT_URI, DEFAULT_SCOPES};

    fn settings() -> ConnectionSettings {
        ConnectionSettings::new("8f3b7a52-1c4e-4d2a-9b7e-3e5f0a9c6d14", DEFAULT_REDIRECT_URI)
    }

    fn app(uris: &[&str], scopes: &[&str]) -> OAuthSettings {
        OAuthSettings {
            client_name: "ThingsTray".into(),
            scope: scopes.iter().map(|s| s.to_string()).collect(),
            redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn names_say_which_computer_and_are_unique_and_lower_case() {
        assert_eq!(display_name("laptop"), "ThingsTray (laptop)");
        assert_eq!(display_name("  <script>x</script>  "), "ThingsTray (scriptxscript)");
        assert_eq!(display_name(""), "ThingsTray");
        let long = display_name(&"x".repeat(200));
        assert_eq!(long.chars().count(), DISPLAY_NAME_MAX);
        assert!(long.ends_with('…'));
        assert_eq!(app_name("ThingsTray (Anna's Mac)", "u-1"), "thingstrayannasmac-u-1");
        assert_eq!(app_name("Ü ☃", "u"), "thingstray-u");
        assert_eq!(app_name("2nd home", "u"), "a2ndhome-u", "it starts with a letter");
    }

    #[test]
    fn the_create_body_is_an_api_only_app_with_our_redirect_and_scopes() {
        let b = create_body(&settings(), "ThingsTray (pc)", "thingstraypc-1");
        assert_eq!(b["appType"], "API_ONLY");
        assert_eq!(b["classifications"], json!(["CONNECTED_SERVICE"]));
        assert_eq!(b["oauth"]["redirectUris"], json!([DEFAULT_REDIRECT_URI]));
        assert_eq!(b["oauth"]["scope"], json!(DEFAULT_SCOPES));
    }

    #[test]
    fn a_matching_app_has_no_differences_and_extra_scopes_are_fine() {
        let mut scopes = DEFAULT_SCOPES.to_vec();
        scopes.push("w:locations:*");
        assert!(compare(&settings(), &app(&["https://other.example/cb", DEFAULT_REDIRECT_URI], &scopes)).is_empty());
    }

    #[test]
    fn each_difference_says_what_fails_and_near_misses_are_named() {
        let d = compare(&settings(), &app(&["https://thingstray.invalid/callback/"], &["r:devices:*"]));
        let codes: Vec<_> = d.iter().map(|d| d.code).collect();
        assert_eq!(
            codes,
            [
                "redirect_uri_not_registered",
                "scope_not_allowed",
                "scope_not_allowed",
                "scope_not_allowed",
                "scope_not_allowed"
            ]
        );
        assert!(d[0].message.contains("trailing slash"), "{}", d[0].message);
        assert!(d[1].message.contains("`x:devices:*`"));
        let d = compare(&settings(), &app(&[], DEFAULT_SCOPES));
        assert!(d[0].message.contains("has none"), "{}", d[0].message);
        let d = compare(&settings(), &app(&["http://thingstray.invalid/callback"], DEFAULT_SCOPES));
        assert!(d[0].message.contains("scheme"), "{}", d[0].message);
    }

    #[test]
    fn repair_adds_what_is_missing_and_keeps_the_rest() {
        let before = app(&["https://other.example/cb"], &["r:devices:*", "w:rules:*"]);
        let fixed = repaired(&settings(), &before).unwrap();
        assert_eq!(fixed.redirect_uris, ["https://other.example/cb", DEFAULT_REDIRECT_URI]);
        assert!(fixed.scope.starts_with(&["r:devices:*".to_string(), "w:rules:*".to_string()]));
        assert!(compare(&settings(), &fixed).is_empty());
        let full: Vec<String> = (0..MAX_REDIRECT_URIS).map(|i| format!("https://e.example/{i}")).collect();
        let full = OAuthSettings { redirect_uris: full, ..before };
        assert_eq!(repaired(&settings(), &full).unwrap_err().code(), "app_settings_rejected");
    }
}
