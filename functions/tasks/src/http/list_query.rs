//! The query string of `GET /tasks`, parsed strictly: an unknown parameter or a bad value is a
//! 400 that names it, never silently ignored.

use lambda_http::aws_lambda_events::query_map::QueryMap;
use todo_lambda::cursor::Scope;
use todo_lambda::http::{only_known, page_limit, single};
use todo_schema::limits::{FILTER_VALUES_MAX, SEARCH_QUERY_MAX_CHARS};
use todo_schema::{Problem, validation};

use crate::store::{ListQuery, SortField};

/// Every parameter `GET /tasks` understands.
const KNOWN: [&str; 11] = [
    "status",
    "priority",
    "tag",
    "q",
    "due_before",
    "due_after",
    "overdue",
    "sort",
    "order",
    "limit",
    "cursor",
];

fn bad(name: &str, why: impl std::fmt::Display) -> Problem {
    Problem::bad_request(format!("query parameter {name}: {why}"))
}

/// All values of a repeatable parameter; `a,b` counts as two.
fn many<'a>(params: &'a QueryMap, name: &str) -> Vec<&'a str> {
    params
        .all(name)
        .unwrap_or_default()
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

/// The list query and the cursor, if any.
pub fn parse(params: &QueryMap) -> Result<(ListQuery, Option<String>), Problem> {
    only_known(params, &KNOWN)?;
    let mut q = ListQuery::default();
    if let Some(v) = single(params, "status")? {
        q.status = Some(
            v.parse()
                .map_err(|_| bad("status", "use open or completed"))?,
        );
    }
    for v in many(params, "priority") {
        let p = v
            .parse()
            .map_err(|_| bad("priority", "use low, medium, high or urgent"))?;
        if !q.priorities.contains(&p) {
            q.priorities.push(p);
        }
    }
    for v in many(params, "tag") {
        let t = validation::tag(v, "tag").map_err(|e| bad("tag", e.message))?;
        if !q.tags.contains(&t) {
            q.tags.push(t);
        }
    }
    if q.priorities.len() > FILTER_VALUES_MAX || q.tags.len() > FILTER_VALUES_MAX {
        return Err(bad(
            "priority/tag",
            format!("at most {FILTER_VALUES_MAX} values"),
        ));
    }
    if let Some(v) = single(params, "q")? {
        let text = v.trim().to_lowercase();
        if text.chars().count() > SEARCH_QUERY_MAX_CHARS {
            return Err(bad(
                "q",
                format!("at most {SEARCH_QUERY_MAX_CHARS} characters"),
            ));
        }
        q.text = (!text.is_empty()).then_some(text);
    }
    for (name, slot) in [
        ("due_before", &mut q.due_before),
        ("due_after", &mut q.due_after),
    ] {
        if let Some(v) = single(params, name)? {
            *slot = Some(v.parse().map_err(|e| bad(name, e))?);
        }
    }
    if let Some(v) = single(params, "overdue")? {
        q.overdue = Some(match v {
            "true" => true,
            "false" => false,
            _ => return Err(bad("overdue", "use true or false")),
        });
    }
    if let Some(v) = single(params, "sort")? {
        q.sort = SortField::ALL
            .iter()
            .find(|(_, name)| *name == v)
            .map(|(f, _)| *f)
            .ok_or_else(|| bad("sort", "use created, due, priority, title or updated"))?;
    }
    if let Some(v) = single(params, "order")? {
        q.descending = match v {
            "asc" => false,
            "desc" => true,
            _ => return Err(bad("order", "use asc or desc")),
        };
    }
    single(params, "limit")?;
    q.limit = page_limit(params)?;
    let cursor = single(params, "cursor")?.map(str::to_string);
    Ok((q, cursor))
}

/// What a cursor is bound to: the owner and everything about the query but the page size.
pub fn scope(owner: &str, q: &ListQuery) -> Scope {
    // Filters that are sets: the same values in another order are the same query.
    let set = |mut items: Vec<&str>| {
        items.sort_unstable();
        items.dedup();
        items.join(",")
    };
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
    Scope::new("tasks", 1)
        .part(owner)
        .part(opt(q.status.map(|s| s.as_str().to_string())))
        .part(set(q.priorities.iter().map(|p| p.as_str()).collect()))
        .part(set(q.tags.iter().map(String::as_str).collect()))
        .part(opt(q.text.clone()))
        .part(opt(q.due_before.map(|t| t.to_string())))
        .part(opt(q.due_after.map(|t| t.to_string())))
        .part(opt(q.overdue.map(|o| o.to_string())))
        .part(q.sort.as_str())
        .part(if q.descending { "desc" } else { "asc" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use todo_schema::{Priority, Status};

    fn params(pairs: &[(&str, &str)]) -> QueryMap {
        let mut map = std::collections::HashMap::<String, Vec<String>>::new();
        for (k, v) in pairs {
            map.entry(k.to_string()).or_default().push(v.to_string());
        }
        QueryMap::from(map)
    }

    #[test]
    fn parses_filters_and_sorts() {
        let (q, cursor) = parse(&params(&[
            ("status", "open"),
            ("priority", "high,urgent"),
            ("priority", "high"),
            ("tag", "Home"),
            ("q", " Milk "),
            ("due_before", "2026-01-01T00:00:00Z"),
            ("overdue", "true"),
            ("sort", "due"),
            ("order", "desc"),
            ("limit", "5"),
            ("cursor", "abc"),
        ]))
        .unwrap();
        assert_eq!(q.status, Some(Status::Open));
        assert_eq!(q.priorities, vec![Priority::High, Priority::Urgent]);
        assert_eq!(q.tags, vec!["home"]);
        assert_eq!(q.text.as_deref(), Some("milk"));
        assert_eq!(q.sort, SortField::Due);
        assert!(q.descending);
        assert_eq!(q.limit, 5);
        assert_eq!(cursor.as_deref(), Some("abc"));
    }

    #[test]
    fn rejects_bad_parameters_by_name() {
        let cases: [&[(&str, &str)]; 9] = [
            &[("stat", "open")],
            &[("status", "done")],
            &[("priority", "p1")],
            &[("limit", "0")],
            &[("limit", "101")],
            &[("sort", "colour")],
            &[("order", "up")],
            &[("due_after", "yesterday")],
            &[("limit", "5"), ("limit", "6")],
        ];
        for case in cases {
            let p = parse(&params(case)).unwrap_err();
            assert_eq!(p.status, 400, "{case:?}");
            assert!(p.detail.unwrap().contains(case[0].0), "{case:?}");
        }
    }

    /// Through the event API Gateway sends: lambda_http reads its `rawQueryString`.
    #[test]
    fn values_read_as_api_gateway_delivers_them() {
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/http/list-tasks.json"
        );
        let mut event: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
        let parsed = |event: &serde_json::Value| {
            let req = lambda_http::request::from_str(&event.to_string()).unwrap();
            parse(&todo_lambda::http::query(&req)?)
        };
        // API Gateway's own rendering of a repeated parameter is "1,2" in
        // queryStringParameters; the raw query string is what is read.
        event["queryStringParameters"] = serde_json::json!({"q": "Milk, eggs", "limit": "1,2"});
        event["rawQueryString"] = serde_json::json!("q=Milk%2C%20eggs&limit=5");
        let (q, _) = parsed(&event).unwrap();
        assert_eq!(
            q.text.as_deref(),
            Some("milk, eggs"),
            "a comma is part of the text"
        );
        event["rawQueryString"] = serde_json::json!("limit=1&limit=2");
        assert!(parsed(&event).is_err(), "limit given twice is refused");
        event["rawQueryString"] = serde_json::json!("q=a&q=b");
        assert!(parsed(&event).is_err(), "q given twice is refused");
    }

    #[test]
    fn scope_ignores_page_size_only() {
        let (a, _) = parse(&params(&[("limit", "5")])).unwrap();
        let (b, _) = parse(&params(&[("limit", "50")])).unwrap();
        let (c, _) = parse(&params(&[("sort", "title")])).unwrap();
        assert_eq!(scope("u", &a), scope("u", &b));
        assert_ne!(scope("u", &a), scope("u", &c));
        assert_ne!(scope("u", &a), scope("v", &a));
        let urgent_high = ListQuery {
            priorities: vec![Priority::Urgent, Priority::High],
            ..a.clone()
        };
        let high_urgent = ListQuery {
            priorities: vec![Priority::High, Priority::Urgent],
            ..a.clone()
        };
        assert_eq!(scope("u", &urgent_high), scope("u", &high_urgent));
    }
}
