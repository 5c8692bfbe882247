//! Reading and writing DynamoDB item attributes: typed access that turns a malformed stored item into
//! [`StoreError::Corrupt`] instead of a panic, and the expiry rule every read applies.

use std::collections::HashMap;
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::layout::{EXPIRES_AT, LAYOUT, NEWEST_READ_LAYOUT, WRITTEN_LAYOUT};
use crate::ports::store::StoreError;

pub(super) type Item = HashMap<String, AttributeValue>;

/// Why a stored item could not be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum ItemError {
    #[error("a stored item lacks the attribute `{0}`")]
    Missing(&'static str),
    #[error("the attribute `{0}` of a stored item has the wrong type")]
    WrongType(&'static str),
    #[error("the attribute `{attribute}` of a stored item is unreadable: {detail}")]
    Unreadable {
        attribute: &'static str,
        detail: String,
    },
    #[error("a record could not be encoded: {0}")]
    Encode(serde_json::Error),
    #[error(
        "a stored item was written in layout {found} by a newer alertwire, and this one reads layouts up to {NEWEST_READ_LAYOUT}: deploy the newer release to every function"
    )]
    NewerLayout { found: u32 },
}

impl From<ItemError> for StoreError {
    fn from(error: ItemError) -> Self {
        StoreError::Corrupt(error.to_string())
    }
}

pub(super) fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

pub(super) fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

pub(super) fn time_value(time: &DateTime<Utc>) -> AttributeValue {
    AttributeValue::S(time.to_rfc3339())
}

/// The layout attribute of an item this build writes.
pub(super) fn layout_attribute() -> (String, AttributeValue) {
    (LAYOUT.to_string(), n(WRITTEN_LAYOUT))
}

/// Refuses an item written in a layout newer than this build reads; one without the attribute is
/// layout 0.
pub(super) fn check_layout(item: &Item) -> Result<(), ItemError> {
    let found = match item.get(LAYOUT) {
        None => 0,
        Some(_) => number::<u32>(item, LAYOUT)?,
    };
    if found > NEWEST_READ_LAYOUT {
        return Err(ItemError::NewerLayout { found });
    }
    Ok(())
}

/// The record a `doc` attribute holds, once the item's layout is one this build reads.
pub(super) fn document<T: DeserializeOwned>(
    item: &Item,
    attribute: &'static str,
) -> Result<T, ItemError> {
    check_layout(item)?;
    json(item, attribute)
}

/// A record as a JSON string attribute.
pub(super) fn json_value<T: Serialize>(record: &T) -> Result<AttributeValue, ItemError> {
    serde_json::to_string(record)
        .map(AttributeValue::S)
        .map_err(ItemError::Encode)
}

pub(super) fn string<'a>(item: &'a Item, attribute: &'static str) -> Result<&'a str, ItemError> {
    optional_string(item, attribute)?.ok_or(ItemError::Missing(attribute))
}

pub(super) fn optional_string<'a>(
    item: &'a Item,
    attribute: &'static str,
) -> Result<Option<&'a str>, ItemError> {
    match item.get(attribute) {
        None | Some(AttributeValue::Null(true)) => Ok(None),
        Some(AttributeValue::S(text)) => Ok(Some(text)),
        Some(_) => Err(ItemError::WrongType(attribute)),
    }
}

pub(super) fn number<T: FromStr>(item: &Item, attribute: &'static str) -> Result<T, ItemError>
where
    T::Err: std::fmt::Display,
{
    match item.get(attribute) {
        None => Err(ItemError::Missing(attribute)),
        Some(AttributeValue::N(text)) => text.parse().map_err(|e: T::Err| ItemError::Unreadable {
            attribute,
            detail: e.to_string(),
        }),
        Some(_) => Err(ItemError::WrongType(attribute)),
    }
}

/// A number attribute that may be absent.
pub(super) fn optional_number<T: FromStr>(
    item: &Item,
    attribute: &'static str,
) -> Result<Option<T>, ItemError>
where
    T::Err: std::fmt::Display,
{
    match item.get(attribute) {
        None | Some(AttributeValue::Null(true)) => Ok(None),
        Some(_) => number(item, attribute).map(Some),
    }
}

/// A boolean attribute; absent reads as false.
pub(super) fn flag(item: &Item, attribute: &'static str) -> Result<bool, ItemError> {
    match item.get(attribute) {
        None => Ok(false),
        Some(AttributeValue::Bool(value)) => Ok(*value),
        Some(_) => Err(ItemError::WrongType(attribute)),
    }
}

pub(super) fn json<T: DeserializeOwned>(
    item: &Item,
    attribute: &'static str,
) -> Result<T, ItemError> {
    serde_json::from_str(string(item, attribute)?).map_err(|e| ItemError::Unreadable {
        attribute,
        detail: e.to_string(),
    })
}

pub(super) fn optional_time(
    item: &Item,
    attribute: &'static str,
) -> Result<Option<DateTime<Utc>>, ItemError> {
    optional_string(item, attribute)?
        .map(|text| {
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| ItemError::Unreadable {
                    attribute,
                    detail: e.to_string(),
                })
        })
        .transpose()
}

pub(super) fn time(item: &Item, attribute: &'static str) -> Result<DateTime<Utc>, ItemError> {
    optional_time(item, attribute)?.ok_or(ItemError::Missing(attribute))
}

/// Parses a stored enum name with the domain type's own parser.
pub(super) fn named<T>(
    item: &Item,
    attribute: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, ItemError> {
    let text = string(item, attribute)?;
    parse(text).ok_or_else(|| ItemError::Unreadable {
        attribute,
        detail: format!("unknown value `{text}`"),
    })
}

/// Whether the item is still to be seen at `now` (epoch seconds). DynamoDB deletes expired items lazily,
/// up to days late, so every read treats an item whose `expires_at` has passed as absent. Items without
/// the attribute (endpoints, keys) never expire.
pub(super) fn is_live(item: &Item, now: i64) -> Result<bool, ItemError> {
    if !item.contains_key(EXPIRES_AT) {
        return Ok(true);
    }
    Ok(number::<i64>(item, EXPIRES_AT)? > now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_up_to_the_newest_read_are_taken_and_a_newer_one_is_named() {
        let without: Item = HashMap::new();
        assert!(check_layout(&without).is_ok(), "before layouts: layout 0");
        let current: Item = [layout_attribute()].into();
        assert!(check_layout(&current).is_ok());
        let newer: Item = [(LAYOUT.to_string(), n(NEWEST_READ_LAYOUT + 1))].into();
        let refused = check_layout(&newer).unwrap_err();
        assert!(
            matches!(refused, ItemError::NewerLayout { found } if found == NEWEST_READ_LAYOUT + 1)
        );
        assert!(refused.to_string().contains("deploy the newer release"));
    }

    #[test]
    fn wrong_types_and_missing_attributes_are_errors_not_panics() {
        let item: Item = [
            ("a".to_string(), n(5)),
            ("b".to_string(), s("x")),
            ("c".to_string(), s("not json")),
        ]
        .into();
        assert!(matches!(string(&item, "a"), Err(ItemError::WrongType("a"))));
        assert!(matches!(
            number::<u32>(&item, "b"),
            Err(ItemError::WrongType("b"))
        ));
        assert!(matches!(string(&item, "z"), Err(ItemError::Missing("z"))));
        assert!(matches!(
            json::<Vec<String>>(&item, "c"),
            Err(ItemError::Unreadable { .. })
        ));
        assert!(matches!(
            time(&item, "b"),
            Err(ItemError::Unreadable { .. })
        ));
    }

    #[test]
    fn an_item_is_gone_once_its_expiry_is_reached() {
        let item: Item = [(EXPIRES_AT.to_string(), n(100))].into();
        assert!(is_live(&item, 99).unwrap_or(false));
        assert!(!is_live(&item, 100).unwrap_or(true));
        assert!(is_live(&Item::new(), 1_000).unwrap_or(false));
    }
}
