//! The `audit-export` function (`GET /audit/export`): wiring only; the handler is
//! `todo_audit::http::export::audit_export`.

use lambda_http::Error;
use todo_audit::http::export::audit_export;
use todo_audit::wiring;
use todo_lambda::cursor::CursorCodec;
use todo_lambda::http::serve;
use todo_schema::Timestamp;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let cursors = CursorCodec::from_secret()?;
    serve(|req| audit_export(&store, &cursors, req, Timestamp::now())).await
}
