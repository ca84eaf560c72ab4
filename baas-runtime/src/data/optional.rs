//! `#[serde(with = "::baas_runtime::data::optional")]` on an optional field of a generated
//! record type (text, email, url, date, a single select, relation or file): PocketBase's
//! empty value (`""`) is `None`.

use serde::de::IntoDeserializer;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub fn serialize<T: Serialize, S: Serializer>(value: &Option<T>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => value.serialize(serializer),
        None => serializer.serialize_str(""),
    }
}

pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    let value = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
    if value.is_empty() {
        return Ok(None);
    }
    let value: serde::de::value::StringDeserializer<D::Error> = value.into_deserializer();
    T::deserialize(value).map(Some)
}
