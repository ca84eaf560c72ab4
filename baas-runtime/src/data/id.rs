//! [`Id`]: the id of a record of one collection, typed by its record type, so that an id of
//! one collection cannot be handed to another's table (`tx.of::<User>().get(&comment.post)`
//! does not compile when `post` is an `Id<Post>`). On the wire and in the database it is the
//! plain text id.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The id of a record of the collection whose record type is `R`: the generated record
/// types use it for their `id` and their relation fields.
pub struct Id<R> {
    id: String,
    of: PhantomData<fn() -> R>,
}

impl<R> Id<R> {
    pub fn new(id: impl Into<String>) -> Self {
        Id { id: id.into(), of: PhantomData }
    }

    pub fn as_str(&self) -> &str {
        &self.id
    }

    pub fn into_string(self) -> String {
        self.id
    }
}

impl<R> Clone for Id<R> {
    fn clone(&self) -> Self {
        Id::new(self.id.clone())
    }
}

impl<R> Default for Id<R> {
    /// No id yet (a record to create: the server assigns one).
    fn default() -> Self {
        Id::new(String::new())
    }
}

impl<R> PartialEq for Id<R> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<R> Eq for Id<R> {}

impl<R> PartialOrd for Id<R> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<R> Ord for Id<R> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.id.cmp(&other.id)
    }
}

impl<R> Hash for Id<R> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl<R> PartialEq<str> for Id<R> {
    fn eq(&self, other: &str) -> bool {
        self.id == other
    }
}

impl<R> PartialEq<&str> for Id<R> {
    fn eq(&self, other: &&str) -> bool {
        self.id == *other
    }
}

impl<R> Deref for Id<R> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.id
    }
}

impl<R> AsRef<str> for Id<R> {
    fn as_ref(&self) -> &str {
        &self.id
    }
}

impl<R> fmt::Debug for Id<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.id, f)
    }
}

impl<R> fmt::Display for Id<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl<R> From<String> for Id<R> {
    fn from(id: String) -> Self {
        Id::new(id)
    }
}

impl<R> From<&str> for Id<R> {
    fn from(id: &str) -> Self {
        Id::new(id)
    }
}

impl<R> Serialize for Id<R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.id)
    }
}

impl<'de, R> Deserialize<'de> for Id<R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Id::new)
    }
}

/// What names a record of `R` to [`super::Table`]: its typed [`Id`], or a plain id (a path
/// segment, a value read at run time).
pub trait IdOf<R> {
    fn id_str(&self) -> &str;
}

impl<R> IdOf<R> for Id<R> {
    fn id_str(&self) -> &str {
        &self.id
    }
}

impl<R> IdOf<R> for &Id<R> {
    fn id_str(&self) -> &str {
        &self.id
    }
}

impl<R> IdOf<R> for &str {
    fn id_str(&self) -> &str {
        self
    }
}

impl<R> IdOf<R> for &String {
    fn id_str(&self) -> &str {
        self
    }
}

impl<R> IdOf<R> for String {
    fn id_str(&self) -> &str {
        self
    }
}
