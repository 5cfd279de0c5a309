//! The health and metrics endpoint over real HTTP.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use lienthong_runtime::health::{self, Health};
use lienthong_runtime::metrics::{KafkaMetrics, Metrics};
use lienthong_runtime::shutdown::Shutdown;

#[tokio::test]
async fn endpoints_report_liveness_readiness_and_metrics() {
    let health = Health::new();
    let metrics = Metrics::new();
    let kafka = KafkaMetrics::register(&metrics);
    let shutdown = Shutdown::new();
    let addr = health::serve(
        "127.0.0.1:0".parse().unwrap(),
        health.clone(),
        metrics,
        shutdown.clone(),
    )
    .await
    .unwrap();
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();

    let live = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(live.status(), 200);

    let consumer = health.component("consumer");
    let not_ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(not_ready.status(), 503);
    let body: serde_json::Value = not_ready.json().await.unwrap();
    assert_eq!(body["components"]["consumer"]["state"], "starting");

    consumer.ready();
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    kafka.record_produced("canonical.person.v1");
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("lienthong_kafka_records_produced_total{topic=\"canonical.person.v1\"} 1"),
        "{text}"
    );

    shutdown.trigger();
    // The listener closes after shutdown.
    let mut closed = false;
    for _ in 0..50 {
        if client.get(format!("{base}/healthz")).send().await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(closed, "endpoint still answering after shutdown");
}
