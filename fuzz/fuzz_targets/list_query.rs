//! The list route's query string: `name=value&...` pairs as API Gateway splits them.
#![no_main]

use std::collections::HashMap;

use aws_lambda_events::query_map::QueryMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for pair in text.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        map.entry(k.to_string()).or_default().push(v.to_string());
    }
    match todo_tasks::http::list_query::parse(&QueryMap::from(map)) {
        Ok((query, _)) => assert!((1..=100).contains(&query.limit)),
        Err(p) => assert_eq!(p.status, 400),
    }
});
