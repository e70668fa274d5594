//! Deliveries a channel makes later: parked items and the sparse GSI `parked`.
//!
//! | key | value |
//! |---|---|
//! | `pk` | `USER#<owner>` |
//! | `sk` | `PARK#<channel>#<id>` (the notification's or the event's id) |
//! | `content` | what the channel needs to send it again (the notification, or the event) |
//! | `park_pk` | `PARK#<channel>#<lane>`: the GSI's key |
//! | `park_at` | when it is due, fixed-width UTC (string order is time order): the GSI's sort key |
//!
//! A channel's parked deliveries are spread over [`PARK_LANES`] index partitions (the lane is the
//! id's shard, `todo_lambda::dynamodb::shard_of`). One partition per channel would take every park
//! of that channel: when quiet hours end at 7:00 for many users, or a far end is down, a channel
//! parks a share of every reminder at once, and one GSI partition takes at most 1,000 write units a
//! second (a throttled index throttles the table's writes). A drain reads every lane. Items parked
//! before the lanes keep the key `PARK#<channel>`, read as one more lane, so a stack upgrades with
//! nothing to migrate; it empties as they are drained.

use std::future::Future;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use todo_lambda::cursor::{Paged, StartKey};
use todo_lambda::dynamodb::{key, put, query_page, s, shard_of, user_of_pk, user_pk};
use todo_lambda::table::{Failure, Item, TableError, classify};
use todo_schema::notification::{Channel, Notification};
use todo_schema::{EventEnvelope, Timestamp};
use uuid::Uuid;

use super::InboxStore;

/// The sparse index of parked deliveries, by channel and due time.
pub const INDEX_PARKED: &str = "parked";

/// Index partitions per channel: 8 take 8,000 write units a second, 4,000 within half their
/// limit, a park of at most 1 KB (a notification) each; a drain reads 9 partitions (with the
/// one of releases before the lanes).
pub const PARK_LANES: u8 = 8;

/// One of a channel's index partitions: a lane, or the key of releases before the lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    Lane(u8),
    Unsharded,
}

impl Lane {
    /// Every partition a drain reads: each lane, then the key of earlier releases.
    pub fn all() -> impl Iterator<Item = Lane> {
        (0..PARK_LANES).map(Lane::Lane).chain([Lane::Unsharded])
    }

    /// The lane an item is parked in: the id's shard, as every sharded key here takes it.
    fn of(id: Uuid) -> Lane {
        Lane::Lane(shard_of(id.as_bytes(), u16::from(PARK_LANES)) as u8)
    }

    fn key(self, channel: Channel) -> AttributeValue {
        match self {
            Lane::Lane(lane) => s(format!("PARK#{}#{lane}", channel.as_str())),
            Lane::Unsharded => s(format!("PARK#{}", channel.as_str())),
        }
    }
}

/// Something parked on a channel until `at`.
#[derive(Clone, Debug, PartialEq)]
pub struct Parked<T> {
    pub owner: String,
    pub id: Uuid,
    pub content: T,
    pub at: Timestamp,
}

/// One page of parked deliveries.
pub type ParkedPage<T> = Paged<Parked<T>>;

/// What a channel parks knows whose it is and its id, so the item's key comes from the content
/// itself and can never name another's.
pub trait Parkable: Serialize + Sync {
    /// The owner it is delivered to.
    fn owner(&self) -> &str;
    /// Its id (the notification's, or the event's), unique within its channel.
    fn id(&self) -> Uuid;
}

impl Parkable for Notification {
    fn owner(&self) -> &str {
        &self.owner
    }

    fn id(&self) -> Uuid {
        self.id
    }
}

impl Parkable for EventEnvelope {
    fn owner(&self) -> &str {
        self.payload.owner()
    }

    fn id(&self) -> Uuid {
        self.id
    }
}

/// The channels' deliveries for later: parked, found when due, and taken off.
pub trait Parking {
    /// Parks `content` on `channel` until `at`, moving it when it is parked already.
    fn park<T: Parkable>(
        &self,
        channel: Channel,
        content: &T,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), TableError>> + Send;
    /// A page of what `channel` has parked in `lane` until `due_by` or earlier, earliest first.
    fn parked<T: DeserializeOwned + Send>(
        &self,
        channel: Channel,
        lane: Lane,
        due_by: Timestamp,
        limit: i32,
        start: Option<StartKey>,
    ) -> impl Future<Output = Result<ParkedPage<T>, TableError>> + Send;
    /// Takes it off, unless it was parked again (for another time) meanwhile.
    fn unpark<T: Sync>(
        &self,
        parked: &Parked<T>,
        channel: Channel,
    ) -> impl Future<Output = Result<(), TableError>> + Send;
}

fn park_key(owner: &str, channel: Channel, id: Uuid) -> Item {
    key(user_pk(owner), format!("PARK#{}#{id}", channel.as_str()))
}

/// Reads one parked item back.
fn decode<T: DeserializeOwned>(mut item: Item) -> Result<Parked<T>, TableError> {
    let mut text = |name: &str| {
        item.remove(name)
            .and_then(|v| v.as_s().ok().cloned())
            .ok_or_else(|| TableError::corrupt(format!("a parked item without {name}")))
    };
    let owner = user_of_pk(&text("pk")?)
        .map(str::to_string)
        .ok_or_else(|| TableError::corrupt("a parked item outside a user"))?;
    let id = text("sk")?
        .rsplit('#')
        .next()
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| TableError::corrupt("a parked item without an id"))?;
    let at = text("park_at")?.parse().map_err(TableError::corrupt)?;
    let content = item
        .remove("content")
        .ok_or_else(|| TableError::corrupt("a parked item without its content"))?;
    Ok(Parked {
        owner,
        id,
        content: serde_dynamo::from_attribute_value(content).map_err(TableError::corrupt)?,
        at,
    })
}

impl Parking for InboxStore {
    async fn park<T: Parkable>(
        &self,
        channel: Channel,
        content: &T,
        at: Timestamp,
    ) -> Result<(), TableError> {
        let mut item = park_key(content.owner(), channel, content.id());
        item.insert(
            "content".into(),
            serde_dynamo::to_attribute_value(content).map_err(TableError::corrupt)?,
        );
        item.insert("park_pk".into(), Lane::of(content.id()).key(channel));
        item.insert("park_at".into(), s(at.to_string()));
        put(&self.client, &self.table, item).await
    }

    async fn parked<T: DeserializeOwned + Send>(
        &self,
        channel: Channel,
        lane: Lane,
        due_by: Timestamp,
        limit: i32,
        start: Option<StartKey>,
    ) -> Result<ParkedPage<T>, TableError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_PARKED)
            .key_condition_expression("park_pk = :p AND park_at <= :due")
            .expression_attribute_values(":p", lane.key(channel))
            .expression_attribute_values(":due", s(due_by.to_string()));
        query_page(query, limit, start, decode).await
    }

    async fn unpark<T: Sync>(
        &self,
        parked: &Parked<T>,
        channel: Channel,
    ) -> Result<(), TableError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(park_key(&parked.owner, channel, parked.id)))
            .condition_expression("park_at = :at")
            .expression_attribute_values(":at", s(parked.at.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match classify(e) {
                // Parked again for later, or already taken off: either way not ours to take.
                Failure::Condition(_) => Ok(()),
                other => Err(other.into()),
            },
        }
    }
}
