//! The database layer's own error: what either engine reported, or why no connection could
//! serve the job. The HTTP layer decides what a client sees of it.

/// A database error from either engine.
#[derive(Debug)]
pub enum DbError {
    Sqlite(rusqlite::Error),
    Postgres(postgres::Error),
    /// The database could not be opened (a bad URL or path), or no connection could run the
    /// job: the server is unreachable, the worker threads have stopped, the job panicked, or
    /// the commit it shared with other jobs failed.
    Unavailable(String),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Sqlite(e) => e.fmt(f),
            DbError::Unavailable(why) => f.write_str(why),
            DbError::Postgres(e) => match e.as_db_error() {
                Some(db) => write!(
                    f,
                    "{}: {}{}",
                    db.code().code(),
                    db.message(),
                    db.detail().map(|d| format!(" ({d})")).unwrap_or_default()
                ),
                // connection errors keep their cause in the source
                None => match std::error::Error::source(e) {
                    Some(cause) => write!(f, "{e}: {cause}"),
                    None => e.fmt(f),
                },
            },
        }
    }
}

impl std::error::Error for DbError {}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sqlite(e)
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> Self {
        DbError::Postgres(e)
    }
}

impl DbError {
    /// Whether a value could not be stored or compared at all: PostgreSQL text cannot hold
    /// NUL characters (`\u0000`), which SQLite accepts.
    pub fn is_unstorable_text(&self) -> bool {
        match self {
            DbError::Sqlite(_) | DbError::Unavailable(_) => false,
            DbError::Postgres(e) => e.code().is_some_and(|c| {
                *c == postgres::error::SqlState::CHARACTER_NOT_IN_REPERTOIRE
                    || *c == postgres::error::SqlState::UNTRANSLATABLE_CHARACTER
            }),
        }
    }

    /// The columns of a violated unique index, when that is what failed.
    pub fn unique_violation(&self) -> Option<Vec<String>> {
        match self {
            DbError::Unavailable(_) => None,
            DbError::Sqlite(e) => {
                let text = e.to_string();
                let cols = text.strip_prefix("UNIQUE constraint failed: ")?;
                Some(cols.split(", ").map(|c| c.rsplit('.').next().unwrap_or(c).to_owned()).collect())
            }
            DbError::Postgres(e) => {
                let db = e.as_db_error()?;
                if *db.code() != postgres::error::SqlState::UNIQUE_VIOLATION {
                    return None;
                }
                // DETAIL: Key (title)=(Hello) already exists.   /   Key ("a", b)=(…) …
                let cols =
                    db.detail().and_then(|d| d.strip_prefix("Key (")).and_then(|d| d.split_once(")=")).map(|(c, _)| c);
                match cols {
                    Some(cols) => Some(cols.split(", ").map(|c| c.trim_matches('"').to_owned()).collect()),
                    None => Some(db.column().map(str::to_owned).into_iter().collect()),
                }
            }
        }
    }
}
