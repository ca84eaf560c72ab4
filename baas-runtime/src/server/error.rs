//! Why the binary could not start, or a command failed: typed, in the words the command line
//! prints (`error: …`).

use std::net::SocketAddr;

use crate::db::DbError;
use crate::migrate::MigrateError;

#[derive(Debug)]
pub enum StartError {
    /// The database could not be opened or reached.
    Database(DbError),
    /// Migrations could not be checked or applied.
    Migrate(MigrateError),
    /// The schema embedded in the binary does not parse (a generator bug).
    Schema(serde_json::Error),
    /// The file storage could not be opened.
    Storage(String),
    /// The address is taken or not ours.
    Listen { addr: SocketAddr, source: std::io::Error },
    /// The async runtime could not start.
    Runtime(std::io::Error),
    /// `superuser upsert` was given an unusable e-mail or password.
    Superuser(String),
    /// A scheduled job is declared wrong (its id or expression).
    Cron(String),
    /// Start-up work of the crate's own code failed.
    OnStart(crate::error::ApiError),
    /// The mail settings (`--smtp`, `--mail-from`) are unusable.
    Mail(String),
    /// The abuse limits (`--trusted-proxy`) are unusable.
    Limits(String),
    /// An OAuth2 provider cannot be set up (its client secret is missing, say).
    OAuth2(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Database(e) => e.fmt(f),
            StartError::Migrate(e) => e.fmt(f),
            StartError::Schema(e) => write!(f, "the embedded schema is invalid: {e}"),
            StartError::Storage(why) | StartError::Superuser(why) | StartError::Cron(why) => f.write_str(why),
            StartError::Mail(why) => write!(f, "mail: {why}"),
            StartError::Limits(why) | StartError::OAuth2(why) => f.write_str(why),
            StartError::OnStart(e) => write!(f, "the on-start work failed: {e}"),
            StartError::Listen { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            StartError::Runtime(e) => write!(f, "cannot start the async runtime: {e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Database(e) => Some(e),
            StartError::Migrate(e) => Some(e),
            StartError::Schema(e) => Some(e),
            StartError::Listen { source, .. } | StartError::Runtime(source) => Some(source),
            StartError::Storage(_)
            | StartError::Superuser(_)
            | StartError::Cron(_)
            | StartError::OnStart(_)
            | StartError::Mail(_)
            | StartError::Limits(_)
            | StartError::OAuth2(_) => None,
        }
    }
}

impl From<DbError> for StartError {
    fn from(e: DbError) -> Self {
        StartError::Database(e)
    }
}

impl From<MigrateError> for StartError {
    fn from(e: MigrateError) -> Self {
        StartError::Migrate(e)
    }
}
