//! The HTTP endpoint: `/livez`, `/readyz` and Prometheus `/metrics` for operators, and
//! `/status` (JSON, counts only) for a web site's "chat now" button.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::metrics::{metrics, Health};

/// Binds `addr` (`http.listen`); an error names the address.
pub async fn bind(addr: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (http.listen): {e}"))
}

/// Serves the endpoints on `listener` until the process ends.
pub fn serve(listener: TcpListener, health: Arc<Health>) {
    let app = Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(prometheus))
        .route("/status", get(status))
        .with_state(health);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the HTTP endpoint stopped");
        }
    });
}

/// 200 while the main loop turns, 503 when it is stuck.
async fn livez(State(health): State<Arc<Health>>) -> impl IntoResponse {
    match health.live() {
        Ok(()) => (StatusCode::OK, "ok\n".to_string()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
    }
}

/// 200 when XMPP is up and answers pings, the database answers and the pool is full; else 503
/// with one reason a line.
async fn readyz(State(health): State<Arc<Health>>) -> impl IntoResponse {
    match health.ready() {
        Ok(()) => (StatusCode::OK, "ok\n".to_string()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why.join("\n") + "\n"),
    }
}

/// `{"open": …, "staff_on_duty": …, "queue_length": …, "oldest_wait_seconds": …}`.
async fn status(State(health): State<Arc<Health>>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            // A page may ask from another origin (the help line's web site).
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        serde_json::to_string(&health.help_line()).unwrap_or_default(),
    )
}

async fn prometheus() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics().encode(),
    )
}
