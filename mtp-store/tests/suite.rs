//! The same suite on SQLite in memory, SQLite on a file and PostgreSQL: every operation and
//! error, optimistic concurrency, pagination over 1,000 tenants, name reuse after soft delete.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use mtp_core::{
    Conflict, Egress, ListParams, NewAuditRecord, NewMember, NewTenant, Page, Role, Store,
    StoreError, TenantFields, TenantRecord, Tier,
};
use mtp_store::SeaStore;
use uuid::Uuid;

fn fields(tier: Tier) -> TenantFields {
    TenantFields::new("ACME Corp", tier, "ops@acme.io")
}

fn new_tenant(name: &str, tier: Tier) -> NewTenant {
    NewTenant {
        name: name.to_string(),
        fields: fields(tier),
    }
}

async fn create(store: &SeaStore, name: &str, tier: Tier) -> TenantRecord {
    store.create_tenant(new_tenant(name, tier)).await.unwrap()
}

async fn count_live(store: &SeaStore) -> usize {
    let page = store
        .list_tenants(&ListParams {
            limit: 1000,
            ..ListParams::default()
        })
        .await
        .unwrap();
    page.items.len()
}

fn assert_invalid(err: StoreError, field: &str) {
    match err {
        StoreError::Invalid { field: f, message } => {
            assert_eq!(f, field, "message: {message}");
            assert!(!message.is_empty());
        }
        other => panic!("expected Invalid {field}, got {other:?}"),
    }
}

mod cases {
    use super::*;

    pub async fn create_and_get(store: &SeaStore) {
        let mut new = new_tenant("acme", Tier::Pro);
        new.fields.egress = Some(Egress::Internet);
        new.fields.namespaces = vec!["ci".into(), "prod".into()];
        new.fields.quota = Some([("pods".to_string(), "50".to_string())].into());
        let created = store.create_tenant(new.clone()).await.unwrap();
        assert_eq!(created.version, 1);
        assert_eq!(created.name, "acme");
        assert_eq!(created.fields, new.fields);
        assert!(created.deleted_at.is_none());
        let by_id = store.get_tenant(created.id).await.unwrap();
        assert_eq!(by_id.fields, new.fields);
        assert_eq!(by_id.id, created.id);
        // Timestamps survive the round trip (to the precision the database keeps).
        assert!(
            (by_id.created_at - created.created_at)
                .num_milliseconds()
                .abs()
                < 2
        );
        let by_name = store.get_tenant_by_name("acme").await.unwrap();
        assert_eq!(by_name.id, created.id);
    }

    pub async fn duplicate_name_is_a_conflict(store: &SeaStore) {
        create(store, "acme", Tier::Free).await;
        let err = store
            .create_tenant(new_tenant("acme", Tier::Pro))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::Conflict(Conflict::DuplicateName { ref name }) if name == "acme"
        ));
        assert_eq!(
            err.to_string(),
            "conflict: a tenant named \"acme\" already exists"
        );
        assert_eq!(count_live(store).await, 1);
        assert_eq!(
            store.get_tenant_by_name("acme").await.unwrap().fields.tier,
            Tier::Free
        );
    }

    pub async fn bad_input_is_refused_and_nothing_is_written(store: &SeaStore) {
        let cases: Vec<(NewTenant, &str)> = vec![
            (new_tenant("Acme", Tier::Free), "metadata.name"),
            (new_tenant(&"a".repeat(57), Tier::Free), "metadata.name"),
            (new_tenant("", Tier::Free), "metadata.name"),
            (
                NewTenant {
                    name: "ok".into(),
                    fields: TenantFields::new("", Tier::Free, "a@b"),
                },
                "displayName",
            ),
            (
                NewTenant {
                    name: "ok".into(),
                    fields: TenantFields::new("x", Tier::Free, "not-an-email"),
                },
                "ownerEmail",
            ),
            (
                NewTenant {
                    name: "ok".into(),
                    fields: TenantFields {
                        namespaces: vec!["Bad_Suffix".into()],
                        ..fields(Tier::Pro)
                    },
                },
                "spec.namespaces[0]",
            ),
            (
                NewTenant {
                    name: "ok".into(),
                    fields: TenantFields {
                        quota: Some([("secrets".to_string(), "1".to_string())].into()),
                        ..fields(Tier::Pro)
                    },
                },
                "spec.quota.secrets",
            ),
        ];
        for (new, field) in cases {
            assert_invalid(store.create_tenant(new).await.unwrap_err(), field);
        }
        assert_eq!(count_live(store).await, 0);
    }

    pub async fn get_unknown_is_not_found(store: &SeaStore) {
        let id = Uuid::new_v4();
        let err = store.get_tenant(id).await.unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(err.to_string(), format!("tenant {id} not found"));
        assert!(
            store
                .get_tenant_by_name("ghost")
                .await
                .unwrap_err()
                .is_not_found()
        );
        assert_invalid(
            store.get_tenant_by_name("Not A Name").await.unwrap_err(),
            "metadata.name",
        );
    }

    pub async fn update_with_expected_version(store: &SeaStore) {
        let t = create(store, "acme", Tier::Free).await;
        let mut changed = t.fields.clone();
        changed.tier = Tier::Enterprise;
        changed.display_name = "ACME Inc".into();
        let updated = store.update_tenant(t.id, 1, changed.clone()).await.unwrap();
        assert_eq!(updated.version, 2);
        assert_eq!(updated.fields, changed);
        assert!(updated.updated_at >= t.updated_at);

        let err = store
            .update_tenant(t.id, 1, t.fields.clone())
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::Conflict(Conflict::StaleVersion {
                expected: 1,
                actual: 2
            })
        ));
        let err = store
            .update_tenant(Uuid::new_v4(), 1, t.fields.clone())
            .await
            .unwrap_err();
        assert!(err.is_not_found());

        let mut bad = changed.clone();
        bad.owner_email = "nobody".into();
        assert_invalid(
            store.update_tenant(t.id, 2, bad).await.unwrap_err(),
            "ownerEmail",
        );
        let stored = store.get_tenant(t.id).await.unwrap();
        assert_eq!(stored.version, 2);
        assert_eq!(stored.fields, changed, "a refused update changes nothing");
    }

    pub async fn concurrent_updates_exactly_one_wins(store: &SeaStore) {
        for round in 0..10 {
            let t = create(store, &format!("race-{round}"), Tier::Free).await;
            let (a, b) = (store.clone(), store.clone());
            let (fa, fb) = (
                TenantFields {
                    display_name: "A".into(),
                    ..t.fields.clone()
                },
                TenantFields {
                    display_name: "B".into(),
                    ..t.fields.clone()
                },
            );
            let ta = tokio::spawn(async move { a.update_tenant(t.id, 1, fa).await });
            let tb = tokio::spawn(async move { b.update_tenant(t.id, 1, fb).await });
            let (ra, rb) = (ta.await.unwrap(), tb.await.unwrap());
            let results = [ra, rb];
            let wins: Vec<&TenantRecord> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
            assert_eq!(wins.len(), 1, "round {round}: {results:?}");
            let loser = results.iter().find_map(|r| r.as_ref().err()).unwrap();
            assert!(
                matches!(
                    loser,
                    StoreError::Conflict(Conflict::StaleVersion {
                        expected: 1,
                        actual: 2
                    })
                ),
                "round {round}: {loser:?}"
            );
            let stored = store.get_tenant(t.id).await.unwrap();
            assert_eq!(stored.version, 2);
            assert_eq!(stored.fields.display_name, wins[0].fields.display_name);
        }
    }

    pub async fn soft_delete_and_name_reuse(store: &SeaStore) {
        let t = create(store, "acme", Tier::Pro).await;
        store.add_member(t.id, "alice", Role::Admin).await.unwrap();
        let err = store.delete_tenant(t.id, 7).await.unwrap_err();
        assert!(matches!(
            err,
            StoreError::Conflict(Conflict::StaleVersion {
                expected: 7,
                actual: 1
            })
        ));
        store.delete_tenant(t.id, 1).await.unwrap();
        assert!(store.get_tenant(t.id).await.unwrap_err().is_not_found());
        assert!(
            store
                .get_tenant_by_name("acme")
                .await
                .unwrap_err()
                .is_not_found()
        );
        assert!(
            store
                .delete_tenant(t.id, 2)
                .await
                .unwrap_err()
                .is_not_found()
        );
        assert!(store.list_members(t.id).await.unwrap_err().is_not_found());
        assert!(
            store
                .update_tenant(t.id, 2, t.fields.clone())
                .await
                .unwrap_err()
                .is_not_found()
        );
        assert_eq!(count_live(store).await, 0);

        let again = create(store, "acme", Tier::Free).await;
        assert_ne!(again.id, t.id);
        assert_eq!(again.version, 1);
        assert_eq!(store.get_tenant_by_name("acme").await.unwrap().id, again.id);
        assert!(store.list_members(again.id).await.unwrap().is_empty());
        // Only one live tenant can hold the name.
        assert!(
            store
                .create_tenant(new_tenant("acme", Tier::Pro))
                .await
                .unwrap_err()
                .is_conflict()
        );
    }

    async fn collect_pages(store: &SeaStore, mut params: ListParams) -> (Vec<TenantRecord>, usize) {
        let mut all = Vec::new();
        let mut pages = 0;
        loop {
            let Page { items, next_cursor } = store.list_tenants(&params).await.unwrap();
            assert!(items.len() <= params.limit as usize);
            pages += 1;
            all.extend(items);
            match next_cursor {
                Some(c) => params.cursor = Some(c),
                None => break,
            }
        }
        (all, pages)
    }

    pub async fn pagination_over_1000_tenants(store: &SeaStore) {
        let mut expected = Vec::new();
        for i in 0..1000u32 {
            let name = format!("t{:04}", (i * 7919) % 1000);
            let tier = Tier::ALL[(i % 3) as usize];
            create(store, &name, tier).await;
            expected.push(name);
        }
        expected.sort();
        for limit in [100, 37, 1000] {
            let (all, pages) = collect_pages(
                store,
                ListParams {
                    limit,
                    ..ListParams::default()
                },
            )
            .await;
            let names: Vec<String> = all.iter().map(|t| t.name.clone()).collect();
            assert_eq!(
                names, expected,
                "limit {limit}: no duplicates, no gaps, in order"
            );
            assert_eq!(pages, 1000usize.div_ceil(limit as usize), "limit {limit}");
        }
        // Filter by tier, paged.
        let (pro, _) = collect_pages(
            store,
            ListParams {
                limit: 50,
                tier: Some(Tier::Pro),
                ..ListParams::default()
            },
        )
        .await;
        assert_eq!(pro.len(), 333);
        assert!(pro.iter().all(|t| t.fields.tier == Tier::Pro));
        // A tenant deleted between pages neither duplicates nor hides others.
        let first = store
            .list_tenants(&ListParams {
                limit: 10,
                ..ListParams::default()
            })
            .await
            .unwrap();
        let victim = &first.items[3];
        store
            .delete_tenant(victim.id, victim.version)
            .await
            .unwrap();
        let (rest, _) = collect_pages(
            store,
            ListParams {
                limit: 100,
                cursor: first.next_cursor.clone(),
                ..ListParams::default()
            },
        )
        .await;
        assert_eq!(rest.len(), 990);
        assert_eq!(rest[0].name, expected[10]);
    }

    pub async fn bad_list_parameters(store: &SeaStore) {
        create(store, "acme", Tier::Free).await;
        for limit in [0, 1001] {
            assert_invalid(
                store
                    .list_tenants(&ListParams {
                        limit,
                        ..ListParams::default()
                    })
                    .await
                    .unwrap_err(),
                "limit",
            );
        }
        for cursor in [
            "garbage",
            "acme.not-a-uuid",
            ".",
            "UPPER.00000000-0000-0000-0000-000000000000",
        ] {
            assert_invalid(
                store
                    .list_tenants(&ListParams {
                        cursor: Some(cursor.into()),
                        ..ListParams::default()
                    })
                    .await
                    .unwrap_err(),
                "cursor",
            );
        }
        assert_invalid(
            store
                .list_audit(&ListParams {
                    cursor: Some("x1".into()),
                    ..ListParams::default()
                })
                .await
                .unwrap_err(),
            "cursor",
        );
    }

    pub async fn members(store: &SeaStore) {
        let t = create(store, "acme", Tier::Pro).await;
        let m = store
            .add_member(t.id, "bob@acme.io", Role::Viewer)
            .await
            .unwrap();
        assert_eq!(m.role, Role::Viewer);
        store
            .add_member(t.id, "alice@acme.io", Role::Admin)
            .await
            .unwrap();
        store
            .add_member(t.id, "ci-bot", Role::Operator)
            .await
            .unwrap();
        let list = store.list_members(t.id).await.unwrap();
        let users: Vec<&str> = list.iter().map(|m| m.user.as_str()).collect();
        assert_eq!(users, ["alice@acme.io", "bob@acme.io", "ci-bot"]);

        let err = store
            .add_member(t.id, "alice@acme.io", Role::Viewer)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::Conflict(Conflict::DuplicateMember { ref user }) if user == "alice@acme.io"
        ));
        assert_eq!(store.list_members(t.id).await.unwrap()[0].role, Role::Admin);

        assert!(
            store
                .add_member(Uuid::new_v4(), "x", Role::Admin)
                .await
                .unwrap_err()
                .is_not_found()
        );
        assert_invalid(
            store.add_member(t.id, "", Role::Admin).await.unwrap_err(),
            "user",
        );
        assert_invalid(
            store
                .add_member(t.id, "eve\n", Role::Admin)
                .await
                .unwrap_err(),
            "user",
        );
        assert_invalid("owner".parse::<Role>().unwrap_err(), "role");

        store.remove_member(t.id, "bob@acme.io").await.unwrap();
        let err = store.remove_member(t.id, "bob@acme.io").await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { kind: "member", .. }));
        assert!(
            store
                .remove_member(Uuid::new_v4(), "bob@acme.io")
                .await
                .unwrap_err()
                .is_not_found()
        );

        // The stored tenant and its members make a Tenant the plan accepts.
        let members = store.list_members(t.id).await.unwrap();
        let tenant = store.get_tenant(t.id).await.unwrap().to_tenant(&members);
        assert_eq!(tenant.spec.admins, ["alice@acme.io"]);
        assert_eq!(tenant.spec.operators, ["ci-bot"]);
        assert!(tenant.spec.viewers.is_empty());
        let plan = mtp_core::plan(
            &tenant,
            &mtp_core::TierCatalogue::default(),
            &mtp_core::PlatformSettings::default(),
        )
        .unwrap();
        assert_eq!(plan.namespace_names(), ["tenant-acme"]);
    }

    pub async fn concurrent_creates_with_one_name(store: &SeaStore) {
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let s = store.clone();
                tokio::spawn(async move { s.create_tenant(new_tenant("same", Tier::Free)).await })
            })
            .collect();
        let mut ok = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => assert!(
                    matches!(e, StoreError::Conflict(Conflict::DuplicateName { .. })),
                    "{e:?}"
                ),
            }
        }
        assert_eq!(ok, 1);
        assert_eq!(count_live(store).await, 1);
    }

    pub async fn corrupt_rows_are_internal_errors_not_panics(store: &SeaStore) {
        use sea_orm::ConnectionTrait;
        let t = create(store, "acme", Tier::Free).await;
        store
            .connection()
            .execute_unprepared("UPDATE tenants SET tier = 'platinum', namespaces = 'not json'")
            .await
            .unwrap();
        let err = store.get_tenant(t.id).await.unwrap_err();
        assert!(matches!(err, StoreError::Internal { .. }), "{err:?}");
        assert!(err.to_string().contains("tenants.tier"), "{err}");
        let err = store
            .list_tenants(&ListParams::default())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Internal { .. }), "{err:?}");
    }

    pub async fn namespaces_have_one_owner(store: &SeaStore) {
        let mut a = new_tenant("a", Tier::Pro);
        a.fields.namespaces = vec!["b-ci".into()];
        let a = store.create_tenant(a).await.unwrap();
        // Tenant a-b with suffix ci would get tenant-a-b-ci, which is a's.
        let mut ab = new_tenant("a-b", Tier::Pro);
        ab.fields.namespaces = vec!["ci".into()];
        let err = store.create_tenant(ab.clone()).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Conflict(Conflict::NamespaceTaken { ref namespace, ref tenant })
                    if namespace == "tenant-a-b-ci" && tenant == "a"
            ),
            "{err:?}"
        );
        assert_eq!(count_live(store).await, 1, "nothing written");
        // Without the clashing suffix a-b is fine; then a cannot take suffix b (a-b's primary).
        ab.fields.namespaces = vec!["prod".into()];
        store.create_tenant(ab).await.unwrap();
        let mut fields = a.fields.clone();
        fields.namespaces = vec!["b".into()];
        let err = store.update_tenant(a.id, 1, fields).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Conflict(Conflict::NamespaceTaken { ref namespace, .. })
                    if namespace == "tenant-a-b"
            ),
            "{err:?}"
        );
        assert_eq!(store.get_tenant(a.id).await.unwrap().version, 1);
        // An update that keeps its own namespaces does not conflict with itself.
        store
            .update_tenant(a.id, 1, a.fields.clone())
            .await
            .unwrap();
    }

    pub async fn audit_log(store: &SeaStore) {
        let mut ids = Vec::new();
        for i in 0..5 {
            let r = store
                .append_audit(NewAuditRecord {
                    actor: "alice".into(),
                    action: "tenant.update".into(),
                    target: format!("tenant/{}", if i % 2 == 0 { "acme" } else { "other" }),
                    outcome: "success".into(),
                    request_id: Some(format!("req-{i}")),
                })
                .await
                .unwrap();
            ids.push(r.id);
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        let first = store
            .list_audit(&ListParams {
                limit: 2,
                ..ListParams::default()
            })
            .await
            .unwrap();
        assert_eq!(first.items.len(), 2);
        assert_eq!(first.items[0].request_id.as_deref(), Some("req-0"));
        let second = store
            .list_audit(&ListParams {
                limit: 10,
                cursor: first.next_cursor,
                ..ListParams::default()
            })
            .await
            .unwrap();
        assert_eq!(second.items.len(), 3);
        assert!(second.next_cursor.is_none());
        let acme = store
            .list_audit(&ListParams {
                target: Some("tenant/acme".into()),
                ..ListParams::default()
            })
            .await
            .unwrap();
        assert_eq!(acme.items.len(), 3);
        assert!(acme.items.iter().all(|r| r.target == "tenant/acme"));

        let bad = NewAuditRecord {
            actor: String::new(),
            action: "a".into(),
            target: "t".into(),
            outcome: "o".into(),
            request_id: None,
        };
        assert_invalid(store.append_audit(bad).await.unwrap_err(), "actor");
        let bad = NewAuditRecord {
            actor: "a".into(),
            action: "a".into(),
            target: "t".repeat(513),
            outcome: "o".into(),
            request_id: None,
        };
        assert_invalid(store.append_audit(bad).await.unwrap_err(), "target");
        let all = store.list_audit(&ListParams::default()).await.unwrap();
        assert_eq!(all.items.len(), 5, "refused records are not written");
    }
    fn audit(action: &str, target: &str) -> NewAuditRecord {
        NewAuditRecord {
            actor: "root".into(),
            action: action.into(),
            target: target.into(),
            outcome: "success".into(),
            request_id: Some("req-1".into()),
        }
    }

    async fn audit_len(store: &SeaStore) -> usize {
        store
            .list_audit(&ListParams {
                limit: 1000,
                ..ListParams::default()
            })
            .await
            .unwrap()
            .items
            .len()
    }

    pub async fn audited_create_is_all_or_nothing(store: &SeaStore) {
        let members = vec![
            NewMember::new("alice", Role::Admin),
            NewMember::new("bob", Role::Viewer),
        ];
        let (t, m) = store
            .create_tenant_audited(
                new_tenant("acme", Tier::Pro),
                members.clone(),
                audit("tenant.create", "tenant/acme"),
            )
            .await
            .unwrap();
        assert_eq!(t.version, 1);
        assert_eq!(m.len(), 2);
        assert_eq!(store.list_members(t.id).await.unwrap().len(), 2);
        let log = store.list_audit(&ListParams::default()).await.unwrap();
        assert_eq!(log.items.len(), 1);
        assert_eq!(log.items[0].request_id.as_deref(), Some("req-1"));

        // Duplicate name, namespace taken, bad audit, duplicate member: nothing written.
        let err = store
            .create_tenant_audited(
                new_tenant("acme", Tier::Free),
                members.clone(),
                audit("a", "t"),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(Conflict::DuplicateName { .. })),
            "{err:?}"
        );
        let mut taken = new_tenant("acme-ci", Tier::Free);
        taken.fields.namespaces = vec![];
        let mut owner = new_tenant("other", Tier::Free);
        owner.fields.namespaces = vec!["x".into()];
        store
            .create_tenant_audited(owner, vec![], audit("a", "t"))
            .await
            .unwrap();
        let err = store
            .create_tenant_audited(
                new_tenant("other-x", Tier::Free),
                members.clone(),
                audit("a", "t"),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(Conflict::NamespaceTaken { .. })),
            "{err:?}"
        );
        assert!(
            store
                .get_tenant_by_name("other-x")
                .await
                .unwrap_err()
                .is_not_found()
        );
        let mut bad = audit("a", "t");
        bad.actor = String::new();
        assert_invalid(
            store
                .create_tenant_audited(taken.clone(), vec![], bad)
                .await
                .unwrap_err(),
            "actor",
        );
        let dup = vec![
            NewMember::new("x", Role::Admin),
            NewMember::new("x", Role::Viewer),
        ];
        assert_invalid(
            store
                .create_tenant_audited(taken, dup, audit("a", "t"))
                .await
                .unwrap_err(),
            "members[1]",
        );
        assert_eq!(count_live(store).await, 2);
        assert_eq!(audit_len(store).await, 2);
    }

    pub async fn audited_updates_bump_versions(store: &SeaStore) {
        let (t, _) = store
            .create_tenant_audited(
                new_tenant("acme", Tier::Pro),
                vec![NewMember::new("alice", Role::Admin)],
                audit("tenant.create", "tenant/acme"),
            )
            .await
            .unwrap();
        // Replace fields only: members kept.
        let mut f = fields(Tier::Enterprise);
        f.display_name = "New".into();
        let (r, m) = store
            .replace_tenant_audited(
                t.id,
                1,
                f.clone(),
                None,
                audit("tenant.update", "tenant/acme"),
            )
            .await
            .unwrap();
        assert_eq!(r.version, 2);
        assert_eq!(r.fields, f);
        assert_eq!(m.len(), 1);
        // Stale: nothing written.
        let err = store
            .replace_tenant_audited(t.id, 1, fields(Tier::Free), Some(vec![]), audit("x", "y"))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::Conflict(Conflict::StaleVersion {
                expected: 1,
                actual: 2
            })
        ));
        assert_eq!(store.list_members(t.id).await.unwrap().len(), 1);
        // Replace the members.
        let (r, m) = store
            .replace_tenant_audited(
                t.id,
                2,
                f.clone(),
                Some(vec![NewMember::new("bob", Role::Operator)]),
                audit("tenant.update", "tenant/acme"),
            )
            .await
            .unwrap();
        assert_eq!(r.version, 3);
        assert_eq!(
            m.iter().map(|m| m.user.as_str()).collect::<Vec<_>>(),
            ["bob"]
        );
        // Member changes bump the version.
        let (added, r) = store
            .add_member_audited(
                t.id,
                NewMember::new("carol", Role::Viewer),
                audit("member.add", "tenant/acme/member/carol"),
            )
            .await
            .unwrap();
        assert_eq!(added.role, Role::Viewer);
        assert_eq!(r.version, 4);
        let err = store
            .add_member_audited(t.id, NewMember::new("carol", Role::Admin), audit("x", "y"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(Conflict::DuplicateMember { .. })),
            "{err:?}"
        );
        assert_eq!(
            store.get_tenant(t.id).await.unwrap().version,
            4,
            "rolled back"
        );
        assert_eq!(
            store.member_role(t.id, "carol").await.unwrap(),
            Some(Role::Viewer)
        );
        let r = store
            .remove_member_audited(
                t.id,
                "carol",
                audit("member.remove", "tenant/acme/member/carol"),
            )
            .await
            .unwrap();
        assert_eq!(r.version, 5);
        assert_eq!(store.member_role(t.id, "carol").await.unwrap(), None);
        let err = store
            .remove_member_audited(t.id, "carol", audit("x", "y"))
            .await
            .unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(store.get_tenant(t.id).await.unwrap().version, 5);
        // Delete: stale, then unconditional.
        let err = store
            .delete_tenant_audited(t.id, Some(1), audit("x", "y"))
            .await
            .unwrap_err();
        assert!(err.is_conflict());
        store
            .delete_tenant_audited(t.id, None, audit("tenant.delete", "tenant/acme"))
            .await
            .unwrap();
        assert!(store.get_tenant(t.id).await.unwrap_err().is_not_found());
        assert!(
            store
                .add_member_audited(t.id, NewMember::new("z", Role::Admin), audit("x", "y"))
                .await
                .unwrap_err()
                .is_not_found()
        );
        // Only the successful changes were audited.
        let actions: Vec<String> = store
            .list_tenant_audit("acme", &ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|r| r.action)
            .collect();
        assert_eq!(
            actions,
            [
                "tenant.create",
                "tenant.update",
                "tenant.update",
                "member.add",
                "member.remove",
                "tenant.delete"
            ]
        );
    }

    pub async fn tenants_of_a_user_and_batch_members(store: &SeaStore) {
        let mut ids = Vec::new();
        for (i, tier) in [Tier::Free, Tier::Pro, Tier::Free, Tier::Free]
            .iter()
            .enumerate()
        {
            let members = if i == 1 {
                vec![]
            } else {
                vec![
                    NewMember::new("alice", Role::Viewer),
                    NewMember::new(format!("u{i}"), Role::Admin),
                ]
            };
            let (t, _) = store
                .create_tenant_audited(
                    new_tenant(&format!("t{i}"), *tier),
                    members,
                    audit("a", "t"),
                )
                .await
                .unwrap();
            ids.push(t.id);
        }
        let page = store
            .list_tenants_of_user(
                "alice",
                &ListParams {
                    limit: 2,
                    ..ListParams::default()
                },
            )
            .await
            .unwrap();
        let names: Vec<&str> = page.items.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["t0", "t2"]);
        let next = store
            .list_tenants_of_user(
                "alice",
                &ListParams {
                    limit: 2,
                    cursor: page.next_cursor.clone(),
                    ..ListParams::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(next.items.len(), 1);
        assert_eq!(next.items[0].name, "t3");
        assert!(next.next_cursor.is_none());
        store
            .delete_tenant_audited(ids[3], None, audit("a", "t"))
            .await
            .unwrap();
        let pro = store
            .list_tenants_of_user(
                "alice",
                &ListParams {
                    tier: Some(Tier::Pro),
                    ..ListParams::default()
                },
            )
            .await
            .unwrap();
        assert!(pro.items.is_empty());
        let all = store
            .list_tenants_of_user("alice", &ListParams::default())
            .await
            .unwrap();
        assert_eq!(all.items.len(), 2, "deleted tenants are not listed");
        assert!(
            store
                .list_tenants_of_user("nobody", &ListParams::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert_invalid(
            store
                .list_tenants_of_user("", &ListParams::default())
                .await
                .unwrap_err(),
            "user",
        );
        let members = store.list_members_of(&ids[..3]).await.unwrap();
        assert_eq!(members.len(), 4);
        assert!(members.iter().all(|m| ids[..3].contains(&m.tenant_id)));
        assert!(store.list_members_of(&[]).await.unwrap().is_empty());
        store.ping().await.unwrap();
        // The audit of a tenant covers its members' targets, not other tenants'.
        store
            .append_audit(audit("member.add", "tenant/t0/member/x"))
            .await
            .unwrap();
        store
            .append_audit(audit("tenant.create", "tenant/t0-x"))
            .await
            .unwrap();
        store
            .append_audit(audit("tenant.create", "tenant/t0"))
            .await
            .unwrap();
        let t0 = store
            .list_tenant_audit("t0", &ListParams::default())
            .await
            .unwrap();
        let targets: Vec<&str> = t0.items.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["tenant/t0/member/x", "tenant/t0"]);
        assert_invalid(
            store
                .list_tenant_audit("T0", &ListParams::default())
                .await
                .unwrap_err(),
            "metadata.name",
        );
    }
}

macro_rules! suite {
    ($backend:ident, $fixture:path) => {
        mod $backend {
            use super::*;
            suite!(@tests $fixture;
                create_and_get,
                duplicate_name_is_a_conflict,
                bad_input_is_refused_and_nothing_is_written,
                get_unknown_is_not_found,
                update_with_expected_version,
                concurrent_updates_exactly_one_wins,
                soft_delete_and_name_reuse,
                pagination_over_1000_tenants,
                bad_list_parameters,
                members,
                concurrent_creates_with_one_name,
                namespaces_have_one_owner,
                corrupt_rows_are_internal_errors_not_panics,
                audit_log,
                audited_create_is_all_or_nothing,
                audited_updates_bump_versions,
                tenants_of_a_user_and_batch_members,
            );
        }
    };
    (@tests $fixture:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = $fixture().await;
                cases::$case(&fixture.store).await;
            }
        )*
    };
}

suite!(sqlite_memory, common::sqlite_memory);
suite!(sqlite_file, common::sqlite_file);
suite!(postgres, common::postgres);

#[tokio::test]
async fn unsupported_urls_are_invalid_and_not_echoed() {
    let err = SeaStore::connect("mysql://admin:hunter2@db/mtp")
        .await
        .unwrap_err();
    assert_invalid_url(&err);
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}

fn assert_invalid_url(err: &StoreError) {
    assert!(
        matches!(err, StoreError::Invalid { field, .. } if field == "url"),
        "{err:?}"
    );
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable_without_the_password() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = SeaStore::connect(&format!("postgres://mtp:s3cr3t-pw@127.0.0.1:{port}/mtp"))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("s3cr3t-pw"));
}

#[tokio::test]
async fn debug_output_never_shows_the_url() {
    let url = format!("{}/test", common::postgres_base()).replacen(
        "postgres@",
        "postgres:pw-not-checked-by-trust@",
        1,
    );
    let store = SeaStore::connect(&url).await.unwrap();
    let debug = format!("{store:?}");
    assert!(!debug.contains("pw-not-checked-by-trust"), "{debug}");
    assert!(debug.contains("Postgres"), "{debug}");
    store.close().await.unwrap();
}

#[tokio::test]
async fn sqlite_file_uses_wal_and_survives_reopen() {
    use sea_orm::{ConnectionTrait, Statement};
    let dir = common::temp_dir("wal");
    let url = format!("sqlite://{}?mode=rwc", dir.join("mtp.db").display());
    let store = SeaStore::open(&url).await.unwrap();
    let row = store
        .connection()
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "PRAGMA journal_mode",
        ))
        .await
        .unwrap()
        .unwrap();
    let mode: String = row.try_get_by_index(0).unwrap();
    assert_eq!(mode, "wal");
    let t = store
        .create_tenant(new_tenant("acme", Tier::Pro))
        .await
        .unwrap();
    store.close().await.unwrap();
    // Migrating again is a no-op; the data is still there.
    let store = SeaStore::open(&url).await.unwrap();
    assert_eq!(store.get_tenant_by_name("acme").await.unwrap().id, t.id);
    store.close().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
