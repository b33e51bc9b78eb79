//! The webhook's handlers in process: `router(test_state()).oneshot(..)`.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use adoport::secrets::Secret;
use adoport::serve::auth::{WebhookAuth, basic_header};
use adoport::serve::{AppState, SqliteQueue, router};

use super::{sample, sample_types};

const SECRET: &str = "serve-http-test-secret";

fn test_state() -> AppState {
    let queue = Arc::new(SqliteQueue::in_memory().unwrap());
    let state = AppState::new(
        queue,
        Some(WebhookAuth::new("adoport", Secret::new(SECRET))),
    );
    state.health.set_config_loaded(true);
    state
}

fn good_auth() -> String {
    basic_header("adoport", SECRET)
}

async fn post(state: &AppState, auth: Option<&str>, body: impl Into<Body>) -> (StatusCode, String) {
    let mut request = Request::post("/webhook").header("content-type", "application/json");
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = router(state.clone())
        .oneshot(request.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn get(state: &AppState, path: &str) -> (StatusCode, String) {
    let response = router(state.clone())
        .oneshot(
            Request::get(path)
                .header("authorization", good_auth())
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn pending(state: &AppState) -> u64 {
    state.queue.stats(SystemTime::now()).unwrap().pending
}

#[tokio::test]
async fn a_request_without_or_with_wrong_credentials_is_refused_and_queues_nothing() {
    let state = test_state();
    let body = sample("workitem.updated");
    let (status, _) = post(&state, None, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for wrong in [
        basic_header("adoport", "not-the-secret"),
        basic_header("someone", SECRET),
        format!("Bearer {SECRET}"),
    ] {
        let (status, text) = post(&state, Some(&wrong), body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong}");
        assert!(!text.contains(SECRET), "{text}");
    }
    assert_eq!(pending(&state), 0, "nothing is queued on a 401");
    let (status, text) = post(&state, Some(&good_auth()), body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    assert_eq!(pending(&state), 1);
    let (_, metrics) = get(&state, "/metrics").await;
    assert!(
        metrics.contains("adoport_events_rejected_total{reason=\"unauthorized\"} 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_webhook_and_the_metrics_need_the_credentials_and_the_probes_do_not() {
    let state = test_state();
    let status_of = |path: &'static str| {
        let state = state.clone();
        async move {
            router(state)
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap()
        }
    };
    let metrics = status_of("/metrics").await;
    assert_eq!(metrics.status(), StatusCode::UNAUTHORIZED);
    assert!(metrics.headers().contains_key("www-authenticate"));
    // Kubernetes' probes send no credentials.
    for path in ["/healthz", "/readyz"] {
        assert_eq!(status_of(path).await.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413_and_queues_nothing() {
    let state = test_state();
    let big = vec![b' '; 10 * 1024 * 1024];
    let (status, text) = post(&state, Some(&good_auth()), big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    assert!(text.contains("1048576-byte limit"), "{text}");
    assert_eq!(pending(&state), 0);
}

#[tokio::test]
async fn the_body_limit_follows_the_setting() {
    let mut state = test_state();
    state.max_body_bytes = 64;
    let (status, _) = post(&state, Some(&good_auth()), sample("git.push")).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn malformed_json_is_a_400_that_says_why() {
    let state = test_state();
    let (status, text) = post(&state, Some(&good_auth()), "{\"eventType\": ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("the body is not JSON"), "{text}");
    assert!(text.contains("line 1"), "the parser's position: {text}");
    assert_eq!(pending(&state), 0);
}

#[tokio::test]
async fn an_envelope_without_event_type_or_resource_is_a_400() {
    let state = test_state();
    for (body, why) in [
        (r#"{"resource": {"id": 1}}"#, "no `eventType` string"),
        (
            r#"{"eventType": "", "resource": {}}"#,
            "no `eventType` string",
        ),
        (r#"{"eventType": "git.push"}"#, "no `resource` object"),
        (
            r#"{"eventType": "git.push", "resource": []}"#,
            "no `resource` object",
        ),
        ("[1, 2]", "not a JSON object"),
    ] {
        let (status, text) = post(&state, Some(&good_auth()), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(text.contains(why), "{body}: {text}");
    }
    assert_eq!(pending(&state), 0);
}

#[tokio::test]
async fn an_unknown_event_type_is_accepted_counted_and_not_queued() {
    let state = test_state();
    for _ in 0..2 {
        let (status, text) = post(
            &state,
            Some(&good_auth()),
            r#"{"eventType": "tfvc.checkin", "resource": {"changesetId": 7}}"#,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{text}");
        assert!(text.contains("ignored"), "{text}");
    }
    assert_eq!(pending(&state), 0);
    let (_, metrics) = get(&state, "/metrics").await;
    assert!(
        metrics.contains("adoport_events_unknown_total{type=\"tfvc.checkin\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn every_sample_payload_is_accepted_and_events_for_one_entity_coalesce() {
    let state = test_state();
    let mut signals = 0;
    for event_type in sample_types() {
        let (status, text) = post(&state, Some(&good_auth()), sample(&event_type)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{event_type}: {text}");
        let reply: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(reply["status"], "queued", "{event_type}");
        signals += reply["signals"].as_u64().unwrap();
    }
    let stats = state.queue.stats(SystemTime::now()).unwrap();
    assert!(
        stats.pending < signals,
        "signals for one entity share a row: {} rows for {signals} signals",
        stats.pending
    );
    let before = stats.pending;
    let (status, text) = post(&state, Some(&good_auth()), sample("workitem.updated")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(text.contains("\"coalesced\":1"), "{text}");
    assert_eq!(
        pending(&state),
        before,
        "a second event for work item 42 adds no row"
    );
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let state = test_state();
    let (status, _) = get(&state, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    let (status, text) = get(&state, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    state
        .health
        .set_catalog_error(Some("the catalog is gone".into()));
    state.health.set_config_loaded(false);
    let (status, text) = get(&state, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(text.contains("the catalog is gone"), "{text}");
    assert!(text.contains("\"config\""), "{text}");
    post(&state, Some(&good_auth()), sample("git.push")).await;
    let (status, metrics) = get(&state, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        "adoport_events_received_total{type=\"git.push\"} 1",
        "adoport_events_accepted_total{type=\"git.push\"} 1",
        "adoport_signals_enqueued_total{kind=\"branch\"} 2",
        "adoport_queue_pending 7",
        "adoport_queue_dead_letters 0",
    ] {
        assert!(metrics.contains(line), "{line}\n{metrics}");
    }
    assert!(
        metrics.contains("adoport_queue_oldest_age_seconds "),
        "{metrics}"
    );
}

#[tokio::test]
async fn without_a_secret_requests_need_no_credentials() {
    let queue = Arc::new(SqliteQueue::in_memory().unwrap());
    let state = AppState::new(queue, None);
    let (status, _) = post(&state, None, sample("workitem.created")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}
