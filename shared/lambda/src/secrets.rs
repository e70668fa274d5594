//! Secrets from AWS Secrets Manager, read once per process: the webhook signing secret, the
//! VAPID key and Kafka SCRAM credentials in `main`, the cursor signing key when a request first
//! needs it ([`crate::cursor::CursorCodec`]). A function's environment names only the secret's
//! ARN (`*_SECRET_ARN`), so no secret shows in the console, in the template's parameters or in
//! CloudFormation's events; at most one GetSecretValue per execution environment is the whole
//! cost. The endpoint comes from `AWS_ENDPOINT_URL_SECRETS_MANAGER` when set (the local
//! cloud serves one).

use aws_config::BehaviorVersion;

use crate::config::{ConfigError, required};

/// The value of the secret whose ARN the environment variable `arn_variable` holds.
pub async fn secret_string(arn_variable: &'static str) -> Result<String, ConfigError> {
    let arn = required(arn_variable)?;
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let answer = aws_sdk_secretsmanager::Client::new(&config)
        .get_secret_value()
        .secret_id(&arn)
        .send()
        .await
        .map_err(|e| ConfigError::Invalid {
            name: arn_variable,
            reason: format!(
                "cannot read secret {arn}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            ),
        })?;
    answer
        .secret_string()
        .map(str::to_string)
        .ok_or(ConfigError::Invalid {
            name: arn_variable,
            reason: format!("secret {arn} holds no text"),
        })
}
