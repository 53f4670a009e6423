//! Session records kept in memory in front of the database. tower-sessions loads the record on
//! every request that reads the session (every page); from SQLite that is a query on a worker
//! thread and two thread wake-ups, about 6 % of a lesson page's cost. Writes still go to the
//! database first, so a restart loses nothing; only reads are served from here.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

/// Records kept at most; beyond it expired ones go, then the ones whose expiry is nearest
/// (the least recently saved, as every save moves the expiry forward).
pub const DEFAULT_CAPACITY: usize = 20_000;

#[derive(Clone, Debug)]
pub struct SessionCache {
    records: Arc<Mutex<HashMap<Id, Record>>>,
    capacity: usize,
}

impl SessionCache {
    pub fn new(capacity: usize) -> Self {
        SessionCache {
            records: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<Id, Record>> {
        crate::sync::lock(&self.records)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.records().len()
    }

    fn insert(&self, record: &Record) {
        let mut records = self.records();
        if records.len() >= self.capacity && !records.contains_key(&record.id) {
            let now = OffsetDateTime::now_utc();
            records.retain(|_, r| r.expiry_date > now);
            if records.len() >= self.capacity {
                // Drop the tenth whose expiry comes first.
                let mut expiries: Vec<OffsetDateTime> =
                    records.values().map(|r| r.expiry_date).collect();
                let cut = (self.capacity / 10).max(1).min(expiries.len() - 1);
                let (_, &mut threshold, _) = expiries.select_nth_unstable(cut);
                records.retain(|_, r| r.expiry_date > threshold);
            }
        }
        records.insert(record.id, record.clone());
    }
}

#[async_trait]
impl SessionStore for SessionCache {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // The database chose the id (it resolves collisions); keep what it stored.
        self.insert(record);
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.insert(record);
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = OffsetDateTime::now_utc();
        Ok(self
            .records()
            .get(id)
            .filter(|r| r.expiry_date > now)
            .cloned())
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.records().remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_sessions::cookie::time::Duration;

    fn record(minutes: i64) -> Record {
        Record {
            id: Id::default(),
            data: Default::default(),
            expiry_date: OffsetDateTime::now_utc() + Duration::minutes(minutes),
        }
    }

    #[tokio::test]
    async fn keeps_saved_records_and_forgets_expired_and_deleted_ones() {
        let cache = SessionCache::new(10);
        let live = record(30);
        let expired = record(-1);
        cache.save(&live).await.expect("save");
        cache.save(&expired).await.expect("save");
        assert_eq!(
            cache.load(&live.id).await.expect("load"),
            Some(live.clone())
        );
        assert_eq!(cache.load(&expired.id).await.expect("load"), None);
        cache.delete(&live.id).await.expect("delete");
        assert_eq!(cache.load(&live.id).await.expect("load"), None);
    }

    #[tokio::test]
    async fn stays_within_its_capacity_and_keeps_the_longest_lived() {
        let cache = SessionCache::new(100);
        let mut records: Vec<Record> = (1..=250).map(record).collect();
        for r in &mut records {
            cache.create(r).await.expect("create");
        }
        assert!(cache.len() <= 100, "{} records kept", cache.len());
        let newest = records.last().expect("a record");
        assert!(cache.load(&newest.id).await.expect("load").is_some());
        assert!(cache.load(&records[0].id).await.expect("load").is_none());
    }
}
