//! Where uploaded files live: a local folder (the default) or an S3-compatible bucket, both
//! behind object_store's [`ObjectStore`] trait, so the rest of the runtime sees one API.
//!
//! Keys are `{collectionId}/{recordId}/{file name}` as in PocketBase; thumbnails sit beside
//! their file under `{collectionId}/{recordId}/thumbs_{file name}/{size}_{file name}`.
//!
//! A storage is chosen with one string ([`Storage::open`]): a folder path, or
//! `s3://bucket[/prefix][?endpoint=…&region=…&…]`. For S3, credentials and any option not in
//! the URL come from the usual `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`, …).

use std::ops::Range;
use std::path::Path as FsPath;
#[cfg(feature = "s3")]
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
#[cfg(feature = "s3")]
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
#[cfg(feature = "s3")]
use object_store::prefix::PrefixStore;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};

/// A file store: cheap to clone.
#[derive(Clone, Debug)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// What it is, for logs: the folder or the bucket URL (never credentials).
    description: String,
}

/// An object read back: its bytes (all of them, or the requested range) and its full size.
#[derive(Clone, Debug)]
pub struct Object {
    pub bytes: Bytes,
    pub size: u64,
}

impl Storage {
    /// Opens a storage from its spec: `s3://…` for a bucket, anything else is a folder
    /// (created when missing).
    pub fn open(spec: &str) -> Result<Storage, String> {
        if spec.starts_with("s3://") { Storage::s3(spec) } else { Storage::local(FsPath::new(spec)) }
    }

    /// Files under a local folder. Emptied folders are removed as files are deleted.
    pub fn local(dir: &FsPath) -> Result<Storage, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the storage folder {}: {e}", dir.display()))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| format!("cannot use the storage folder {}: {e}", dir.display()))?
            .with_automatic_cleanup(true);
        Ok(Storage { store: Arc::new(store), description: dir.display().to_string() })
    }

    /// Files in an S3-compatible bucket: `s3://bucket[/prefix][?key=value&…]`. Query keys are
    /// object_store's S3 options (`endpoint`, `region`, `access_key_id`,
    /// `secret_access_key`, `virtual_hosted_style_request`, …); an `http://` endpoint is
    /// allowed as is (a local S3 server).
    #[cfg(feature = "s3")]
    pub fn s3(url: &str) -> Result<Storage, String> {
        let (location, query) = url.split_once('?').unwrap_or((url, ""));
        let rest = location.trim_start_matches("s3://");
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("no bucket in the storage URL '{location}'"));
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query).map_err(|e| format!("bad storage URL query: {e}"))?;
        for (key, value) in pairs {
            if key == "endpoint" && value.starts_with("http://") {
                builder = builder.with_allow_http(true);
            }
            let key = AmazonS3ConfigKey::from_str(&key).map_err(|_| format!("unknown S3 option '{key}'"))?;
            builder = builder.with_config(key, value);
        }
        let s3 = builder.build().map_err(|e| format!("cannot use the bucket '{bucket}': {e}"))?;
        let store: Arc<dyn ObjectStore> = match prefix.trim_matches('/') {
            "" => Arc::new(s3),
            prefix => Arc::new(PrefixStore::new(s3, prefix)),
        };
        Ok(Storage { store, description: location.to_owned() })
    }

    /// This build has no S3 client (the runtime's `s3` feature is off): say how to get one.
    #[cfg(not(feature = "s3"))]
    pub fn s3(url: &str) -> Result<Storage, String> {
        let location = url.split_once('?').map_or(url, |(location, _)| location);
        Err(format!(
            "cannot use the bucket {location}: this backend was built without S3 support \
             (enable the `s3` feature of baas-runtime, on by default)"
        ))
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// Writes (or overwrites) `key`.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), String> {
        self.store.put(&Path::from(key), PutPayload::from(bytes)).await.map(drop).map_err(|e| e.to_string())
    }

    /// Reads `key`, or the byte `range` of it; `None` when there is no such object.
    pub async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<Object>, String> {
        let options = GetOptions { range: range.map(GetRange::Bounded), ..GetOptions::default() };
        match self.store.get_opts(&Path::from(key), options).await {
            Ok(result) => {
                let size = result.meta.size;
                let bytes = result.bytes().await.map_err(|e| e.to_string())?;
                Ok(Some(Object { bytes, size }))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The size of `key`, `None` when there is no such object.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, String> {
        match self.store.head(&Path::from(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Deletes `key`; a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), String> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Deletes every object under the folder `prefix` (`a/b` covers `a/b/…`, not `a/bc`).
    pub async fn delete_prefix(&self, prefix: &str) -> Result<(), String> {
        let keys = self.list(prefix).await?;
        for key in keys {
            self.delete(&key).await?;
        }
        Ok(())
    }

    /// The keys under the folder `prefix`, sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, String> {
        let prefix = Path::from(prefix);
        let mut stream = self.store.list(Some(&prefix));
        let mut keys = Vec::new();
        while let Some(meta) = stream.next().await {
            match meta {
                Ok(meta) => keys.push(meta.location.to_string()),
                Err(object_store::Error::NotFound { .. }) => break,
                Err(e) => return Err(e.to_string()),
            }
        }
        keys.sort();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("baas-storage-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[tokio::test]
    async fn a_local_folder_stores_reads_ranges_and_deletes() {
        let dir = temp_dir("local");
        let s = Storage::open(dir.to_str().unwrap()).unwrap();
        s.put("c1/r1/a_1234567890.txt", Bytes::from_static(b"hello world")).await.unwrap();
        s.put("c1/r1/thumbs_a.png/10x10_a.png", Bytes::from_static(b"x")).await.unwrap();
        s.put("c1/r10/b.txt", Bytes::from_static(b"other")).await.unwrap();
        let all = s.get("c1/r1/a_1234567890.txt", None).await.unwrap().unwrap();
        assert_eq!((&all.bytes[..], all.size), (&b"hello world"[..], 11));
        let part = s.get("c1/r1/a_1234567890.txt", Some(6..11)).await.unwrap().unwrap();
        assert_eq!((&part.bytes[..], part.size), (&b"world"[..], 11));
        assert_eq!(s.size("c1/r1/a_1234567890.txt").await.unwrap(), Some(11));
        assert!(s.get("c1/r1/missing.txt", None).await.unwrap().is_none());
        assert_eq!(s.list("c1/r1").await.unwrap(), ["c1/r1/a_1234567890.txt", "c1/r1/thumbs_a.png/10x10_a.png"]);

        s.delete_prefix("c1/r1").await.unwrap();
        assert!(s.list("c1/r1").await.unwrap().is_empty());
        assert_eq!(s.list("c1").await.unwrap(), ["c1/r10/b.txt"], "a prefix is a folder, not a string prefix");
        assert!(!dir.join("c1/r1").exists(), "emptied folders go too");
        s.delete("c1/r10/b.txt").await.unwrap();
        s.delete("c1/r10/b.txt").await.unwrap();
        assert!(s.list("c1").await.unwrap().is_empty());
        assert!(s.list("never-written").await.unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(feature = "s3")]
    #[test]
    fn s3_urls_name_a_bucket_and_known_options() {
        let s = Storage::open("s3://media/uploads?endpoint=http://127.0.0.1:9/&region=eu-west-1").unwrap();
        assert_eq!(s.description(), "s3://media/uploads");
        assert!(Storage::open("s3://?region=x").unwrap_err().contains("no bucket"));
        assert!(Storage::open("s3://b?colour=blue").unwrap_err().contains("unknown S3 option 'colour'"));
    }

    #[cfg(not(feature = "s3"))]
    #[test]
    fn without_the_s3_feature_a_bucket_is_refused_with_the_remedy() {
        let e = Storage::open("s3://media/uploads?secret_access_key=x").unwrap_err();
        assert!(e.contains("s3://media/uploads") && e.contains("`s3` feature"), "{e}");
        assert!(!e.contains("secret"), "the query (credentials) is not echoed: {e}");
    }
}
