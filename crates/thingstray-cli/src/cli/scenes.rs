//! `thingstray scenes` and `thingstray scene run NAME|ID`.

use serde_json::json;
use thingstray::api::Scene;
use thingstray::Connection;

use super::{table, CliError, Ctx};

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// A JSON array: id, name, location_id.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
pub struct SceneArgs {
    #[command(subcommand)]
    action: SceneAction,
}

#[derive(clap::Subcommand, Debug)]
enum SceneAction {
    /// Run a scene, by id or by name (exact, ignoring case, and unique).
    Run { scene: String },
}

async fn scenes(conn: &Connection) -> Result<Vec<Scene>, CliError> {
    Ok(conn.api.scenes(conn.settings.location_id.as_deref()).await?)
}

pub async fn list(ctx: &Ctx, a: ListArgs) -> Result<(), CliError> {
    let conn = ctx.open().await?;
    let scenes = scenes(&conn).await?;
    if a.json {
        let v: Vec<_> =
            scenes.iter().map(|s| json!({"id": s.id, "name": s.name, "location_id": s.location_id})).collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    let mut rows = vec![vec!["NAME".to_string(), "ID".to_string()]];
    rows.extend(scenes.iter().map(|s| vec![s.name.clone(), s.id.clone()]));
    print!("{}", table(&rows));
    Ok(())
}

pub async fn scene(ctx: &Ctx, a: SceneArgs) -> Result<(), CliError> {
    let SceneAction::Run { scene: query } = a.action;
    let conn = ctx.open().await?;
    let scenes = scenes(&conn).await?;
    let scene = match scenes.iter().find(|s| s.id == query) {
        Some(s) => s,
        None => {
            let q = query.trim().to_lowercase();
            let found: Vec<&Scene> = scenes.iter().filter(|s| s.name.to_lowercase() == q).collect();
            match found.as_slice() {
                [one] => *one,
                [] => {
                    return Err(CliError::Failed(format!(
                        "No scene is named `{query}`; `thingstray scenes` lists them."
                    )))
                }
                many => {
                    return Err(CliError::Failed(format!(
                        "Several scenes are named `{query}`; use an id: {}",
                        many.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ")
                    )))
                }
            }
        }
    };
    conn.api.execute_scene(&scene.id).await?;
    println!("Ran scene `{}`.", scene.name);
    Ok(())
}
