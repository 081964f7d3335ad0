//! Why SmartThings refused an app call, and what to do about it: one table, one code each.
//! A personal access token (PAT) made since 30 Dec 2024 lives 24 hours, so "expired" is
//! the refusal most users meet; the others name the exact thing to change.

use serde_json::Value;

use super::pat::{box_for, PAT_PAGE};
use crate::error::Error;

/// `code`, then the advice shown after SmartThings' own words.
const TABLE: &[(&str, &str)] = &[
    ("pat_malformed",
     "Copy the whole token from the personal access token page (one line of letters, digits and dashes) and paste it again."),
    ("pat_rejected",
     "Personal access tokens made since 30 Dec 2024 live 24 hours, and a deleted one stops at once: make a new one at https://account.smartthings.com/tokens with the boxes ThingsTray lists, and paste it. It is used for these calls only and never kept."),
    ("pat_missing_scope",
     "A token's boxes cannot be changed later: make a new one at https://account.smartthings.com/tokens, tick the box named above (and the others ThingsTray lists), and paste it."),
    ("app_name_taken",
     "App names are unique across SmartThings. ThingsTray adds a random part to each name and already tried again; try once more, or give another --name."),
    ("app_display_name_rejected",
     "Use a shorter display name of letters, digits and spaces (--name, or the name field), and try again."),
    ("app_limit_reached",
     "Your Samsung account holds as many apps as SmartThings allows. Delete one you no longer use (`smartthings apps`, then `smartthings apps:delete ID`, or `thingstray app delete`) and try again."),
    ("app_settings_rejected",
     "SmartThings takes up to 10 redirect URIs, each https (or http://localhost / http://127.0.0.1), and only scopes it knows. Fix the connection's settings (`thingstray setup`) and try again."),
    ("app_not_found",
     "The app was deleted, or belongs to another Samsung account than the token's. Make the token with the account that owns the app, or create a new app (`thingstray app create`)."),
    ("secret_not_kept",
     "SmartThings has already replaced the old secret, so fix what stopped the keychain (the reason above), then run `thingstray app repair --new-secret` again (or Settings -> App -> New secret)."),
    ("app_unknown",
     "Tell ThingsTray the app's id: `thingstray app check --app-id ID` (the id is in `smartthings apps`); after one sign-in ThingsTray finds it by itself."),
];

fn advice(code: &str) -> &'static str {
    TABLE.iter().find(|(c, _)| *c == code).map(|(_, a)| *a).unwrap_or("")
}

/// The refusal with that code. `code` must be one of the table's; an unknown one keeps
/// no advice (a test holds the table complete).
pub(crate) fn refusal(code: &'static str, detail: impl Into<String>) -> Error {
    let detail = detail.into().chars().take(400).collect();
    Error::AppRefused { code, detail, advice: advice(code) }
}

/// What SmartThings' error body says: `error.code`, `error.message`, and each
/// `details[].target` with its message (422s name the field there).
pub(crate) struct ApiError {
    pub code: String,
    pub message: String,
    pub details: Vec<(String, String)>,
}

impl ApiError {
    pub fn parse(body: &[u8]) -> Option<ApiError> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let e = v.get("error")?;
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let details = e
            .get("details")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|d| (s(d, "target"), s(d, "message")))
            .collect();
        Some(ApiError { code: s(e, "code"), message: s(e, "message"), details })
    }

    fn all_text(&self) -> String {
        let mut t = format!("{} {}", self.code, self.message);
        for (target, msg) in &self.details {
            t.push_str(&format!(" {target} {msg}"));
        }
        t.to_lowercase()
    }

    fn names(&self, field: &str) -> bool {
        self.details.iter().any(|(t, m)| t.eq_ignore_ascii_case(field) || m.starts_with(&format!("{field}:")))
            || self.message.contains(field)
    }

    /// What a person reads: SmartThings' message and the fields it names.
    pub fn said(&self) -> String {
        let mut parts = vec![format!("{}: {}", self.code, self.message)];
        parts.extend(self.details.iter().map(|(_, m)| m.clone()).filter(|m| !m.is_empty()));
        parts.join("; ")
    }
}

/// Turns a refused app call into its refusal. `scope`: the PAT scope the call needs;
/// `what`: the object asked about, for a 404. `None`: not a refusal this table knows
/// (the caller reports SmartThings' own words).
pub(crate) fn classify(status: u16, body: &[u8], scope: &str, what: &str) -> Option<Error> {
    let api = ApiError::parse(body);
    let said = api.as_ref().map(ApiError::said).unwrap_or_else(|| format!("HTTP {status}"));
    let text = api.as_ref().map(ApiError::all_text).unwrap_or_default();
    let limit = text.contains("limit") || text.contains("maximum number") || text.contains("too many apps");
    Some(match status {
        401 => refusal("pat_rejected", format!("SmartThings refused the personal access token (HTTP 401, {said}): it has expired, was deleted, or was not copied whole.")),
        403 if limit => refusal("app_limit_reached", format!("SmartThings refused to create another app ({said}).")),
        403 => refusal(
            "pat_missing_scope",
            format!("The personal access token may not do this (HTTP 403, {said}): it needs the `{scope}` permission, the box \"{}\" on {PAT_PAGE}. (SmartThings answers 403 too for an app of another account.)", box_for(scope)),
        ),
        404 => refusal("app_not_found", format!("SmartThings knows no {what} for this token's account (HTTP 404).")),
        409 => refusal("app_name_taken", format!("SmartThings says the app name is taken ({said}).")),
        400 | 422 => {
            let api = api?;
            if limit {
                refusal("app_limit_reached", format!("SmartThings refused to create another app ({said})."))
            } else if api.names("appName") && ["taken", "exist", "unique", "duplicate", "already", "in use"].iter().any(|w| text.contains(w)) {
                refusal("app_name_taken", format!("SmartThings says the app name is taken ({said})."))
            } else if api.names("displayName") {
                refusal("app_display_name_rejected", format!("SmartThings refused the display name ({said})."))
            } else if api.names("redirectUris") || api.names("scope") || text.contains("redirect") || text.contains("scope") {
                refusal("app_settings_rejected", format!("SmartThings refused the app's OAuth settings ({said})."))
            } else {
                return None;
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_advice_and_keeps_its_code() {
        let mut codes: Vec<&str> = TABLE.iter().map(|t| t.0).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), TABLE.len());
        for (code, advice) in TABLE {
            let e = refusal(code, "why");
            assert_eq!(e.code(), *code);
            assert!(!advice.is_empty() && e.to_string().ends_with(advice), "{e}");
            assert!(!e.is_transient() && !e.needs_sign_in(), "{code}");
        }
    }

    fn body(code: &str, message: &str, details: &[(&str, &str)]) -> Vec<u8> {
        let details: Vec<Value> = details
            .iter()
            .map(|(t, m)| serde_json::json!({"code": "UnprocessableEntityError", "target": t, "message": m}))
            .collect();
        serde_json::json!({"requestId": "r", "error": {"code": code, "message": message, "details": details}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn each_refusal_becomes_its_own_code() {
        let unauthorized = body("UnauthorizedError", "Unauthorized", &[]);
        assert_eq!(classify(401, &unauthorized, "w:apps:*", "app").unwrap().code(), "pat_rejected");
        let e = classify(403, &body("ForbiddenError", "Access is denied", &[]), "w:apps:*", "app").unwrap();
        assert_eq!(e.code(), "pat_missing_scope");
        assert!(e.to_string().contains("`w:apps:*`"), "{e}");
        assert_eq!(classify(404, b"", "r:apps:*", "app `x`").unwrap().code(), "app_not_found");
        assert_eq!(
            classify(409, &body("ConflictError", "appName already in use", &[]), "w:apps:*", "app").unwrap().code(),
            "app_name_taken"
        );
        let taken = body(
            "ConstraintViolationError",
            "The request is malformed.",
            &[("appName", "appName: must be unique, already exists")],
        );
        assert_eq!(classify(422, &taken, "w:apps:*", "app").unwrap().code(), "app_name_taken");
        let display = body(
            "ConstraintViolationError",
            "The request is malformed.",
            &[("displayName", "displayName: size must be between 1 and 75")],
        );
        assert_eq!(classify(422, &display, "w:apps:*", "app").unwrap().code(), "app_display_name_rejected");
        let uris = body(
            "ConstraintViolationError",
            "The request is malformed.",
            &[("oauth.redirectUris", "oauth.redirectUris: must be https")],
        );
        assert_eq!(classify(422, &uris, "w:apps:*", "app").unwrap().code(), "app_settings_rejected");
        let limit = body("ConstraintViolationError", "App limit reached: at most 100 apps per user", &[]);
        assert_eq!(classify(422, &limit, "w:apps:*", "app").unwrap().code(), "app_limit_reached");
        assert!(classify(422, &body("ConstraintViolationError", "something else", &[]), "w:apps:*", "app").is_none());
        assert!(classify(418, b"teapot", "w:apps:*", "app").is_none());
    }
}
