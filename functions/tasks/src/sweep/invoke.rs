//! The deployed [`Dispatch`]: Lambda's asynchronous Invoke of the sweep-worker function. Lambda
//! queues the part and answers 202 at once; the worker runs beside the sweep.

use aws_sdk_lambda::Client;
use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use super::fanout::{Dispatch, DispatchError, Part};

/// The sweep-worker function, invoked asynchronously.
pub struct LambdaWorkers {
    client: Client,
    function: String,
}

impl LambdaWorkers {
    pub fn new(client: Client, function: impl Into<String>) -> Self {
        Self {
            client,
            function: function.into(),
        }
    }
}

impl Dispatch for LambdaWorkers {
    async fn dispatch(&self, part: &Part) -> Result<(), DispatchError> {
        let payload = serde_json::to_vec(part).map_err(|e| DispatchError(e.to_string()))?;
        let out = self
            .client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| DispatchError(DisplayErrorContext(e).to_string()))?;
        // "For asynchronous invocation, ... the status code is 202" (Lambda API reference,
        // Invoke, Response Syntax).
        match out.status_code() {
            202 => Ok(()),
            other => Err(DispatchError(format!(
                "Invoke of {} answered {other}, not 202",
                self.function
            ))),
        }
    }
}
