//! Property tests of the list route's query string and of path ids: any parameters are a list
//! query or a 400 naming what is wrong; never a panic, never another status.

use std::collections::HashMap;

use lambda_http::aws_lambda_events::query_map::QueryMap;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use todo_tasks::http::list_query::{parse, scope};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5eed_70d3),
        failure_persistence: None,
        ..Config::default()
    }
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("open".to_string()),
        Just("completed".to_string()),
        Just("high,urgent".to_string()),
        Just("due".to_string()),
        Just("desc".to_string()),
        Just("2031-01-01T00:00:00Z".to_string()),
        Just("9999-12-31T23:59:59-23:59".to_string()),
        Just("true".to_string()),
        (-5i64..200).prop_map(|n| n.to_string()),
        ".{0,30}",
    ]
}

fn params() -> impl Strategy<Value = QueryMap> {
    let name = prop_oneof![
        Just("status"),
        Just("priority"),
        Just("tag"),
        Just("q"),
        Just("due_before"),
        Just("due_after"),
        Just("overdue"),
        Just("sort"),
        Just("order"),
        Just("limit"),
        Just("cursor"),
        Just("x"),
    ];
    prop::collection::vec((name, prop::collection::vec(value(), 1..3)), 0..8).prop_map(|pairs| {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, vs) in pairs {
            map.entry(k.to_string()).or_default().extend(vs);
        }
        QueryMap::from(map)
    })
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn list_queries_are_parsed_or_a_400(params in params(), owner in ".{1,10}") {
        match parse(&params) {
            Ok((query, _cursor)) => {
                prop_assert!((1..=100).contains(&query.limit));
                // The cursor scope of an accepted query is well defined.
                let _ = scope(&owner, &query);
            }
            Err(problem) => prop_assert_eq!(problem.status, 400),
        }
    }
}
