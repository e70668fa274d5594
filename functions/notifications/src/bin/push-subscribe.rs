//! The `push-subscribe` function: wiring only; the handler is
//! `todo_notifications::http::push::subscribe`. `PUSH_SERVICE_HOSTS` (comma-separated host
//! suffixes, or origins) names the push services endpoints may be on.

use lambda_http::Error;
use todo_lambda::config::{list, required};
use todo_lambda::http::serve;
use todo_notifications::http::push::subscribe;
use todo_notifications::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    required("PUSH_SERVICE_HOSTS")?;
    let hosts = list("PUSH_SERVICE_HOSTS");
    serve(|req| subscribe(&store, &hosts, req)).await
}
