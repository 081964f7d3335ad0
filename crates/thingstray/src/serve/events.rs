//! `GET /v1/events`: the change feed (events.rs) as Server-Sent Events, behind the same
//! secret, `Host` and `Origin` checks as every other path (guard.rs). One `change` event
//! per change, its data the JSON `thingstray watch --json` prints; `missed` (a count)
//! when the client fell behind; a comment every 15 s so proxies and the client know the
//! stream lives. Listening costs SmartThings nothing: the feed's one poller reads for
//! every listener. The listener ends a connection after 10 minutes (listen.rs), as it
//! does any: EventSource clients reconnect by themselves.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::broadcast::error::RecvError;

use super::{error_response, Shared};

pub async fn stream(State(shared): State<Arc<Shared>>) -> Response {
    let Some(feed_of) = shared.events.clone() else {
        return error_response(StatusCode::NOT_FOUND, "not_found", "this server keeps no change feed");
    };
    // Looked up per stream: the desktop's served connection may open, or change, later.
    let feed = match feed_of() {
        Ok((_, feed)) => feed,
        Err(e) => return super::core_error_response(&e),
    };
    let rx = feed.subscribe();
    let events = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            let event = match rx.recv().await {
                Ok(change) => match Event::default().event("change").json_data(&*change) {
                    Ok(e) => e,
                    Err(_) => continue,
                },
                Err(RecvError::Lagged(n)) => Event::default().event("missed").data(n.to_string()),
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok::<_, Infallible>(event), rx));
        }
    });
    let mut resp = Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
