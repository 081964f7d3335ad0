//! Which redirect URIs a user can register with `smartthings apps:create`, and what to
//! say about one they could not have.
//!
//! ThingsTray can catch more redirect URIs than SmartThings' CLI lets anyone register (a
//! `thingstray://` link, `http://[::1]/…`): [`crate::config::validate_redirect_uri`] says
//! whether ThingsTray can use a URI, this module whether `apps:create` would have taken
//! it. A URI it refuses is a warning, never an error: it may have been registered another
//! way, and SmartThings itself is asked at setup (the preflight) whenever it can be.

use url::Url;

use crate::config::DEFAULT_REDIRECT_URI;

/// The one redirect URI the wizard and the docs recommend for `apps:create`. The sign-in
/// window catches it before any request is made, and `.invalid` is reserved (RFC 6761),
/// so no server anywhere can receive the code.
pub const RECOMMENDED: &str = DEFAULT_REDIRECT_URI;

/// Hosts `apps:create` accepts with plain http (smartthings-cli's `allowedHTTPHosts`).
const ALLOWED_HTTP_HOSTS: [&str; 2] = ["localhost", "127.0.0.1"];

/// Would `smartthings apps:create` (or `apps:oauth:update`) accept `uri` as a redirect
/// URI when typed at its prompt? The same rule as the CLI's, step by step. From
/// SmartThingsCommunity/smartthings-cli, `src/lib/validate-util.ts`:
///
/// ```text
/// const allowedHTTPHosts = ['localhost', '127.0.0.1']
/// export const urlValidateFn = (options?: URLValidateFnOptions): ValidateFunction<string> => {
///     return (input: string): true | string => {
///         try {
///             const url = new URL(input)
///             if (!input.match(/^\w+:\/\//)) {
///                 throw { code: 'ERR_INVALID_URL' }
///             }
///             if (url.port) {
///                 const minPort = options?.minPort ?? 1
///                 const maxPort = options?.maxPort ?? 65535
///                 const portNum = parseInt(url.port)
///                 if (portNum < minPort || portNum > maxPort) {
///                     return `Port must be between ${minPort} and ${maxPort} inclusive.`
///                 }
///             }
///             if (options?.httpsRequired) {
///                 if (options.allowLocalhostHTTP) {
///                     return url.protocol === 'https:' ||
///                         url.protocol === 'http:' && allowedHTTPHosts.includes(url.hostname) ||
///                         'https is required except for localhost'
///                 }
///     ...
/// export const localhostOrHTTPSValidate = urlValidateFn({ httpsRequired: true, allowLocalhostHTTP: true })
/// ```
///
/// and `src/lib/command/util/apps-input-primitives.ts` uses it for each entry of
/// "Redirect URIs". Node's `URL` and the `url` crate both follow the WHATWG URL standard,
/// so they agree on what parses, on the lower-cased scheme and host, and on dropping a
/// default port (`url.port` is then empty, as `Url::port` is `None`).
pub fn apps_create_accepts(uri: &str) -> bool {
    let Ok(url) = Url::parse(uri) else { return false };
    if !starts_with_word_scheme(uri) {
        return false;
    }
    // A port above 65535 does not parse at all; 0 is the only one parsed and refused.
    if url.port() == Some(0) {
        return false;
    }
    match url.scheme() {
        "https" => true,
        "http" => url.host_str().is_some_and(|h| ALLOWED_HTTP_HOSTS.contains(&h)),
        _ => false,
    }
}

/// `/^\w+:\/\//` on the text as typed: JavaScript's `\w` is `[A-Za-z0-9_]`.
fn starts_with_word_scheme(input: &str) -> bool {
    let word = input.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
    word > 0 && input[word..].starts_with("://")
}

/// Why `apps:create` could not have registered a redirect URI, and what to use instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unregistrable {
    /// "`smartthings apps:create` could not have registered `…`: it takes …"
    pub why: String,
    /// The redirect URI to register and enter instead.
    pub instead: String,
    /// Why that one works, or empty.
    pub note: &'static str,
}

impl std::fmt::Display for Unregistrable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}. Unless you registered it some other way, SmartThings will refuse the sign-in: register and enter {} instead{}.",
            self.why, self.instead, self.note
        )
    }
}

const RECOMMENDED_NOTE: &str = " (the sign-in window catches it; in a browser, you paste back the address it ends on)";

/// `None` when `apps:create` accepts `uri` (see [`apps_create_accepts`]); otherwise why
/// not, and what to register instead. Pass the URI as it is saved (trimmed).
pub fn unregistrable(uri: &str) -> Option<Unregistrable> {
    if apps_create_accepts(uri) {
        return None;
    }
    let cli = "`smartthings apps:create` could not have registered";
    let recommended = |why: String| Unregistrable { why, instead: RECOMMENDED.to_string(), note: RECOMMENDED_NOTE };
    let parsed = Url::parse(uri).ok().filter(|_| starts_with_word_scheme(uri));
    let Some(url) = parsed else {
        return Some(recommended(format!("{cli} `{uri}`: it takes only a full address such as {RECOMMENDED}")));
    };
    if url.port() == Some(0) {
        let mut fixed = url.clone();
        let _ = fixed.set_port(None);
        return Some(Unregistrable {
            why: format!("{cli} `{uri}`: it takes ports 1 to 65535 only"),
            instead: fixed.to_string(),
            note: " (or give it a real port)",
        });
    }
    if url.scheme() == "http" {
        let host = url.host_str().unwrap_or("");
        let why =
            format!("{cli} `{uri}`: it takes plain http only for the hosts localhost and 127.0.0.1, not `{host}`");
        if crate::config::is_loopback_host(Some(host)) || host.starts_with("127.") {
            let mut fixed = url.clone();
            let _ = fixed.set_host(Some("127.0.0.1"));
            return Some(Unregistrable { why, instead: fixed.to_string(), note: "" });
        }
        return Some(recommended(why));
    }
    Some(recommended(format!(
        "{cli} `{uri}`: it takes only https redirect URIs, or http on localhost or 127.0.0.1, so not a `{}:` link",
        url.scheme()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the CLI's `localhostOrHTTPSValidate` answers for each input, worked out from
    /// its source (quoted above) with Node's WHATWG `URL`; `true` = accepted.
    const CLI_DECIDES: &[(&str, bool)] = &[
        // https, anywhere, any path, query or port 1-65535
        ("https://thingstray.invalid/callback", true),
        ("https://example.com", true),
        ("https://example.com:8443/cb?x=1", true),
        ("HTTPS://Example.COM/cb", true),
        ("https://example.com:65535/cb", true),
        ("https://example.com:443/cb", true), // the default port: url.port is ''
        ("https://user:pw@example.com/cb", true),
        ("https://thingstray.invalid/callback#frag", true), // the CLI does not mind; ThingsTray's own check does
        // http only on localhost and 127.0.0.1, any port
        ("http://localhost/callback", true),
        ("http://localhost:8765/callback", true),
        ("http://LOCALHOST:8765/callback", true),
        ("http://127.0.0.1/callback", true),
        ("http://127.0.0.1:53682/callback", true),
        ("http://0x7f.0.0.1/cb", true), // WHATWG reads it as 127.0.0.1
        ("http://example.com/callback", false),
        ("http://[::1]:8765/callback", false), // url.hostname is '[::1]'
        ("http://127.0.0.2/callback", false),
        ("http://localhost./callback", false),
        ("http://sub.localhost/callback", false),
        // anything else
        ("thingstray://oauth/callback", false),
        ("THINGSTRAY://oauth/callback", false),
        ("com.example.app://cb", false), // `.` is not \w: fails the regex
        ("ftp://example.com/cb", false),
        ("file:///tmp/cb", false),
        // not `scheme://` as typed, or not a URL
        ("https:example.com/cb", false), // WHATWG parses it; the regex refuses it
        ("https:/example.com/cb", false),
        (" https://example.com/cb", false), // Node trims, the regex does not
        ("example.com/cb", false),
        ("https://", false),
        ("", false),
        // ports
        ("https://example.com:0/cb", false),
        ("http://localhost:0/cb", false),
        ("https://example.com:65536/cb", false), // does not parse
    ];

    #[test]
    fn the_rule_is_smartthings_clis() {
        for (uri, cli) in CLI_DECIDES {
            assert_eq!(apps_create_accepts(uri), *cli, "{uri:?}");
            assert_eq!(unregistrable(uri).is_none(), *cli, "{uri:?}");
        }
    }

    #[test]
    fn each_warning_says_what_to_use_instead() {
        let w = unregistrable("thingstray://oauth/callback").unwrap();
        assert!(
            w.why.contains("`smartthings apps:create` could not have registered `thingstray://oauth/callback`"),
            "{w}"
        );
        assert!(w.why.contains("only https"), "{w}");
        assert_eq!(w.instead, RECOMMENDED);
        assert!(w.to_string().contains("Unless you registered it some other way"), "{w}");
        assert!(
            w.to_string()
                .contains("register and enter https://thingstray.invalid/callback instead (the sign-in window"),
            "{w}"
        );

        let w = unregistrable("http://[::1]:8765/callback").unwrap();
        assert!(w.why.contains("not `[::1]`"), "{w}");
        assert_eq!(w.instead, "http://127.0.0.1:8765/callback");
        assert_eq!(unregistrable("http://example.com/cb").unwrap().instead, RECOMMENDED);
        assert_eq!(unregistrable("https://example.com:0/cb").unwrap().instead, "https://example.com/cb");
        assert_eq!(unregistrable("nonsense").unwrap().instead, RECOMMENDED);
        assert!(unregistrable(RECOMMENDED).is_none());
        // What to use instead is always a URI apps:create takes.
        for (uri, _) in CLI_DECIDES {
            if let Some(w) = unregistrable(uri) {
                assert!(apps_create_accepts(&w.instead), "{uri:?} -> {}", w.instead);
            }
        }
    }
}
