//! The invite: one line a user copies from the owner to the computer being paired.
//!
//! `thingstray://pair?at=HOST:PORT&fp=HEX&code=CODE&owner=NAME`
//!
//! - `at`: where the owner's share listener is reached;
//! - `fp`: the owner's certificate fingerprint, the only certificate the paired computer
//!   will ever accept from it (so a wrong `at` cannot lead to an impostor);
//! - `code`: single use, valid [`INVITE_VALIDITY`], guessing limited on the owner (owner/attempts.rs);
//! - `owner`: the owner's display name, for messages ("revoked on NAME").
//!
//! A URL so the desktop app can later take it as a deep link. Parsing never panics: every
//! refusal names the part that is wrong.

use std::time::Duration;

use rand::Rng;

use super::fingerprint::Fingerprint;
use crate::error::{Error, Result};

pub const SCHEME: &str = "thingstray";
/// How long a code can be redeemed.
pub const INVITE_VALIDITY: Duration = Duration::from_secs(10 * 60);
/// Crockford's base32 without the letters people misread (I, L, O, U).
const CODE_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 12 symbols of 5 bits: 60 bits. With 5 guesses a minute allowed, finding one code takes
/// longer than the universe has existed; ten minutes of validity make it moot.
const CODE_LEN: usize = 12;
/// Display names longer than this are cut: they end up in messages and lists.
pub const MAX_NAME_CHARS: usize = 64;

/// A parsed invite.
#[derive(Clone, PartialEq, Eq)]
pub struct Invite {
    /// `HOST:PORT`, IPv6 hosts in brackets.
    pub at: String,
    pub fingerprint: Fingerprint,
    pub code: String,
    pub owner: String,
}

impl std::fmt::Debug for Invite {
    // The code is a (short-lived) secret: debug output and logs never show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invite")
            .field("at", &self.at)
            .field("fingerprint", &self.fingerprint.short())
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl Invite {
    /// The line to show the user.
    pub fn to_line(&self) -> String {
        let mut u = url::Url::parse(&format!("{SCHEME}://pair")).expect("a constant URL");
        u.query_pairs_mut()
            .append_pair("at", &self.at)
            .append_pair("fp", self.fingerprint.as_str())
            .append_pair("code", &self.code)
            .append_pair("owner", &self.owner);
        u.to_string()
    }

    /// Reads a pasted line. Surrounding whitespace and quotes (from a chat or a shell) are
    /// ignored; everything else must be right.
    pub fn parse(line: &str) -> Result<Invite> {
        let bad = |why: &str| Error::InviteInvalid { why: why.to_string() };
        let line = line.trim().trim_matches(|c| c == '"' || c == '\'' || c == '<' || c == '>').trim();
        if line.is_empty() {
            return Err(bad("it is empty"));
        }
        if line.len() > 2048 {
            return Err(bad("it is far longer than an invite"));
        }
        let u = url::Url::parse(line).map_err(|_| bad("it is not a thingstray://pair?… line"))?;
        if u.scheme() != SCHEME || u.host_str() != Some("pair") {
            return Err(bad("it does not start with thingstray://pair?"));
        }
        let (mut at, mut fp, mut code, mut owner) = (None, None, None, None);
        for (k, v) in u.query_pairs() {
            let slot = match k.as_ref() {
                "at" => &mut at,
                "fp" => &mut fp,
                "code" => &mut code,
                "owner" => &mut owner,
                _ => continue, // newer versions may add fields
            };
            if slot.replace(v.into_owned()).is_some() {
                return Err(Error::InviteInvalid { why: format!("it names `{k}` twice") });
            }
        }
        let at = check_at(&at.ok_or_else(|| bad("the owner's address (at=) is missing"))?)?;
        let fingerprint = Fingerprint::parse(&fp.ok_or_else(|| bad("the owner's fingerprint (fp=) is missing"))?)?;
        let code = normalize_code(&code.ok_or_else(|| bad("the code (code=) is missing"))?)
            .ok_or_else(|| bad("its code (code=) is not one ThingsTray makes"))?;
        let owner = clean_name(owner.as_deref().unwrap_or(""));
        let owner = if owner.is_empty() { at.clone() } else { owner };
        Ok(Invite { at, fingerprint, code, owner })
    }
}

impl std::str::FromStr for Invite {
    type Err = Error;
    fn from_str(s: &str) -> Result<Invite> {
        Invite::parse(s)
    }
}

/// `HOST:PORT` with a port, no path, no user info: what a URL's authority needs.
fn check_at(at: &str) -> Result<String> {
    let bad = |why: &str| Error::InviteInvalid { why: format!("its address (at=) {why}") };
    let u = url::Url::parse(&format!("https://{at}/")).map_err(|_| bad("is not HOST:PORT"))?;
    if u.username() != "" || u.password().is_some() || u.path() != "/" || u.query().is_some() || u.fragment().is_some()
    {
        return Err(bad("is not HOST:PORT"));
    }
    let host = u.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("has no host"))?;
    // `Url` drops the default port 443, so read it from the text.
    let port = at.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()).filter(|p| *p != 0);
    let port = port.ok_or_else(|| bad("has no port"))?;
    Ok(format!("{host}:{port}"))
}

/// A fresh code.
pub fn new_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LEN).map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char).collect()
}

/// The canonical form of a typed code: upper case, without spaces or dashes, and the
/// letters Crockford maps to digits (O -> 0, I and L -> 1). None if it can't be a code.
pub fn normalize_code(code: &str) -> Option<String> {
    let mut out = String::with_capacity(CODE_LEN);
    for c in code.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c if c.is_ascii() && CODE_ALPHABET.contains(&(c as u8)) => c,
            _ => return None,
        };
        out.push(c);
    }
    (out.len() == CODE_LEN).then_some(out)
}

/// A name as it will be shown: control characters dropped, whitespace collapsed, cut.
pub fn clean_name(name: &str) -> String {
    let kept: String = name.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(MAX_NAME_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn invite() -> Invite {
        Invite {
            at: "192.168.1.20:8766".into(),
            fingerprint: Fingerprint::of(b"cert"),
            code: new_code(),
            owner: "Living room PC".into(),
        }
    }

    #[test]
    fn a_line_reads_back_as_the_same_invite() {
        let i = invite();
        let line = i.to_line();
        assert!(line.starts_with("thingstray://pair?at=192.168.1.20%3A8766&fp="), "{line}");
        assert_eq!(Invite::parse(&line).unwrap(), i);
        assert_eq!(Invite::parse(&format!("  \"{line}\"\n")).unwrap(), i);
        let v6 = Invite { at: "[fe80::1]:9000".into(), ..invite() };
        assert_eq!(Invite::parse(&v6.to_line()).unwrap(), v6);
        assert!(!format!("{i:?}").contains(&i.code));
    }

    #[test]
    fn each_bad_part_is_named() {
        let good = invite();
        let fp = good.fingerprint.as_str();
        let cases = [
            ("", "empty"),
            ("https://example.com/", "thingstray://pair"),
            ("thingstray://other?at=a:1", "thingstray://pair"),
            (&format!("thingstray://pair?fp={fp}&code={}", good.code), "address"),
            (&format!("thingstray://pair?at=host&fp={fp}&code={}", good.code), "port"),
            (&format!("thingstray://pair?at=u@host:1&fp={fp}&code={}", good.code), "HOST:PORT"),
            (&format!("thingstray://pair?at=host:1&code={}", good.code), "fingerprint"),
            (&format!("thingstray://pair?at=host:1&fp=abc&code={}", good.code), "fingerprint"),
            (&format!("thingstray://pair?at=host:1&fp={fp}"), "code"),
            (&format!("thingstray://pair?at=host:1&fp={fp}&code=short"), "code"),
            (&format!("thingstray://pair?at=host:1&at=b:2&fp={fp}&code={}", good.code), "twice"),
        ];
        for (line, needle) in cases {
            let e = Invite::parse(line).unwrap_err();
            assert_eq!(e.code(), "invite_invalid", "{line}");
            assert!(e.to_string().contains(needle), "{line}: {e}");
        }
    }

    #[test]
    fn codes_are_typed_forgivingly() {
        let c = new_code();
        assert_eq!(c.len(), CODE_LEN);
        assert_eq!(normalize_code(&c.to_lowercase()).unwrap(), c);
        let grouped = format!("{}-{} {}", &c[..4], &c[4..8], &c[8..]);
        assert_eq!(normalize_code(&grouped).unwrap(), c);
        assert_eq!(normalize_code("OIL000000000").unwrap(), "011000000000");
        assert!(normalize_code("UUUUUUUUUUUU").is_none());
        assert_ne!(new_code(), new_code());
    }

    #[test]
    fn names_are_tamed() {
        assert_eq!(clean_name("  my\u{7}\nlaptop  "), "my laptop");
        assert_eq!(clean_name(&"x".repeat(500)).len(), MAX_NAME_CHARS);
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in ".{0,300}") {
            let _ = Invite::parse(&s);
            let _ = Invite::parse(&format!("thingstray://pair?{s}"));
            let _ = Invite::parse(&format!("thingstray://pair?at={s}&fp={s}&code={s}&owner={s}"));
        }
    }
}
