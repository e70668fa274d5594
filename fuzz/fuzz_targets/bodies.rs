//! Request bodies (create and merge patch) as the HTTP edge reads them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use todo_schema::{NewTask, TaskId, TaskPatch, Timestamp};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = todo_lambda::json::parse_unique_keys(data) else {
        return;
    };
    if let Ok(cmd) = serde_json::from_value::<NewTask>(value.clone()) {
        if let Ok(task) = cmd.into_task(TaskId::generate(), "fuzz", Timestamp::now()) {
            let text = serde_json::to_string(&task).expect("a task serializes");
            let back: todo_schema::Task = serde_json::from_str(&text).expect("and reads back");
            assert_eq!(back, task);
        }
    }
    if let Ok(patch) = serde_json::from_value::<TaskPatch>(value) {
        let _ = patch.check();
    }
});
