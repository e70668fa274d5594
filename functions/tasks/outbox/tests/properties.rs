//! Property tests of the outbox's reading of stream records: any image, any event name, any
//! identity. A record is an event, a skip, or a reasoned error the publisher dead-letters;
//! never a panic.

use aws_lambda_events::event::dynamodb::Event;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Value, json};
use todo_outbox::event_of;

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5eed_70d2),
        failure_persistence: None,
        ..Config::default()
    }
}

/// A DynamoDB attribute value, with the names and shapes task images use.
fn attribute() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        prop_oneof![
            Just("task".to_string()),
            Just("task.created".to_string()),
            Just("task.updated".to_string()),
            Just("task.deleted".to_string()),
            Just("reminder.due".to_string()),
            Just("2031-01-01T00:00:00.000Z".to_string()),
            Just("+10000-01-01T00:00:00.000Z".to_string()),
            Just("0192f0c4-7b7e-7c3a-9d2e-3f4a5b6c7d8e".to_string()),
            ".{0,16}",
        ]
        .prop_map(|s| json!({ "S": s })),
        any::<i64>().prop_map(|n| json!({ "N": n.to_string() })),
        ".{0,8}".prop_map(|n| json!({ "N": n })),
        any::<bool>().prop_map(|b| json!({ "BOOL": b })),
        Just(json!({ "NULL": true })),
    ];
    leaf.prop_recursive(2, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|l| json!({ "L": l })),
            prop::collection::btree_map(name(), inner, 0..5).prop_map(|m| json!({ "M": m })),
        ]
    })
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("kind"),
        Just("ev_id"),
        Just("ev_type"),
        Just("ev_actor"),
        Just("ev_at"),
        Just("ev_reminder_at"),
        Just("ev_late"),
        Just("id"),
        Just("owner"),
        Just("title"),
        Just("status"),
        Just("priority"),
        Just("due"),
        Just("at"),
        Just("tz"),
        Just("reminders"),
        Just("recurrence"),
        Just("created_at"),
        Just("updated_at"),
        Just("version"),
        Just("x"),
    ]
    .prop_map(str::to_string)
}

fn image() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(name(), attribute(), 0..12).prop_map(|m| json!(m))
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn stream_records_never_panic(
        event_name in prop_oneof![Just("INSERT"), Just("MODIFY"), Just("REMOVE"), Just("OTHER")],
        new in image(),
        old in image(),
        principal in proptest::option::of(prop_oneof![Just("dynamodb.amazonaws.com"), Just("someone")]),
        created in any::<f64>(),
    ) {
        let mut record = json!({
            "eventID": "1", "eventName": event_name, "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": created, "Keys": {}, "NewImage": new,
                "OldImage": old, "SequenceNumber": "100", "SizeBytes": 10,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            }
        });
        if let Some(p) = principal {
            record["userIdentity"] = json!({"type": "Service", "principalId": p});
        }
        if let Ok(event) = serde_json::from_value::<Event>(json!({ "Records": [record] })) {
            for r in &event.records {
                let _ = event_of(r);
            }
        }
    }
}
