//! `GET /events`: newline-delimited JSON, recorded events first (with `since`/`until`), then
//! live ones until `until` passes or the client goes away. Headers go out at once and each
//! event is its own chunk, flushed as soon as it is written (the CLI waits on them).

use super::{ApiResult, AppState, Query};
use crate::engine::events::{now_nanos, Event, Filters, TimeRange};
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;

struct Feed {
    past: VecDeque<Arc<Event>>,
    live: Option<broadcast::Receiver<Arc<Event>>>,
    filters: Filters,
    deadline: Option<Instant>,
}

impl Feed {
    /// The next line to send, `None` at the end of the stream.
    async fn next(&mut self) -> Option<Bytes> {
        if let Some(ev) = self.past.pop_front() {
            return Some(Bytes::from(ev.to_line()));
        }
        let rx = self.live.as_mut()?;
        loop {
            let got = match self.deadline {
                Some(d) => tokio::select! {
                    r = rx.recv() => r,
                    _ = tokio::time::sleep_until(d) => return None,
                },
                None => rx.recv().await,
            };
            match got {
                Ok(ev) if self.filters.matches(&ev) => return Some(Bytes::from(ev.to_line())),
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "events subscriber too slow; events dropped")
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

pub async fn events(State(engine): State<AppState>, q: Query) -> ApiResult<Response> {
    let get = |k: &str| q.get(k).map(|s| s.as_str()).unwrap_or("");
    let now = now_nanos();
    let range = TimeRange::parse(get("since"), get("until"))?;
    let filters = Filters::parse(get("filters"))?;
    let (past, rx) = engine.events.subscribe(&range, &filters);
    let only_past = range.only_past(now);
    let deadline = range
        .until
        .filter(|_| !only_past)
        .map(|u| Instant::now() + Duration::from_nanos(u.saturating_sub(now).max(0) as u64));
    let feed = Feed {
        past: past.into(),
        live: if only_past { None } else { Some(rx) },
        filters,
        deadline,
    };
    let stream = futures::stream::unfold(feed, |mut feed| async move {
        feed.next()
            .await
            .map(|b| (Ok::<Bytes, std::io::Error>(b), feed))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response())
}
