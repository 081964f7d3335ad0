//! A person at the simulator's sign-in page, for the tests, the proof, the benchmark and
//! the end-to-end journeys (each once walked the page with its own copy of this).
//!
//! These helpers panic with a message on anything unexpected: they are for tests, where
//! a panic is the failure report.

use reqwest::redirect::Policy;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().expect("an HTTP client")
}

/// Opens the authorize address the way a browser would, picks the first location and
/// presses Authorize; returns where the browser was sent (the redirect URI with `code`
/// and `state`). On a simulator with `auto_approve` the page answers at once.
pub async fn approve(authorize_url: &str) -> String {
    decide(authorize_url, "authorize").await
}

/// As [`approve`], pressing `decision` (`authorize` or `deny`). A simulator with
/// `auto_approve` shows no page, so it can only authorize.
pub async fn decide(authorize_url: &str, decision: &str) -> String {
    decide_with(&no_redirects(), authorize_url, decision).await
}

/// [`approve`] with a client of the caller's (one that trusts a TLS simulator's
/// authority: `sim.client_builder()`); it must not follow redirects.
pub async fn approve_with(http: &reqwest::Client, authorize_url: &str) -> String {
    decide_with(http, authorize_url, "authorize").await
}

/// [`decide`] with a client of the caller's; it must not follow redirects.
pub async fn decide_with(http: &reqwest::Client, authorize_url: &str, decision: &str) -> String {
    let page = http.get(authorize_url).send().await.expect("the authorize address answers");
    if page.status() == 302 {
        assert_eq!(decision, "authorize", "this simulator approves at once (auto_approve): it cannot {decision}");
        return location(&page);
    }
    assert_eq!(page.status(), 200, "the sign-in page is shown");
    let html = page.text().await.expect("the sign-in page is read");
    let request_id = attr_after(&html, "name=\"request_id\"", "value=\"").expect("the form has a request id");
    let location_id = attr_after(&html, "<option", "value=\"").expect("the page offers a location");
    let decision_url = url::Url::parse(authorize_url)
        .and_then(|u| u.join("/oauth/authorize/decision"))
        .expect("an absolute authorize address");
    let form = [("request_id", request_id.as_str()), ("location_id", location_id.as_str()), ("decision", decision)];
    let resp = http.post(decision_url).form(&form).send().await.expect("the decision is posted");
    assert_eq!(resp.status(), 302, "the decision redirects");
    location(&resp)
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()["location"].to_str().expect("a text Location").to_string()
}

fn attr_after(html: &str, anchor: &str, attr: &str) -> Option<String> {
    let rest = &html[html.find(anchor)?..];
    let v = rest.find(attr)? + attr.len();
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].replace("&amp;", "&"))
}
