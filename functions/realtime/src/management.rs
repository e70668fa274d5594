//! The API Gateway Management API: posting to a connection.
//!
//! Its endpoint is the WebSocket API's own URL with the stage
//! (`https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`), set explicitly; the SDK's
//! `AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI` overrides it, as the local cloud does.

use std::future::Future;

use aws_sdk_apigatewaymanagement::primitives::Blob;

/// Why a post did not reach the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PostError {
    /// 410: the connection is gone (or its `$connect` has not completed yet).
    Gone,
    /// Anything else: throttled, too large, unreachable.
    Failed(String),
}

/// Sends messages to connections.
pub trait PostToConnection {
    fn post(
        &self,
        connection_id: &str,
        data: &[u8],
    ) -> impl Future<Output = Result<(), PostError>> + Send;
}

/// The Management API client, built once per process.
#[derive(Clone, Debug)]
pub struct ManagementApi {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ManagementApi {
    /// A client for the API at `endpoint`, unless the environment names another.
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let mut config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk);
        if std::env::var_os("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI").is_none() {
            config = config.endpoint_url(endpoint);
        }
        Self {
            client: aws_sdk_apigatewaymanagement::Client::from_conf(config.build()),
        }
    }
}

impl PostToConnection for ManagementApi {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), PostError> {
        match self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(data))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_gone_exception()) => {
                Err(PostError::Gone)
            }
            Err(e) => Err(PostError::Failed(
                aws_sdk_apigatewaymanagement::error::DisplayErrorContext(e).to_string(),
            )),
        }
    }
}
