//! The `ws-authorize` function (the WebSocket API's `$connect` REQUEST authorizer): wiring
//! only; the handler is `todo_realtime::authorizer::authorize`.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use todo_realtime::authorizer::authorize;
use todo_realtime::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (rules, keys) = wiring::authorizer()?;
    let (rules, keys) = (&rules, &keys);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| async move {
            authorize(keys, rules, event.payload).await
        },
    ))
    .await
}
