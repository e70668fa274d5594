//! `scripts/bench-channels`: how long a due reminder takes to reach each channel's far end
//! when many fall due at once, through the whole local cloud (the real function binaries, the
//! sweep, the stream, the publisher, the broker, one consumer group per channel).
//!
//! Users turn e-mail on, subscribe a device to Web Push and register a webhook of their own;
//! each creates tasks whose reminders all fall due at one instant T. The delay of a reminder on
//! a channel is its arrival minus T: at the webhook receiver (the operator's path and each
//! user's), the SES endpoint and the push service their arrival time, in the inbox the in-app
//! channel's recorded placement time.
//! The sweep runs every second here (every 10 s in AWS), so up to a second of each delay is
//! the sweep's granularity.
//!
//! Usage: `bench-channels [--reminders N] [--users U]` (defaults 1,000 and 20).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use todo_load::stats::quantile;

fn args() -> (usize, usize) {
    let (mut reminders, mut users) = (1_000, 20);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut number = || it.next().and_then(|v| v.parse().ok()).expect("a number");
        match a.as_str() {
            "--reminders" => reminders = number(),
            "--users" => users = number(),
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(
        users >= 1 && reminders >= users,
        "--reminders must be at least --users"
    );
    (reminders, users)
}

struct User {
    name: String,
    token: String,
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the API answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::main]
async fn main() {
    let (reminders, users) = args();
    let (cloud, data) = todo_bench::local_cloud("channels", Duration::from_secs(1)).await;
    let http = reqwest::Client::new();
    let api = cloud.api_url.clone();
    let people: Vec<User> = (0..users)
        .map(|u| {
            let name = format!("bench-{u}");
            let token = cloud.auth.token(&name, 2);
            User { name, token }
        })
        .collect();
    for user in &people {
        let body =
            json!({"email": {"enabled": true, "address": format!("{}@example.com", user.name)}});
        let (status, _) = send(
            http.put(format!("{api}/settings/notifications"))
                .bearer_auth(&user.token)
                .json(&body),
        )
        .await;
        assert_eq!(status, 200, "settings for {}", user.name);
        let (_, key) = send(
            http.get(format!("{api}/push/vapid-public-key"))
                .bearer_auth(&user.token),
        )
        .await;
        let device = cloud
            .push
            .subscribe(key["key"].as_str().expect("the VAPID key"));
        let (status, body) = send(
            http.post(format!("{api}/push-subscriptions"))
                .bearer_auth(&user.token)
                .json(&device),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        // Each user's own webhook, on the same receiver under a path of theirs.
        let origin = cloud.webhook.url().trim_end_matches("/hook");
        let (status, body) = send(
            http.post(format!("{api}/webhooks"))
                .bearer_auth(&user.token)
                .json(&json!({"url": format!("{origin}/user/{}", user.name)})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }

    // Creating N tasks takes a while at debug speed: T leaves room for it.
    let due_at: DateTime<Utc> = Utc::now() + chrono::Duration::seconds(10 + reminders as i64 / 40);
    let at = due_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let created = std::time::Instant::now();
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
    let mut jobs = tokio::task::JoinSet::new();
    for i in 0..reminders {
        let request = http
            .post(format!("{api}/tasks"))
            .bearer_auth(&people[i % users].token)
            .json(&json!({"title": format!("bench {i}"), "reminders": [{"at": at}]}));
        let permits = std::sync::Arc::clone(&permits);
        jobs.spawn(async move {
            let _permit = permits.acquire().await.expect("open");
            let (status, body) = send(request).await;
            assert_eq!(status, 201, "{body}");
        });
    }
    while let Some(done) = jobs.join_next().await {
        done.expect("a create");
    }
    let lead = (due_at - Utc::now()).num_milliseconds();
    println!(
        "{reminders} tasks of {users} users created in {:.1} s; all due at {at} ({lead} ms ahead)",
        created.elapsed().as_secs_f64()
    );
    assert!(
        lead > 0,
        "creating took longer than the lead; fewer --reminders"
    );

    let deadline = std::time::Instant::now() + Duration::from_secs(120 + reminders as u64 / 10);
    loop {
        let received = cloud.webhook.received();
        let (hooks, own, mails, pushes) = (
            received.iter().filter(|r| r.path == "/hook").count(),
            received
                .iter()
                .filter(|r| r.path.starts_with("/user/"))
                .count(),
            cloud.ses.sent().len(),
            cloud.push.received().len(),
        );
        if hooks >= reminders && own >= reminders && mails >= reminders && pushes >= reminders {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out: {hooks} webhook deliveries, {own} to users' webhooks, {mails} e-mails, {pushes} pushes of {reminders}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut delays: HashMap<&str, Vec<f64>> = HashMap::new();
    let since_due = |t: DateTime<Utc>| (t - due_at).num_microseconds().unwrap_or(0) as f64 / 1000.0;
    for r in cloud.webhook.received().iter().filter(|r| r.status == 200) {
        let channel = if r.path == "/hook" {
            "webhook"
        } else {
            "user webhook"
        };
        delays
            .entry(channel)
            .or_default()
            .push(since_due(r.received_at));
    }
    for m in cloud.ses.sent() {
        delays
            .entry("e-mail")
            .or_default()
            .push(since_due(m.received_at));
    }
    for m in cloud.push.received() {
        delays
            .entry("web push")
            .or_default()
            .push(since_due(m.received_at));
    }
    for user in &people {
        let mut cursor: Option<String> = None;
        loop {
            let mut request = http
                .get(format!("{api}/notifications"))
                .bearer_auth(&user.token)
                .query(&[("limit", "100")]);
            if let Some(c) = &cursor {
                request = request.query(&[("cursor", c)]);
            }
            let (status, page) = send(request).await;
            assert_eq!(status, 200);
            for n in page["items"].as_array().into_iter().flatten() {
                let placed = n["deliveries"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|d| d["channel"] == "in_app")
                    .and_then(|d| d["delivered_at"].as_str())
                    .and_then(|t| t.parse::<DateTime<Utc>>().ok());
                if let Some(t) = placed {
                    delays.entry("in-app").or_default().push(since_due(t));
                }
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
    }
    println!("\n| channel | reminders | p50 | p99 | max |\n|---|---|---|---|---|");
    for channel in ["in-app", "webhook", "user webhook", "e-mail", "web push"] {
        let v = delays.remove(channel).unwrap_or_default();
        println!(
            "| {channel} | {} | {:.0} ms | {:.0} ms | {:.0} ms |",
            v.len(),
            quantile(&v, 0.5),
            quantile(&v, 0.99),
            quantile(&v, 1.0)
        );
    }
    drop(cloud);
    let _ = std::fs::remove_dir_all(&data);
}
