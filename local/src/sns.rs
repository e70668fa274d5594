//! Amazon SNS topics as the local cloud needs them: a function subscribed by its template event
//! (`Type: SNS`, `Topic: !Ref X`) is invoked asynchronously with each message published to the
//! topic, in the event Lambda gets from SNS (one record per invocation, the message as text:
//! "Invoking Lambda functions with Amazon SNS notifications", the shape of aws_lambda_events'
//! `example-sns-event.json`), and retried twice on a function error as every asynchronous
//! invocation is. The local SES is the only publisher (bounces and complaints).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::esm::schedule::{ASYNC_RETRY_DELAYS, failed, retry_async};
use crate::gateway::InvocationObserver;
use crate::runtime::FunctionHost;
use crate::template::{ACCOUNT_ID, REGION};

/// Every topic's subscribed functions, by topic ARN; clones share them.
#[derive(Clone, Default)]
pub struct LocalSns {
    topics: Arc<Mutex<HashMap<String, Vec<Subscriber>>>>,
}

#[derive(Clone)]
struct Subscriber {
    host: Arc<FunctionHost>,
    observe: InvocationObserver,
}

impl LocalSns {
    /// Subscribes `host` to the topic `topic_arn`.
    pub fn subscribe(&self, topic_arn: &str, host: Arc<FunctionHost>, observe: InvocationObserver) {
        if let Ok(mut topics) = self.topics.lock() {
            topics
                .entry(topic_arn.to_string())
                .or_default()
                .push(Subscriber { host, observe });
        }
    }

    /// Publishes `message` to `topic_arn`: each subscriber is invoked on its own, in the
    /// background. How many subscribers there were.
    pub fn publish(&self, topic_arn: &str, message: &str) -> usize {
        let subscribers = self
            .topics
            .lock()
            .map(|t| t.get(topic_arn).cloned().unwrap_or_default())
            .unwrap_or_default();
        let payload = event(topic_arn, message).to_string().into_bytes();
        for s in &subscribers {
            let (s, payload) = (s.clone(), payload.clone());
            tokio::spawn(async move {
                let first = s.host.invoke(payload.clone()).await;
                (s.observe)(s.host.name(), "sns", &first);
                if failed(&first.outcome) {
                    retry_async(&s.host, &payload, "sns", &s.observe, &ASYNC_RETRY_DELAYS).await;
                }
            });
        }
        subscribers.len()
    }
}

/// The event Lambda gets for one message published to `topic_arn`.
pub fn event(topic_arn: &str, message: &str) -> serde_json::Value {
    let id = uuid::Uuid::new_v4();
    json!({"Records": [{
        "EventVersion": "1.0",
        "EventSubscriptionArn": format!("{topic_arn}:{}", uuid::Uuid::new_v4()),
        "EventSource": "aws:sns",
        "Sns": {
            "Type": "Notification",
            "MessageId": id.to_string(),
            "TopicArn": topic_arn,
            "Subject": null,
            "Message": message,
            "Timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "SignatureVersion": "1",
            "Signature": "LOCAL",
            "SigningCertURL": format!("https://sns.{REGION}.amazonaws.com/local.pem"),
            "UnsubscribeURL": format!("https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic_arn}"),
            "MessageAttributes": {}
        }
    }]})
}

/// The ARN of the account's topic `name` in the local region.
pub fn topic_arn(name: &str) -> String {
    format!("arn:aws:sns:{REGION}:{ACCOUNT_ID}:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The local event has every field of the shape aws_lambda_events pins for SNS
    /// (`example-sns-event.json`, copied into events/sns/ with an SES record as the message).
    #[test]
    fn the_local_event_has_the_fields_lambda_gets_from_sns() {
        let shape: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../events/sns/ses-bounce.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let local = event(&topic_arn("T"), "hello");
        let keys = |v: &serde_json::Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&local["Records"][0]), keys(&shape["Records"][0]));
        assert_eq!(
            keys(&local["Records"][0]["Sns"]),
            keys(&shape["Records"][0]["Sns"])
        );
        assert_eq!(local["Records"][0]["Sns"]["Message"], "hello");
        assert_eq!(local["Records"][0]["EventSource"], "aws:sns");
    }
}
