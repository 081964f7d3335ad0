//! What the tray says about a session: the icon's state and the status line
//! ("Connected · token valid 18 h"); and about the token server ("Token server on
//! 127.0.0.1:8765").

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::session::Status;

/// The four tray icons. A signed-out connection shows the sign-in icon: either way
/// the user has to sign in before anything works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrayState {
    Connected,
    Refreshing,
    Retrying,
    SignIn,
}

/// The panel the icon sits on: a light panel needs a dark glyph and the other way round.
/// Linux offers no reliable way to ask, so it is a setting (dark panels are the common
/// default: GNOME, KDE Breeze Dark, Windows 11's taskbar).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PanelTheme {
    Light,
    #[default]
    Dark,
}

impl TrayState {
    pub fn of(status: &Status) -> TrayState {
        match status {
            Status::Connected { .. } => TrayState::Connected,
            Status::Refreshing { .. } => TrayState::Refreshing,
            Status::Retrying { .. } => TrayState::Retrying,
            Status::NeedsSignIn { .. } | Status::SignedOut => TrayState::SignIn,
        }
    }

    /// The state of several connections together: the one most in need of attention.
    /// No connection at all is a sign-in state too (the wizard is the next step).
    pub fn worst<'a>(statuses: impl IntoIterator<Item = &'a Status>) -> TrayState {
        statuses.into_iter().map(TrayState::of).max().unwrap_or(TrayState::SignIn)
    }

    /// File stem under `icons/tray/`, e.g. `retrying-dark`.
    pub fn icon_name(self, theme: PanelTheme) -> String {
        let state = match self {
            TrayState::Connected => "connected",
            TrayState::Refreshing => "refreshing",
            TrayState::Retrying => "retrying",
            TrayState::SignIn => "signin",
        };
        let theme = match theme {
            PanelTheme::Light => "light",
            PanelTheme::Dark => "dark",
        };
        format!("{state}-{theme}")
    }

    /// The icon itself (`icons/tray/<icon_name>@2x.png`, `scripts/make-icons.py`'s), for
    /// both trays: the app's and the resident's (issue 30). Exhaustive over both enums: a
    /// new state or theme does not compile until it has its icon.
    pub fn icon_png(self, theme: PanelTheme) -> &'static [u8] {
        use PanelTheme::{Dark, Light};
        use TrayState::{Connected, Refreshing, Retrying, SignIn};
        macro_rules! png {
            ($name:literal) => {
                include_bytes!(concat!("../../../../icons/tray/", $name, "@2x.png")).as_slice()
            };
        }
        match (self, theme) {
            (Connected, Light) => png!("connected-light"),
            (Connected, Dark) => png!("connected-dark"),
            (Refreshing, Light) => png!("refreshing-light"),
            (Refreshing, Dark) => png!("refreshing-dark"),
            (Retrying, Light) => png!("retrying-light"),
            (Retrying, Dark) => png!("retrying-dark"),
            (SignIn, Light) => png!("signin-light"),
            (SignIn, Dark) => png!("signin-dark"),
        }
    }
}

/// "18 h", "45 min", "30 s", "3 d": the coarsest unit that still says something.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 2 * 86_400 {
        format!("{} d", s / 86_400)
    } else if s >= 2 * 3600 {
        format!("{} h", s / 3600)
    } else if s >= 120 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

fn until(at_unix_s: u64, now: SystemTime) -> Duration {
    (UNIX_EPOCH + Duration::from_secs(at_unix_s)).duration_since(now).unwrap_or(Duration::ZERO)
}

fn validity(expires_at: u64, now: SystemTime) -> String {
    let left = until(expires_at, now);
    if left.is_zero() {
        "token expired".into()
    } else {
        format!("token valid {}", human_duration(left))
    }
}

/// The first line of the tray menu and of the device window's header.
pub fn status_line(status: &Status, now: SystemTime) -> String {
    match status {
        Status::SignedOut => "Not signed in".into(),
        Status::Connected { expires_at, warning, .. } => {
            let mut s = format!("Connected · {}", validity(*expires_at, now));
            if warning.is_some() {
                s.push_str(" · sign in again soon");
            }
            s
        }
        Status::Refreshing { .. } => "Refreshing the token…".into(),
        Status::Retrying { expires_at, next_attempt_at, .. } => {
            let next = until(*next_attempt_at, now);
            let when = if next.is_zero() { "now".to_string() } else { format!("in {}", human_duration(next)) };
            format!("Retrying {when} · {}", validity(*expires_at, now))
        }
        Status::NeedsSignIn { .. } => "Sign-in needed".into(),
    }
}

/// Why a paired connection has no token, in a few words per error code: "Sign-in
/// needed" would be wrong there (no sign-in on this computer can fix it). The full
/// message, with what to do, is [`status_detail`]'s.
const PAIRED_ENDS: &[(&str, &str)] = &[
    ("share_revoked", "Access revoked on {owner}"),
    ("owner_session_ended", "Signed out on {owner}"),
    ("share_unauthorized", "Not paired with {owner} any more"),
    ("share_fingerprint_mismatch", "{owner} did not prove who it is"),
];

/// The line for a connection; a paired one names its owner ("Connected · token valid
/// 18 h · via laptop") and says why it has no token instead of asking for a sign-in.
pub fn connection_line(status: &Status, owner: Option<&str>, now: SystemTime) -> String {
    let line = status_line(status, now);
    let Some(owner) = owner else { return line };
    match status {
        Status::NeedsSignIn { reason } => {
            let short =
                PAIRED_ENDS.iter().find(|(code, _)| *code == reason.code()).map_or("No token from {owner}", |(_, s)| s);
            short.replace("{owner}", owner)
        }
        _ => format!("{line} · via {owner}"),
    }
}

/// What to tell the user about a status beyond the line: the reason sign-in is needed,
/// the last error while retrying, the 30-day warning.
pub fn status_detail(status: &Status) -> Option<String> {
    match status {
        Status::NeedsSignIn { reason } => Some(reason.to_string()),
        Status::Retrying { last_error, warning, .. } => Some(match warning {
            Some(w) => format!("{last_error} {w}"),
            None => last_error.to_string(),
        }),
        Status::Connected { warning: Some(w), .. } => Some(w.clone()),
        _ => None,
    }
}

/// The desktop's token server, as the settings window and the tray show it. No secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenServerStatus {
    /// The user's choice, kept in desktop.toml: on at the next launch too.
    pub enabled: bool,
    /// The port listened on while running, else the one chosen.
    pub port: u16,
    pub running: bool,
    /// `http://127.0.0.1:8765` while running.
    pub url: Option<String>,
    /// The connection whose token it hands out now (the default one).
    pub serving: Option<String>,
    /// Why it is not running although it is on (a busy port at launch).
    pub error: Option<Error>,
}

impl TokenServerStatus {
    /// The tray's line: always there while it runs (the user must see that programs on
    /// this machine can get their token), and when it should run but could not.
    pub fn line(&self) -> Option<String> {
        if self.running {
            return Some(format!("Token server on 127.0.0.1:{}", self.port));
        }
        let error = self.error.as_ref().filter(|_| self.enabled)?;
        Some(match error {
            Error::PortInUse { .. } => format!("Token server off: port {} is in use", self.port),
            _ => "Token server off: could not start".to_string(),
        })
    }
}

/// Whether a token can be had at all (copy button, device list).
pub fn has_token(status: &Status) -> bool {
    matches!(status, Status::Connected { .. } | Status::Refreshing { .. } | Status::Retrying { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn connected_line_says_how_long_the_token_lasts() {
        let st = Status::Connected { expires_at: 1_000 + 18 * 3600 + 59, next_refresh_at: 0, warning: None };
        assert_eq!(status_line(&st, at(1_000)), "Connected · token valid 18 h");
        let st = Status::Connected { expires_at: 1_000 + 45 * 60, next_refresh_at: 0, warning: None };
        assert_eq!(status_line(&st, at(1_000)), "Connected · token valid 45 min");
        let st = Status::Connected { expires_at: 1_000 + 3 * 86_400, next_refresh_at: 0, warning: Some("old".into()) };
        assert_eq!(status_line(&st, at(1_000)), "Connected · token valid 3 d · sign in again soon");
    }

    #[test]
    fn retrying_line_says_when_and_whether_the_token_still_works() {
        let st = Status::Retrying {
            expires_at: 1_000 + 7200,
            next_attempt_at: 1_040,
            attempt: 2,
            last_error: Error::ServerError { status: 504 },
            warning: None,
        };
        assert_eq!(status_line(&st, at(1_000)), "Retrying in 40 s · token valid 2 h");
        assert_eq!(status_line(&st, at(9_000)), "Retrying now · token expired");
        assert!(status_detail(&st).unwrap().contains("HTTP 504"));
    }

    #[test]
    fn states_map_to_icons_and_the_worst_wins() {
        let ok = Status::Connected { expires_at: 0, next_refresh_at: 0, warning: None };
        let refreshing = Status::Refreshing { expires_at: 0 };
        let ended = Status::NeedsSignIn { reason: Error::SessionEnded { detail: "x".into() } };
        assert_eq!(TrayState::of(&Status::SignedOut), TrayState::SignIn);
        assert_eq!(TrayState::worst([&ok, &refreshing]), TrayState::Refreshing);
        assert_eq!(TrayState::worst([&ok, &ended, &refreshing]), TrayState::SignIn);
        assert_eq!(TrayState::worst([]), TrayState::SignIn);
        assert_eq!(TrayState::Retrying.icon_name(PanelTheme::Light), "retrying-light");
        assert_eq!(TrayState::SignIn.icon_name(PanelTheme::Dark), "signin-dark");
        assert!(has_token(&refreshing) && !has_token(&ended));
    }

    #[test]
    fn the_token_server_line_shows_while_it_runs_or_failed() {
        let mut st =
            TokenServerStatus { enabled: true, port: 8765, running: true, url: None, serving: None, error: None };
        assert_eq!(st.line().as_deref(), Some("Token server on 127.0.0.1:8765"));
        st.running = false;
        assert_eq!(st.line(), None);
        st.error = Some(Error::PortInUse { port: 8765, address: "127.0.0.1".into() });
        assert_eq!(st.line().as_deref(), Some("Token server off: port 8765 is in use"));
        st.error = Some(Error::KeychainTimeout { after: Duration::from_secs(1) });
        assert_eq!(st.line().as_deref(), Some("Token server off: could not start"));
        st.enabled = false;
        assert_eq!(st.line(), None);
    }

    /// Each pair gets the file its `icon_name` names, and no two pairs share an icon.
    #[test]
    fn each_state_and_theme_has_the_icon_it_names() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../icons/tray");
        let mut seen = vec![];
        for state in [TrayState::Connected, TrayState::Refreshing, TrayState::Retrying, TrayState::SignIn] {
            for theme in [PanelTheme::Light, PanelTheme::Dark] {
                let file = dir.join(format!("{}@2x.png", state.icon_name(theme)));
                let png = state.icon_png(theme);
                assert!(std::fs::read(&file).unwrap() == png, "{state:?} on {theme:?} is not {}", file.display());
                assert!(!seen.contains(&png), "{state:?} on {theme:?} shares its icon");
                seen.push(png);
            }
        }
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::from_secs(59)), "59 s");
        assert_eq!(human_duration(Duration::from_secs(119)), "119 s");
        assert_eq!(human_duration(Duration::from_secs(7199)), "119 min");
        assert_eq!(human_duration(Duration::from_secs(86_400)), "24 h");
        assert_eq!(human_duration(Duration::from_secs(30 * 86_400)), "30 d");
    }

    #[test]
    fn a_paired_line_names_its_owner_and_never_asks_for_a_sign_in() {
        let ok = Status::Connected { expires_at: 1_000 + 2 * 3600 + 5, next_refresh_at: 0, warning: None };
        assert_eq!(connection_line(&ok, Some("laptop"), at(1_000)), "Connected · token valid 2 h · via laptop");
        assert_eq!(connection_line(&ok, None, at(1_000)), "Connected · token valid 2 h");
        let ended = |reason| Status::NeedsSignIn { reason };
        let cases = [
            (Error::ShareRevoked { owner: "laptop".into() }, "Access revoked on laptop"),
            (Error::OwnerSessionEnded { owner: "laptop".into() }, "Signed out on laptop"),
            (Error::ShareProtocol { owner: "laptop".into(), detail: "x".into() }, "No token from laptop"),
        ];
        for (reason, want) in cases {
            let st = ended(reason);
            assert_eq!(connection_line(&st, Some("laptop"), at(1_000)), want);
            assert!(status_detail(&st).is_some_and(|d| d.contains("laptop")), "the whole message stays in the detail");
        }
        assert_eq!(
            connection_line(&ended(Error::NotSignedIn { connection: "home".into() }), None, at(1_000)),
            "Sign-in needed"
        );
    }
}
