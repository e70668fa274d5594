//! Property tests of the contract's parsers of untrusted input: instants, time zones, recurrence
//! rules (and the series they produce), command bodies and Kafka record values. Seeded, so a
//! failure reproduces; bounded, so the test command stays fast. No input may panic; what is
//! accepted must be what the rest of the system can store and read back.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use todo_schema::event::decode;
use todo_schema::{Due, NewTask, Recurrence, TaskId, TaskPatch, TimeZone, Timestamp};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5eed_70d0),
        failure_persistence: None,
        ..Config::default()
    }
}

/// RFC 3339-shaped text across and beyond the representable years, with odd offsets and
/// fractions, plus arbitrary text.
fn instant_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            0u32..=10_001,
            1u32..=13,
            0u32..=32,
            0u32..=24,
            0u32..=60,
            0u32..=61,
            proptest::option::of(0u32..1_000_000_000),
            prop_oneof![
                Just("Z".to_string()),
                (any::<bool>(), 0u32..=24, 0u32..=60).prop_map(|(neg, h, m)| format!(
                    "{}{h:02}:{m:02}",
                    if neg { '-' } else { '+' }
                )),
            ],
        )
            .prop_map(|(y, mo, d, h, mi, s, frac, off)| {
                let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{off}")
            }),
        ".{0,40}",
    ]
}

/// Rule-like text: the allowed parts and some others, with plausible and hostile values.
fn rule_text() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        prop_oneof![
            Just("DAILY"),
            Just("WEEKLY"),
            Just("MONTHLY"),
            Just("YEARLY"),
            Just("HOURLY"),
            Just("x")
        ]
        .prop_map(|f| format!("FREQ={f}")),
        (-3i64..2_000).prop_map(|n| format!("INTERVAL={n}")),
        (-2i64..60).prop_map(|n| format!("COUNT={n}")),
        (-40i64..40).prop_map(|n| format!("BYMONTHDAY={n}")),
        (proptest::option::of(-60i64..60), 0usize..8).prop_map(|(n, d)| {
            let days = ["MO", "TU", "WE", "TH", "FR", "SA", "SU", "XX"];
            format!(
                "BYDAY={}{}",
                n.map(|n| n.to_string()).unwrap_or_default(),
                days[d]
            )
        }),
        (1900u32..=10_000, 1u32..=12, 1u32..=28)
            .prop_map(|(y, m, d)| format!("UNTIL={y:04}{m:02}{d:02}T000000Z")),
        "[A-Z]{1,8}=[A-Z0-9,+-]{0,8}",
    ];
    prop::collection::vec(part, 0..6).prop_map(|parts| parts.join(";"))
}

fn zone() -> impl Strategy<Value = TimeZone> {
    (0..chrono_tz::TZ_VARIANTS.len()).prop_map(|i| {
        chrono_tz::TZ_VARIANTS[i]
            .name()
            .parse()
            .expect("every tz database name parses")
    })
}

/// Any representable instant, the edges included.
fn instant() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        Just(Timestamp::MIN),
        Just(Timestamp::MAX),
        (-62_167_219_200_000i64..=253_402_300_799_999).prop_map(|ms| {
            Timestamp::from_datetime(
                chrono::DateTime::from_timestamp_millis(ms).expect("in chrono's range"),
            )
            .expect("in range")
        }),
    ]
}

proptest! {
    #![proptest_config(config(2_000))]

    /// An accepted instant is fixed-width UTC within 0000-9999 and reads back as itself.
    #[test]
    fn instants_parse_or_refuse_never_panic(text in instant_text()) {
        if let Ok(t) = text.parse::<Timestamp>() {
            let shown = t.to_string();
            prop_assert_eq!(shown.len(), 24, "{}", shown);
            prop_assert!(shown.ends_with('Z'));
            prop_assert_eq!(shown.parse::<Timestamp>(), Ok(t));
            prop_assert!(Timestamp::MIN <= t && t <= Timestamp::MAX);
        }
    }
}

proptest! {
    #![proptest_config(config(1_500))]

    /// A rule either is refused with a reason or yields a series whose next occurrence is later
    /// than its anchor and representable, in any zone, at any representable anchor.
    #[test]
    fn rules_parse_and_produce_series_without_panicking(
        text in rule_text(),
        at in instant(),
        tz in zone(),
    ) {
        if let Ok(rule) = text.parse::<Recurrence>() {
            let due = Due { at, tz };
            let _ = rule.validate_for(&due);
            if let Ok(Some((next, carried))) = rule.next_occurrence(&due) {
                prop_assert!(next.at > due.at);
                prop_assert_eq!(next.tz, due.tz);
                prop_assert!(carried.checked().is_ok());
            }
        }
        // A stored rule is read leniently and never panics either.
        let stored: Recurrence = serde_json::from_value(serde_json::Value::String(text)).unwrap();
        let _ = stored.next_occurrence(&Due { at, tz });
    }
}

proptest! {
    #![proptest_config(config(2_000))]

    /// Bodies of creates and patches: any JSON either fails to deserialize or becomes a task (or
    /// a checked patch) or a list of field errors; never a panic.
    #[test]
    fn command_bodies_never_panic(body in json_value(3)) {
        let created = serde_json::from_value::<NewTask>(body.clone())
            .ok()
            .and_then(|cmd| cmd.into_task(TaskId::generate(), "u1", Timestamp::now()).ok());
        if let Some(task) = created {
            // What is accepted can be stored and read back.
            let text = serde_json::to_string(&task).unwrap();
            prop_assert_eq!(serde_json::from_str::<todo_schema::Task>(&text).unwrap(), task);
        }
        if let Ok(patch) = serde_json::from_value::<TaskPatch>(body) {
            let _ = patch.check();
        }
    }

    /// Kafka record values: any bytes are an event, an unknown type, or a reasoned refusal.
    #[test]
    fn record_values_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), value in json_value(3)) {
        let _ = decode(&bytes);
        let _ = decode(value.to_string().as_bytes());
    }
}

/// JSON values shaped like the contract's: objects with its field names and nested values.
fn json_value(depth: u32) -> impl Strategy<Value = serde_json::Value> {
    let keys = prop_oneof![
        Just("title"),
        Just("notes"),
        Just("priority"),
        Just("tags"),
        Just("due"),
        Just("at"),
        Just("tz"),
        Just("reminders"),
        Just("before_due_minutes"),
        Just("recurrence"),
        Just("specversion"),
        Just("id"),
        Just("type"),
        Just("data"),
        Just("schemaversion"),
        Just("subject"),
        Just("time"),
        Just("owner"),
        Just("x"),
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number)),
        instant_text().prop_map(serde_json::Value::from),
        rule_text().prop_map(serde_json::Value::from),
        prop_oneof![
            Just("Europe/Berlin"),
            Just("UTC"),
            Just("high"),
            Just("task.created"),
            Just("1.0")
        ]
        .prop_map(serde_json::Value::from),
        ".{0,20}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(depth, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..7).prop_map(|m| {
                serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}
