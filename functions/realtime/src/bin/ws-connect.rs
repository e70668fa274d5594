//! The `ws-connect` function (`$connect`): wiring only; the handler is
//! `todo_realtime::routes::connect`.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use todo_realtime::routes::connect;
use todo_realtime::wiring;
use todo_schema::Timestamp;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let store = &store;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(connect(store, event.payload, Timestamp::now()).await)
        },
    ))
    .await
}
