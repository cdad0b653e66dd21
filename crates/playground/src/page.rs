//! The page, shipped inside the binary (no build step): HTML, CSS and JavaScript files under
//! `static/`, served with a content security policy that allows only the page's own files.

use axum::http::header;
use axum::response::IntoResponse;

/// Only the page's own script, style and API: no inline script, no other origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

/// `GET /`.
pub(crate) async fn index() -> impl IntoResponse {
    asset("text/html; charset=utf-8", include_str!("../static/index.html"))
}

/// `GET /app.js`.
pub(crate) async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", include_str!("../static/app.js"))
}

/// `GET /style.css`.
pub(crate) async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", include_str!("../static/style.css"))
}
