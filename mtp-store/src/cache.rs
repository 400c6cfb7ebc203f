//! A read cache in front of any [`Store`]: the tenant-by-name and members-of-one-tenant reads
//! that every authorized API call makes, answered from memory while nothing was written.
//!
//! Exactness within the process: every write through the cache invalidates all entries before
//! it starts and again after it ends, and an entry is only kept when no write started or was in
//! flight while it was read. So a read never answers older data than a read that finished
//! before it began, and a caller sees its own writes at once.
//!
//! Writers outside the process (another replica on a shared PostgreSQL, another program on the
//! same SQLite file) are not seen until the entry's time to live has passed: pick the TTL as
//! the staleness you accept from them, or do not cache (the API caches by default only on its
//! embedded SQLite, whose only writer it is).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), mtp_core::StoreError> {
//! use std::time::Duration;
//! use mtp_core::{NewTenant, Store, TenantFields, Tier};
//! use mtp_store::{CachedStore, SeaStore};
//!
//! let store = CachedStore::new(SeaStore::open("sqlite::memory:").await?, Duration::from_secs(5));
//! let created = store
//!     .create_tenant(NewTenant {
//!         name: "acme".into(),
//!         fields: TenantFields::new("ACME", Tier::Pro, "ops@acme.io"),
//!     })
//!     .await?;
//! // The first read goes to the database, the second is answered from memory.
//! assert_eq!(store.get_tenant_by_name("acme").await?.id, created.id);
//! assert_eq!(store.get_tenant_by_name("acme").await?.id, created.id);
//! assert_eq!(store.stats().hits, 1);
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mtp_core::StoreError;
use mtp_core::store::{
    AuditRecord, ListParams, Member, NewAuditRecord, NewMember, NewTenant, Page, Role, Store,
    TenantFields, TenantRecord,
};
use uuid::Uuid;

type StoreResult<T> = Result<T, StoreError>;

/// How many entries of each kind the cache holds at most; when full, it starts over.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Hit and miss counts of a [`CachedStore`], since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads answered from memory.
    pub hits: u64,
    /// Reads that went to the store.
    pub misses: u64,
}

struct Entry<T> {
    value: T,
    generation: u64,
    expires: Instant,
}

#[derive(Default)]
struct State {
    /// Bumped when a write starts and when it ends.
    generation: u64,
    /// Writes started and not yet ended.
    writing: u32,
    tenants: HashMap<String, Entry<TenantRecord>>,
    members: HashMap<Uuid, Entry<Vec<Member>>>,
}

/// A [`Store`] that answers `get_tenant_by_name` and `list_members_of` (for one tenant) from
/// memory while nothing was written through it; every other call goes to the inner store.
pub struct CachedStore<S> {
    inner: S,
    ttl: Duration,
    capacity: usize,
    state: Mutex<State>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<S> std::fmt::Debug for CachedStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedStore")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// Ends a write when dropped, also when the write's future is dropped half-way.
struct WriteGuard<'a>(&'a Mutex<State>);

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        let mut state = lock(self.0);
        state.writing = state.writing.saturating_sub(1);
        state.generation = state.generation.wrapping_add(1);
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // A panic while holding the lock cannot leave the maps half-updated in a way that matters:
    // every entry is checked against the generation before use.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<S: Store> CachedStore<S> {
    /// Caches reads of `inner` for at most `ttl` each.
    pub fn new(inner: S, ttl: Duration) -> Self {
        Self::with_capacity(inner, ttl, DEFAULT_CAPACITY)
    }

    /// As [`CachedStore::new`], holding at most `capacity` tenants and `capacity` member lists.
    pub fn with_capacity(inner: S, ttl: Duration, capacity: usize) -> Self {
        CachedStore {
            inner,
            ttl,
            capacity: capacity.max(1),
            state: Mutex::new(State::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The store behind the cache.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// Forgets every entry (e.g. after writing to the database by another way).
    pub fn invalidate(&self) {
        let mut state = lock(&self.state);
        state.generation = state.generation.wrapping_add(1);
        state.tenants.clear();
        state.members.clear();
    }

    fn begin_write(&self) -> WriteGuard<'_> {
        let mut state = lock(&self.state);
        state.writing += 1;
        state.generation = state.generation.wrapping_add(1);
        WriteGuard(&self.state)
    }

    /// The generation a read starts at, or `None` when a write is in flight (the read is then
    /// not cached).
    fn read_start(&self) -> Option<u64> {
        let state = lock(&self.state);
        (state.writing == 0).then_some(state.generation)
    }

    fn lookup<K, T, Q>(&self, pick: impl Fn(&State) -> &HashMap<K, Entry<T>>, key: &Q) -> Option<T>
    where
        K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
        Q: std::hash::Hash + Eq + ?Sized,
        T: Clone,
    {
        let state = lock(&self.state);
        if state.writing != 0 {
            return None;
        }
        let entry = pick(&state).get(key)?;
        (entry.generation == state.generation && entry.expires > Instant::now())
            .then(|| entry.value.clone())
    }

    fn keep<K: std::hash::Hash + Eq, T>(
        &self,
        started: Option<u64>,
        pick: impl Fn(&mut State) -> &mut HashMap<K, Entry<T>>,
        key: K,
        value: T,
    ) {
        let Some(generation) = started else { return };
        let mut state = lock(&self.state);
        if state.writing != 0 || state.generation != generation {
            return;
        }
        let expires = Instant::now() + self.ttl;
        let capacity = self.capacity;
        let map = pick(&mut state);
        if map.len() >= capacity {
            map.clear();
        }
        map.insert(
            key,
            Entry {
                value,
                generation,
                expires,
            },
        );
    }

    fn count(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl CachedStore<crate::SeaStore> {
    /// [`crate::SeaStore::create_tenant`] through the cache (which it invalidates).
    pub async fn create_tenant(&self, new: NewTenant) -> StoreResult<TenantRecord> {
        let _w = self.begin_write();
        self.inner.create_tenant(new).await
    }
}

#[async_trait::async_trait]
impl<S: Store> Store for CachedStore<S> {
    async fn get_tenant(&self, id: Uuid) -> StoreResult<TenantRecord> {
        self.inner.get_tenant(id).await
    }

    async fn get_tenant_by_name(&self, name: &str) -> StoreResult<TenantRecord> {
        if let Some(hit) = self.lookup(|s| &s.tenants, name) {
            self.count(true);
            return Ok(hit);
        }
        self.count(false);
        let started = self.read_start();
        let record = self.inner.get_tenant_by_name(name).await?;
        self.keep(
            started,
            |s| &mut s.tenants,
            name.to_string(),
            record.clone(),
        );
        Ok(record)
    }

    async fn list_tenants(&self, params: &ListParams) -> StoreResult<Page<TenantRecord>> {
        self.inner.list_tenants(params).await
    }

    async fn list_members(&self, tenant_id: Uuid) -> StoreResult<Vec<Member>> {
        self.inner.list_members(tenant_id).await
    }

    async fn append_audit(&self, record: NewAuditRecord) -> StoreResult<AuditRecord> {
        // The audit log is not cached: appending to it leaves the cached reads true.
        self.inner.append_audit(record).await
    }

    async fn list_audit(&self, params: &ListParams) -> StoreResult<Page<AuditRecord>> {
        self.inner.list_audit(params).await
    }

    async fn create_tenant_audited(
        &self,
        new: NewTenant,
        members: Vec<NewMember>,
        audit: NewAuditRecord,
    ) -> StoreResult<(TenantRecord, Vec<Member>)> {
        let _w = self.begin_write();
        self.inner.create_tenant_audited(new, members, audit).await
    }

    async fn replace_tenant_audited(
        &self,
        id: Uuid,
        expected_version: i64,
        fields: TenantFields,
        members: Option<Vec<NewMember>>,
        audit: NewAuditRecord,
    ) -> StoreResult<(TenantRecord, Vec<Member>)> {
        let _w = self.begin_write();
        self.inner
            .replace_tenant_audited(id, expected_version, fields, members, audit)
            .await
    }

    async fn delete_tenant_audited(
        &self,
        id: Uuid,
        expected_version: Option<i64>,
        audit: NewAuditRecord,
    ) -> StoreResult<()> {
        let _w = self.begin_write();
        self.inner
            .delete_tenant_audited(id, expected_version, audit)
            .await
    }

    async fn add_member_audited(
        &self,
        tenant_id: Uuid,
        member: NewMember,
        audit: NewAuditRecord,
    ) -> StoreResult<(Member, TenantRecord)> {
        let _w = self.begin_write();
        self.inner
            .add_member_audited(tenant_id, member, audit)
            .await
    }

    async fn remove_member_audited(
        &self,
        tenant_id: Uuid,
        user: &str,
        audit: NewAuditRecord,
    ) -> StoreResult<TenantRecord> {
        let _w = self.begin_write();
        self.inner
            .remove_member_audited(tenant_id, user, audit)
            .await
    }

    async fn list_tenants_of_user(
        &self,
        user: &str,
        params: &ListParams,
    ) -> StoreResult<Page<TenantRecord>> {
        self.inner.list_tenants_of_user(user, params).await
    }

    async fn list_tenant_audit(
        &self,
        name: &str,
        params: &ListParams,
    ) -> StoreResult<Page<AuditRecord>> {
        self.inner.list_tenant_audit(name, params).await
    }

    async fn list_members_of(&self, tenant_ids: &[Uuid]) -> StoreResult<Vec<Member>> {
        // One tenant's members is what every authorized call reads; lists of several go through.
        let [id] = tenant_ids else {
            return self.inner.list_members_of(tenant_ids).await;
        };
        if let Some(hit) = self.lookup(|s| &s.members, id) {
            self.count(true);
            return Ok(hit);
        }
        self.count(false);
        let started = self.read_start();
        let members = self.inner.list_members_of(tenant_ids).await?;
        self.keep(started, |s| &mut s.members, *id, members.clone());
        Ok(members)
    }

    async fn member_role(&self, tenant_id: Uuid, user: &str) -> StoreResult<Option<Role>> {
        self.inner.member_role(tenant_id, user).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::SeaStore;
    use mtp_core::Tier;

    fn acme(name: &str) -> NewTenant {
        NewTenant {
            name: name.into(),
            fields: TenantFields::new("ACME", Tier::Pro, "ops@acme.io"),
        }
    }

    fn audit(action: &str) -> NewAuditRecord {
        NewAuditRecord {
            actor: "alice".into(),
            action: action.into(),
            target: "tenant/acme".into(),
            outcome: "ok".into(),
            request_id: None,
        }
    }

    async fn store(ttl: Duration) -> CachedStore<SeaStore> {
        let inner = SeaStore::open("sqlite::memory:").await.unwrap();
        CachedStore::new(inner, ttl)
    }

    #[tokio::test]
    async fn repeated_reads_hit_and_writes_through_the_cache_are_seen_at_once() {
        let s = store(Duration::from_secs(60)).await;
        let t = s.create_tenant(acme("acme")).await.unwrap();
        assert_eq!(s.get_tenant_by_name("acme").await.unwrap().version, 1);
        assert_eq!(s.get_tenant_by_name("acme").await.unwrap().version, 1);
        assert!(s.list_members_of(&[t.id]).await.unwrap().is_empty());
        assert!(s.list_members_of(&[t.id]).await.unwrap().is_empty());
        assert_eq!(s.stats(), CacheStats { hits: 2, misses: 2 });

        let (_, after) = s
            .add_member_audited(
                t.id,
                NewMember {
                    user: "bob".into(),
                    role: Role::Viewer,
                },
                audit("member.add"),
            )
            .await
            .unwrap();
        assert_eq!(after.version, 2);
        assert_eq!(s.get_tenant_by_name("acme").await.unwrap().version, 2);
        let members = s.list_members_of(&[t.id]).await.unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].user, "bob");

        s.remove_member_audited(t.id, "bob", audit("member.remove"))
            .await
            .unwrap();
        assert!(s.list_members_of(&[t.id]).await.unwrap().is_empty());
        s.delete_tenant_audited(t.id, None, audit("tenant.delete"))
            .await
            .unwrap();
        assert!(s.get_tenant_by_name("acme").await.is_err());
    }

    #[tokio::test]
    async fn a_failed_write_still_invalidates_and_misses_are_not_cached() {
        let s = store(Duration::from_secs(60)).await;
        assert!(s.get_tenant_by_name("acme").await.is_err());
        s.create_tenant(acme("acme")).await.unwrap();
        // The miss above was an error: nothing was kept, the new tenant is seen.
        assert_eq!(s.get_tenant_by_name("acme").await.unwrap().name, "acme");
        let before = s.stats();
        assert!(s.create_tenant(acme("acme")).await.is_err());
        s.get_tenant_by_name("acme").await.unwrap();
        assert_eq!(s.stats().misses, before.misses + 1);
    }

    #[tokio::test]
    async fn writes_by_another_way_are_seen_after_the_ttl_or_an_invalidate() {
        let s = store(Duration::from_millis(50)).await;
        let t = s.create_tenant(acme("acme")).await.unwrap();
        s.get_tenant_by_name("acme").await.unwrap();
        // Written behind the cache's back (as another replica would).
        let mut fields = t.fields.clone();
        fields.display_name = "ACME Corp".into();
        s.inner().update_tenant(t.id, 1, fields).await.unwrap();
        assert_eq!(
            s.get_tenant_by_name("acme")
                .await
                .unwrap()
                .fields
                .display_name,
            "ACME"
        );
        s.invalidate();
        assert_eq!(
            s.get_tenant_by_name("acme")
                .await
                .unwrap()
                .fields
                .display_name,
            "ACME Corp"
        );
        let mut fields = t.fields.clone();
        fields.display_name = "ACME Inc".into();
        s.inner().update_tenant(t.id, 2, fields).await.unwrap();
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(
            s.get_tenant_by_name("acme")
                .await
                .unwrap()
                .fields
                .display_name,
            "ACME Inc"
        );
    }

    #[tokio::test]
    async fn a_read_overlapping_a_write_is_not_kept() {
        let s = store(Duration::from_secs(60)).await;
        // A read starts, a write starts and ends while it runs: what it read may be old.
        let started = s.read_start();
        drop(s.begin_write());
        s.keep(
            started,
            |st| &mut st.tenants,
            "acme".into(),
            1u8.into_record(),
        );
        assert!(s.lookup(|st| &st.tenants, "acme").is_none());
        // A read starting while a write is in flight is not kept either.
        let w = s.begin_write();
        assert_eq!(s.read_start(), None);
        drop(w);
        // A read with no write around it is kept, and a later write hides it.
        let started = s.read_start();
        s.keep(
            started,
            |st| &mut st.tenants,
            "acme".into(),
            1u8.into_record(),
        );
        assert!(s.lookup(|st| &st.tenants, "acme").is_some());
        let w = s.begin_write();
        assert!(s.lookup(|st| &st.tenants, "acme").is_none());
        drop(w);
        assert!(s.lookup(|st| &st.tenants, "acme").is_none());
    }

    #[tokio::test]
    async fn the_capacity_bounds_the_entries() {
        let inner = SeaStore::open("sqlite::memory:").await.unwrap();
        let s = CachedStore::with_capacity(inner, Duration::from_secs(60), 2);
        for name in ["a", "b", "c"] {
            let started = s.read_start();
            s.keep(
                started,
                |st| &mut st.tenants,
                name.into(),
                1u8.into_record(),
            );
        }
        assert!(lock(&s.state).tenants.len() <= 2);
        assert!(s.lookup(|st| &st.tenants, "c").is_some());
    }

    trait IntoRecord {
        fn into_record(self) -> TenantRecord;
    }

    impl IntoRecord for u8 {
        fn into_record(self) -> TenantRecord {
            let now = chrono::Utc::now();
            TenantRecord {
                id: Uuid::new_v4(),
                name: "acme".into(),
                fields: TenantFields::new("ACME", Tier::Pro, "ops@acme.io"),
                version: i64::from(self),
                created_at: now,
                updated_at: now,
                deleted_at: None,
            }
        }
    }
}
