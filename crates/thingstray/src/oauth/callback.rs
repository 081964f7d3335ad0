//! The ONE parser for whatever comes back from the authorize page: a redirect URL caught
//! in the webview, a `thingstray://` deep link, a URL or bare code pasted by the user, or
//! the query the CLI's loopback listener received.

use url::Url;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    /// A code, with the `state` that came with it (none when the user pasted a bare code).
    Code { code: String, state: Option<String> },
    /// The authorize page said no: `error=access_denied` and friends.
    Refused { error: String, description: Option<String>, state: Option<String> },
}

const MAX_INPUT: usize = 8 * 1024;

fn malformed(why: &str) -> Error {
    Error::CallbackMalformed { why: why.into() }
}

impl Callback {
    /// Accepts a full redirect URL, a bare query string (with or without `?`), or a bare
    /// code. Never panics, whatever the input.
    pub fn parse(input: &str) -> Result<Callback> {
        let input = input.trim();
        if input.is_empty() {
            return Err(malformed("it is empty"));
        }
        if input.len() > MAX_INPUT {
            return Err(malformed("it is far too long"));
        }
        let query = match Url::parse(input) {
            Ok(url) => {
                // Some providers answer in the fragment; SmartThings uses the query.
                let q = url.query().filter(|q| !q.is_empty()).or(url.fragment()).unwrap_or("");
                if q.is_empty() {
                    return Err(malformed("the address has no `code` in it"));
                }
                q.to_string()
            }
            _ if input.contains('=') => input.trim_start_matches(['?', '#']).to_string(),
            _ => return bare_code(input),
        };
        from_query(&query)
    }
}

fn bare_code(input: &str) -> Result<Callback> {
    let ok =
        input.len() <= 512 && input.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'));
    if !ok {
        return Err(malformed("it is neither an address nor a code"));
    }
    Ok(Callback::Code { code: input.to_string(), state: None })
}

fn from_query(query: &str) -> Result<Callback> {
    let mut code = None;
    let mut state = None;
    let mut error = None;
    let mut description = None;
    let mut authorize_params = false;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match k.as_ref() {
            "code" => &mut code,
            "state" => &mut state,
            "error" => &mut error,
            "error_description" => &mut description,
            "response_type" | "client_id" => {
                authorize_params = true;
                continue;
            }
            _ => continue,
        };
        if slot.is_some() {
            return Err(malformed(&format!("`{k}` appears twice")));
        }
        *slot = Some(v.into_owned());
    }
    if let Some(error) = error {
        let error = error.chars().filter(|c| !c.is_control()).take(100).collect();
        let description = description.map(|d| d.chars().filter(|c| !c.is_control()).take(300).collect());
        return Ok(Callback::Refused { error, description, state });
    }
    match code {
        Some(code) if !code.is_empty() && code.len() <= 512 => Ok(Callback::Code { code, state }),
        Some(_) => Err(malformed("its `code` is empty or too long")),
        None if authorize_params => Err(malformed(
            "this is the sign-in address itself; paste the address you were sent to after pressing Authorize",
        )),
        None => Err(malformed("the address has no `code` in it")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_url_query_and_bare_code() {
        let want = Callback::Code { code: "Ab12".into(), state: Some("s1".into()) };
        assert_eq!(Callback::parse("https://thingstray.invalid/callback?code=Ab12&state=s1").unwrap(), want);
        assert_eq!(Callback::parse("thingstray://oauth/callback?state=s1&code=Ab12").unwrap(), want);
        assert_eq!(Callback::parse("?code=Ab12&state=s1").unwrap(), want);
        assert_eq!(Callback::parse("code=Ab12&state=s1").unwrap(), want);
        assert_eq!(Callback::parse("  Ab12 \n").unwrap(), Callback::Code { code: "Ab12".into(), state: None });
    }

    #[test]
    fn refusals_are_reported() {
        let c = Callback::parse("https://x.invalid/cb?error=access_denied&error_description=The+user+denied&state=s")
            .unwrap();
        assert_eq!(
            c,
            Callback::Refused {
                error: "access_denied".into(),
                description: Some("The user denied".into()),
                state: Some("s".into())
            }
        );
    }

    #[test]
    fn malformed_inputs_say_what_is_wrong() {
        for bad in [
            "",
            "https://x.invalid/cb",
            "https://x.invalid/cb?state=s",
            "code=a&code=b&state=s",
            "hello world",
            "https://api.smartthings.com/oauth/authorize?client_id=x&response_type=code&state=s",
        ] {
            let e = Callback::parse(bad).unwrap_err();
            assert_eq!(e.code(), "callback_malformed", "{bad}");
        }
    }
}
