//! What `POST /apps`, `PUT /apps/{id}/oauth` and `POST /apps/{id}/oauth/generate` accept:
//! each rule turns a bad field into one `details` entry of a 422 `ConstraintViolationError`
//! (`errors::detail_with`), so a client sees every problem of its body at once. Where each
//! rule comes from is written in `api_apps.rs`.

use serde_json::{Map, Value};

use crate::errors::{detail, detail_with};

/// The scopes `smartthings apps:create` offers for an OAuth-In app
/// (smartthings-cli src/lib/command/util/apps-input-primitives.ts, `availableScopes`).
pub(crate) const KNOWN_SCOPES: &[&str] = &[
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

/// At most this many redirect URIs (the CLI's `redirectUrisDef`, `maxItems: 10`).
pub(crate) const MAX_REDIRECT_URIS: usize = 10;
/// `displayName` and `description` limits (API spec's CreateAppRequest: maxLength 75 / 250).
pub(crate) const DISPLAY_NAME_MAX: usize = 75;
pub(crate) const DESCRIPTION_MAX: usize = 250;
/// `appName` "must be less then 250 characters long" (core SDK `AppCreateRequest`).
pub(crate) const APP_NAME_MAX: usize = 249;
/// `apiOnly.targetUrl` "Must be <= 2048 characters" (core SDK `ApiOnlyAppRequest`).
const TARGET_URL_MAX: usize = 2048;

const APP_TYPES: &[&str] = &["LAMBDA_SMART_APP", "WEBHOOK_SMART_APP", "API_ONLY"];
const CLASSIFICATIONS: &[&str] = &["AUTOMATION", "SERVICE", "DEVICE", "CONNECTED_SERVICE", "HIDDEN"];
const PRINCIPAL_TYPES: &[&str] = &["LOCATION", "USER_LEVEL"];

/// An app's OAuth client settings (`AppOAuth`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OAuthSettings {
    pub client_name: String,
    pub scopes: Vec<String>,
    pub redirect_uris: Vec<String>,
}

/// A create request that passed every rule.
#[derive(Debug, Clone)]
pub(crate) struct NewApp {
    pub app_name: String,
    pub display_name: String,
    pub description: String,
    pub single_instance: bool,
    pub classifications: Vec<String>,
    pub principal_type: String,
    pub icon_url: Option<String>,
    pub target_url: Option<String>,
    pub oauth: OAuthSettings,
}

/// What `POST /apps/{id}/oauth/generate` may change (both optional).
#[derive(Debug, Clone, Default)]
pub(crate) struct GenerateRequest {
    pub client_name: Option<String>,
    pub scopes: Option<Vec<String>>,
}

type Details = Vec<Value>;

fn not_null(target: &str) -> Value {
    detail_with("NotNullError", target, "must not be null")
}

fn wrong_type(target: &str, kind: &str) -> Value {
    detail(target, &format!("must be of type {kind}"))
}

/// The body as a JSON object, or the one detail saying it is not.
pub(crate) fn object(body: &Value) -> Result<&Map<String, Value>, Details> {
    body.as_object().ok_or_else(|| vec![detail("body", "must be a JSON object")])
}

/// A string field: `None` (and a detail) when missing, null or not a string.
fn required_str(obj: &Map<String, Value>, key: &str, target: &str, out: &mut Details) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => {
            out.push(not_null(target));
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            out.push(wrong_type(target, "string"));
            None
        }
    }
}

fn optional_str(obj: &Map<String, Value>, key: &str, target: &str, out: &mut Details) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            out.push(wrong_type(target, "string"));
            None
        }
    }
}

/// An array of strings; `None` when absent or null.
fn optional_strings(obj: &Map<String, Value>, key: &str, target: &str, out: &mut Details) -> Option<Vec<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut strings = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(s) => strings.push(s.to_string()),
                    None => out.push(wrong_type(&format!("{target}[{i}]"), "string")),
                }
            }
            Some(strings)
        }
        Some(_) => {
            out.push(wrong_type(target, "array"));
            None
        }
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// `appName`: lower-case letters, digits, `-`, `_`, `.`, starting with a letter or digit.
fn app_name_ok(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
}

/// The CLI's `urlValidateFn`: `scheme://` present, a port (if any) in 1..=65535, and
/// `https`, or `http` only for `localhost` and `127.0.0.1` when `allow_loopback_http`.
pub(crate) fn url_ok(raw: &str, allow_loopback_http: bool) -> bool {
    let Some((scheme, _)) = raw.split_once("://") else { return false };
    if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return false;
    }
    let Ok(url) = url::Url::parse(raw) else { return false };
    if url.port() == Some(0) || url.host_str().is_none_or(str::is_empty) {
        return false;
    }
    match url.scheme() {
        "https" => true,
        "http" => allow_loopback_http && matches!(url.host_str(), Some("localhost" | "127.0.0.1")),
        _ => false,
    }
}

/// Scopes: each one SmartThings knows, repeats dropped.
fn scopes(list: Vec<String>, target: &str, out: &mut Details) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for (i, s) in list.into_iter().enumerate() {
        if !KNOWN_SCOPES.contains(&s.as_str()) {
            out.push(detail_with("PatternError", &format!("{target}[{i}]"), &format!("unknown scope '{s}'")));
        } else if !kept.contains(&s) {
            kept.push(s);
        }
    }
    kept
}

fn redirect_uris(list: Vec<String>, target: &str, out: &mut Details) -> Vec<String> {
    if list.len() > MAX_REDIRECT_URIS {
        out.push(detail_with("SizeError", target, &format!("size must be between 0 and {MAX_REDIRECT_URIS}")));
    }
    for (i, uri) in list.iter().enumerate() {
        if !url_ok(uri, true) {
            out.push(detail_with(
                "PatternError",
                &format!("{target}[{i}]"),
                "must be an https URL, or http://localhost or http://127.0.0.1 on any port",
            ));
        }
    }
    list
}

/// The OAuth settings of a create (`oauth`, every field optional) or of a
/// `PUT /apps/{id}/oauth` (`required`: all three fields must be there). `prefix` names the
/// fields in details (`oauth.` or empty).
pub(crate) fn oauth_settings(
    obj: &Map<String, Value>,
    prefix: &str,
    required: bool,
    default_client_name: &str,
    out: &mut Details,
) -> OAuthSettings {
    let t = |k: &str| format!("{prefix}{k}");
    let client_name = if required {
        required_str(obj, "clientName", &t("clientName"), out)
    } else {
        optional_str(obj, "clientName", &t("clientName"), out)
    };
    let scope = optional_strings(obj, "scope", &t("scope"), out);
    let uris = optional_strings(obj, "redirectUris", &t("redirectUris"), out);
    if required {
        for (key, missing) in [("scope", scope.is_none()), ("redirectUris", uris.is_none())] {
            if missing && obj.get(key).is_none_or(Value::is_null) {
                out.push(not_null(&t(key)));
            }
        }
    }
    OAuthSettings {
        client_name: client_name.unwrap_or_else(|| default_client_name.to_string()),
        scopes: scopes(scope.unwrap_or_default(), &t("scope"), out),
        redirect_uris: redirect_uris(uris.unwrap_or_default(), &t("redirectUris"), out),
    }
}

/// `POST /apps`.
pub(crate) fn create_request(body: &Value) -> Result<NewApp, Details> {
    let obj = object(body)?;
    let mut out = Details::new();
    let app_name = required_str(obj, "appName", "appName", &mut out).unwrap_or_default();
    if obj.get("appName").is_some_and(Value::is_string) {
        if app_name.is_empty() {
            out.push(detail_with("NotEmptyError", "appName", "must not be empty"));
        } else if chars(&app_name) > APP_NAME_MAX {
            out.push(detail_with("SizeError", "appName", &format!("size must be between 1 and {APP_NAME_MAX}")));
        } else if !app_name_ok(&app_name) {
            out.push(detail_with(
                "PatternError",
                "appName",
                "must be lower case letters, digits, '-', '_' or '.', starting with a letter or digit",
            ));
        }
    }
    let display_name = required_str(obj, "displayName", "displayName", &mut out).unwrap_or_default();
    if obj.get("displayName").is_some_and(Value::is_string) && !(1..=DISPLAY_NAME_MAX).contains(&chars(&display_name)) {
        out.push(detail_with("SizeError", "displayName", &format!("size must be between 1 and {DISPLAY_NAME_MAX}")));
    }
    let description = required_str(obj, "description", "description", &mut out).unwrap_or_default();
    if chars(&description) > DESCRIPTION_MAX {
        out.push(detail_with("SizeError", "description", &format!("size must be between 0 and {DESCRIPTION_MAX}")));
    }
    match required_str(obj, "appType", "appType", &mut out).as_deref() {
        None | Some("API_ONLY") => {}
        Some(t) if APP_TYPES.contains(&t) => out.push(detail_with(
            "UnsupportedOperationError",
            "appType",
            &format!("{t} is not modelled by this simulator: only API_ONLY (OAuth-In) apps are"),
        )),
        Some(_) => {
            out.push(detail_with("PatternError", "appType", &format!("must be one of {}", APP_TYPES.join(", "))))
        }
    }
    for key in ["lambdaSmartApp", "webhookSmartApp"] {
        if obj.get(key).is_some_and(|v| !v.is_null()) {
            out.push(detail_with("NullError", key, "must be null for an API_ONLY app"));
        }
    }
    let classifications = match optional_strings(obj, "classifications", "classifications", &mut out) {
        None if obj.get("classifications").is_none_or(Value::is_null) => {
            out.push(not_null("classifications"));
            Vec::new()
        }
        None => Vec::new(),
        Some(c) if c.is_empty() => {
            out.push(detail_with("NotEmptyError", "classifications", "must not be empty"));
            c
        }
        Some(c) => {
            for (i, v) in c.iter().enumerate().filter(|(_, v)| !CLASSIFICATIONS.contains(&v.as_str())) {
                out.push(detail_with(
                    "PatternError",
                    &format!("classifications[{i}]"),
                    &format!("unknown classification '{v}'"),
                ));
            }
            c
        }
    };
    let single_instance = match obj.get("singleInstance") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            out.push(wrong_type("singleInstance", "boolean"));
            false
        }
    };
    let principal_type =
        optional_str(obj, "principalType", "principalType", &mut out).unwrap_or_else(|| "LOCATION".into());
    if !PRINCIPAL_TYPES.contains(&principal_type.as_str()) {
        out.push(detail_with(
            "PatternError",
            "principalType",
            &format!("must be one of {}", PRINCIPAL_TYPES.join(", ")),
        ));
    }
    let icon_url = nested_url(obj, "iconImage", "url", usize::MAX, &mut out);
    let target_url = nested_url(obj, "apiOnly", "targetUrl", TARGET_URL_MAX, &mut out);
    let oauth = match obj.get("oauth") {
        None | Some(Value::Null) => {
            OAuthSettings { client_name: display_name.clone(), scopes: vec![], redirect_uris: vec![] }
        }
        Some(Value::Object(o)) => oauth_settings(o, "oauth.", false, &display_name, &mut out),
        Some(_) => {
            out.push(wrong_type("oauth", "object"));
            OAuthSettings { client_name: String::new(), scopes: vec![], redirect_uris: vec![] }
        }
    };
    if !out.is_empty() {
        return Err(out);
    }
    Ok(NewApp {
        app_name,
        display_name,
        description,
        single_instance,
        classifications,
        principal_type,
        icon_url,
        target_url,
        oauth,
    })
}

/// `{outer: {inner: "https://.."}}`, both optional; the URL must be https.
fn nested_url(obj: &Map<String, Value>, outer: &str, inner: &str, max: usize, out: &mut Details) -> Option<String> {
    let target = format!("{outer}.{inner}");
    let url = match obj.get(outer) {
        None | Some(Value::Null) => return None,
        Some(Value::Object(o)) => optional_str(o, inner, &target, out)?,
        Some(_) => {
            out.push(wrong_type(outer, "object"));
            return None;
        }
    };
    if chars(&url) > max {
        out.push(detail_with("SizeError", &target, &format!("size must be between 0 and {max}")));
    } else if !url_ok(&url, false) {
        out.push(detail_with("PatternError", &target, "must be an https URL"));
    }
    Some(url)
}

/// `POST /apps/{id}/oauth/generate`: `clientName` and `scope`, both optional.
pub(crate) fn generate_request(body: &Value) -> Result<GenerateRequest, Details> {
    let obj = object(body)?;
    let mut out = Details::new();
    let client_name = optional_str(obj, "clientName", "clientName", &mut out);
    let scope = optional_strings(obj, "scope", "scope", &mut out).map(|s| scopes(s, "scope", &mut out));
    if !out.is_empty() {
        return Err(out);
    }
    Ok(GenerateRequest { client_name, scopes: scope })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redirect_uris_follow_the_clis_validator() {
        for ok in ["https://x.invalid/cb", "http://localhost:8080/cb", "http://127.0.0.1/cb", "https://h:1/"] {
            assert!(url_ok(ok, true), "{ok}");
        }
        for bad in [
            "http://example.com/cb",
            "thingstray://oauth/callback",
            "https:/x",
            "//x",
            "",
            "http://127.0.0.1:0/",
            "ftp://x/",
            "http://[::1]/cb",
        ] {
            assert!(!url_ok(bad, true), "{bad}");
        }
        assert!(!url_ok("http://localhost/cb", false));
    }

    #[test]
    fn app_names() {
        assert!(app_name_ok("thingstray-demo.1_x"));
        for bad in ["Upper", "-lead", "sp ace", "ünï"] {
            assert!(!app_name_ok(bad), "{bad}");
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let e =
            create_request(&json!({"appName": "Bad Name", "displayName": "", "appType": "FOO", "classifications": [],
            "oauth": {"scope": ["r:devices:*", "nope"], "redirectUris": ["myapp://cb"]}}))
            .unwrap_err();
        let targets: Vec<&str> = e.iter().filter_map(|d| d["target"].as_str()).collect();
        assert_eq!(
            targets,
            [
                "appName",
                "displayName",
                "description",
                "appType",
                "classifications",
                "oauth.scope[1]",
                "oauth.redirectUris[0]"
            ]
        );
        assert!(create_request(&json!([])).is_err());
        let ok = create_request(&json!({"appName": "a", "displayName": "A", "description": "", "appType": "API_ONLY",
            "classifications": ["CONNECTED_SERVICE"], "oauth": {"scope": ["r:devices:*", "r:devices:*"]}}))
        .unwrap();
        assert_eq!(ok.oauth.client_name, "A");
        assert_eq!(ok.oauth.scopes, ["r:devices:*"]);
    }
}
