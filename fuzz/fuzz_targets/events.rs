//! Kafka record values (the CloudEvents decoder) and whole MSK events.
#![no_main]

use aws_lambda_events::event::kafka::KafkaEvent;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = todo_schema::event::decode(data);
    if let Ok(event) = serde_json::from_slice::<KafkaEvent>(data) {
        for records in event.records.values() {
            for r in records {
                let _ = todo_lambda::kafka::decode_record(r);
            }
        }
    }
});
