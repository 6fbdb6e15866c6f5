//! The metadata database: one SQLite file (WAL, synchronous=FULL) holding everything pouchd
//! must know to reconcile after a crash: containers, images, tags, IP allocations, settings.
//!
//! Records are stored as JSON documents keyed by id; the schema of a record belongs to the
//! daemon, this crate only guarantees atomic, durable writes and unique names.
#![deny(unsafe_code)]

use rusqlite::{params, Connection, OptionalExtension};
use serde::{de::DeserializeOwned, Serialize};
use std::path::Path;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("metadata database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("metadata record {0} is corrupt: {1}")]
    Corrupt(String, serde_json::Error),
    #[error("name {0} is already in use")]
    NameInUse(String),
    #[error("metadata database lock poisoned")]
    Poisoned,
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Handle to the database. Cheap operations under one mutex: SQLite serialises writers anyway.
pub struct Store {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS containers (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tags (name TEXT PRIMARY KEY, image_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ip_allocations (network TEXT NOT NULL, ip TEXT NOT NULL, owner TEXT NOT NULL, PRIMARY KEY (network, ip));
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
";

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        f(&conn)
    }

    /// Run `f` in one IMMEDIATE transaction: all of it commits, or none of it.
    fn in_transaction(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<()>) -> Result<()> {
        self.with(|c| {
            c.execute_batch("BEGIN IMMEDIATE")?;
            match f(c) {
                Ok(()) => Ok(c.execute_batch("COMMIT")?),
                Err(e) => {
                    let _ = c.execute_batch("ROLLBACK");
                    Err(e.into())
                }
            }
        })
    }

    /// Decode every `(id, data)` row of `sql`. A row that does not decode is returned as
    /// [`StoreError::Corrupt`] in its place: one bad record must not keep the daemon from
    /// loading all the others.
    fn list_records<T: DeserializeOwned>(&self, sql: &str) -> Result<Vec<Result<T>>> {
        self.with(|c| {
            let mut stmt = c.prepare(sql)?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (id, data) = row?;
                out.push(serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(id, e)));
            }
            Ok(out)
        })
    }

    // ---- containers ----

    /// Insert a new container; fails with [`StoreError::NameInUse`] if the name is taken.
    pub fn insert_container<T: Serialize>(&self, id: &str, name: &str, record: &T) -> Result<()> {
        let data = to_json(record);
        self.with(|c| {
            match c.execute(
                "INSERT INTO containers (id, name, data) VALUES (?1, ?2, ?3)",
                params![id, name, data],
            ) {
                Ok(_) => Ok(()),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Err(StoreError::NameInUse(name.to_string()))
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    pub fn update_container<T: Serialize>(&self, id: &str, record: &T) -> Result<()> {
        let data = to_json(record);
        self.with(|c| {
            c.execute(
                "UPDATE containers SET data = ?2 WHERE id = ?1",
                params![id, data],
            )?;
            Ok(())
        })
    }

    /// Delete a container and release every IP it owned, in one transaction.
    pub fn delete_container(&self, id: &str) -> Result<()> {
        self.in_transaction(|c| {
            c.execute("DELETE FROM containers WHERE id = ?1", params![id])?;
            c.execute("DELETE FROM ip_allocations WHERE owner = ?1", params![id])?;
            Ok(())
        })
    }

    pub fn list_containers<T: DeserializeOwned>(&self) -> Result<Vec<Result<T>>> {
        self.list_records("SELECT id, data FROM containers")
    }

    // ---- images and tags ----

    pub fn put_image<T: Serialize>(&self, id: &str, record: &T) -> Result<()> {
        let data = to_json(record);
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO images (id, data) VALUES (?1, ?2)",
                params![id, data],
            )?;
            Ok(())
        })
    }

    /// Delete an image and every tag pointing at it, in one transaction.
    pub fn delete_image(&self, id: &str) -> Result<()> {
        self.in_transaction(|c| {
            c.execute("DELETE FROM tags WHERE image_id = ?1", params![id])?;
            c.execute("DELETE FROM images WHERE id = ?1", params![id])?;
            Ok(())
        })
    }

    pub fn list_images<T: DeserializeOwned>(&self) -> Result<Vec<Result<T>>> {
        self.list_records("SELECT id, data FROM images")
    }

    /// Point `name` at `image_id`, replacing any previous target.
    pub fn set_tag(&self, name: &str, image_id: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO tags (name, image_id) VALUES (?1, ?2)",
                params![name, image_id],
            )?;
            Ok(())
        })
    }

    pub fn delete_tag(&self, name: &str) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM tags WHERE name = ?1", params![name])?;
            Ok(())
        })
    }

    /// All (name, image id) pairs.
    pub fn list_tags(&self) -> Result<Vec<(String, String)>> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT name, image_id FROM tags ORDER BY name")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    // ---- IP allocations ----

    /// Record `ip` on `network` for `owner`; false if the address is already taken.
    pub fn allocate_ip(&self, network: &str, ip: &str, owner: &str) -> Result<bool> {
        self.with(|c| {
            let n = c.execute(
                "INSERT OR IGNORE INTO ip_allocations (network, ip, owner) VALUES (?1, ?2, ?3)",
                params![network, ip, owner],
            )?;
            Ok(n == 1)
        })
    }

    pub fn release_ips(&self, owner: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "DELETE FROM ip_allocations WHERE owner = ?1",
                params![owner],
            )?;
            Ok(())
        })
    }

    pub fn allocated_ips(&self, network: &str) -> Result<Vec<(String, String)>> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT ip, owner FROM ip_allocations WHERE network = ?1")?;
            let rows = stmt.query_map(params![network], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    // ---- settings ----

    pub fn get_setting(&self, key: &str) -> Result<Option<String>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
                params![key, value],
            )?;
            Ok(())
        })
    }
}

fn to_json<T: Serialize>(v: &T) -> String {
    // Serialising our own plain structs cannot fail (no maps with non-string keys).
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Rec {
        id: String,
        n: u32,
    }

    fn open() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("meta.db")).unwrap();
        (d, s)
    }

    #[test]
    fn containers_round_trip_and_names_are_unique() {
        let (_d, s) = open();
        s.insert_container(
            "a",
            "web",
            &Rec {
                id: "a".into(),
                n: 1,
            },
        )
        .unwrap();
        assert!(matches!(
            s.insert_container(
                "b",
                "web",
                &Rec {
                    id: "b".into(),
                    n: 2
                }
            ),
            Err(StoreError::NameInUse(_))
        ));
        s.update_container(
            "a",
            &Rec {
                id: "a".into(),
                n: 5,
            },
        )
        .unwrap();
        let all: Vec<Rec> = s.list_containers().unwrap().into_iter().flatten().collect();
        assert_eq!(
            all,
            vec![Rec {
                id: "a".into(),
                n: 5
            }]
        );
        // A record that no longer decodes is reported in its place; the others still load.
        s.insert_container("bad", "broken", &serde_json::json!({"id": 1}))
            .unwrap();
        let listed = s.list_containers::<Rec>().unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed.iter().filter(|r| r.is_ok()).count(), 1);
        assert!(listed
            .iter()
            .any(|r| matches!(r, Err(StoreError::Corrupt(id, _)) if id == "bad")));
        s.delete_container("bad").unwrap();
        s.delete_container("a").unwrap();
        assert!(s.list_containers::<Rec>().unwrap().is_empty());
        // the name is free again
        s.insert_container(
            "c",
            "web",
            &Rec {
                id: "c".into(),
                n: 1,
            },
        )
        .unwrap();
    }

    #[test]
    fn data_survives_reopen() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("meta.db");
        {
            let s = Store::open(&p).unwrap();
            s.put_image(
                "sha256:1",
                &Rec {
                    id: "sha256:1".into(),
                    n: 1,
                },
            )
            .unwrap();
            s.set_tag("busybox:latest", "sha256:1").unwrap();
            s.set_setting("k", "v").unwrap();
        }
        let s = Store::open(&p).unwrap();
        assert_eq!(s.list_images::<Rec>().unwrap().len(), 1);
        assert!(s.list_images::<Rec>().unwrap()[0].is_ok());
        assert_eq!(
            s.list_tags().unwrap(),
            vec![("busybox:latest".to_string(), "sha256:1".to_string())]
        );
        assert_eq!(s.get_setting("k").unwrap().as_deref(), Some("v"));
        assert_eq!(s.get_setting("nope").unwrap(), None);
        s.delete_image("sha256:1").unwrap();
        assert!(s.list_tags().unwrap().is_empty());
    }

    #[test]
    fn ip_allocation_is_exclusive_and_released_with_container() {
        let (_d, s) = open();
        s.insert_container(
            "a",
            "a",
            &Rec {
                id: "a".into(),
                n: 0,
            },
        )
        .unwrap();
        assert!(s.allocate_ip("pouch0", "10.1.0.2", "a").unwrap());
        assert!(!s.allocate_ip("pouch0", "10.1.0.2", "b").unwrap());
        assert!(s.allocate_ip("other", "10.1.0.2", "b").unwrap());
        s.delete_container("a").unwrap();
        assert_eq!(s.allocated_ips("pouch0").unwrap(), vec![]);
        s.release_ips("b").unwrap();
        assert!(s.allocated_ips("other").unwrap().is_empty());
    }
}
