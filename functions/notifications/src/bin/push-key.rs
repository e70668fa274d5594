//! The `push-key` function: wiring only; the handler is
//! `todo_notifications::http::push::vapid_public_key`, over the key pair derived from the
//! secret `VAPID_KEY_SECRET_ARN` names.

use lambda_http::Error;
use todo_lambda::http::serve;
use todo_notifications::channels::push::{vapid_key_pair, vapid_public_key};
use todo_notifications::http::push;

#[tokio::main]
async fn main() -> Result<(), Error> {
    todo_lambda::init_tracing();
    let secret = todo_lambda::secrets::secret_string("VAPID_KEY_SECRET_ARN").await?;
    let key = vapid_public_key(&vapid_key_pair(&secret)?);
    serve(|req| push::vapid_public_key(&key, req)).await
}
