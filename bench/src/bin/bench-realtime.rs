//! `scripts/bench-realtime`: how long a change takes to reach a client over the WebSocket API,
//! through the whole local cloud (the real function binaries: the command, the stream, the
//! publisher, the broker, the realtime consumer, the Management API, the socket).
//!
//! One user keeps two connections open (a phone and a browser tab), another user one; each
//! round PATCHes one of the first user's tasks and times, from just before the request, the
//! arrival of that version's `task.updated` on each of the user's connections.
//!
//! Usage: `bench-realtime [--rounds N]` (default 200).

use std::time::{Duration, Instant};

use serde_json::json;
use todo_e2e::socket::{Socket, Token};
use todo_load::stats::quantile;

fn rounds() -> usize {
    let mut it = std::env::args().skip(1);
    let mut n = 200;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--rounds" => n = it.next().and_then(|v| v.parse().ok()).expect("--rounds N"),
            other => panic!("unknown argument {other}"),
        }
    }
    n
}

/// Waits on `socket` for version `version` of `task`; the time since `t0`.
async fn arrival(socket: &mut Socket, task: &str, version: u64, t0: Instant) -> Duration {
    loop {
        let m = socket
            .next_json(Duration::from_secs(30))
            .await
            .expect("the change arrives within 30 s");
        if m["subject"] == task && m["data"]["task"]["version"] == version {
            return t0.elapsed();
        }
    }
}

fn report(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    println!(
        "{name:<24} p50 {:>6.1} ms   p99 {:>6.1} ms   max {:>6.1} ms   ({} rounds)",
        quantile(&ms, 0.5),
        quantile(&ms, 0.99),
        ms.last().copied().unwrap_or_default(),
        ms.len()
    );
}

#[tokio::main]
async fn main() {
    let rounds = rounds();
    let (cloud, data) = todo_bench::local_cloud("realtime", Duration::from_secs(5)).await;
    let url = cloud.websocket_url.clone().expect("a WebSocket API");
    let token = cloud.auth.token("bench-a", 2);
    let other = cloud.auth.token("bench-b", 2);
    let mut phone = Socket::connect(&url, Token::Header(&token))
        .await
        .expect("connects");
    let mut tab = Socket::connect(&url, Token::Query(&token))
        .await
        .expect("connects");
    let _bystander = Socket::connect(&url, Token::Query(&other))
        .await
        .expect("connects");
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let created: serde_json::Value = http
            .post(format!("{}/tasks", cloud.api_url))
            .bearer_auth(&token)
            .json(&json!({"title": format!("realtime {i}")}))
            .send()
            .await
            .expect("create")
            .json()
            .await
            .expect("a task");
        let id = created["id"].as_str().expect("an id").to_string();
        // Each connection sees the creation before the rounds start.
        arrival(&mut phone, &id, 1, Instant::now()).await;
        arrival(&mut tab, &id, 1, Instant::now()).await;
        tasks.push((id, 1u64));
    }
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let started = Instant::now();
    for round in 0..rounds {
        let (id, version) = &mut tasks[round % 10];
        let t0 = Instant::now();
        let status = http
            .patch(format!("{}/tasks/{id}", cloud.api_url))
            .bearer_auth(&token)
            .json(&json!({"notes": format!("round {round}")}))
            .send()
            .await
            .expect("patch")
            .status();
        assert_eq!(status, 200);
        *version += 1;
        let a = arrival(&mut phone, id, *version, t0).await;
        let b = arrival(&mut tab, id, *version, t0).await;
        first.push(a.as_secs_f64() * 1000.0);
        second.push(a.max(b).as_secs_f64() * 1000.0);
    }
    println!(
        "PATCH -> WebSocket message, {rounds} rounds in {:.1} s (debug binaries, one user with two connections, a bystander connected):",
        started.elapsed().as_secs_f64()
    );
    report("first connection", first);
    report("both connections", second);
    drop(cloud);
    let _ = std::fs::remove_dir_all(&data);
}
