//! DynamoDB stream events through the outbox's reading of their images.
#![no_main]

use aws_lambda_events::event::dynamodb::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<Event>(data) {
        for r in &event.records {
            let _ = todo_outbox::event_of(r);
        }
    }
});
