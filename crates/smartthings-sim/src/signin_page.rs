//! The sign-in page `/oauth/authorize` shows: a self-contained imitation of Samsung's,
//! so browser automation (WebDriver, a Tauri webview) can drive a real-looking flow.
//!
//! No external assets, a strict Content-Security-Policy (the one inline stylesheet is
//! allowed by hash), and every interpolated value HTML-escaped.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::home::Location;

const STYLE: &str = "body{margin:0;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;background:#f4f4f4;color:#111}\
main{max-width:420px;margin:48px auto;background:#fff;border-radius:24px;padding:32px;box-shadow:0 2px 12px rgba(0,0,0,.08)}\
.brand{font-weight:800;letter-spacing:.25em;color:#1428a0;font-size:20px;margin-bottom:20px}\
h1{font-size:22px;margin:0 0 12px}p{line-height:1.45}ul{padding-left:20px;color:#444}\
label{display:block;font-weight:600;margin:20px 0 6px}select{width:100%;padding:10px;border-radius:10px;border:1px solid #bbb;font-size:15px}\
.actions{display:flex;flex-direction:row-reverse;gap:12px;margin-top:28px}button{flex:1;padding:12px;border-radius:22px;font-size:15px;font-weight:600;border:1px solid #1428a0;cursor:pointer}\
.allow{background:#1428a0;color:#fff}.deny{background:#fff;color:#1428a0}.foot{margin-top:24px;font-size:12px;color:#777}";

/// Escapes text for HTML content and double-quoted attributes.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn scope_text(scope: &str) -> String {
    match scope {
        "r:devices:*" => "See your devices and their status".into(),
        "x:devices:*" => "Control your devices".into(),
        "r:locations:*" => "See your locations and rooms".into(),
        "w:locations:*" => "Change your locations (their mode)".into(),
        "r:scenes:*" => "See your scenes".into(),
        "x:scenes:*" => "Run your scenes".into(),
        other => other.into(),
    }
}

/// The page: location picker, Authorize and Deny, posting to the decision endpoint.
pub(crate) fn render(request_id: &str, client_id: &str, scopes: &[String], locations: &[Location]) -> Response {
    let options: String =
        locations.iter().map(|l| format!("<option value=\"{}\">{}</option>", esc(&l.id), esc(&l.name))).collect();
    let scope_items: String = scopes.iter().map(|s| format!("<li>{}</li>", esc(&scope_text(s)))).collect();
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Samsung account - SmartThings</title><style>{STYLE}</style></head>\
<body><main><div class=\"brand\">SAMSUNG</div>\
<h1 data-testid=\"heading\">Allow access to SmartThings</h1>\
<p>The app <strong data-testid=\"client\">{client}</strong> wants to:</p><ul>{scope_items}</ul>\
<form method=\"post\" action=\"/oauth/authorize/decision\">\
<input type=\"hidden\" name=\"request_id\" value=\"{rid}\">\
<label for=\"location\">Choose a location</label>\
<select id=\"location\" name=\"location_id\" data-testid=\"location\">{options}</select>\
<div class=\"actions\">\
<button class=\"allow\" type=\"submit\" name=\"decision\" value=\"authorize\" data-testid=\"authorize\">Authorize</button>\
<button class=\"deny\" type=\"submit\" name=\"decision\" value=\"deny\" data-testid=\"deny\">Deny</button>\
</div></form><p class=\"foot\">smartthings-sim: a local simulator, not Samsung.</p></main></body></html>\n",
        client = esc(client_id),
        rid = esc(request_id),
    );
    let style_hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    let csp = format!(
        "default-src 'none'; style-src 'sha256-{style_hash}'; img-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    );
    let mut resp = (StatusCode::OK, html).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html;charset=UTF-8"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}
