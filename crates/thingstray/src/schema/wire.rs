//! The st-schema JSON shapes of the callback token flow, with the exact field names
//! SmartThings uses (st-schema-nodejs lib/callbacks/*.js).

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Headers {
    pub schema: String,
    pub version: String,
    pub interaction_type: String,
    pub request_id: String,
}

impl Headers {
    /// A fresh `requestId` (a v4 UUID) for each call: SmartThings traces calls by it.
    pub fn new(interaction_type: &str) -> Headers {
        Headers {
            schema: "st-schema".into(),
            version: "1.0".into(),
            interaction_type: interaction_type.into(),
            request_id: crate::http::uuid_v4(),
        }
    }
}

/// What SmartThings sends the connector when a user links it.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct GrantCallbackAccess {
    pub headers: Option<Headers>,
    pub callback_authentication: Option<GrantAuth>,
    pub callback_urls: Option<CallbackUrls>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantAuth {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub client_id: Option<String>,
}

impl std::fmt::Debug for GrantAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrantAuth").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct CallbackUrls {
    pub oauth_token: Option<String>,
    pub state_callback: Option<String>,
}

/// `accessTokenRequest` and `refreshAccessTokens` bodies.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequest<'a> {
    pub headers: Headers,
    pub callback_authentication: TokenRequestAuth<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequestAuth<'a> {
    pub grant_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<&'a str>,
    pub client_id: &'a str,
    pub client_secret: &'a str,
}

/// `accessTokenResponse`, or an `interactionResult` with a `globalError`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenAnswer {
    pub callback_authentication: Option<TokenAnswerAuth>,
    pub global_error: Option<GlobalError>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenAnswerAuth {
    pub token_type: Option<String>,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct GlobalError {
    pub error_enum: Option<String>,
    pub detail: Option<String>,
}
