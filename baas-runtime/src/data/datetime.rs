//! [`DateTime`]: a date field's or autodate's value in a generated record type, an instant in
//! UTC, read from and written as PocketBase's form (`2026-11-25 08:29:46.654Z`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

/// An instant, as date and autodate fields hold it (millisecond precision, UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime(pub OffsetDateTime);

impl DateTime {
    /// Now.
    pub fn now() -> Self {
        DateTime(OffsetDateTime::now_utc())
    }

    /// PocketBase's form: `2026-11-25 08:29:46.654Z`.
    pub fn to_canonical(&self) -> String {
        crate::time::format(self.0)
    }
}

impl Default for DateTime {
    /// The Unix epoch: what a record to create holds until the server sets its autodates.
    fn default() -> Self {
        DateTime(OffsetDateTime::UNIX_EPOCH)
    }
}

impl From<OffsetDateTime> for DateTime {
    fn from(t: OffsetDateTime) -> Self {
        DateTime(t)
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_canonical())
    }
}

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_canonical())
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.is_empty() {
            return Ok(DateTime::default());
        }
        crate::time::parse(&text)
            .map(DateTime)
            .ok_or_else(|| serde::de::Error::custom(format!("'{text}' is not a datetime")))
    }
}

impl super::filter::bind::Date for DateTime {
    fn to_canonical(self) -> String {
        DateTime::to_canonical(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_pocketbase_datetimes() {
        let t: DateTime = serde_json::from_str("\"2026-11-25 08:29:46.654Z\"").expect("a datetime");
        assert_eq!(serde_json::to_string(&t).expect("json"), "\"2026-11-25 08:29:46.654Z\"");
        assert_eq!(t.to_string(), "2026-11-25 08:29:46.654Z");
        assert!(serde_json::from_str::<DateTime>("\"yesterday\"").is_err());
    }
}
