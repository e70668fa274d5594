//! The `ws-disconnect` function (`$disconnect`): wiring only; the handler is
//! `todo_realtime::routes::disconnect`.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use todo_realtime::routes::disconnect;
use todo_realtime::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let store = &store;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(disconnect(store, event.payload).await)
        },
    ))
    .await
}
