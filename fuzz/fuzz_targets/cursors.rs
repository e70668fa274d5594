//! Paging cursors as clients send them back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use todo_lambda::cursor::{CursorCodec, Scope};

fuzz_target!(|data: &[u8]| {
    let codec = CursorCodec::new(b"0123456789abcdef0123456789abcdef".to_vec());
    let text = String::from_utf8_lossy(data);
    if let Err(p) = codec.start(&Scope::new("tasks", 1).part("fuzz"), Some(&text)) {
        assert_eq!(p.status, 400);
    }
});
