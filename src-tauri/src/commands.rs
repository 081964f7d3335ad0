//! IPC commands: each is one call into the core. Errors reach the UI as `{code, message}`
//! (thingstray's `Error` serializes that way). No command returns a SmartThings token or
//! a client secret; the token server's secret only on an explicit click on "Show"
//! (`reveal_server_secret`, settings window only). `share_invite` returns a one-time
//! invite to the settings window that asked for it (made to be shown and copied).
//! A personal access token (`create_app`, `check_app`, `repair_app`) arrives as a
//! `SecretString` straight from the IPC body: it is never logged, stored, returned or put
//! in argv, and is wiped when the call ends.

use secrecy::SecretString;
use serde::Serialize;
use tauri::{AppHandle, Runtime, State, WebviewWindow};
use thingstray::apps::{AppCheck, Repaired};
use thingstray::desktop::indicator::TokenServerStatus;
use thingstray::desktop::setup::{apps_create_answers, Answer, REDIRECT_CHOICES};
use thingstray::desktop::{
    AppInfo, ConnectionSummary, CopiedToken, CreateAppForm, Desktop, DesktopSettings, DeviceList, DeviceRow,
    FieldProblem, ModeView, PairedView, PanelTheme, PatHelp, SetupForm, ShareStatus, SignInStart, SignedIn,
};
use thingstray::Error;

use crate::forward::{self, Refusal};
use crate::state::Shell;
use crate::{demo, shortcut, sign_in, windows};

type Res<T> = Result<T, Error>;

/// How long a window waits for the resident's token (it may be refreshing it first).
const COPY_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

#[tauri::command]
pub fn app_info(shell: State<'_, Shell>) -> AppInfo {
    // Linux trays (AppIndicator) report no icon clicks to Tauri: the menu is the whole UI.
    let tray_clicks = !cfg!(target_os = "linux");
    match shell.desktop() {
        Ok(d) => d.app_info(tray_clicks),
        Err(_) => AppInfo {
            version: env!("CARGO_PKG_VERSION"),
            demo: false,
            platform: std::env::consts::OS,
            tray_clicks,
            connections: 0,
            vault: None,
            startup_error: shell.startup_error(),
        },
    }
}

#[derive(Serialize)]
pub struct SetupAnswers {
    answers: Vec<Answer>,
    redirect_choices: &'static [&'static str],
}

#[tauri::command]
pub fn setup_answers() -> SetupAnswers {
    SetupAnswers { answers: apps_create_answers(), redirect_choices: REDIRECT_CHOICES }
}

#[tauri::command]
pub fn check_setup(form: SetupForm) -> Vec<FieldProblem> {
    Desktop::check_setup(&form)
}

#[tauri::command]
pub async fn start_setup(shell: State<'_, Shell>, form: SetupForm) -> Res<SignInStart> {
    shell.desktop()?.setup(None, form).await
}

#[tauri::command]
pub async fn start_demo<R: Runtime>(app: AppHandle<R>, shell: State<'_, Shell>) -> Res<SignInStart> {
    // A window process has no desktop to replace: the demo is a resident of its own.
    if shell.resident().is_some() {
        return Err(Error::shell("starting the demo", "quit ThingsTray, then run `thingstray-tray --demo`"));
    }
    demo::begin(&app, false).await
}

#[tauri::command]
pub fn sign_in_again(shell: State<'_, Shell>, connection: String) -> Res<SignInStart> {
    shell.desktop()?.begin_sign_in(&connection)
}

#[tauri::command]
pub fn open_sign_in_window<R: Runtime>(app: AppHandle<R>) -> Res<()> {
    sign_in::open_window(&app)
}

#[tauri::command]
pub fn open_sign_in_in_browser<R: Runtime>(app: AppHandle<R>) -> Res<()> {
    sign_in::open_in_browser(&app)
}

#[tauri::command]
pub async fn finish_sign_in<R: Runtime>(app: AppHandle<R>, answer: String) -> Result<SignedIn, Refusal> {
    sign_in::finish(&app, answer).await
}

#[tauri::command]
pub async fn cancel_sign_in<R: Runtime>(app: AppHandle<R>) -> Result<(), Refusal> {
    sign_in::cancel(&app).await
}

#[tauri::command]
pub fn connections(shell: State<'_, Shell>) -> Res<Vec<ConnectionSummary>> {
    Ok(shell.desktop()?.connections())
}

#[tauri::command]
pub async fn devices(shell: State<'_, Shell>, connection: String) -> Res<DeviceList> {
    shell.desktop()?.device_list(&connection).await
}

#[tauri::command]
pub fn cached_devices(shell: State<'_, Shell>, connection: String) -> Res<DeviceList> {
    shell.desktop()?.cached_device_list(&connection)
}

#[tauri::command]
pub async fn switch_device(shell: State<'_, Shell>, connection: String, device: String, on: bool) -> Res<DeviceRow> {
    shell.desktop()?.switch(&connection, &device, on).await
}

/// Any control of a device (lock, shade, setpoint, mode…): checked by the core against the
/// device's controls before SmartThings is asked; `confirmed` is the window's "Unlock
/// Front Door?" answer.
#[tauri::command]
pub async fn device_command(
    shell: State<'_, Shell>,
    connection: String,
    device: String,
    capability: String,
    command: String,
    args: Vec<serde_json::Value>,
    confirmed: bool,
) -> Res<DeviceRow> {
    shell.desktop()?.device_command(&connection, &device, &capability, &command, args, confirmed).await
}

#[tauri::command]
pub async fn set_level(shell: State<'_, Shell>, connection: String, device: String, level: u8) -> Res<DeviceRow> {
    shell.desktop()?.set_level(&connection, &device, level).await
}

#[tauri::command]
pub async fn set_color_temperature(
    shell: State<'_, Shell>,
    connection: String,
    device: String,
    kelvin: u32,
) -> Res<DeviceRow> {
    shell.desktop()?.set_color_temperature(&connection, &device, kelvin).await
}

#[tauri::command]
pub async fn run_scene(shell: State<'_, Shell>, connection: String, scene: String) -> Res<()> {
    shell.desktop()?.run_scene(&connection, &scene).await
}

/// Makes `mode` (one of the location's mode ids) its current mode; the answer is the modes
/// with the current one as SmartThings reports it afterwards.
#[tauri::command]
pub async fn set_mode(shell: State<'_, Shell>, connection: String, mode: String) -> Res<ModeView> {
    shell.desktop()?.set_mode(&connection, &mode).await
}

/// Puts a token valid for at least five minutes on the clipboard and says until when.
/// The token itself never crosses IPC and is never logged.
#[tauri::command]
pub async fn copy_token<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    connection: String,
) -> Res<CopiedToken> {
    use tauri_plugin_clipboard_manager::ClipboardExt;
    // A window process (issue 30): the token is the resident's, asked as the CLI asks it.
    if let Some(resident) = shell.resident() {
        let min_valid = std::time::Duration::from_secs(5 * 60);
        let t = thingstray::agent::client::token(resident, Some(&connection), min_valid, COPY_WAIT)
            .await
            .map_err(|e| Error::shell("asking ThingsTray's tray process for a token", e))?;
        app.clipboard().write_text(&t.access_token).map_err(|e| Error::shell("copying to the clipboard", e))?;
        return Ok(CopiedToken { connection: t.connection, expires_at: t.expires_at });
    }
    let (grant, copied) = shell.desktop()?.token_for_copy(&connection).await?;
    app.clipboard().write_text(grant.secret()).map_err(|e| Error::shell("copying to the clipboard", e))?;
    Ok(copied)
}

#[tauri::command]
pub async fn sign_out(shell: State<'_, Shell>, connection: String) -> Res<()> {
    shell.desktop()?.sign_out(&connection).await
}

#[tauri::command]
pub fn settings(shell: State<'_, Shell>) -> Res<DesktopSettings> {
    Ok(shell.desktop()?.settings())
}

#[tauri::command]
pub fn set_favorite(shell: State<'_, Shell>, connection: String, device: String, on: bool) -> Res<DesktopSettings> {
    shell.desktop()?.set_favorite(&connection, &device, on)
}

#[tauri::command]
pub fn set_hidden(shell: State<'_, Shell>, connection: String, device: String, on: bool) -> Res<DesktopSettings> {
    shell.desktop()?.set_hidden(&connection, &device, on)
}

/// A device's bell: its changes worth telling become notifications.
#[tauri::command]
pub fn set_alerts(shell: State<'_, Shell>, connection: String, device: String, on: bool) -> Res<DesktopSettings> {
    shell.desktop()?.set_alerts(&connection, &device, on)
}

/// "HH:MM" to "HH:MM", local time; no `start` turns quiet hours off.
#[tauri::command]
pub fn set_quiet_hours(shell: State<'_, Shell>, start: Option<String>, end: Option<String>) -> Res<DesktopSettings> {
    shell.desktop()?.set_quiet_hours(start, end)
}

#[tauri::command]
pub fn set_poll_interval(shell: State<'_, Shell>, seconds: u64) -> Res<DesktopSettings> {
    shell.desktop()?.set_poll_interval(seconds)
}

#[tauri::command]
pub fn set_tray_refresh(shell: State<'_, Shell>, seconds: u64) -> Res<DesktopSettings> {
    shell.desktop()?.set_tray_refresh(seconds)
}

/// Registers or removes the login item, then records the choice.
#[tauri::command]
pub fn set_start_at_login<R: Runtime>(app: AppHandle<R>, shell: State<'_, Shell>, on: bool) -> Res<DesktopSettings> {
    use tauri_plugin_autostart::ManagerExt;
    let desktop = shell.desktop()?;
    if desktop.is_demo() {
        return Err(Error::shell(
            "start at login",
            "the demo does not start at login; install ThingsTray and set it up for your own account",
        ));
    }
    let launcher = app.autolaunch();
    let done = if on { launcher.enable() } else { launcher.disable() };
    done.map_err(|e| Error::shell("changing the login item", e))?;
    desktop.set_start_at_login(on)
}

#[tauri::command]
pub fn set_panel_theme(shell: State<'_, Shell>, theme: PanelTheme) -> Res<DesktopSettings> {
    shell.desktop()?.set_panel_theme(theme)
}

/// The system-wide shortcut to the device window; `None` or blank turns it off. Saved only
/// once the system took it.
#[tauri::command]
pub fn set_global_shortcut<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    shortcut: Option<String>,
) -> Res<DesktopSettings> {
    shortcut::set(&app, &*shell.desktop()?, shortcut)
}

#[tauri::command]
pub fn open_window<R: Runtime>(app: AppHandle<R>, which: String) -> Res<()> {
    windows::try_open(&app, &which)
}

/// Closes (destroys) the calling window.
#[tauri::command]
pub fn close_window<R: Runtime>(window: WebviewWindow<R>) -> Res<()> {
    window.destroy().map_err(|e| Error::shell("closing the window", e))
}

#[tauri::command]
pub async fn rename_connection(shell: State<'_, Shell>, connection: String, name: String) -> Res<ConnectionSummary> {
    shell.desktop()?.rename_connection(&connection, &name).await
}

#[tauri::command]
pub fn token_server(shell: State<'_, Shell>) -> Res<TokenServerStatus> {
    Ok(shell.desktop()?.token_server())
}

/// `port`: any number, so an out-of-range one gets the core's `{code, message}`.
#[tauri::command]
pub async fn set_token_server(shell: State<'_, Shell>, on: bool, port: u64) -> Res<TokenServerStatus> {
    shell.desktop()?.set_token_server(on, port).await
}

/// The one command that returns a secret: the token server's, for "Show" in the settings.
/// The page shows it and keeps it nowhere else.
#[tauri::command]
pub async fn reveal_server_secret(shell: State<'_, Shell>) -> Res<String> {
    Ok(shell.desktop()?.server_secret().await?.expose().to_string())
}

/// Like `copy_token`: the secret goes to the clipboard in Rust, never over IPC.
#[tauri::command]
pub async fn copy_server_secret<R: Runtime>(app: AppHandle<R>, shell: State<'_, Shell>) -> Result<(), Refusal> {
    use tauri_plugin_clipboard_manager::ClipboardExt;
    let copy =
        |secret: &str| app.clipboard().write_text(secret).map_err(|e| Error::shell("copying to the clipboard", e));
    // A window process: the resident's secret, over its socket (same uid only).
    if let Some(resident) = shell.resident() {
        let secret = forward::ask(resident, "reveal_server_secret", serde_json::json!({})).await?;
        return Ok(copy(secret.as_str().unwrap_or_default())?);
    }
    let secret = shell.desktop()?.server_secret().await?;
    Ok(copy(secret.expose())?)
}

#[tauri::command]
pub async fn rotate_server_secret(shell: State<'_, Shell>) -> Res<TokenServerStatus> {
    shell.desktop()?.rotate_server_secret().await
}

#[tauri::command]
pub fn share_status(shell: State<'_, Shell>) -> Res<ShareStatus> {
    Ok(shell.desktop()?.share_status())
}

/// `address` and `port` as typed, so a bad one gets the core's `{code, message}`.
#[tauri::command]
pub async fn set_sharing(shell: State<'_, Shell>, on: bool, address: String, port: u64) -> Res<ShareStatus> {
    shell.desktop()?.set_sharing(on, &address, port).await
}

#[tauri::command]
pub fn share_invite(shell: State<'_, Shell>, name: Option<String>) -> Res<String> {
    shell.desktop()?.share_invite(name)
}

#[tauri::command]
pub fn paired_computers(shell: State<'_, Shell>) -> Res<Vec<PairedView>> {
    shell.desktop()?.paired_computers()
}

#[tauri::command]
pub fn revoke_computer(shell: State<'_, Shell>, name: String) -> Res<Vec<PairedView>> {
    shell.desktop()?.revoke_computer(&name)
}

#[tauri::command]
pub fn offer_hand_over(shell: State<'_, Shell>, name: String) -> Res<Vec<PairedView>> {
    shell.desktop()?.offer_hand_over(&name)
}

#[tauri::command]
pub async fn take_sign_in_over(shell: State<'_, Shell>) -> Res<ShareStatus> {
    shell.desktop()?.take_sign_in_over().await
}

/// The wizard's "already connected on another computer": the invite is parsed and used
/// in the core, never logged.
#[tauri::command]
pub async fn connect_invite(shell: State<'_, Shell>, invite: String, computer_name: Option<String>) -> Res<SignedIn> {
    shell.desktop()?.connect_invite(&invite, computer_name).await
}

// --- the OAuth-In app itself, with a personal access token pasted once (issue 24) ------

/// Where to make the token and which boxes to tick (the wizard's checklist).
#[tauri::command]
pub fn pat_help() -> PatHelp {
    Desktop::pat_help()
}

/// Opens the personal access token page in the browser: no argument, so a window can open
/// only that one fixed address (the core's, not the page's).
#[tauri::command]
pub fn open_pat_page<R: Runtime>(app: AppHandle<R>) -> Res<()> {
    use tauri_plugin_opener::OpenerExt;
    app.opener().open_url(Desktop::pat_help().page, None::<&str>).map_err(|e| Error::shell("opening the browser", e))
}

/// "Create the app for me": the app, the connection, then its sign-in (as `start_setup`).
#[tauri::command]
pub async fn create_app(shell: State<'_, Shell>, form: CreateAppForm) -> Res<SignInStart> {
    shell.desktop()?.create_app(form).await
}

/// `app_id`: only for a connection that cannot know its app yet (`app_unknown`).
#[tauri::command]
pub async fn check_app(
    shell: State<'_, Shell>,
    connection: String,
    app_id: Option<String>,
    pat: SecretString,
) -> Res<AppCheck> {
    shell.desktop()?.check_app(&connection, app_id.as_deref(), pat).await
}

/// With `new_secret` the connection's sign-in has ended: the window offers "Sign in again".
#[tauri::command]
pub async fn repair_app(
    shell: State<'_, Shell>,
    connection: String,
    app_id: Option<String>,
    pat: SecretString,
    new_secret: bool,
) -> Res<Repaired> {
    shell.desktop()?.repair_app(&connection, app_id.as_deref(), pat, new_secret).await
}
