//! The route table. OAuth lives under `/oauth` and `/v1/oauth` (docs show both); the
//! REST API under `/v1` and, because a real `_links.next` lacked `/v1`, also at the root.

use std::sync::Arc;

use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{any, get, post};
use axum::Router;

use crate::errors::not_found;
use crate::state::AppState;
use crate::{
    api_apps, api_capabilities, api_devices, api_installed, api_modes, api_places, authorize, control, control_status,
    faults, pat, schema, stats, token,
};

pub(crate) fn build(state: Arc<AppState>) -> Router {
    let mut r = Router::new();
    for p in ["/oauth", "/v1/oauth"] {
        r = r
            .route(&format!("{p}/authorize"), get(authorize::authorize))
            .route(&format!("{p}/authorize/decision"), post(authorize::decision))
            .route(&format!("{p}/token"), any(token::token));
    }
    for p in ["/v1", ""] {
        r = r
            .route(&format!("{p}/devices"), get(api_devices::list))
            .route(&format!("{p}/devices/{{id}}"), get(api_devices::get))
            .route(&format!("{p}/devices/{{id}}/status"), get(api_devices::status))
            .route(&format!("{p}/devices/{{id}}/components/{{component}}/status"), get(api_devices::component_status))
            .route(
                &format!("{p}/devices/{{id}}/components/{{component}}/capabilities/{{capability}}/status"),
                get(api_devices::capability_status),
            )
            .route(&format!("{p}/devices/{{id}}/health"), get(api_devices::health))
            .route(&format!("{p}/devices/{{id}}/commands"), post(api_devices::commands))
            .route(&format!("{p}/locations"), get(api_places::locations))
            .route(&format!("{p}/locations/{{id}}"), get(api_places::location))
            .route(&format!("{p}/locations/{{id}}/rooms"), get(api_places::rooms))
            .route(&format!("{p}/locations/{{id}}/rooms/{{room_id}}"), get(api_places::room))
            .route(&format!("{p}/locations/{{id}}/modes"), get(api_modes::list))
            .route(
                &format!("{p}/locations/{{id}}/modes/current"),
                get(api_modes::current).put(api_modes::set_current_route),
            )
            .route(&format!("{p}/locations/{{id}}/modes/{{mode_id}}"), get(api_modes::get))
            .route(&format!("{p}/scenes"), get(api_places::scenes))
            .route(&format!("{p}/scenes/{{id}}/execute"), post(api_places::execute_scene))
            .route(&format!("{p}/installedapps"), get(api_installed::list))
            .route(&format!("{p}/installedapps/{{id}}"), get(api_installed::get).delete(api_installed::delete))
            .route(&format!("{p}/apps"), post(api_apps::create).get(api_apps::list))
            .route(&format!("{p}/apps/{{id}}"), get(api_apps::get).delete(api_apps::delete))
            .route(&format!("{p}/apps/{{id}}/oauth"), get(api_apps::get_oauth).put(api_apps::put_oauth))
            .route(&format!("{p}/apps/{{id}}/oauth/generate"), post(api_apps::generate))
            .route(&format!("{p}/capabilities"), get(api_capabilities::list))
            .route(&format!("{p}/capabilities/{{id}}/{{version}}"), get(api_capabilities::get));
    }
    // ST Schema: the callback token endpoint and the state callback a connector uses.
    r = r
        .route(schema::TOKEN_PATH, post(schema::token))
        .route(schema::STATE_CALLBACK_PATH, post(schema::state_callback));
    r.route("/__sim/stats", get(control::stats))
        .route("/__sim/schema/grant", post(schema::grant_route))
        .route("/__sim/schema/delete", post(schema::delete_route))
        .route("/__sim/clock/advance", post(control::advance_clock))
        .route("/__sim/faults", post(control::set_faults))
        .route("/__sim/pat", post(pat::mint_route))
        .route("/__sim/revoke", post(control::revoke))
        .route("/__sim/expires_in", post(control::expires_in))
        .route("/__sim/token-expiry", post(control::token_expiry))
        .route("/__sim/devices/{id}", get(control::device))
        .route("/__sim/devices/{id}/health", post(control::device_health))
        .route("/__sim/devices/{id}/status", post(control_status::route))
        .route("/__sim/scenes/{id}", get(control::scene))
        // Later layers wrap earlier ones: count first, then maybe inject a fault.
        .route_layer(from_fn_with_state(state.clone(), faults::inject))
        .route_layer(from_fn_with_state(state.clone(), stats::count))
        .fallback(|| async { not_found("The requested resource was not found") })
        .layer(from_fn(faults::ratelimit_headers))
        .layer(from_fn_with_state(state.clone(), stats::log))
        .with_state(state)
}
