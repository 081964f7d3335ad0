//! The one error type of the core. Every variant is something a user can act on, and its
//! message says what to do. The UI and the CLI receive it as `{code, message}`: `code` is
//! stable (scripts and the UI branch on it), `message` is for people.
//!
//! No variant ever carries a token or a secret: only descriptions SmartThings sent back,
//! URLs the user configured, and status codes.

use std::time::Duration;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    // --- the token endpoint's traps ---------------------------------------------------
    #[error(
        "SmartThings rejected the client id or secret ({detail}). ThingsTray sends them as \
         HTTP Basic, as SmartThings requires, so the pair itself is wrong: compare it with \
         `smartthings apps:oauth <app-id>` (a new secret: `smartthings apps:oauth:generate \
         <app-id>`) and enter both again."
    )]
    ClientRejected { detail: String },

    #[error(
        "SmartThings does not allow the `{grant}` grant for this app. There is no \
         client_credentials flow for SmartThings: sign in once in a browser (`thingstray \
         login` or the app's sign-in window) and ThingsTray keeps the token fresh from then on."
    )]
    GrantNotAllowed { grant: String },

    #[error(
        "SmartThings did not accept the redirect URI `{redirect_uri}`: it must be exactly one \
         of the URIs registered for the app (scheme, host, port, path and trailing slash). \
         ThingsTray can compare the app with its settings and add it: `thingstray app check` \
         then `app repair` (or Check the app's settings in the window), with a personal \
         access token."
    )]
    RedirectUriMismatch { redirect_uri: String },

    #[error(
        "SmartThings refused the sign-in code ({detail}). A code works once and expires within \
         minutes: start the sign-in again and finish it right away."
    )]
    CodeRejected { detail: String },

    #[error(
        "SmartThings ended this session: the refresh token is no longer valid ({detail}). \
         The usual causes: this app was signed in for the same location somewhere else \
         (another computer or tool: SmartThings keeps only the newest sign-in per app and \
         location, so share this connection with that computer instead, or give it its own \
         OAuth-In app), or ThingsTray was removed in the SmartThings app under Linked \
         Services. Sign in again; your settings and favorites are kept."
    )]
    SessionEnded { detail: String },

    #[error("SmartThings refused the request: {error}{}", describe(.description))]
    OAuthRefused { error: String, description: Option<String> },

    // --- transport and server trouble: transient, retried ------------------------------
    #[error(
        "Could not reach SmartThings ({detail}). ThingsTray keeps retrying; check the network \
         connection if this lasts."
    )]
    Unreachable { detail: String },

    #[error(
        "SmartThings answered HTTP {status}, a temporary server error. ThingsTray retries \
         shortly; the current token stays in use while it is valid."
    )]
    ServerError { status: u16 },

    #[error(
        "SmartThings is limiting the request rate; the next attempt is in {} s.",
        .retry_after.as_secs().max(1)
    )]
    RateLimited { retry_after: Duration },

    #[error(
        "SmartThings answered HTTP {status} with {what} where JSON was expected. Check the URL \
         in the settings ({url}): it should be SmartThings' API, not a web page or a proxy."
    )]
    UnexpectedResponse { status: u16, what: String, url: String },

    #[error(
        "SmartThings' answer was larger than {limit} bytes and was refused unread. Check the URL \
         in the settings ({url})."
    )]
    ResponseTooLarge { limit: usize, url: String },

    // --- the sign-in callback -----------------------------------------------------------
    #[error(
        "Sign-in was cancelled or denied on the SmartThings page{}. Start the sign-in again and \
         press Authorize.",
        describe(.description)
    )]
    SignInDenied { description: Option<String> },

    #[error(
        "The SmartThings sign-in page answered `{error}`{}. Check the app's scopes and \
         redirect URIs: `thingstray app check` (or Check the app's settings in the window) \
         compares them with ThingsTray's and repairs them.",
        describe(.description)
    )]
    SignInFailed { error: String, description: Option<String> },

    #[error(
        "This sign-in answer does not belong to the sign-in in progress (its `state` does not \
         match), so it was ignored and nothing changed. Start the sign-in again if you need to."
    )]
    StateMismatch,

    #[error(
        "That is not a SmartThings sign-in answer ({why}). Paste the whole address the browser \
         was sent to, like https://thingstray.invalid/callback?code=…&state=…, or just the code."
    )]
    CallbackMalformed { why: String },

    #[error("No sign-in is in progress, so this sign-in answer was ignored. Start the sign-in first.")]
    NoSignInPending,

    // --- session state ------------------------------------------------------------------
    #[error("Connection `{connection}` is not signed in. Sign in with `thingstray login`.")]
    NotSignedIn { connection: String },

    #[error(
        "No token valid for {} s could be had: {reason}",
        .wanted.as_secs()
    )]
    NoValidToken { wanted: Duration, reason: String },

    // --- vault --------------------------------------------------------------------------
    #[error(
        "The system keychain is not available ({detail}). On Linux start and unlock a Secret \
         Service (GNOME Keyring, KWallet or KeePassXC). On a headless machine without one, opt \
         in to the file store: set `vault = \"file\"` in config.toml (tokens then live in a \
         file only your user can read)."
    )]
    KeychainUnavailable { detail: String },

    #[error(
        "The system keychain did not answer within {} s. It may be locked or showing a prompt: \
         unlock it and try again.",
        .after.as_secs()
    )]
    KeychainTimeout { after: Duration },

    #[error("The stored `{key}` could not be read ({detail}). Sign in again to replace it.")]
    VaultCorrupt { key: String, detail: String },

    // --- the shared store of a token service (thingstray-store) ----------------------
    #[error(
        "The session store (PostgreSQL) did not answer ({detail}). Tokens still valid are \
         served; nothing is refreshed until it answers again. Check that the database is up \
         and reachable at the `--store` address."
    )]
    StoreUnavailable { detail: String },

    #[error(
        "The session store's key does not fit ({detail}). Start every replica with the key \
         the store was made with: `THINGSTRAY_STORE_KEY` (32 bytes in base64) or \
         `--store-key-file`. A new key cannot read what the old one wrote."
    )]
    StoreKey { detail: String },

    #[error(
        "The new tokens could not be saved ({detail}); they are kept in memory and saving is \
         retried. Nobody receives the new token until it is saved."
    )]
    VaultWriteFailed { detail: String },

    /// The same code as `VaultWriteFailed` (scripts branch on the code), for a one-shot
    /// command that checked first: nothing was rotated and nothing is kept.
    #[error(
        "The keychain or the settings folder refuses writes ({detail}), so the token was not \
         refreshed: a new one that could not be saved would be lost when this command exits. \
         Free some disk space or unlock the keychain, then run it again."
    )]
    VaultRefusesWrites { detail: String },

    // --- settings -----------------------------------------------------------------------
    #[error("The setting `{field}` is not valid: {why}")]
    InvalidSetting { field: String, why: String },

    #[error(
        "The settings folder {path} is not safe to keep ThingsTray's settings and locks in: \
         {why}. Make it yours and writable by you alone (`chmod 700 {path}`), or point \
         THINGSTRAY_CONFIG_DIR at a folder that is."
    )]
    SettingsFolderUnsafe { path: String, why: String },

    #[error("The settings file {path} could not be read: {detail}. Fix or remove it.")]
    ConfigUnreadable { path: String, detail: String },

    #[error(
        "Port {port} is already in use on {address} (another program, or another `thingstray \
         serve`, listens there). Pick another port, or stop that program and try again."
    )]
    PortInUse { port: u16, address: String },

    /// The action does not fit this kind of connection (a paired one, an ST Schema
    /// connector's, one that holds its own sign-in).
    #[error("`{connection}` cannot do that: {why}.")]
    ConnectionKind { connection: String, why: String },

    #[error("No {item} is stored for `{connection}`: {fix}.")]
    SecretMissing { connection: String, item: &'static str, fix: String },

    #[error("The request was not understood: {why}.")]
    BadRequest { why: String },

    #[error("There is no connection named `{name}`. Known connections: {known}.")]
    UnknownConnection { name: String, known: String },

    #[error("{what} failed: {detail}")]
    Io { what: String, detail: String },

    #[error(
        "The default connection `{connection}` is not open ({why}), so no token is handed out \
         rather than another connection's. ThingsTray retries it; fix what the reason says, or \
         choose another default connection in the settings."
    )]
    DefaultUnavailable { connection: String, why: String },

    #[error(
        "This sign-in is the one `{holder}` already has: SmartThings keeps one sign-in per app \
         and location, so connecting `{connection}` to it would end `{holder}`'s session. \
         `{holder}` keeps working and now holds this newest sign-in; `{connection}` was not \
         signed in. For another location, sign `{connection}` in again and choose that \
         location on the SmartThings page; for this location on another computer, share \
         the connection instead of signing in there too."
    )]
    AlreadyConnected { connection: String, holder: String },

    // --- sharing one connection with other computers (share/, owner/) -------------------
    #[error(
        "{owner}, the computer this one gets its SmartThings tokens from, could not be reached \
         ({detail}). Check that it is on, on this network, and still sharing the connection; \
         a token already fetched stays usable until it expires."
    )]
    ShareUnreachable { owner: String, detail: String },

    #[error("This computer's access was revoked on {owner}: ask for a new invite.")]
    ShareRevoked { owner: String },

    #[error(
        "{owner} does not know this computer (no such pairing, or a wrong secret). Pair it \
         again with a new invite from {owner}."
    )]
    ShareUnauthorized { owner: String },

    #[error(
        "Refused to connect to {at}: it did not show the certificate of {owner} this computer \
         was paired with, so something else may be impersonating {owner}. Nothing was sent. \
         If {owner} was reinstalled (it then has a new certificate), pair again with a new \
         invite from it."
    )]
    ShareFingerprintMismatch { owner: String, at: String },

    #[error(
        "That invite is not valid: {why}. Copy the whole line the sharing computer shows \
         (it starts with thingstray://pair?)."
    )]
    InviteInvalid { why: String },

    #[error(
        "This invite has expired or was already used: an invite works once, within 10 \
         minutes. Make a new one on {owner}."
    )]
    InviteExpired { owner: String },

    #[error(
        "{owner} refuses pairing attempts for {} s after too many wrong invite codes. Wait, \
         then try again with a fresh invite.",
        .retry_after.as_secs().max(1)
    )]
    ShareRateLimited { owner: String, retry_after: Duration },

    #[error(
        "The SmartThings session on {owner}, which this computer shares, has ended, so there \
         is no token to hand out. Sign in again on {owner}; this computer then gets tokens \
         again by itself."
    )]
    OwnerSessionEnded { owner: String },

    #[error("{owner} could not hand out a token right now ({code}): {message}")]
    ShareOwnerError { owner: String, code: String, message: String },

    #[error(
        "{owner} answered in a way ThingsTray did not expect ({detail}). Check that both \
         computers run the same ThingsTray version."
    )]
    ShareProtocol { owner: String, detail: String },

    #[error(
        "{owner} now shares another SmartThings location ({got}) than the one this computer \
         was paired for ({expected}), so its tokens are not taken here. On {owner}, share the \
         connection for {expected} again (the desktop app shares the connection it serves), \
         or pair this computer anew for the other location. The token this computer holds \
         works until it expires."
    )]
    ShareWrongLocation { owner: String, expected: String, got: String },

    #[error(
        "`{connection}` gets its tokens from {owner}, which holds the SmartThings sign-in: \
         sign in again there (this computer follows by itself). To sign in here instead, \
         remove `{connection}` and add a connection with its own OAuth-In app."
    )]
    PairedConnection { connection: String, owner: String },

    #[error(
        "This computer is not sharing its connection right now, so an invite would lead \
         nowhere. Start `thingstray serve --share`, or turn on Settings -> Other computers in \
         the desktop app, then make the invite."
    )]
    NotSharing,

    #[error(
        "This computer handed its SmartThings session over to {to}, which owns it now. \
         Restart ThingsTray here (the app, or `thingstray serve`): this computer is paired \
         with {to} and gets its tokens from it."
    )]
    HandedOver { to: String },

    #[error(
        "`{connection}` holds its own sign-in on this computer now (another ThingsTray process \
         here took it over from its owner), but this process still gets its tokens from the \
         owner. Restart it (the app, or `thingstray serve`): it then refreshes by itself."
    )]
    TakenOverHere { connection: String },

    // --- ST Schema callback tokens (schema/) --------------------------------------------
    #[error("SmartThings refused the ST Schema callback token request: {error_enum} ({detail}). {advice}")]
    SchemaRefused { code: &'static str, error_enum: String, detail: String, advice: &'static str },

    #[error("SmartThings ended this connector's callback access: {error_enum} ({detail}). {advice}")]
    SchemaAccessEnded { code: &'static str, error_enum: String, detail: String, advice: &'static str },

    #[error(
        "`{url}` answered like SmartThings' OAuth-In token endpoint ({detail}). ST Schema \
         callback tokens are not refreshed there with a form body, the OAuth-In way: they are \
         refreshed with a JSON st-schema body (interactionType refreshAccessTokens) sent to the \
         callbackUrls.oauthToken address of the connector's grantCallbackAccess \
         (https://c2c-us.smartthings.com/oauth/token, or its c2c-eu and c2c-ap twins). Run \
         `thingstray schema grant` with the grantCallbackAccess your connector received."
    )]
    SchemaWrongEndpoint { url: String, detail: String },

    #[error(
        "The grant's {field} points at `{host}`, which is not SmartThings: the connector's \
         client secret would be sent there with every refresh, so the grant was refused and \
         nothing was sent. SmartThings' own grants name https://c2c-us.smartthings.com (or \
         c2c-eu, c2c-ap). For the simulator on this computer, pass --loopback-callbacks."
    )]
    SchemaForeignCallback { field: String, host: String },

    #[error(
        "`{connection}` holds an ST Schema connector's callback token, which SmartThings' REST \
         API (devices, scenes, locations) does not accept: it is for the connector's \
         stateCallback and discovery callbacks. Use a connection signed in with an OAuth-In \
         app for devices."
    )]
    SchemaCallbackToken { connection: String },

    #[error(
        "{owner} has not offered its session to this computer. On {owner}, run `thingstray \
         share hand-over NAME` (NAME: this computer as `thingstray share list` shows it), \
         then take it over here within 10 minutes."
    )]
    HandOverNotOffered { owner: String },

    #[error(
        "This computer is handing its SmartThings session over to {to}, and keeps it untouched \
         until {to} says it holds it: it no longer refreshes it here (the token it has works \
         until it expires). Keep ThingsTray running here (the app, or `thingstray serve`) so \
         {to} can reach it, and on {to} run `thingstray share take-over --resume`."
    )]
    HandingOver { to: String },

    #[error(
        "The hand-over from {owner} is not finished ({detail}). Nothing is lost: this computer \
         keeps its place in it and whatever it received, and {owner} does not spend the session \
         meanwhile. Once {owner} is reachable (ThingsTray running there: the app, or \
         `thingstray serve`), run `thingstray share take-over --resume` here."
    )]
    HandOverPending { owner: String, detail: String },

    #[error(
        "{owner} is already handing its session over to another computer ({to}). Finish that \
         one first (`thingstray share take-over --resume` on {to}): a session goes to one \
         computer at a time."
    )]
    HandOverElsewhere { owner: String, to: String },

    #[error("No computer named `{name}` is paired with this one. Paired: {known}.")]
    UnknownPairedComputer { name: String, known: String },

    // --- the OAuth-In app itself, through a personal access token (apps/) ---------------
    /// Every refusal of the app calls, from one table (apps/refusals.rs).
    #[error("{detail} {advice}")]
    AppRefused { code: &'static str, detail: String, advice: &'static str },

    #[error(
        "The app `{app_id}` was created but could not be saved here ({detail}), and {cleanup}. \
         Delete it with `thingstray app delete --app-id {app_id}` (or `smartthings apps:delete \
         {app_id}`) before creating another."
    )]
    AppNotSaved { app_id: String, detail: String, cleanup: String },

    // --- the REST API -------------------------------------------------------------------
    #[error("SmartThings refused the request (HTTP {status}, {code}): {message}")]
    Api { status: u16, code: String, message: String },

    /// HTTP 403 for a call this sign-in was not given the scope of (`scopes`: the ones it
    /// asks for now).
    #[error(
        "SmartThings refused to {action} (HTTP 403): this sign-in lacks the {scope} scope. \
         Add it to the connection's scopes (`thingstray setup --scopes \"{scopes} {scope}\"` \
         with its client id and redirect URI) and to the app's (`thingstray app repair`), \
         then sign in again."
    )]
    ScopeMissing { action: String, scope: String, scopes: String },

    #[error(
        "SmartThings refused the access token (HTTP 401). ThingsTray refreshes it and tries \
         again; if this persists, sign in again."
    )]
    Unauthorized,

    #[error(
        "SmartThings refused the access token again (HTTP 401), {minutes} min after ThingsTray \
         replaced it for the same reason. A new token would most likely be refused too, so \
         ThingsTray waits 5 minutes before asking for one: check the API address in the \
         settings (and, through the token server, the path after /api). If SmartThings keeps \
         refusing, sign in again."
    )]
    TokenRefused { minutes: u64 },

    #[error("SmartThings answered with data ThingsTray could not read: {detail}")]
    BadPayload { detail: String },

    #[error("No device matches `{query}`{}.", describe(.hint))]
    DeviceNotFound { query: String, hint: Option<String> },

    // --- devices: refused before SmartThings is asked ---------------------------------
    #[error(
        "{device} is offline, so nothing was sent to it. Check that it has power and is in \
         reach of its hub; it comes back on its own once SmartThings sees it again."
    )]
    DeviceOffline { device: String },

    #[error("{device} has no switch, so it cannot be turned on or off.")]
    NotSwitchable { device: String },

    #[error(
        "{device} took the command but reports \"{reported}\", not \"{wanted}\". Check it on \
         the spot; a lock or a door is never shown as {wanted} until it says so."
    )]
    NotConfirmed { device: String, wanted: String, reported: String },

    #[error("{device} has no {capability} control that can {command}.")]
    UnsupportedControl { device: String, capability: String, command: String },

    /// Unlocking and opening doors: the window asks first and says so with `confirmed`.
    #[error("To {action} {device}, confirm it first: nothing was sent.")]
    NeedsConfirmation { device: String, action: String },

    /// `range` reads "7 and 28 °C", `value` "29 °C" (four fields keep `Error` small).
    #[error("{device}: {control} must be between {range}; {value} was not sent.")]
    OutOfRange { device: String, control: String, value: String, range: String },

    #[error("{device}: {control}: {why}. Nothing was sent.")]
    InvalidArgument { device: String, control: String, why: String },

    // --- the app itself -----------------------------------------------------------------
    #[error("ThingsTray is still starting (reading its settings and keychain). Try again in a moment.")]
    Starting,

    /// The desktop shell's own trouble: a window that would not open, the clipboard, the
    /// login item, the browser. Never retried by the session (unlike `Io`).
    #[error("{what} failed: {detail}")]
    Shell { what: String, detail: String },
}

fn describe(d: &Option<String>) -> String {
    match d {
        Some(d) if !d.is_empty() => format!(" ({d})"),
        _ => String::new(),
    }
}

mod codes;
