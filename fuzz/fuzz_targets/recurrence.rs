//! RRULE text anchored at any representable instant in any zone: parse, validate, next date.
#![no_main]

use libfuzzer_sys::fuzz_target;
use todo_schema::{Due, Recurrence, Timestamp};

fuzz_target!(|data: &[u8]| {
    if data.len() < 10 {
        return;
    }
    let (head, rule) = data.split_at(10);
    let millis = i64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    let span = 253_402_300_799_999i64 + 62_167_219_200_000;
    let millis = millis.rem_euclid(span) - 62_167_219_200_000;
    let zone = u16::from_le_bytes([head[8], head[9]]) as usize % chrono_tz::TZ_VARIANTS.len();
    let (Some(dt), Ok(tz)) = (
        chrono::DateTime::from_timestamp_millis(millis),
        chrono_tz::TZ_VARIANTS[zone].name().parse(),
    ) else {
        return;
    };
    let Ok(at) = Timestamp::from_datetime(dt) else {
        return;
    };
    let due = Due { at, tz };
    let text = String::from_utf8_lossy(rule).into_owned();
    if let Ok(rule) = text.parse::<Recurrence>() {
        let _ = rule.validate_for(&due);
        if let Ok(Some((next, _))) = rule.next_occurrence(&due) {
            assert!(next.at > due.at);
        }
    }
    let stored: Recurrence =
        serde_json::from_value(serde_json::Value::String(text)).expect("any text");
    let _ = stored.next_occurrence(&due);
});
