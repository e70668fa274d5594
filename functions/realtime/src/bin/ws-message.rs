//! The `ws-message` function (the `ping` and `$default` routes): wiring only; the handler is
//! `todo_realtime::routes::message`.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use todo_realtime::routes::message;

#[tokio::main]
async fn main() -> Result<(), Error> {
    todo_lambda::init_tracing();
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(message(event.payload).await)
        },
    ))
    .await
}
