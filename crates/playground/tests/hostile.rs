//! Hostile clients against a server on an ephemeral loopback port (issue 26, case 5): slow
//! headers, a slow body, idle keep-alive connections and more connections than the cap are all
//! dropped within the timeouts while normal requests are served; every error status has an
//! OpenAI-shaped JSON body.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use malmoi_playground::{Limits, Models, router, serve_with};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The timeouts of these tests: short, so that the whole file runs in a few seconds.
const TIMEOUT: Duration = Duration::from_millis(800);

fn models() -> Models {
    static MODELS: OnceLock<Models> = OnceLock::new();
    MODELS
        .get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
            Models::load(&[root.join("gpt")], None).expect("the shipped GPT loads")
        })
        .clone()
}

/// Starts a server with [`TIMEOUT`] for headers and bodies and `max_connections`; returns its
/// address.
async fn start(max_connections: usize) -> String {
    let limits = Limits {
        header_read_timeout: TIMEOUT,
        body_read_timeout: TIMEOUT,
        max_connections,
        max_body_bytes: 1024,
        ..Limits::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(serve_with(listener, router(models(), limits.clone()), limits));
    address
}

/// Reads until the server closes the connection (or `limit` passes: then `None`); returns what
/// it sent.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    });
    read.await.ok().map(|()| String::from_utf8_lossy(&received).into_owned())
}

/// A plain `GET /v1/models` over a new connection, answered in full.
async fn models_request(address: &str) -> u16 {
    let response = reqwest::get(format!("http://{address}/v1/models")).await.unwrap();
    let status = response.status().as_u16();
    assert!(response.json::<Value>().await.unwrap()["data"].is_array());
    status
}

/// 100 slow connections — half stop inside their headers, half send `Content-Length: 100` and
/// one byte — plus one idle keep-alive connection: normal requests are served meanwhile, and
/// every slow one is closed within the timeouts (before: all stayed open indefinitely).
#[tokio::test(flavor = "multi_thread")]
async fn slow_and_idle_connections_are_dropped_while_normal_requests_are_served() {
    let address = start(256).await;
    let mut slow = Vec::new();
    for i in 0..100 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        let bytes: &[u8] = if i % 2 == 0 {
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: appl"
        } else {
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        };
        stream.write_all(bytes).await.unwrap();
        slow.push(stream);
    }
    let mut idle = TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");

    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(models_request(&address).await, 200);
    }
    assert!(started.elapsed() < TIMEOUT, "normal requests are not held up by slow ones: {:?}", started.elapsed());

    let deadline = TIMEOUT * 2 + Duration::from_secs(2);
    let mut body_timeouts = 0;
    for (i, stream) in slow.iter_mut().enumerate() {
        let received = read_until_closed(stream, deadline).await;
        let received = received.unwrap_or_else(|| panic!("slow connection {i} still open after {deadline:?}"));
        if received.starts_with("HTTP/1.1 408") {
            assert!(received.contains("\"code\":\"request_timeout\""), "{received}");
            body_timeouts += 1;
        }
    }
    assert_eq!(body_timeouts, 50, "every slow body gets a JSON 408");
    assert!(read_until_closed(&mut idle, deadline).await.is_some(), "the idle keep-alive connection is closed");
    assert_eq!(models_request(&address).await, 200, "the server still serves");
}

/// With every connection slot taken by silent clients, a normal request waits in the backlog
/// only until the header timeout frees a slot, then is served.
#[tokio::test(flavor = "multi_thread")]
async fn connections_beyond_the_cap_wait_for_a_slot_freed_by_the_timeout() {
    let address = start(2).await;
    let silent = [TcpStream::connect(&address).await.unwrap(), TcpStream::connect(&address).await.unwrap()];
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    assert_eq!(models_request(&address).await, 200);
    let waited = started.elapsed();
    assert!(waited >= TIMEOUT / 2, "the cap held the request back: {waited:?}");
    assert!(waited < TIMEOUT * 3, "a slot freed by the timeout served it: {waited:?}");
    drop(silent);
}

/// Sends `request` as raw bytes on a new connection and returns the status, headers and JSON body.
async fn raw(address: &str, request: &str) -> (u16, String, Value) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let response = read_until_closed(&mut stream, Duration::from_secs(10)).await.expect("the server answers");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head[9..12].parse().unwrap();
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {response}"));
    (status, head.to_lowercase(), body)
}

/// 404, 405, 413 and 415 all carry OpenAI's error body (before: 405 had an empty one).
#[tokio::test(flavor = "multi_thread")]
async fn every_error_status_has_a_json_body() {
    let address = start(16).await;
    let close = "Host: x\r\nConnection: close\r\n";
    let cases = [
        (format!("DELETE /v1/models HTTP/1.1\r\n{close}\r\n"), 405, "method_not_allowed"),
        (format!("GET /v1/chat/completions HTTP/1.1\r\n{close}\r\n"), 405, "method_not_allowed"),
        (format!("GET /nothing HTTP/1.1\r\n{close}\r\n"), 404, "unknown_url"),
        (
            format!(
                "POST /v1/chat/completions HTTP/1.1\r\n{close}Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{{}}"
            ),
            415,
            "unsupported_media_type",
        ),
        (
            format!(
                "POST /v1/chat/completions HTTP/1.1\r\n{close}Content-Type: application/json\r\nContent-Length: 1100\r\n\r\n{}",
                " ".repeat(1100)
            ),
            413,
            "request_too_large",
        ),
    ];
    for (request, status, code) in cases {
        let (got, head, body) = raw(&address, &request).await;
        assert_eq!(got, status, "{head} {body}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        assert!(body["error"]["type"].is_string() && body["error"].get("param").is_some(), "{body}");
        if status == 405 {
            assert!(head.contains("\r\nallow: "), "405 keeps its Allow header: {head}");
        }
    }
}
