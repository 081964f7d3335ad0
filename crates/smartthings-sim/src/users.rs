//! Many accounts (`SimConfig::users`): a service that holds thousands of users' sessions
//! (REFERENCE.md, "Services that hold many users' sessions") must be tested against
//! thousands of SmartThings accounts, each signing in to its own location.
//!
//! - User 0 is the simulator's own account: the configured home (every location of it),
//!   the configured app's owner, the one personal access tokens belong to. With
//!   `users = 1` (the default) nothing else exists and the simulator behaves as before.
//! - Users 1..N each own one location with two rooms and four devices copied from the
//!   default home's fixtures. Their ids are derived from K so a test can predict them
//!   ([`user_location_id`]), and they are shaped like SmartThings' UUIDs.
//! - A user's home is built on first use (a sign-in with `sim_user=K`), so `users =
//!   100_000` costs nothing at start: only the templates are kept.
//! - Ownership is read from the id itself ([`owner`]), so scoping a request needs no
//!   extra table and no lock: a personal access token (user 0's) sees user 0's locations
//!   only, and an OAuth-In token its one location, as before.

use serde_json::{json, Value};

use crate::home::{Device, Home, Location, Room};
use crate::home_loader;
use crate::state::{lock, AppState};
use crate::Sim;

/// The 12 hex digits at the end of every per-user id hold K, so K < 16^12.
pub const MAX_USERS: usize = 1 << 48;

const LOCATION_PREFIX: &str = "10ca7100-0000-4000-8000-";

/// The location of user K (K ≥ 1): `10ca7100-0000-4000-8000-<K as 12 hex digits>`.
/// User 0's locations are the configured home's ([`Sim::user_location_id`] answers for 0).
pub fn user_location_id(k: usize) -> String {
    format!("{LOCATION_PREFIX}{k:012x}")
}

/// Room `r` (0: Living Room, 1: Kitchen) of user K.
pub fn user_room_id(k: usize, r: usize) -> String {
    format!("200e00{r:02x}-0000-4000-8000-{k:012x}")
}

/// Device `i` (0..4, in [`TEMPLATES`] order) of user K.
pub fn user_device_id(k: usize, i: usize) -> String {
    format!("de71ce{i:02x}-0000-4000-8000-{k:012x}")
}

/// User K's account id (`ownerId` of their devices and installed apps); user 0's is the
/// account id the simulator always had.
pub(crate) fn account_id(k: usize) -> String {
    if k == 0 {
        crate::app_store::OWNER_ID.to_string()
    } else {
        format!("0a0e0000-0000-4000-8000-{k:012x}")
    }
}

/// Which user owns a location: K for a per-user location id, 0 for any other (the
/// configured home's). No lookup: the id says it.
pub(crate) fn owner(location_id: &str) -> usize {
    location_id
        .strip_prefix(LOCATION_PREFIX)
        .filter(|hex| hex.len() == 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|hex| usize::from_str_radix(hex, 16).ok())
        .unwrap_or(0)
}

/// The default-home devices each user gets a copy of, and the room (index) it goes in:
/// a dimmer, a light, a lock and a contact sensor, enough for a client to list, read
/// and command.
const TEMPLATES: [(&str, usize); 4] = [
    ("0b5577db-5074-4b70-a2c5-efec286d264d", 0), // Living Room Lamp
    ("c1107a0c-fa71-43c5-8ff9-a128ea6c4f20", 1), // Kitchen Lights
    ("a9f587c5-5d8b-4273-8907-e7f609af5158", 0), // Front Door Lock
    ("7d246592-93db-4d72-a10d-5a51793ece8c", 0), // Front Door Sensor
];
const ROOMS: [&str; 2] = ["Living Room", "Kitchen"];

/// The accounts: how many, and the device templates their homes are copied from.
#[derive(Debug, Default)]
pub(crate) struct Users {
    pub count: usize,
    templates: Vec<(Device, usize)>,
}

impl Users {
    /// Keeps the templates (from the embedded default home, whatever `home_dir` is) only
    /// when there is more than one user.
    pub(crate) fn new(count: usize, now_ms: u64) -> Users {
        if count <= 1 {
            return Users { count, templates: Vec::new() };
        }
        let home = home_loader::build(&home_loader::embedded_files(), now_ms, &mut Vec::new());
        let templates = TEMPLATES.iter().filter_map(|(id, room)| home.device(id).map(|d| (d.clone(), *room))).collect();
        Users { count, templates }
    }

    /// `sim_user=` of an authorize request: absent means user 0.
    pub(crate) fn parse(&self, raw: Option<&str>) -> Result<usize, String> {
        let Some(raw) = raw else { return Ok(0) };
        match raw.trim().parse::<usize>() {
            Ok(k) if k < self.count => Ok(k),
            _ => Err(format!(
                "Unknown sim_user: {raw} (this simulator has {} user(s), numbered 0 to {})",
                self.count,
                self.count.saturating_sub(1)
            )),
        }
    }

    /// Adds user K's location, rooms and devices to the home unless they are there.
    pub(crate) fn ensure_home(&self, home: &mut Home, k: usize, now_ms: u64) {
        let location_id = user_location_id(k);
        if k == 0 || k >= self.count || home.location(&location_id).is_some() {
            return;
        }
        let name = format!("Home of user {k}");
        let json = json!({"locationId": location_id, "name": name});
        home.locations.push(Location { id: location_id.clone(), name, json: as_map(json) });
        for (r, room_name) in ROOMS.iter().enumerate() {
            let id = user_room_id(k, r);
            let json = json!({"roomId": id, "locationId": location_id, "name": room_name, "backgroundImage": null});
            home.rooms.push(Room { id, location_id: location_id.clone(), json: as_map(json) });
        }
        for (i, (template, room)) in self.templates.iter().enumerate() {
            let mut device = template.clone();
            device.id = user_device_id(k, i);
            device.location_id = location_id.clone();
            device.json.insert("deviceId".into(), Value::String(device.id.clone()));
            device.json.insert("locationId".into(), Value::String(location_id.clone()));
            device.json.insert("roomId".into(), Value::String(user_room_id(k, *room)));
            device.json.insert("ownerId".into(), Value::String(account_id(k)));
            // The template's hub is user 0's: a copy has none of its own.
            device.json.remove("parentDeviceId");
            device.health_updated_ms = now_ms;
            home.devices.push(device);
        }
        tracing::info!("users: built the home of user {k}");
    }
}

fn as_map(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(o) => o,
        _ => serde_json::Map::new(),
    }
}

/// Adds user K's home now (a no-op for user 0, an unknown K or a home already built).
pub(crate) fn ensure(st: &AppState, k: usize) {
    let now = st.clock.now_ms();
    st.users.ensure_home(&mut lock(&st.home), k, now);
}

impl Sim {
    /// How many accounts this simulator has (`SimConfig::users`).
    pub fn users(&self) -> usize {
        self.state.users.count
    }

    /// User K's location id: the configured home's first location for user 0,
    /// [`user_location_id`] for 1..N, `None` for K ≥ N.
    pub fn user_location_id(&self, k: usize) -> Option<String> {
        match k {
            0 => lock(&self.state.home).locations.iter().find(|l| owner(&l.id) == 0).map(|l| l.id.clone()),
            k if k < self.state.users.count => Some(user_location_id(k)),
            _ => None,
        }
    }

    /// User K's device ids (K in 1..N; `None` otherwise), built or not yet.
    pub fn user_device_ids(&self, k: usize) -> Option<Vec<String>> {
        (k >= 1 && k < self.state.users.count)
            .then(|| (0..self.state.users.templates.len()).map(|i| user_device_id(k, i)).collect())
    }

    /// The address a browser opens to sign user K in with the configured app: its first
    /// redirect URI, every scope it has, `state` as given and `sim_user=K`. On a simulator
    /// with `auto_approve` it redirects at once with a code for K's location.
    pub fn user_authorize_url(&self, k: usize, state: &str) -> String {
        let c = &self.state.client;
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        ser.append_pair("client_id", &c.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", c.redirect_uris.first().map(String::as_str).unwrap_or(""))
            .append_pair("scope", &c.scopes.join(" "))
            .append_pair("state", state)
            .append_pair("sim_user", &k.to_string());
        format!("{}/authorize?{}", self.auth_url(), ser.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_their_owner() {
        assert_eq!(user_location_id(255), "10ca7100-0000-4000-8000-0000000000ff");
        assert_eq!(owner(&user_location_id(99_999)), 99_999);
        assert_eq!(owner("397678e5-9995-4a39-9d9f-ae6ba310236b"), 0);
        assert_eq!(owner("10ca7100-0000-4000-8000-0000000000fg"), 0);
        assert_eq!(owner("10ca7100-0000-4000-8000-0000000000ff0"), 0);
        assert_eq!(user_device_id(3, 1).len(), 36);
    }

    #[test]
    fn homes_are_built_once_and_only_in_range() {
        let users = Users::new(3, 0);
        assert_eq!(users.templates.len(), TEMPLATES.len());
        let mut home = Home::default();
        users.ensure_home(&mut home, 2, 0);
        users.ensure_home(&mut home, 2, 0);
        users.ensure_home(&mut home, 3, 0);
        users.ensure_home(&mut home, 0, 0);
        assert_eq!(home.locations.len(), 1);
        assert_eq!(home.rooms.len(), 2);
        assert_eq!(home.devices.len(), 4);
        assert!(home.devices.iter().all(|d| d.location_id == user_location_id(2)));
        assert_eq!(home.devices[1].json["roomId"], user_room_id(2, 1));
    }

    #[test]
    fn sim_user_parsing() {
        let users = Users::new(1, 0);
        assert_eq!(users.parse(None), Ok(0));
        assert_eq!(users.parse(Some("0")), Ok(0));
        assert!(users.parse(Some("1")).is_err());
        assert!(users.parse(Some("-1")).is_err());
        assert!(users.parse(Some("x")).is_err());
        assert!(users.parse(Some("99999999999999999999999")).is_err());
    }
}
