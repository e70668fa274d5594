//! What every realtime binary does before it serves (see `todo_lambda::wiring`).

use todo_lambda::config::{ConfigError, required};
use todo_lambda::jwt::Rules;

use crate::authorizer::OidcKeys;
use crate::management::ManagementApi;
use crate::store::DynamoConnections;

/// The connections table from `CONNECTIONS_TABLE`.
pub async fn store() -> Result<DynamoConnections, ConfigError> {
    todo_lambda::wiring::table_store("CONNECTIONS_TABLE", DynamoConnections::new).await
}

/// The Management API of the WebSocket API at `REALTIME_ENDPOINT` (its URL with the stage).
pub async fn management() -> Result<ManagementApi, ConfigError> {
    let endpoint = required("REALTIME_ENDPOINT")?;
    let sdk = todo_lambda::aws::sdk_config().await;
    Ok(ManagementApi::new(&sdk, &endpoint))
}

/// The token rules (`JWT_ISSUER`, `JWT_AUDIENCE`: the HTTP API authorizer's) and the issuer's
/// keys.
pub fn authorizer() -> Result<(Rules, OidcKeys), ConfigError> {
    todo_lambda::init_tracing();
    let issuer = required("JWT_ISSUER")?;
    let rules = Rules {
        audiences: vec![required("JWT_AUDIENCE")?],
        issuer: issuer.clone(),
    };
    Ok((rules, OidcKeys::new(&issuer)))
}
