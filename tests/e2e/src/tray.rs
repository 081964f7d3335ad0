//! The tray as a panel sees it: the app exports its menu over D-Bus
//! (`com.canonical.dbusmenu`, through libayatana-appindicator), so the journeys read the
//! real menu and click its items the way a desktop panel does, with no window involved.

use std::collections::HashMap;

use zbus::zvariant::{OwnedValue, Structure, Type, Value};
use zbus::Connection;

use crate::session_env::SessionEnv;
use crate::wait::until;

const ITEMS: &str = "/org/ayatana/NotificationItem";
const DBUSMENU: &str = "com.canonical.dbusmenu";

#[derive(Debug, Clone, Default)]
pub struct Item {
    pub id: i32,
    pub label: String,
    pub enabled: bool,
    /// `Some(checked)` for check items (the devices).
    pub checked: Option<bool>,
    pub children: Vec<Item>,
}

impl Item {
    /// Depth-first, this item included.
    pub fn all(&self) -> Vec<&Item> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.all());
        }
        out
    }

    pub fn find(&self, label: &str) -> Option<&Item> {
        self.all().into_iter().find(|i| i.label == label)
    }

    /// The labels of the top level, as the menu shows them.
    pub fn top(&self) -> Vec<String> {
        self.children.iter().map(|c| c.label.clone()).collect()
    }
}

pub struct Tray {
    conn: Connection,
    owner: String,
    menu_path: String,
}

/// The root of `GetLayout`'s answer: `(ia{sv}av)`; the children are the same shape
/// inside variants, walked as plain values.
#[derive(serde::Deserialize, Type)]
struct Layout(i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

fn item(v: &Value<'_>) -> Option<Item> {
    let s: &Structure = match v {
        Value::Structure(s) => s,
        Value::Value(inner) => return item(inner),
        _ => return None,
    };
    let f = s.fields();
    let Value::I32(id) = f.first()? else {
        return None;
    };
    let mut props = HashMap::new();
    if let Some(Value::Dict(d)) = f.get(1) {
        for (k, v) in d.iter() {
            if let Value::Str(k) = k {
                let v = match v {
                    Value::Value(inner) => inner.as_ref(),
                    other => other,
                };
                props.insert(k.to_string(), v.try_clone().ok()?);
            }
        }
    }
    let children = match f.get(2) {
        Some(Value::Array(a)) => a.inner().iter().filter_map(item).collect(),
        _ => Vec::new(),
    };
    Some(make(*id, props, children))
}

fn make(id: i32, props: HashMap<String, Value<'_>>, children: Vec<Item>) -> Item {
    let label = match props.get("label") {
        Some(Value::Str(s)) => s.replace('_', ""),
        _ => String::new(),
    };
    let enabled = !matches!(props.get("enabled"), Some(Value::Bool(false)));
    let checked = match (props.get("toggle-type"), props.get("toggle-state")) {
        (Some(Value::Str(t)), state) if !t.is_empty() => Some(matches!(state, Some(Value::I32(1)))),
        _ => None,
    };
    Item { id, label, enabled, checked, children }
}

impl Tray {
    /// Finds the app's tray icon on the journey's bus (whoever exports a notification
    /// item with a menu).
    pub async fn connect(env: &SessionEnv) -> Tray {
        let conn = zbus::connection::Builder::address(env.bus.as_str())
            .expect("bus address")
            .build()
            .await
            .expect("connect to the test bus");
        let (owner, menu_path) = until(crate::driver::WAIT, "the tray icon on the session bus", || async {
            let reply = conn
                .call_method(
                    Some("org.freedesktop.DBus"),
                    "/org/freedesktop/DBus",
                    Some("org.freedesktop.DBus"),
                    "ListNames",
                    &(),
                )
                .await
                .ok()?;
            let names: Vec<String> = reply.body().deserialize().ok()?;
            for name in names.into_iter().filter(|n| n.starts_with(':')) {
                // Some peers on the bus never answer calls (a connection that only
                // owns a name); a second each keeps one of them from hiding the tray.
                let call = conn.call_method(
                    Some(name.as_str()),
                    ITEMS,
                    Some("org.freedesktop.DBus.Introspectable"),
                    "Introspect",
                    &(),
                );
                let Ok(Ok(reply)) = tokio::time::timeout(std::time::Duration::from_secs(1), call).await else {
                    continue;
                };
                let Ok(xml) = reply.body().deserialize::<String>() else { continue };
                if let Some(node) = xml.split("<node name=\"").nth(1).and_then(|r| r.split('"').next()) {
                    return Some((name, format!("{ITEMS}/{node}/Menu")));
                }
            }
            None
        })
        .await;
        Tray { conn, owner, menu_path }
    }

    pub async fn menu(&self) -> Item {
        let reply = self
            .conn
            .call_method(
                Some(self.owner.as_str()),
                self.menu_path.as_str(),
                Some(DBUSMENU),
                "GetLayout",
                &(0i32, -1i32, Vec::<String>::new()),
            )
            .await
            .expect("GetLayout");
        let body = reply.body();
        let (_rev, Layout(id, props, children)): (u32, Layout) = body.deserialize().expect("dbusmenu layout");
        let props = props.iter().filter_map(|(k, v)| Some((k.clone(), Value::from(v.try_clone().ok()?)))).collect();
        make(id, props, children.iter().filter_map(|c| item(c)).collect())
    }

    /// Waits until the menu satisfies `ok`, and returns it.
    pub async fn menu_until(&self, what: &str, ok: impl Fn(&Item) -> bool) -> Item {
        until(crate::driver::WAIT, what, || async {
            let m = self.menu().await;
            ok(&m).then_some(m)
        })
        .await
    }

    /// Waits until the process that showed this tray icon has left the bus: it exited.
    pub async fn gone(&self, what: &str) {
        until(crate::driver::WAIT, what, || async {
            let reply = self
                .conn
                .call_method(
                    Some("org.freedesktop.DBus"),
                    "/org/freedesktop/DBus",
                    Some("org.freedesktop.DBus"),
                    "NameHasOwner",
                    &(self.owner.as_str(),),
                )
                .await
                .ok()?;
            let has: bool = reply.body().deserialize().ok()?;
            (!has).then_some(())
        })
        .await
    }

    /// What a panel sends when the user clicks an item.
    pub async fn click(&self, id: i32) {
        self.conn
            .call_method(
                Some(self.owner.as_str()),
                self.menu_path.as_str(),
                Some(DBUSMENU),
                "Event",
                &(id, "clicked", Value::from(0i32), 0u32),
            )
            .await
            .expect("dbusmenu Event");
    }
}
