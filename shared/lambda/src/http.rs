//! The HTTP edge: identity from the JWT authorizer, JSON bodies in, JSON and problem+json out.
//!
//! Every route maps its errors here exactly once, so all of them answer in the same shape.

use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use todo_schema::limits::{BODY_MAX_BYTES, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX};
use todo_schema::problem::{FieldError, PROBLEM_CONTENT_TYPE, Problem};

use crate::cursor::{CursorCodec, Paged, Scope, StartKey};

/// Seconds a client should wait before retrying a 503.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// The authenticated caller: the `sub` claim the API Gateway JWT authorizer verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub sub: String,
}

/// The caller, or 401 when no authorizer claims reached the function (a route deployed without
/// the authorizer must fail closed).
///
/// The subject is taken exactly as signed: `" alice"` is not `alice`. Trimming it would let a
/// token for one subject act as another's owner.
pub fn caller(req: &Request) -> Result<Caller, Problem> {
    let sub = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .and_then(|jwt| jwt.claims.get("sub"))
            .filter(|s| !s.trim().is_empty())
            .cloned(),
        _ => None,
    };
    sub.map(|sub| Caller { sub })
        .ok_or_else(|| Problem::unauthorized("the request carries no verified subject"))
}

/// A header's value as text, if present and valid UTF-8.
pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Parses a JSON body after checking its media type and size.
///
/// Syntax errors and a key repeated within an object are 400; well-formed JSON of the wrong shape (not an object, a wrong type, an
/// unknown field) is a 422 that names the field.
pub fn json_body<T: DeserializeOwned>(req: &Request, media_types: &[&str]) -> Result<T, Problem> {
    let content_type = header(req, "content-type").unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !media_types.contains(&essence.as_str()) {
        return Err(Problem::unsupported_media_type(format!(
            "send the body as {}",
            media_types.join(" or ")
        )));
    }
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > BODY_MAX_BYTES {
        return Err(Problem::payload_too_large(format!(
            "the body must be at most {BODY_MAX_BYTES} bytes"
        )));
    }
    let value = crate::json::parse_unique_keys(bytes)
        .map_err(|e| Problem::bad_request(format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(Problem::validation(vec![FieldError::new(
            "body",
            "invalid",
            "the body must be a JSON object",
        )]));
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        Problem::validation(vec![field_error(&path, err.inner())])
    })
}

/// Turns a serde data error into a field error, naming an unknown field itself.
fn field_error(path: &str, err: &serde_json::Error) -> FieldError {
    let message = err.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    let parent = if path == "." { "" } else { path };
    match unknown {
        Some(name) => FieldError::new(
            if parent.is_empty() { name } else { parent },
            "unknown_field",
            format!("{message} (server-owned fields such as id, owner and version cannot be set)"),
        ),
        None if message.starts_with("missing field `") => {
            let name = message
                .trim_start_matches("missing field `")
                .split('`')
                .next()
                .unwrap_or("");
            FieldError::new(join_path(parent, name), "required", message.clone())
        }
        None => FieldError::new(
            if parent.is_empty() { "body" } else { parent },
            "invalid",
            message.clone(),
        ),
    }
}

fn join_path(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// The request's query parameters; a 400 naming the first one whose name or value does not
/// percent-decode to UTF-8. Every route reads its parameters through here.
///
/// lambda_http decodes the event's `rawQueryString` lossily (bytes that are not UTF-8 become
/// U+FFFD), so `q=%FF%FE` would search for two replacement characters and answer an empty
/// page: an answer to a question the client did not ask. The raw query is in the URI.
pub fn query(req: &Request) -> Result<QueryMap, Problem> {
    let raw = req.uri().query().unwrap_or_default();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded_name = percent_decode(name);
        if decoded_name.is_err() || percent_decode(value).is_err() {
            // A name that is not UTF-8 is named as it was sent: U+FFFD would name nothing.
            let name = decoded_name.unwrap_or_else(|_| name.to_string());
            return Err(Problem::bad_request(format!(
                "query parameter {name}: not UTF-8 once percent-decoded"
            )));
        }
    }
    #[allow(clippy::disallowed_methods)]
    Ok(req.query_string_parameters())
}

/// A query-string name or value decoded as forms encode it (`+` a space, `%XX` a byte; a `%`
/// not followed by two hex digits is itself); when the bytes are not UTF-8, the error holds
/// them decoded lossily.
pub fn percent_decode(raw: &str) -> Result<String, String> {
    let spaced = raw.replace('+', " ");
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(&spaced).collect();
    String::from_utf8(bytes).map_err(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Refuses a query parameter outside `known`, naming it: a typo is an error, not a no-op.
pub fn only_known(params: &QueryMap, known: &[&str]) -> Result<(), Problem> {
    match params.iter().map(|(k, _)| k).find(|k| !known.contains(k)) {
        Some(unknown) => Err(Problem::bad_request(format!(
            "query parameter {unknown}: unknown; use {}",
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

/// The one value of a query parameter; a 400 when it is given more than once.
///
/// lambda_http reads an HTTP API event's `rawQueryString` (not `queryStringParameters`, where
/// API Gateway joins repeated values with commas), so a repeated parameter arrives as several
/// values and a comma stays inside its value. Taking the first value silently would answer a
/// question the client did not ask.
pub fn single<'a>(params: &'a QueryMap, name: &str) -> Result<Option<&'a str>, Problem> {
    match params.all(name).unwrap_or_default().as_slice() {
        [] => Ok(None),
        [v] => Ok(Some(v)),
        _ => Err(Problem::bad_request(format!(
            "query parameter {name}: give it once"
        ))),
    }
}

/// The paging parameters of a list route: unknown parameters refused, `limit` checked, and
/// the `cursor` as sent (decode it with [`crate::cursor::CursorCodec::start`]).
pub fn paging<'a>(params: &'a QueryMap, known: &[&str]) -> Result<(u32, Option<&'a str>), Problem> {
    only_known(params, known)?;
    Ok((page_limit(params)?, single(params, "cursor")?))
}

/// What a list route reads before anything of its own: the caller (401 without one), the query
/// string (400 unless it decodes), refused if it names a parameter outside `known`, and the page
/// asked for. Reading them in this one order makes every list answer a bad request alike.
#[derive(Clone, Debug)]
pub struct ListRequest {
    pub caller: Caller,
    pub params: QueryMap,
    /// `limit`, checked (the default page size when absent).
    pub limit: u32,
    /// `cursor` as sent; [`list_page`] decodes it within the route's scope.
    pub cursor: Option<String>,
}

impl ListRequest {
    /// Reads `req` as a list route that understands the parameters `known`.
    pub fn of(req: &Request, known: &[&str]) -> Result<Self, Problem> {
        let caller = caller(req)?;
        let params = query(req)?;
        let (limit, cursor) = paging(&params, known)?;
        let cursor = cursor.map(str::to_string);
        Ok(Self {
            caller,
            params,
            limit,
            cursor,
        })
    }
}

/// The `{name}` path parameter, parsed; `None` when absent or malformed (the routes answer 404:
/// a malformed id names nothing, like a missing one). Only the canonical spelling counts (the
/// value must read back as it was sent): an id in upper case, without dashes, in braces or as
/// a URN is another string than the resource's id, so it names nothing either.
pub fn path_param<T: std::str::FromStr + std::fmt::Display>(
    req: &Request,
    name: &str,
) -> Option<T> {
    let raw = req.path_parameters_ref()?.first(name)?;
    raw.parse::<T>().ok().filter(|v| v.to_string() == raw)
}

/// The `limit` parameter: 1 to the contract's page maximum, the default page size when absent.
pub fn page_limit(params: &QueryMap) -> Result<u32, Problem> {
    match single(params, "limit")? {
        None => Ok(PAGE_SIZE_DEFAULT),
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=PAGE_SIZE_MAX).contains(n))
            .ok_or_else(|| {
                Problem::bad_request(format!(
                    "query parameter limit: a whole number from 1 to {PAGE_SIZE_MAX}"
                ))
            }),
    }
}

/// A query-string value percent-encoded (RFC 3986: only unreserved characters stay), for links
/// a route hands out and for events built from requests.
pub fn percent_encode(v: &str) -> String {
    /// Everything but RFC 3986's unreserved characters.
    const RESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(v, RESERVED).to_string()
}

/// One page of a collection, as every list route answers it.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Serves HTTP API events with `handler` until the runtime stops the process.
///
/// A handler answers `Result<Response<Body>, Problem>` and leaves on its first failure with `?`;
/// the problem becomes its problem+json response here, once, so no route maps its errors by hand.
/// The handler may borrow what `main` owns (`serve(|req| handler(&store, req))`): nothing it
/// uses has to live for ever.
pub async fn serve<F, Fut, R>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Request) -> Fut,
    Fut: std::future::Future<Output = R> + Send,
    R: IntoResponse,
{
    lambda_http::run(lambda_http::service_fn(move |req: Request| {
        let response = handler(req);
        async move { Ok::<_, lambda_http::Error>(response.await.into_response()) }
    }))
    .await
}

/// What a handler's answer becomes on the wire (axum's `IntoResponse`, synchronous: our bodies are
/// in memory). A [`Problem`] answers for itself as problem+json, so a handler returns
/// `Result<Response<Body>, Problem>` and [`serve`] (or a test) turns either side into the response.
pub trait IntoResponse {
    /// The response.
    fn into_response(self) -> Response<Body>;
}

impl IntoResponse for Response<Body> {
    fn into_response(self) -> Response<Body> {
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response<Body> {
        problem_response(&self)
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response<Body> {
        match self {
            Ok(answer) => answer.into_response(),
            Err(problem) => problem.into_response(),
        }
    }
}

/// One page of a list route, answered: `read` gets where the page starts (from `cursor`,
/// refused unless it was issued for `scope`; `None` on the first page) and the answer carries the
/// cursor of the page after it, within the same scope. Every list route pages through here, so a
/// cursor means the same on all of them.
pub async fn list_page<T: Serialize>(
    cursors: &CursorCodec,
    scope: &Scope,
    cursor: Option<&str>,
    read: impl AsyncFnOnce(Option<StartKey>) -> Result<Paged<T>, Problem>,
) -> Result<Response<Body>, Problem> {
    let start = cursors.start(scope, cursor).await?;
    let page = read(start).await?;
    let next_cursor = match page.next {
        Some(key) => Some(cursors.encode(scope.as_str(), key).await?),
        None => None,
    };
    Ok(json_response(
        200,
        &Page {
            items: page.items,
            next_cursor,
        },
    ))
}

/// A JSON response with the given status.
pub fn json_response<T: Serialize>(status: u16, body: &T) -> Response<Body> {
    match serde_json::to_vec(body) {
        Ok(bytes) => Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(bytes))
            .unwrap_or_else(|_| fallback_response()),
        Err(e) => {
            tracing::error!(error = %e, "response serialization failed");
            problem_response(&Problem::internal("the response could not be produced"))
        }
    }
}

/// A problem+json response; 503s carry `Retry-After`.
pub fn problem_response(problem: &Problem) -> Response<Body> {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut builder = Response::builder()
        .status(problem.status)
        .header("content-type", PROBLEM_CONTENT_TYPE);
    if problem.status == 503 {
        builder = builder.header("retry-after", RETRY_AFTER_SECONDS.to_string());
    }
    builder
        .body(Body::from(body))
        .unwrap_or_else(|_| fallback_response())
}

/// An empty response with the given status (204, 304).
pub fn empty_response(status: u16) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(Body::Empty)
        .unwrap_or_else(|_| fallback_response())
}

fn fallback_response() -> Response<Body> {
    let mut r = Response::new(Body::Empty);
    *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body2 {
        title: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    fn request(content_type: &str, body: &str) -> Request {
        let mut req = Request::new(lambda_http::Body::from(body.to_string()));
        req.headers_mut()
            .insert("content-type", content_type.parse().unwrap());
        req
    }

    #[test]
    fn body_errors_are_classified() {
        let json = "application/json";
        let p = json_body::<Body2>(&request("text/plain", "{}"), &[json]).unwrap_err();
        assert_eq!(p.status, 415);
        let p = json_body::<Body2>(&request(json, "{"), &[json]).unwrap_err();
        assert_eq!(p.status, 400);
        let p =
            json_body::<Body2>(&request(json, r#"{"title":"x"} trailing"#), &[json]).unwrap_err();
        assert_eq!(p.status, 400);
        let p = json_body::<Body2>(&request(json, r#"{"title":"x","title":"y"}"#), &[json])
            .unwrap_err();
        assert_eq!(p.status, 400, "a repeated key makes the body ambiguous");
        let p = json_body::<Body2>(&request(json, r#"{"title":"x","owner":"y"}"#), &[json])
            .unwrap_err();
        assert_eq!(
            (
                p.status,
                p.errors[0].field.as_str(),
                p.errors[0].code.as_str()
            ),
            (422, "owner", "unknown_field")
        );
        let p = json_body::<Body2>(
            &request(json, r#"{"title":"x","inner":{"n":"five"}}"#),
            &[json],
        )
        .unwrap_err();
        assert_eq!((p.status, p.errors[0].field.as_str()), (422, "inner.n"));
        let p = json_body::<Body2>(&request(json, r#"{}"#), &[json]).unwrap_err();
        assert_eq!(
            (p.errors[0].field.as_str(), p.errors[0].code.as_str()),
            ("title", "required")
        );
        let big = format!(r#"{{"title":"{}"}}"#, "x".repeat(BODY_MAX_BYTES));
        assert_eq!(
            json_body::<Body2>(&request(json, &big), &[json])
                .unwrap_err()
                .status,
            413
        );
        assert!(
            json_body::<Body2>(
                &request("application/json; charset=utf-8", r#"{"title":"x"}"#),
                &[json]
            )
            .is_ok()
        );
    }

    fn with_query(raw: &str) -> Request {
        let mut event: serde_json::Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/http/list-tasks.json"
        )))
        .unwrap();
        event["rawQueryString"] = serde_json::json!(raw);
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    #[test]
    fn query_values_that_are_not_utf8_are_400_naming_the_parameter() {
        for (raw, name) in [
            ("q=%FF%FE", "q"),
            ("limit=5&tag=%C3", "tag"),
            ("q=ok&q=%E2%82", "q"),
            ("%FF=1", "%FF"),
            ("a%E2%82=1", "a%E2%82"),
        ] {
            let p = query(&with_query(raw)).unwrap_err();
            assert_eq!(p.status, 400, "{raw}");
            assert_eq!(
                p.detail.as_deref(),
                Some(format!("query parameter {name}: not UTF-8 once percent-decoded").as_str()),
                "{raw}"
            );
        }
        let params = query(&with_query("q=%C3%81gua+plants&x=%zz&empty=")).unwrap();
        assert_eq!(params.first("q"), Some("Água plants"));
        assert_eq!(params.first("x"), Some("%zz"), "a stray % is itself");
        assert_eq!(params.first("empty"), Some(""));
    }

    #[test]
    fn no_claims_means_unauthorized() {
        let req = Request::new(lambda_http::Body::Empty);
        assert_eq!(caller(&req).unwrap_err().status, 401);
    }

    #[test]
    fn service_unavailable_carries_retry_after() {
        let r = Problem::service_unavailable("throttled").into_response();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "1");
        assert_eq!(r.headers()["content-type"], PROBLEM_CONTENT_TYPE);
    }
}
