//! What each ST Schema `globalError` means, and what a developer does about it: one table.

use crate::error::Error;

/// `errorEnum`, the stable code it becomes, whether it ends the connection's access (a new
/// `grantCallbackAccess` is then the only way back), and the advice.
const TABLE: &[(&str, &str, bool, &str)] = &[
    ("BAD-REQUEST", "schema_bad_request", false,
     "The request was not the st-schema JSON SmartThings expects (a body without the st-schema `headers`, or not `Content-Type: application/json`). ThingsTray sends that shape; a proxy that rewrites bodies would cause this."),
    ("INVALID-CLIENT", "schema_invalid_client", false,
     "SmartThings does not know this client id: it must be the connector's Client ID from the Developer Workspace (the one in `callbackAuthentication.clientId` of the grant), not an OAuth-In app's. Run `thingstray schema grant` again with the right one."),
    ("INVALID-CLIENT-SECRET", "schema_invalid_client_secret", false,
     "The client secret does not match the connector's: copy the Client Secret of the ST Schema connector from the Developer Workspace and run `thingstray schema grant` again with a fresh grant."),
    ("INVALID-CODE", "schema_invalid_code", false,
     "The code of the grant was already used or has expired (it works once, for minutes). Have SmartThings send a new grantCallbackAccess (link the connector again in the SmartThings app) and pass it to `thingstray schema grant` at once."),
    ("TOKEN-EXPIRED", "schema_token_expired", true,
     "The callback refresh token expired: nothing refreshed it in time. Link the connector again in the SmartThings app and pass the new grantCallbackAccess to `thingstray schema grant`; keep `thingstray serve` or the app running so it stays fresh."),
    ("INVALID-TOKEN", "schema_invalid_token", true,
     "SmartThings does not know this callback refresh token any more: it was already spent (each refresh replaces it) or belongs to an older grant. Link the connector again and run `thingstray schema grant`."),
    ("INTEGRATION-DELETED", "schema_integration_deleted", true,
     "The user removed the connector's integration in the SmartThings app, which revokes its callback access. It comes back only when the user links it again: then run `thingstray schema grant` with the new grantCallbackAccess."),
    ("UNSUPPORTED-GRANT-TYPE", "schema_unsupported_grant_type", false,
     "SmartThings accepts only `authorization_code` (accessTokenRequest) and `refresh_token` (refreshAccessTokens) here; there is no client_credentials flow for callback tokens."),
    ("INVALID-INTERACTION-TYPE", "schema_invalid_interaction_type", false,
     "The token endpoint answers only accessTokenRequest and refreshAccessTokens interactions."),
];

/// The error for a `globalError`; an `errorEnum` not in the table keeps its name.
pub fn from_global_error(error_enum: &str, detail: &str) -> Error {
    let detail = detail.chars().take(300).collect::<String>();
    match TABLE.iter().find(|(e, ..)| *e == error_enum) {
        Some((_, code, true, advice)) => {
            Error::SchemaAccessEnded { code, error_enum: error_enum.to_string(), detail, advice }
        }
        Some((_, code, false, advice)) => {
            Error::SchemaRefused { code, error_enum: error_enum.to_string(), detail, advice }
        }
        None => Error::SchemaRefused {
            code: "schema_refused",
            error_enum: error_enum.chars().take(64).collect(),
            detail,
            advice: "See SmartThings' ST Schema documentation for this errorEnum.",
        },
    }
}

/// What a session marked ended keeps in its `ended` field: `ERROR-ENUM: detail`.
pub fn ended_note(e: &Error) -> Option<String> {
    match e {
        Error::SchemaAccessEnded { error_enum, detail, .. } => Some(format!("{error_enum}: {detail}")),
        _ => None,
    }
}

/// The error again, from what [`ended_note`] kept.
pub fn from_ended_note(note: &str) -> Error {
    let (error_enum, detail) = note.split_once(": ").unwrap_or(("TOKEN-EXPIRED", note));
    match from_global_error(error_enum, detail) {
        e @ Error::SchemaAccessEnded { .. } => e,
        _ => from_global_error("TOKEN-EXPIRED", note),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_enum_has_its_own_code_and_advice() {
        let mut codes: Vec<&str> = TABLE.iter().map(|t| t.1).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), TABLE.len());
        for (e, code, ends, _) in TABLE {
            let err = from_global_error(e, "why");
            assert_eq!(err.code(), *code, "{e}");
            assert_eq!(err.needs_sign_in(), *ends, "{e}");
            assert!(err.to_string().contains(e) && err.to_string().contains("why"), "{err}");
            assert!(!err.is_transient(), "{e}");
        }
        assert_eq!(from_global_error("SOMETHING-NEW", "x").code(), "schema_refused");
        let ended = from_global_error("INTEGRATION-DELETED", "removed");
        assert_eq!(from_ended_note(&ended_note(&ended).unwrap()), ended);
    }
}
