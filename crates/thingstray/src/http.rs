//! The HTTP plumbing every SmartThings call shares: one client with timeouts, bodies read
//! with a hard size cap, transport failures and rate limits turned into [`Error`]s.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use crate::error::{Error, Result};

/// No SmartThings answer ThingsTray asks for comes near this (200 devices with status is
/// about 300 KB); anything bigger is a misconfigured URL or a hostile server.
pub const MAX_BODY: usize = 1 << 20;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The environment variable naming a PEM file of extra certificate authorities to trust
/// (see [`ExtraRoots`]).
pub const CA_FILE_ENV: &str = "THINGSTRAY_CA_FILE";

/// Certificate authorities trusted on top of the public ones: a TLS SmartThings stand-in
/// (`smartthings-sim --tls --tls-cert-out ca.pem`) or a company proxy that re-signs TLS.
///
/// Why here: every reqwest client ThingsTray talks to SmartThings with is built in this
/// module, so one setting reaches sign-in, refresh, the API and the proxy alike. A file
/// that cannot be used is an error, never skipped: quietly falling back to the public
/// roots would turn "wrong file" into a baffling certificate failure later.
#[derive(Clone, Default)]
pub struct ExtraRoots {
    certs: Vec<reqwest::Certificate>,
}

impl std::fmt::Debug for ExtraRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtraRoots").field("certificates", &self.certs.len()).finish()
    }
}

impl ExtraRoots {
    /// None: the public roots only.
    pub fn none() -> ExtraRoots {
        ExtraRoots::default()
    }

    /// What [`CA_FILE_ENV`] names (unset or empty: none). The programs' entry points call
    /// this through [`client`]; tests pass their roots to [`client_with`] instead of
    /// changing the process environment.
    pub fn from_env() -> Result<ExtraRoots> {
        match std::env::var_os(CA_FILE_ENV) {
            Some(path) if !path.is_empty() => ExtraRoots::from_pem_file(std::path::Path::new(&path)),
            _ => Ok(ExtraRoots::none()),
        }
    }

    /// Every certificate in a PEM file (one or more `BEGIN CERTIFICATE` blocks).
    pub fn from_pem_file(path: &std::path::Path) -> Result<ExtraRoots> {
        let bad = |why: String| Error::InvalidSetting {
            field: CA_FILE_ENV.into(),
            why: format!(
                "{why}. Point it at a PEM file of the certificate authorities to trust (as \
                 `smartthings-sim --tls-cert-out` writes), or unset it to trust the public ones only"
            ),
        };
        let shown = path.display();
        let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read {shown}: {e}")))?;
        ExtraRoots::from_pem(&pem).map_err(|why| bad(format!("{shown} {why}")))
    }

    /// The certificates of a PEM bundle; `Err` says what is wrong, for a message.
    fn from_pem(pem: &[u8]) -> std::result::Result<ExtraRoots, String> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::CertificateDer;
        let mut certs = Vec::new();
        for (n, der) in CertificateDer::pem_slice_iter(pem).enumerate() {
            let der = der.map_err(|e| format!("is not valid PEM ({e})"))?;
            // Checked now, as rustls will read it, rather than when a client is built.
            rustls::RootCertStore::empty()
                .add(der.clone())
                .map_err(|e| format!("holds a certificate (number {}) that cannot be trusted: {e}", n + 1))?;
            let cert = reqwest::Certificate::from_der(&der)
                .map_err(|e| format!("holds a certificate (number {}) reqwest refuses: {e}", n + 1))?;
            certs.push(cert);
        }
        if certs.is_empty() {
            return Err("holds no certificate (no -----BEGIN CERTIFICATE----- block)".into());
        }
        Ok(ExtraRoots { certs })
    }

    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }
}

/// One client for the whole process: it pools connections. Redirects are not followed:
/// a token request must never be replayed to another host, and pagination links are
/// checked by hand. Trusts what [`CA_FILE_ENV`] names as well as the public roots; a
/// file that cannot be used is an error ([`Error::InvalidSetting`]).
pub fn client(request_timeout: Duration) -> Result<reqwest::Client> {
    client_with(request_timeout, &ExtraRoots::from_env()?)
}

/// [`client`] with the extra roots given instead of read from the environment.
pub fn client_with(request_timeout: Duration, roots: &ExtraRoots) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT.min(request_timeout))
        .timeout(request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("ThingsTray/", env!("CARGO_PKG_VERSION")));
    for cert in &roots.certs {
        b = b.add_root_certificate(cert.clone());
    }
    match b.build() {
        Ok(c) => Ok(c),
        Err(e) if !roots.is_empty() => Err(Error::InvalidSetting {
            field: CA_FILE_ENV.into(),
            why: format!("its certificates could not be used ({e}); check the file, or unset it"),
        }),
        // Only a broken TLS backend gets here; a client without the timeouts still works.
        Err(_) => Ok(reqwest::Client::new()),
    }
}

/// A random UUID (v4): st-schema request ids, and the unique part of a new app's name.
pub(crate) fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Reads the whole body, refusing (without reading on) anything over [`MAX_BODY`].
pub async fn read(resp: reqwest::Response, url: &str) -> Result<Reply> {
    read_capped(resp, url, MAX_BODY).await
}

/// [`read`] with another cap (the share client expects answers of a few hundred bytes).
pub async fn read_capped(mut resp: reqwest::Response, url: &str, limit: usize) -> Result<Reply> {
    let too_large = || Error::ResponseTooLarge { limit, url: url.to_string() };
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let status = resp.status();
    let headers = resp.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Reply { status, headers, body })
}

/// A request that got no HTTP answer: always transient.
pub fn transport(e: reqwest::Error) -> Error {
    let what = if e.is_timeout() {
        "the request timed out"
    } else if e.is_connect() {
        "the connection failed"
    } else if e.is_body() || e.is_decode() {
        "the connection broke while reading the answer"
    } else {
        "the request failed"
    };
    // Walk the source chain for the OS-level reason; URLs here carry no secrets, but the
    // chain is short and the URL is already known to the caller, so leave it out.
    let mut detail = what.to_string();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(s) = src {
        detail = format!("{what}: {s}");
        src = s.source();
    }
    Error::Unreachable { detail }
}

/// What a non-JSON body is, in words, without quoting it: a garbled token response could
/// hold a token, and error messages end up in logs.
pub fn describe_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let t = text.trim_start();
    if t.is_empty() {
        "an empty body".into()
    } else if t.starts_with('<') {
        "an HTML page".into()
    } else if t.starts_with('{') || t.starts_with('[') {
        "malformed JSON".into()
    } else {
        format!("{} bytes of text", body.len())
    }
}

/// How long SmartThings asks us to wait after a 429. SmartThings sends no `Retry-After`;
/// its body says "retry in 40585 millis" and `x-ratelimit-reset` is documented as
/// milliseconds on one page and seconds on another, so both are read, the body first.
pub fn rate_limit_wait(headers: &HeaderMap, body: &[u8], now: SystemTime) -> Duration {
    let from_body = std::str::from_utf8(body).ok().and_then(|b| {
        let at = b.find("retry in ")? + "retry in ".len();
        let digits: String = b[at..].chars().take_while(|c| c.is_ascii_digit()).collect();
        let n: u64 = digits.parse().ok()?;
        let unit = b[at + digits.len()..].trim_start();
        Some(if unit.starts_with("milli") || unit.starts_with("ms") {
            Duration::from_millis(n)
        } else {
            Duration::from_secs(n)
        })
    });
    let from_header = || {
        let n: u64 = headers.get("x-ratelimit-reset")?.to_str().ok()?.trim().parse().ok()?;
        let now_ms = now.duration_since(UNIX_EPOCH).ok()?.as_millis() as u64;
        Some(if n > 1_000_000_000_000 {
            Duration::from_millis(n.saturating_sub(now_ms)) // an epoch in ms
        } else if n > 1_000_000_000 {
            Duration::from_millis((n * 1000).saturating_sub(now_ms)) // an epoch in s
        } else if n >= 1000 {
            Duration::from_millis(n) // a wait in ms
        } else {
            Duration::from_secs(n) // a wait in s
        })
    };
    from_body
        .or_else(from_header)
        .unwrap_or(Duration::from_secs(30))
        .clamp(Duration::from_secs(1), Duration::from_secs(15 * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(reset: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", reset.parse().unwrap());
        h
    }

    #[test]
    fn rate_limit_reads_the_body_first() {
        let body = br#"{"error":{"message":"attempt 10 limit 10 - retry in 40585 millis"}}"#;
        let w = rate_limit_wait(&headers("5"), body, SystemTime::now());
        assert_eq!(w, Duration::from_millis(40585));
    }

    #[test]
    fn rate_limit_header_in_ms_seconds_or_epoch() {
        let now = SystemTime::now();
        assert_eq!(rate_limit_wait(&headers("40585"), b"", now), Duration::from_millis(40585));
        assert_eq!(rate_limit_wait(&headers("12"), b"", now), Duration::from_secs(12));
        let epoch_s = now.duration_since(UNIX_EPOCH).unwrap().as_secs() + 20;
        let w = rate_limit_wait(&headers(&epoch_s.to_string()), b"", now);
        assert!(w > Duration::from_secs(18) && w <= Duration::from_secs(20), "{w:?}");
        assert_eq!(rate_limit_wait(&HeaderMap::new(), b"", now), Duration::from_secs(30));
    }

    #[test]
    fn extra_roots_refuse_what_they_cannot_use() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = ExtraRoots::from_pem_file(&missing).unwrap_err();
        assert_eq!(e.code(), "invalid_setting");
        let msg = e.to_string();
        assert!(msg.contains(CA_FILE_ENV) && msg.contains("cannot read") && msg.contains("unset it"), "{msg}");

        for (name, body, says) in [
            ("empty.pem", "", "holds no certificate"),
            ("text.pem", "not a certificate\n", "holds no certificate"),
            ("key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "holds no certificate"),
            ("junk.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "cannot be trusted"),
            ("torn.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n", "not valid PEM"),
        ] {
            let f = dir.path().join(name);
            std::fs::write(&f, body).unwrap();
            let msg = ExtraRoots::from_pem_file(&f).unwrap_err().to_string();
            assert!(msg.contains(CA_FILE_ENV) && msg.contains(says), "{name}: {msg}");
        }
    }

    #[test]
    fn bodies_are_described_not_quoted() {
        assert_eq!(describe_body(b"  <html><body>502</body></html>"), "an HTML page");
        assert_eq!(describe_body(br#"{"access_token":"abc"#), "malformed JSON");
        assert_eq!(describe_body(b""), "an empty body");
    }
}
