//! Property tests of the edge's parsers of untrusted input: JSON bodies (duplicate keys), paging
//! cursors, and MSK events and their records. Seeded and bounded; no input may panic.

use aws_lambda_events::event::kafka::KafkaEvent;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use todo_lambda::cursor::{CursorCodec, Scope};
use todo_lambda::json::parse_unique_keys;
use todo_lambda::kafka::decode_record;

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5eed_70d1),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(1_500))]

    /// Any bytes: refused, or the same value serde_json reads (when it has no repeated key).
    #[test]
    fn bodies_parse_like_serde_json_or_are_refused(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            r#"\{("[a-c]":(1|"x"|\[\]|\{\}|null),?){0,5}\}"#.prop_map(String::into_bytes),
        ]
    ) {
        if let Ok(v) = parse_unique_keys(&bytes) {
            prop_assert_eq!(serde_json::from_slice::<serde_json::Value>(&bytes).ok(), Some(v));
        }
    }

    /// A cursor is honoured only within the scope it was issued for; anything else is a 400.
    #[test]
    fn cursors_never_panic_and_only_open_their_own_scope(
        text in ".{0,120}",
        owner in "[a-z]{1,6}",
        other in "[a-z]{1,6}",
        key in prop::collection::hash_map("[a-z]{1,4}", ".{0,12}", 0..3),
    ) {
        let codec = CursorCodec::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let mine = Scope::new("tasks", 1).part(&owner);
        let theirs = Scope::new("tasks", 1).part(&other);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            if let Err(p) = codec.start(&mine, Some(&text)).await {
                prop_assert_eq!(p.status, 400);
            }
            let cursor = codec.encode(mine.as_str(), key.clone()).await.unwrap();
            prop_assert_eq!(codec.start(&mine, Some(&cursor)).await.unwrap(), Some(key));
            if owner != other {
                prop_assert_eq!(
                    codec.start(&theirs, Some(&cursor)).await.unwrap_err().status,
                    400
                );
            }
            Ok(())
        })?;
    }

    /// Raw MSK events (any JSON) and any record values: parsed or refused, never a panic.
    #[test]
    fn msk_events_and_records_never_panic(
        value in proptest::option::of(prop_oneof![
            prop::collection::vec(any::<u8>(), 0..100).prop_map(|b| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(b)
            }),
            ".{0,40}",
        ]),
        offset in any::<i64>(),
        timestamp in any::<i64>(),
        noise in ".{0,60}",
    ) {
        let event = serde_json::json!({
            "eventSource": "aws:kafka",
            "records": {"todo.task.events-0": [{
                "topic": "todo.task.events", "partition": 0, "offset": offset,
                "timestamp": timestamp, "timestampType": "CREATE_TIME",
                "key": null, "value": value, "headers": []
            }]}
        });
        if let Ok(e) = serde_json::from_value::<KafkaEvent>(event) {
            for records in e.records.values() {
                for r in records {
                    let _ = decode_record(r);
                }
            }
        }
        let _ = serde_json::from_str::<KafkaEvent>(&noise);
    }
}
