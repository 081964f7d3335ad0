//! What each error means to a program: its stable code (scripts and the UI branch on it),
//! whether it passes by itself, whether it ends access, and its `{code, message}` form. The
//! enum and its messages, for people, are in mod.rs.

use serde::ser::SerializeStruct;

use super::Error;

impl Error {
    /// A stable identifier for scripts and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            Error::ClientRejected { .. } => "client_rejected",
            Error::GrantNotAllowed { .. } => "grant_not_allowed",
            Error::RedirectUriMismatch { .. } => "redirect_uri_mismatch",
            Error::CodeRejected { .. } => "code_rejected",
            Error::SessionEnded { .. } => "session_ended",
            Error::OAuthRefused { .. } => "oauth_refused",
            Error::Unreachable { .. } => "unreachable",
            Error::ServerError { .. } => "server_error",
            Error::RateLimited { .. } => "rate_limited",
            Error::UnexpectedResponse { .. } => "unexpected_response",
            Error::ResponseTooLarge { .. } => "response_too_large",
            Error::SignInDenied { .. } => "sign_in_denied",
            Error::SignInFailed { .. } => "sign_in_failed",
            Error::StateMismatch => "state_mismatch",
            Error::CallbackMalformed { .. } => "callback_malformed",
            Error::NoSignInPending => "no_sign_in_pending",
            Error::NotSignedIn { .. } => "not_signed_in",
            Error::NoValidToken { .. } => "no_valid_token",
            Error::KeychainUnavailable { .. } => "keychain_unavailable",
            Error::KeychainTimeout { .. } => "keychain_timeout",
            Error::VaultCorrupt { .. } => "vault_corrupt",
            Error::StoreUnavailable { .. } => "store_unavailable",
            Error::StoreKey { .. } => "store_key",
            Error::VaultWriteFailed { .. } | Error::VaultRefusesWrites { .. } => "vault_write_failed",
            Error::InvalidSetting { .. } => "invalid_setting",
            Error::ConfigUnreadable { .. } => "config_unreadable",
            Error::SettingsFolderUnsafe { .. } => "settings_folder_unsafe",
            Error::UnknownConnection { .. } => "unknown_connection",
            Error::PortInUse { .. } => "port_in_use",
            Error::SecretMissing { .. } => "secret_missing",
            Error::ConnectionKind { .. } => "connection_kind",
            Error::BadRequest { .. } => "bad_request",
            Error::Io { .. } => "io",
            Error::DefaultUnavailable { .. } => "default_unavailable",
            Error::AlreadyConnected { .. } => "already_connected",
            Error::ShareUnreachable { .. } => "share_unreachable",
            Error::ShareRevoked { .. } => "share_revoked",
            Error::ShareUnauthorized { .. } => "share_unauthorized",
            Error::ShareFingerprintMismatch { .. } => "share_fingerprint_mismatch",
            Error::InviteInvalid { .. } => "invite_invalid",
            Error::InviteExpired { .. } => "invite_expired",
            Error::ShareRateLimited { .. } => "share_rate_limited",
            Error::OwnerSessionEnded { .. } => "owner_session_ended",
            Error::ShareOwnerError { .. } => "share_owner_error",
            Error::ShareProtocol { .. } => "share_protocol",
            Error::ShareWrongLocation { .. } => "share_wrong_location",
            Error::PairedConnection { .. } => "paired_connection",
            Error::NotSharing => "not_sharing",
            Error::HandedOver { .. } => "handed_over",
            Error::TakenOverHere { .. } => "taken_over_here",
            Error::SchemaRefused { code, .. } | Error::SchemaAccessEnded { code, .. } => code,
            Error::SchemaWrongEndpoint { .. } => "schema_wrong_endpoint",
            Error::SchemaCallbackToken { .. } => "schema_callback_token",
            Error::SchemaForeignCallback { .. } => "schema_foreign_callback",
            Error::HandOverNotOffered { .. } => "hand_over_not_offered",
            Error::UnknownPairedComputer { .. } => "unknown_paired_computer",
            Error::HandingOver { .. } => "handing_over",
            Error::HandOverPending { .. } => "hand_over_pending",
            Error::HandOverElsewhere { .. } => "hand_over_elsewhere",
            Error::AppRefused { code, .. } => code,
            Error::AppNotSaved { .. } => "app_not_saved",
            Error::Api { .. } => "api_error",
            Error::ScopeMissing { .. } => "scope_missing",
            Error::Unauthorized => "unauthorized",
            Error::TokenRefused { .. } => "token_refused",
            Error::BadPayload { .. } => "bad_payload",
            Error::DeviceNotFound { .. } => "device_not_found",
            Error::DeviceOffline { .. } => "device_offline",
            Error::NotSwitchable { .. } => "not_switchable",
            Error::NotConfirmed { .. } => "not_confirmed",
            Error::UnsupportedControl { .. } => "unsupported_control",
            Error::NeedsConfirmation { .. } => "needs_confirmation",
            Error::OutOfRange { .. } => "out_of_range",
            Error::InvalidArgument { .. } => "invalid_argument",
            Error::Starting => "starting",
            Error::Shell { .. } => "shell",
        }
    }

    /// Worth retrying later with the same inputs: the network, SmartThings' servers or
    /// its rate limiter, or a keychain write that may work next time. Everything else
    /// needs a person.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Unreachable { .. }
                | Error::ServerError { .. }
                | Error::RateLimited { .. }
                | Error::UnexpectedResponse { .. }
                | Error::ResponseTooLarge { .. }
                | Error::KeychainTimeout { .. }
                | Error::StoreUnavailable { .. }
                | Error::VaultWriteFailed { .. }
                | Error::VaultRefusesWrites { .. }
                | Error::ShareUnreachable { .. }
                // The owner may sign in again, or get its own refresh through.
                | Error::OwnerSessionEnded { .. }
                | Error::ShareOwnerError { .. }
                // The owner may serve the right connection again.
                | Error::ShareWrongLocation { .. }
        )
    }

    /// The user must act before this connection has tokens again: a sign-in, or for a
    /// paired computer a new invite or the owner's sign-in. `thingstray` exits 4.
    pub fn ends_access(&self) -> bool {
        self.needs_sign_in()
            || matches!(
                self,
                Error::ShareRevoked { .. }
                    | Error::ShareUnauthorized { .. }
                    | Error::ShareFingerprintMismatch { .. }
                    | Error::OwnerSessionEnded { .. }
            )
    }

    /// Only a new sign-in can fix this.
    pub fn needs_sign_in(&self) -> bool {
        matches!(self, Error::SessionEnded { .. } | Error::NotSignedIn { .. } | Error::SchemaAccessEnded { .. })
    }

    /// An error of the desktop shell (window, clipboard, login item, browser).
    pub fn shell(what: impl Into<String>, err: impl std::fmt::Display) -> Error {
        Error::Shell { what: what.into(), detail: err.to_string() }
    }

    pub(crate) fn io(what: impl Into<String>, err: impl std::fmt::Display) -> Error {
        Error::Io { what: what.into(), detail: err.to_string() }
    }
}

/// `{code, message}`: what the UI receives over IPC and `--json` output prints.
impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Error", 2)?;
        st.serialize_field("code", self.code())?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn serializes_as_code_and_message() {
        let e = Error::SessionEnded { detail: "Invalid refresh token".into() };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["code"], "session_ended");
        assert!(v["message"].as_str().unwrap().contains("Sign in again"));
    }

    /// Issue 11: every surface (tray, window, `thingstray status`, exit 4) shows this text,
    /// so it names the two usual causes a user can act on.
    #[test]
    fn an_ended_session_names_its_likely_causes() {
        let m = Error::SessionEnded { detail: "Invalid refresh token".into() }.to_string();
        assert!(m.contains("same location somewhere else") && m.contains("share this connection"), "{m}");
        assert!(m.contains("Linked Services"), "{m}");
    }

    #[test]
    fn transient_errors_are_the_retryable_ones() {
        assert!(Error::ServerError { status: 504 }.is_transient());
        assert!(Error::RateLimited { retry_after: Duration::from_secs(3) }.is_transient());
        assert!(!Error::SessionEnded { detail: String::new() }.is_transient());
        assert!(!Error::ClientRejected { detail: String::new() }.is_transient());
    }
}
