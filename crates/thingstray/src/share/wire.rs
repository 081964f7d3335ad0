//! What the owner and a paired computer say to each other: the paths and the bodies of
//! the share protocol, for both sides (client.rs here, the owner's listener in owner/).

use serde::{Deserialize, Serialize};

use crate::config::ConnectionSettings;
use crate::token::TokenSet;

pub const PAIR_PATH: &str = "/share/v1/pair";
pub const TOKEN_PATH: &str = "/share/v1/token";
pub const HAND_OVER_PATH: &str = "/share/v1/hand-over";
pub const HAND_OVER_CONFIRM_PATH: &str = "/share/v1/hand-over/confirm";
pub const HAND_OVER_DECLINE_PATH: &str = "/share/v1/hand-over/decline";

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PairRequest {
    pub code: String,
    pub name: String,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct PairAnswer {
    pub id: String,
    pub secret: String,
    pub owner: String,
}

/// What the owner hands a paired computer: an access token and where to use it. Never a
/// refresh token, never the client secret.
#[derive(Serialize, Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    pub token_type: String,
    /// UTC, Unix seconds.
    pub expires_at: u64,
    pub scope: String,
    #[serde(default)]
    pub installed_app_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    /// The API the token is for (`https://api.smartthings.com/v1`): device calls go
    /// straight there, not through the owner.
    pub api_url: String,
}

/// A hand-over, the request: what the new owner sends, how the old owner will reach it
/// once paired, and the name of this hand-over (`nonce`: a repeat carries it again and is
/// answered the same).
#[derive(Serialize, Deserialize)]
pub(crate) struct HandOverRequest {
    pub owner: String,
    pub at: String,
    pub fingerprint: String,
    pub id: String,
    pub secret: String,
    #[serde(default)]
    pub nonce: String,
    /// The location the new owner was paired for: a session for another one is refused
    /// before anything is decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
}

/// A hand-over, the old owner's answer: the session itself. Only ever sent in answer to an
/// offered, authenticated computer, after the old owner's decision is on its disk.
#[derive(Serialize, Deserialize)]
pub(crate) struct HandOverBundle {
    pub settings: ConnectionSettings,
    pub client_secret: String,
    pub tokens: TokenSet,
    #[serde(default)]
    pub nonce: String,
}

/// The new owner's word on a hand-over: it holds the session (`confirm`), or it will never
/// use it (`decline`).
#[derive(Serialize, Deserialize)]
pub(crate) struct HandOverWord {
    pub nonce: String,
}
