//! The DynamoDB kit every store shares: the client (built once per process in `main`), the
//! attribute values and keys our tables are made of, the one update-expression builder, and the
//! page a Query reads.

mod attr;
mod expr;
mod page;

pub use attr::{key, n, s, shard_of, user_of_pk, user_pk};
pub use expr::Expr;
pub use page::{lenient_page, page, query_page, start_key_item, start_key_of};

use crate::table::{Item, TableError};

/// Writes `item` whole, unconditionally (replacing what its key held): the stores' plain put.
pub async fn put(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    item: Item,
) -> Result<(), TableError> {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .map(|_| ())
        .map_err(TableError::of)
}

/// A client of the SDK configuration every function shares (`crate::aws::sdk_config`: the
/// endpoint from `AWS_ENDPOINT_URL_DYNAMODB` when set, bounded retries and timeouts).
pub async fn client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&crate::aws::sdk_config().await)
}
