//! What a request to a local AWS endpoint asks of IAM, and how each service answers a refusal.
//!
//! - Who: the access key id in the SigV4 `Authorization` header
//!   (`AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request, ...`).
//! - What: DynamoDB's operations map to IAM actions one to one, but for the calls that carry
//!   several: `TransactWriteItems` needs, per item, the action of the item's operation
//!   (`PutItem`, `UpdateItem`, `DeleteItem`, `ConditionCheckItem`) on that item's table, and
//!   `TransactGetItems` `GetItem` per item (DynamoDB developer guide, "Using IAM with DynamoDB
//!   transactions"); `BatchWriteItem` and `BatchGetItem` need their own action on every table
//!   they name. A `Query` or `Scan` with `IndexName` is on the index's ARN
//!   (`table/T/index/I`), not the table's.

use serde_json::{Value, json};

use super::policy::Request;
use crate::template::table_arn;

/// The access key id a SigV4-signed request names, if it is signed.
pub fn access_key(authorization: Option<&str>) -> Option<&str> {
    let rest = authorization?.split("Credential=").nth(1)?;
    rest.split('/').next().filter(|k| !k.is_empty())
}

/// The IAM requests one DynamoDB (or DynamoDB Streams) API call makes, from its
/// `X-Amz-Target` and JSON body; `Err` names what could not be read (answered as DynamoDB's
/// `ValidationException` would be, before any authorization).
pub fn dynamodb(target: &str, body: &Value) -> Result<Vec<Request>, String> {
    let (streams, operation) = match target.split_once('.') {
        Some(("DynamoDB_20120810", op)) => (false, op),
        Some(("DynamoDBStreams_20120810", op)) => (true, op),
        _ => return Err(format!("unknown target {target:?}")),
    };
    let table = |v: &Value| -> Result<String, String> {
        let name = v
            .as_str()
            .ok_or_else(|| format!("{operation}: no TableName"))?;
        Ok(if name.starts_with("arn:") {
            name.to_string()
        } else {
            table_arn(name)
        })
    };
    let action = |op: &str| format!("dynamodb:{op}");
    if streams {
        let resource = body["StreamArn"]
            .as_str()
            .map(str::to_string)
            .or_else(|| body["ShardIterator"].as_str().map(|_| "*".to_string()))
            .unwrap_or_else(|| "*".to_string());
        return Ok(vec![Request::new(action(operation), resource)]);
    }
    Ok(match operation {
        "ListTables" | "DescribeLimits" | "DescribeEndpoints" | "ListBackups"
        | "ListGlobalTables" | "ListExports" | "ListImports" => {
            vec![Request::new(action(operation), "*")]
        }
        "Query" | "Scan" => {
            let mut resource = table(&body["TableName"])?;
            if let Some(index) = body["IndexName"].as_str() {
                resource = format!("{resource}/index/{index}");
            }
            vec![Request::new(action(operation), resource)]
        }
        "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .ok_or_else(|| format!("{operation}: no RequestItems"))?
            .keys()
            .map(|t| Ok(Request::new(action(operation), table(&json!(t))?)))
            .collect::<Result<_, String>>()?,
        "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
            .as_array()
            .ok_or_else(|| format!("{operation}: no TransactItems"))?
            .iter()
            .map(|item| {
                let (kind, op) = item
                    .as_object()
                    .and_then(|m| m.iter().next())
                    .ok_or_else(|| format!("{operation}: an empty item"))?;
                let underlying = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    "Get" => "GetItem",
                    other => return Err(format!("{operation}: unknown item kind {other}")),
                };
                Ok(Request::new(action(underlying), table(&op["TableName"])?))
            })
            .collect::<Result<_, String>>()?,
        "ExecuteStatement" | "BatchExecuteStatement" | "ExecuteTransaction" => {
            // PartiQL's actions depend on the statement's verb; nothing here uses it.
            return Err(format!(
                "{operation} (PartiQL) is not authorized by the local cloud"
            ));
        }
        _ => vec![Request::new(action(operation), table(&body["TableName"])?)],
    })
}

/// How AWS words a refusal: `User: <principal> is not authorized to perform: <action> on
/// resource: <arn> because no identity-based policy allows the <action> action` (or `with an
/// explicit deny in an identity-based policy`).
pub fn denial_message(principal: &str, request: &Request, explicit: bool) -> String {
    let because = if explicit {
        "with an explicit deny in an identity-based policy".to_string()
    } else {
        format!(
            "because no identity-based policy allows the {} action",
            request.action
        )
    };
    format!(
        "User: {principal} is not authorized to perform: {} on resource: {} {because}",
        request.action, request.resource
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/T";

    #[test]
    fn the_key_id_comes_from_the_credential_scope() {
        assert_eq!(
            access_key(Some(
                "AWS4-HMAC-SHA256 Credential=ASIA0000/20261206/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00"
            )),
            Some("ASIA0000")
        );
        assert_eq!(access_key(Some("Bearer x")), None);
        assert_eq!(access_key(None), None);
    }

    #[test]
    fn transactions_and_batches_need_the_underlying_action_per_item_and_table() {
        let requests = dynamodb(
            "DynamoDB_20120810.TransactWriteItems",
            &json!({"TransactItems": [
                {"Put": {"TableName": "T", "Item": {}}},
                {"Update": {"TableName": "U", "Key": {}}},
                {"Delete": {"TableName": "T", "Key": {}}},
                {"ConditionCheck": {"TableName": T, "Key": {}}},
            ]}),
        )
        .unwrap();
        let got: Vec<(String, String)> = requests
            .into_iter()
            .map(|r| (r.action, r.resource))
            .collect();
        assert_eq!(
            got,
            [
                ("dynamodb:PutItem".into(), T.into()),
                ("dynamodb:UpdateItem".into(), table_arn("U")),
                ("dynamodb:DeleteItem".into(), T.into()),
                ("dynamodb:ConditionCheckItem".into(), T.into()),
            ]
        );
        let batch = dynamodb(
            "DynamoDB_20120810.BatchWriteItem",
            &json!({"RequestItems": {"T": [], "U": []}}),
        )
        .unwrap();
        assert_eq!(batch.len(), 2);
        assert!(batch.iter().all(|r| r.action == "dynamodb:BatchWriteItem"));
    }

    #[test]
    fn a_query_on_an_index_is_on_the_index() {
        let r = dynamodb(
            "DynamoDB_20120810.Query",
            &json!({"TableName": "T", "IndexName": "by-day"}),
        )
        .unwrap();
        assert_eq!(
            r,
            [Request::new("dynamodb:Query", format!("{T}/index/by-day"))]
        );
        assert!(dynamodb("DynamoDB_20120810.GetItem", &json!({})).is_err());
        assert!(dynamodb("Nope.GetItem", &json!({})).is_err());
    }
}
