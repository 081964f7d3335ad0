//! Every call a window makes of the desktop, by name, with JSON in and JSON out (issue
//! 30). A window that lives in another process than the tray (the resident, which holds
//! the sessions) asks for these over the agent socket (`agent::Request::Call`); the
//! resident answers from this table. The names and the argument names are the IPC
//! commands' (src-tauri/build.rs `COMMANDS`, arguments in camelCase as Tauri passes them),
//! so a window's `invoke` can be forwarded as it is; src-tauri's tests check that every
//! name here is one of its commands.
//!
//! What is not here needs the window's own process: opening and closing windows, the
//! sign-in webview, the clipboard, the browser, the login item and the global shortcut.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CreateAppForm, Desktop};
use crate::desktop::indicator::PanelTheme;
use crate::desktop::setup::SetupForm;
use crate::error::{Error, Result};

type Run = fn(Arc<Desktop>, Value) -> BoxFuture<'static, Result<Value>>;

/// One call: its IPC name and how the desktop answers it.
pub struct Call {
    pub name: &'static str,
    run: Run,
}

/// The arguments as the window sent them: a JSON object (none: `{}`).
fn parse<T: serde::de::DeserializeOwned>(name: &str, args: Value) -> Result<T> {
    let args = if args.is_null() { Value::Object(Default::default()) } else { args };
    serde_json::from_value(args)
        .map_err(|e| Error::BadRequest { why: format!("the arguments of `{name}` are not what it takes: {e}") })
}

fn answer<T: Serialize>(out: Result<T>) -> Result<Value> {
    out.and_then(|v| {
        serde_json::to_value(v).map_err(|e| Error::BadRequest { why: format!("an answer that is not JSON: {e}") })
    })
}

/// `call!("name", |d, arg: Type, ...| body)`: the body is an expression of a `Result`
/// (it may `.await`); each argument is read from the JSON object under its camelCase name.
macro_rules! call {
    ($name:literal, |$d:ident $(, $arg:ident : $ty:ty)*| $body:expr) => {
        Call {
            name: $name,
            run: |$d: Arc<Desktop>, args: Value| {
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase", deny_unknown_fields)]
                struct Args {
                    $($arg: $ty,)*
                }
                Box::pin(async move {
                    let Args { $($arg,)* } = parse($name, args)?;
                    let out = $body;
                    answer(out)
                })
            },
        }
    };
}

/// The table. Order: as the IPC commands are listed.
pub static CALLS: &[Call] = &[
    // Asked of the resident, whose StatusNotifierItem hears clicks on its icon.
    call!("app_info", |d| Ok(d.app_info(true))),
    call!("check_setup", |_d, form: SetupForm| Ok(Desktop::check_setup(&form))),
    call!("start_setup", |d, form: SetupForm| d.setup(None, form).await),
    call!("sign_in_again", |d, connection: String| d.begin_sign_in(&connection)),
    // A window process's sign-in window hands the caught redirect here (src-tauri wraps
    // these two itself: the window closes and the wizard hears of it there).
    call!("finish_sign_in", |d, answer: String| d.finish_sign_in(&answer).await),
    call!("cancel_sign_in", |d| {
        d.cancel_sign_in();
        Ok(())
    }),
    call!("connections", |d| Ok(d.connections())),
    call!("devices", |d, connection: String| d.device_list(&connection).await),
    call!("cached_devices", |d, connection: String| d.cached_device_list(&connection)),
    call!("switch_device", |d, connection: String, device: String, on: bool| d.switch(&connection, &device, on).await),
    call!("set_level", |d, connection: String, device: String, level: u8| d
        .set_level(&connection, &device, level)
        .await),
    call!("set_color_temperature", |d, connection: String, device: String, kelvin: u32| d
        .set_color_temperature(&connection, &device, kelvin)
        .await),
    call!("device_command", |d,
                             connection: String,
                             device: String,
                             capability: String,
                             command: String,
                             args: Vec<Value>,
                             confirmed: bool| d
        .device_command(&connection, &device, &capability, &command, args, confirmed)
        .await),
    call!("run_scene", |d, connection: String, scene: String| d.run_scene(&connection, &scene).await),
    call!("set_mode", |d, connection: String, mode: String| d.set_mode(&connection, &mode).await),
    call!("sign_out", |d, connection: String| d.sign_out(&connection).await),
    call!("settings", |d| Ok(d.settings())),
    call!("set_favorite", |d, connection: String, device: String, on: bool| d.set_favorite(&connection, &device, on)),
    call!("set_hidden", |d, connection: String, device: String, on: bool| d.set_hidden(&connection, &device, on)),
    call!("set_alerts", |d, connection: String, device: String, on: bool| d.set_alerts(&connection, &device, on)),
    call!("set_quiet_hours", |d, start: Option<String>, end: Option<String>| d.set_quiet_hours(start, end)),
    call!("set_poll_interval", |d, seconds: u64| d.set_poll_interval(seconds)),
    call!("set_tray_refresh", |d, seconds: u64| d.set_tray_refresh(seconds)),
    call!("set_panel_theme", |d, theme: PanelTheme| d.set_panel_theme(theme)),
    call!("rename_connection", |d, connection: String, name: String| d.rename_connection(&connection, &name).await),
    call!("token_server", |d| Ok(d.token_server())),
    call!("set_token_server", |d, on: bool, port: u64| d.set_token_server(on, port).await),
    call!("reveal_server_secret", |d| d.server_secret().await.map(|s| s.expose().to_string())),
    call!("rotate_server_secret", |d| d.rotate_server_secret().await),
    call!("share_status", |d| Ok(d.share_status())),
    call!("set_sharing", |d, on: bool, address: String, port: u64| d.set_sharing(on, &address, port).await),
    call!("share_invite", |d, name: Option<String>| d.share_invite(name)),
    call!("paired_computers", |d| d.paired_computers()),
    call!("revoke_computer", |d, name: String| d.revoke_computer(&name)),
    call!("connect_invite", |d, invite: String, computer_name: Option<String>| d
        .connect_invite(&invite, computer_name)
        .await),
    call!("offer_hand_over", |d, name: String| d.offer_hand_over(&name)),
    call!("take_sign_in_over", |d| d.take_sign_in_over().await),
    call!("pat_help", |_d| Ok(Desktop::pat_help())),
    call!("create_app", |d, form: CreateAppForm| d.create_app(form).await),
    call!("check_app", |d, connection: String, app_id: Option<String>, pat: SecretString| d
        .check_app(&connection, app_id.as_deref(), pat)
        .await),
    call!("repair_app", |d, connection: String, app_id: Option<String>, pat: SecretString, new_secret: bool| d
        .repair_app(&connection, app_id.as_deref(), pat, new_secret)
        .await),
];

/// Answers the call `name` with `args`; an unknown name is `bad_request`.
pub async fn dispatch(desktop: Arc<Desktop>, name: &str, args: Value) -> Result<Value> {
    let call = CALLS
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| Error::BadRequest { why: format!("`{name}` is not a call the desktop answers") })?;
    (call.run)(desktop, args).await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::signed_in;
    use super::*;

    #[test]
    fn each_name_once() {
        let mut names: Vec<&str> = CALLS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "a call listed twice");
    }

    #[tokio::test]
    async fn a_call_by_name_is_the_desktops_answer_as_json() {
        let e = signed_in().await;
        let d = e.desktop.clone();
        let list = dispatch(d.clone(), "cached_devices", json!({"connection": "demo"})).await.unwrap();
        assert_eq!(list["connection"], "demo");
        assert!(list["rooms"].as_array().is_some_and(|r| !r.is_empty()), "{list}");
        let s = dispatch(d.clone(), "set_quiet_hours", json!({"start": "22:00", "end": "07:00"})).await.unwrap();
        assert_eq!(s["quiet_hours"]["start"], "22:00");
        // Arguments as Tauri passes them: camelCase.
        let e2 = dispatch(d.clone(), "check_app", json!({"connection": "demo", "appId": null, "pat": "x"})).await;
        assert_ne!(e2.unwrap_err().code(), "bad_request", "the arguments were read");
        let unknown = dispatch(d.clone(), "open_window", json!({"which": "devices"})).await.unwrap_err();
        assert_eq!(unknown.code(), "bad_request");
        assert!(unknown.to_string().contains("open_window"), "{unknown}");
        let wrong = dispatch(d.clone(), "devices", json!({"connection": 7})).await.unwrap_err();
        assert_eq!(wrong.code(), "bad_request");
        let extra = dispatch(d, "settings", json!({"surprise": true})).await.unwrap_err();
        assert_eq!(extra.code(), "bad_request", "unknown arguments are refused, not ignored");
    }
}
