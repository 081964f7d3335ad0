//! `thingstray mode [NAME]`: the location's current mode and the others, or set it (by
//! label or name, ignoring case, or id) and print the mode SmartThings reports afterwards.
//!
//! The location: `--location ID`, else the connection's own (recorded at sign-in), else
//! the only location the token sees; several and none given is a usage error.

use serde_json::json;
use thingstray::api::Mode;
use thingstray::{Connection, Error};

use super::{CliError, Ctx};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The mode to switch to: its label or name (ignoring case), or its id. Without it:
    /// print the current mode and the others.
    mode: Option<String>,
    /// The location; default: the connection's own, else the only one.
    #[arg(long, value_name = "ID")]
    location: Option<String>,
    /// JSON: {"current": {id, name, label}, "modes": [..]}; when setting, the mode read back.
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    let conn = ctx.open().await?;
    let location = location(&conn, a.location.as_deref()).await?;
    let modes = conn.api.modes(&location).await?;
    let Some(wanted) = a.mode else {
        let current = conn.api.current_mode(&location).await?;
        if a.json {
            println!("{}", json!({"current": current, "modes": modes}));
        } else {
            println!("{} (current)", current.label);
            for m in modes.iter().filter(|m| m.id != current.id) {
                println!("{}", m.label);
            }
        }
        return Ok(());
    };
    let target = find(&modes, &wanted)?;
    let now = match conn.api.set_mode(&location, &target.id).await {
        Ok(m) => m,
        Err(Error::Api { status: 403, .. }) => {
            return Err(CliError::Failed(format!(
                "SmartThings refused to change the mode (403): this sign-in lacks the w:locations:* scope. \
                 Add it to the app's scopes and to the connection's (`thingstray setup --scopes \"{} w:locations:*\" ...`), \
                 then `thingstray login` again.",
                conn.settings.scopes.join(" ")
            )))
        }
        Err(e) => return Err(e.into()),
    };
    if a.json {
        println!("{}", json!(now));
    } else {
        println!("{}", now.label);
    }
    if now.id != target.id {
        return Err(CliError::Failed(format!(
            "SmartThings still reports the mode `{}`, not `{}`; check again shortly.",
            now.label, target.label
        )));
    }
    Ok(())
}

/// `--location`, else the connection's own, else the only location.
async fn location(conn: &Connection, asked: Option<&str>) -> Result<String, CliError> {
    if let Some(id) = asked.map(str::trim).filter(|s| !s.is_empty()) {
        return Ok(id.to_string());
    }
    if let Some(id) = conn.settings.location_id.as_deref().filter(|s| !s.is_empty()) {
        return Ok(id.to_string());
    }
    let locations = conn.api.locations().await?;
    match locations.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(CliError::Failed("SmartThings shows this sign-in no location.".into())),
        many => Err(CliError::Usage(format!(
            "This sign-in sees several locations; choose one with --location ID: {}",
            many.iter().map(|l| format!("{} ({})", l.id, l.name)).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// By id, then by label, then by name (ignoring case); several matches or none is an
/// error listing the modes.
fn find<'a>(modes: &'a [Mode], query: &str) -> Result<&'a Mode, CliError> {
    if let Some(m) = modes.iter().find(|m| m.id == query) {
        return Ok(m);
    }
    let q = query.trim().to_lowercase();
    let by_label: Vec<&Mode> = modes.iter().filter(|m| m.label.to_lowercase() == q).collect();
    let found =
        if by_label.is_empty() { modes.iter().filter(|m| m.name.to_lowercase() == q).collect() } else { by_label };
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(CliError::Failed(format!("No mode is named `{query}`; the modes are: {}.", listing(modes)))),
        many => Err(CliError::Failed(format!(
            "Several modes are named `{query}`; use an id: {}",
            many.iter().map(|m| format!("{} ({})", m.id, m.label)).collect::<Vec<_>>().join(", ")
        ))),
    }
}

fn listing(modes: &[Mode]) -> String {
    if modes.is_empty() {
        return "none".into();
    }
    modes.iter().map(|m| m.label.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(id: &str, name: &str, label: &str) -> Mode {
        Mode { id: id.into(), name: name.into(), label: label.into() }
    }

    #[test]
    fn modes_are_found_by_id_label_or_name() {
        let modes = [mode("1", "Home", "Home"), mode("2", "Away", "Holiday"), mode("3", "Night", "Night")];
        assert_eq!(find(&modes, "2").unwrap().id, "2");
        assert_eq!(find(&modes, "holiday").unwrap().id, "2");
        assert_eq!(find(&modes, " AWAY ").unwrap().id, "2");
        assert_eq!(find(&modes, "night").unwrap().id, "3");
        let e = find(&modes, "Vacation").unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(e.to_string().contains("Home, Holiday, Night"), "{e}");
        let twins = [mode("1", "A", "Same"), mode("2", "B", "same")];
        assert!(find(&twins, "same").unwrap_err().to_string().contains("1 (Same), 2 (same)"));
    }
}
