//! A tray as a panel sees it: a StatusNotifierItem exports its menu over D-Bus
//! (`com.canonical.dbusmenu`), so the journeys and the resident's tests read the real
//! menu and click its items the way a desktop panel does, with no window involved. Two
//! exporters are found: the app's Tauri tray (libayatana-appindicator, under
//! `/org/ayatana/NotificationItem/<node>`) and the resident's (ksni, `/StatusNotifierItem`).

use std::collections::HashMap;

use zbus::zvariant::{OwnedValue, Structure, Type, Value};
use zbus::Connection;

use std::time::Duration;

use crate::wait::until;

const ITEMS: &str = "/org/ayatana/NotificationItem";
/// Where ksni (and KDE's own items) export the item; its `Menu` property names the menu.
const SNI: &str = "/StatusNotifierItem";
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
    /// How long a wait (`menu_until`, `gone`) may take.
    limit: Duration,
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
    /// Finds the tray icon on the bus at `bus` (whoever exports a notification item with
    /// a menu), waiting up to `limit` for it.
    pub async fn connect(bus: &str, limit: Duration) -> Tray {
        Tray::find(bus, None, limit).await
    }

    /// [`Tray::connect`] to the icon of the process `pid`, when several show one.
    pub async fn connect_pid(bus: &str, pid: u32, limit: Duration) -> Tray {
        Tray::find(bus, Some(pid), limit).await
    }

    async fn find(bus: &str, pid: Option<u32>, limit: Duration) -> Tray {
        let conn = zbus::connection::Builder::address(bus)
            .expect("bus address")
            .build()
            .await
            .expect("connect to the test bus");
        let (owner, menu_path) = until(limit, "the tray icon on the session bus", || async {
            let names: Vec<String> = bus_call(&conn, "ListNames", &()).await?;
            for name in names.into_iter().filter(|n| n.starts_with(':')) {
                if let Some(pid) = pid {
                    if bus_call::<u32>(&conn, "GetConnectionUnixProcessID", &(name.as_str(),)).await != Some(pid) {
                        continue;
                    }
                }
                if let Some(menu) = ayatana_menu(&conn, &name).await {
                    return Some((name, menu));
                }
                if let Some(menu) = sni_menu(&conn, &name).await {
                    return Some((name, menu));
                }
            }
            None
        })
        .await;
        Tray { conn, owner, menu_path, limit }
    }

    /// The unique bus name of the process that shows the tray.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// What a panel sends for a left click on the icon itself (`Activate`).
    pub async fn activate(&self) {
        self.conn
            .call_method(Some(self.owner.as_str()), SNI, Some("org.kde.StatusNotifierItem"), "Activate", &(0i32, 0i32))
            .await
            .expect("StatusNotifierItem Activate");
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
        until(self.limit, what, || async {
            let m = self.menu().await;
            ok(&m).then_some(m)
        })
        .await
    }

    /// Waits until the process that showed this tray icon has left the bus: it exited.
    pub async fn gone(&self, what: &str) {
        until(self.limit, what, || async {
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

    /// A click on an item that ends the process (Quit): it may leave the bus before its
    /// answer goes out, which a panel does not wait for either. [`Tray::gone`] then
    /// checks that it left.
    pub async fn click_to_quit(&self, id: i32) {
        match self.event(id).await {
            Ok(()) => {}
            Err(zbus::Error::MethodError(name, _, _)) if name.as_str() == "org.freedesktop.DBus.Error.NoReply" => {}
            Err(e) => panic!("dbusmenu Event (Quit): {e}"),
        }
    }

    /// What a panel sends when the user clicks an item.
    pub async fn click(&self, id: i32) {
        self.event(id).await.expect("dbusmenu Event");
    }

    /// The dbusmenu `Event` a click is.
    async fn event(&self, id: i32) -> zbus::Result<()> {
        let args = (id, "clicked", Value::from(0i32), 0u32);
        self.conn
            .call_method(Some(self.owner.as_str()), self.menu_path.as_str(), Some(DBUSMENU), "Event", &args)
            .await
            .map(|_| ())
    }
}

/// The menu of a ksni item (`/StatusNotifierItem`'s `Menu` property), if `name` has one.
async fn sni_menu(conn: &Connection, name: &str) -> Option<String> {
    let call = conn.call_method(
        Some(name),
        SNI,
        Some("org.freedesktop.DBus.Properties"),
        "Get",
        &("org.kde.StatusNotifierItem", "Menu"),
    );
    let reply = tokio::time::timeout(Duration::from_secs(1), call).await.ok()?.ok()?;
    let value: OwnedValue = reply.body().deserialize().ok()?;
    match Value::from(value) {
        Value::ObjectPath(p) => Some(p.to_string()),
        Value::Value(inner) => match *inner {
            Value::ObjectPath(p) => Some(p.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// A call to the bus itself.
async fn bus_call<T: serde::de::DeserializeOwned + Type>(
    conn: &Connection,
    method: &str,
    args: &(impl serde::Serialize + Type),
) -> Option<T> {
    let reply = conn
        .call_method(Some("org.freedesktop.DBus"), "/org/freedesktop/DBus", Some("org.freedesktop.DBus"), method, args)
        .await
        .ok()?;
    reply.body().deserialize().ok()
}

/// The menu of an item libayatana-appindicator exports for `name` (the app's Tauri tray).
async fn ayatana_menu(conn: &Connection, name: &str) -> Option<String> {
    // Some peers on the bus never answer calls (a connection that only owns a name); a
    // second each keeps one of them from hiding the tray.
    let call = conn.call_method(Some(name), ITEMS, Some("org.freedesktop.DBus.Introspectable"), "Introspect", &());
    let reply = tokio::time::timeout(Duration::from_secs(1), call).await.ok()?.ok()?;
    let xml = reply.body().deserialize::<String>().ok()?;
    let node = xml.split("<node name=\"").nth(1).and_then(|r| r.split('"').next())?;
    Some(format!("{ITEMS}/{node}/Menu"))
}
