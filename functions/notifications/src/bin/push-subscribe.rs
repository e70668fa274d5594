//! The `push-subscribe` function: wiring only; the handler is
//! `todo_notifications::http::push::subscribe`. `PUSH_SERVICE_HOSTS` (comma-separated host
//! suffixes, or origins) names the push services endpoints may be on.

use lambda_http::Error;
use todo_lambda::config::required;
use todo_lambda::http::serve;
use todo_notifications::http::push::subscribe;
use todo_notifications::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let hosts: &'static [String] = Box::leak(
        required("PUSH_SERVICE_HOSTS")?
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    serve(move |req| subscribe(store, hosts, req)).await
}
