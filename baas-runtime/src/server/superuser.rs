//! `superuser upsert`: creates a superuser or resets its password, from the command line.

use super::StartError;
use crate::db::{Db, SqlValue};
use crate::{id, password, time};

/// Creates the superuser `email` or resets its password.
pub(super) fn upsert_superuser(db: &Db, email: &str, plain: &str) -> Result<(), StartError> {
    if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return Err(StartError::Superuser(format!("'{email}' is not an email address")));
    }
    if plain.chars().count() < 8 {
        return Err(StartError::Superuser("the password must be at least 8 characters".into()));
    }
    let hash = password::hash(plain);
    let now = time::now();
    db.write_blocking(|conn| {
        let p = |n| conn.placeholder(n);
        let existing = conn
            .query(&format!("SELECT id FROM \"_superusers\" WHERE email = {}", p(1)), &[SqlValue::Text(email.into())])
?;
        let result = match existing.first() {
            Some(_) => conn.execute(
                &format!(
                    "UPDATE \"_superusers\" SET password = {}, \"tokenKey\" = {}, updated = {} WHERE email = {}",
                    p(1),
                    p(2),
                    p(3),
                    p(4)
                ),
                &[SqlValue::Text(hash), SqlValue::Text(id::token_key()), SqlValue::Text(now), SqlValue::Text(email.into())],
            ),
            None => conn.execute(
                &format!(
                    "INSERT INTO \"_superusers\" (id, password, \"tokenKey\", email, \"emailVisibility\", verified, created, updated) \
                     VALUES ({}, {}, {}, {}, {}, {}, {}, {})",
                    p(1),
                    p(2),
                    p(3),
                    p(4),
                    p(5),
                    p(6),
                    p(7),
                    p(7)
                ),
                &[
                    SqlValue::Text(id::new_id()),
                    SqlValue::Text(hash),
                    SqlValue::Text(id::token_key()),
                    SqlValue::Text(email.into()),
                    SqlValue::Bool(false),
                    SqlValue::Bool(true),
                    SqlValue::Text(now),
                ],
            ),
        };
        result.map(drop).map_err(StartError::Database)
    })
}
