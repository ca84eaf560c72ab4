//! Select fields as enums: generated code declares one per select field (`PostTag::News`), so
//! that a value removed from the schema breaks every use at compile time, and implements its
//! text and serde with [`select_values!`](crate::select_values).

/// `select_values!(PostTag { News = "news", Tech = "tech" })` for an enum with those unit
/// variants and an `Other(String)` one (a value the schema no longer lists: rows keep what
/// they stored, and writing a record back keeps it too): its text, `Display`, and serde as
/// that text.
#[macro_export]
macro_rules! select_values {
    ($name:ident { $($variant:ident = $value:literal),* $(,)? }) => {
        impl $name {
            /// The value as stored and sent.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $value,)*
                    Self::Other(value) => value,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::deps::serde::Serialize for $name {
            fn serialize<S: $crate::deps::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl ::std::convert::From<::std::string::String> for $name {
            fn from(value: ::std::string::String) -> Self {
                match value.as_str() {
                    $($value => Self::$variant,)*
                    _ => Self::Other(value),
                }
            }
        }

        impl<'de> $crate::deps::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::deps::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                <::std::string::String as $crate::deps::serde::Deserialize>::deserialize(deserializer).map(Self::from)
            }
        }

        impl $crate::data::FromColumn for $name {
            fn from_column(cell: $crate::db::SqlValue) -> ::std::result::Result<Self, ::std::string::String> {
                <::std::string::String as $crate::data::FromColumn>::from_column(cell).map(Self::from)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    enum Tag {
        News,
        Tech,
        Other(String),
    }

    crate::select_values!(Tag { News = "news", Tech = "tech" });

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default)]
    struct Row {
        tags: Vec<Tag>,
        #[serde(with = "crate::data::optional")]
        status: Option<Tag>,
    }

    #[test]
    fn values_read_and_write_as_their_text_and_unknown_ones_are_kept() {
        let row: Row = serde_json::from_value(json!({"tags": ["tech", "gone"], "status": ""})).expect("a row");
        assert_eq!(row, Row { tags: vec![Tag::Tech, Tag::Other("gone".into())], status: None });
        assert_eq!(serde_json::to_value(&row).expect("json"), json!({"tags": ["tech", "gone"], "status": ""}));
        let row: Row = serde_json::from_value(json!({"status": "news"})).expect("a row");
        assert_eq!((row.status.as_ref().map(Tag::as_str), row.tags.len()), (Some("news"), 0));
        assert_eq!(Tag::News.to_string(), "news");
    }
}
