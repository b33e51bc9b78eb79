//! The reconciler against a real SQLite catalog, with faults: partial sources, tripped
//! guards, another datasource's entities, failing batches, an apply killed midway; and a
//! property test that apply-then-plan is always empty and another writer's entities are
//! never touched.

use std::collections::{BTreeMap, HashSet};

use adoport::catalog::{Catalog, SqliteCatalog, WriteOptions};
use adoport::entity::{Entity, EntityKey};
use adoport::reconcile::plan::BlockReason;
use adoport::reconcile::{
    ApplyOptions, Desired, Guards, IncompleteKind, KindBlueprints, Plan, apply, plan, plan_catalog,
};
use adoport::testkit::faulty_catalog::{Faults, FaultyCatalog};
use proptest::prelude::*;
use serde_json::{Value, json};

fn entity(bp: &str, id: &str, props: Value) -> Entity {
    let mut e = Entity::new(id, bp);
    e.title = Some(json!(format!("{bp} {id}")));
    e.properties = props.as_object().cloned().unwrap_or_default();
    e
}

fn many(bp: &str, n: usize, version: i64) -> Vec<Entity> {
    (0..n)
        .map(|i| entity(bp, &format!("{bp}-{i:03}"), json!({"v": version})))
        .collect()
}

fn desired(entities: Vec<Entity>) -> Desired {
    Desired {
        entities,
        ..Desired::default()
    }
}

/// Plans the way the CLI does: streaming the listing into the planner.
async fn plan_against(catalog: &dyn Catalog, d: Desired, guards: &Guards) -> Plan {
    let streamed = plan_catalog(d.clone(), catalog, guards)
        .await
        .expect("listing");
    let mut listed = plan(d, catalog.list_owned().await.expect("listing"), guards);
    let creates: Vec<EntityKey> = listed.creates.iter().map(Entity::key).collect();
    let owners = catalog.foreign_owners(&creates).await.expect("owners");
    listed.set_foreign(&owners, guards.adopt);
    assert_eq!(streamed, listed, "streamed and listed plans differ");
    streamed
}

fn open(dir: &tempfile::TempDir) -> SqliteCatalog {
    SqliteCatalog::open(dir.path().join("catalog.sqlite"), "us").expect("open")
}

#[tokio::test]
async fn an_incomplete_kind_deletes_nothing_of_its_blueprint_while_the_rest_converges() {
    let dir = tempfile::tempdir().unwrap();
    let cat = open(&dir);
    cat.seed("us", &many("build", 30, 1)).unwrap();
    cat.seed("us", &many("repo", 3, 1)).unwrap();
    // The build fetch failed after 5 items; repos are fine, one repo is gone.
    let mut d = desired(many("build", 5, 2));
    d.entities.extend(many("repo", 2, 1));
    d.incomplete.push(IncompleteKind {
        kind: "build".into(),
        reason: "fetch cut short after page 1".into(),
        blueprints: KindBlueprints::Known(["build".to_owned()].into()),
        confined: None,
    });
    let p = plan_against(&cat, d, &Guards::default()).await;
    assert_eq!(
        p.deletes.iter().map(Entity::key).collect::<Vec<_>>(),
        vec![EntityKey {
            blueprint: "repo".into(),
            identifier: "repo-002".into()
        }]
    );
    assert_eq!(p.blocked[0].reason, BlockReason::IncompleteKind);
    assert_eq!(p.blocked[0].entities.len(), 25);
    let report = apply(&p, &cat, ApplyOptions::default()).await;
    assert!(report.is_success());
    assert_eq!((report.updated, report.deleted), (5, 1));
    assert_eq!(cat.list_owned().await.unwrap().len(), 30 + 2);
}

#[tokio::test]
async fn a_tripped_threshold_deletes_nothing_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let cat = open(&dir);
    cat.seed("us", &many("repo", 20, 1)).unwrap();
    // The source came back nearly empty: 19 of 20 would go (95 % > 90 %).
    let p = plan_against(&cat, desired(many("repo", 1, 1)), &Guards::default()).await;
    assert!(p.deletes.is_empty());
    assert_eq!(p.blocked[0].reason, BlockReason::Threshold);
    assert!(
        p.blocked[0].message.contains("19 of 20"),
        "{}",
        p.blocked[0].message
    );
    let report = apply(&p, &cat, ApplyOptions::default()).await;
    assert_eq!(report.deleted, 0);
    assert_eq!(report.blocked_deletes, 19);
    assert_eq!(cat.list_owned().await.unwrap().len(), 20);
}

#[tokio::test]
async fn another_datasources_entities_are_never_touched() {
    let dir = tempfile::tempdir().unwrap();
    let theirs = many("repo", 10, 7);
    let cat =
        SqliteCatalog::open_seeded(dir.path().join("c.sqlite"), "us", "them", &theirs).unwrap();
    cat.seed("us", &many("service", 4, 1)).unwrap();
    let everything_goes = Guards {
        deletion_threshold: 1.0,
        ..Guards::default()
    };
    let p = plan_against(&cat, desired(vec![]), &everything_goes).await;
    assert_eq!(p.deletes.len(), 4);
    assert!(p.deletes.iter().all(|e| e.blueprint == "service"));
    let report = apply(&p, &cat, ApplyOptions::default()).await;
    assert!(report.is_success());
    let left = cat.list_all().unwrap();
    assert_eq!(left.len(), 10);
    assert!(left.iter().all(|s| s.datasource == "them"));
    assert_eq!(
        left.into_iter().map(|s| s.entity).collect::<Vec<_>>(),
        theirs
    );
}

#[tokio::test]
async fn a_failing_batch_is_reported_and_every_other_entity_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let faulty = FaultyCatalog::new(
        open(&dir),
        Faults {
            fail_batch_containing: Some("repo-025".into()),
            ..Faults::default()
        },
    );
    let d = desired([many("repo", 50, 1), many("project", 3, 1)].concat());
    let p = plan_against(&faulty, d.clone(), &Guards::default()).await;
    let report = apply(&p, &faulty, ApplyOptions::default()).await;
    // repo-020..repo-039 form the second batch of 20.
    assert_eq!(report.failed, 20);
    assert_eq!(report.failed_batches, 1);
    assert_eq!(report.created, 33);
    assert!(
        report
            .failures
            .iter()
            .all(|f| f.message.contains("HTTP 502"))
    );
    assert_eq!(report.failures[0].key.identifier, "repo-020");
    assert!(!report.is_success());
    // The next run, with the fault gone, writes exactly the failed ones.
    let cat = faulty.inner();
    let p = plan_against(cat, d.clone(), &Guards::default()).await;
    assert_eq!(p.summary.create, 20);
    apply(&p, cat, ApplyOptions::default()).await;
    assert!(!plan_against(cat, d, &Guards::default()).await.has_changes());
}

#[tokio::test]
async fn an_apply_killed_midway_converges_when_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let cat = open(&dir);
    cat.seed("us", &many("repo", 150, 1)).unwrap();
    // Change 100 repos, drop 50 (a third: under the threshold), add 40 work items.
    let mut want = many("repo", 100, 2);
    want.extend(many("workitem", 40, 1));
    let d = desired(want);
    let p = plan_against(&cat, d.clone(), &Guards::default()).await;
    assert_eq!(
        (p.summary.create, p.summary.update, p.summary.delete),
        (40, 100, 50)
    );

    let killed = FaultyCatalog::new(
        cat.clone(),
        Faults {
            fail_after_writes: Some(3),
            ..Faults::default()
        },
    );
    let report = apply(&p, &killed, ApplyOptions { concurrency: 1 }).await;
    // The writes after the third call fail, so the run deletes nothing: the 50 deletes are
    // skipped, not attempted.
    assert_eq!(report.created + report.updated, 60);
    assert_eq!((report.deleted, report.skipped_deletes), (0, 50));
    assert_eq!(report.failed, 80);

    // Every entity is whole: old or new, never half-written.
    for stored in cat.list_owned().await.unwrap() {
        let v = &stored.properties["v"];
        assert!(v == &json!(1) || v == &json!(2), "{stored:?}");
    }
    let again = plan_against(&cat, d.clone(), &Guards::default()).await;
    assert_eq!(
        again.summary.create + again.summary.update + again.summary.delete,
        130
    );
    assert!(
        apply(&again, &cat, ApplyOptions::default())
            .await
            .is_success()
    );
    let last = plan_against(&cat, d, &Guards::default()).await;
    assert!(!last.has_changes(), "{:?}", last.summary);
    assert_eq!(cat.runs().unwrap().len(), 2);
}

#[tokio::test]
async fn a_failed_listing_is_an_error_not_an_empty_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let faulty = FaultyCatalog::new(
        open(&dir),
        Faults {
            fail_list: true,
            ..Faults::default()
        },
    );
    assert!(faulty.list_owned().await.is_err());
    assert!(
        plan_catalog(desired(vec![]), &faulty, &Guards::default())
            .await
            .is_err()
    );
}

// ---- property: apply, then plan again, is empty; other datasources are left alone ----

fn arb_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        (0i64..3).prop_map(|n| json!(n)),
        Just(json!(1.0)),
        "[a-c]{0,2}".prop_map(Value::String),
        Just(json!(["x", "y"])),
    ]
}

fn arb_entity() -> impl Strategy<Value = Entity> {
    (
        prop::sample::select(vec!["repo", "service", "project"]),
        0u8..8,
        prop::option::of(arb_value()),
        prop::option::of(prop::sample::select(vec!["Git", "Service"])),
        prop::option::of(prop_oneof![
            Just(json!("team-a")),
            Just(json!(["team-b", "team-a"]))
        ]),
        prop::collection::btree_map(prop::sample::select(vec!["p", "q", "r"]), arb_value(), 0..3),
        prop::option::of(0u8..8),
    )
        .prop_map(|(bp, id, title, icon, team, props, rel)| {
            let mut e = Entity::new(format!("e{id}"), bp);
            e.title = title;
            e.icon = icon.map(|i| json!(i));
            e.team = team;
            e.properties = props.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            if let Some(r) = rel {
                e.relations
                    .insert("dependsOn".into(), json!(format!("e{r}")));
            }
            e
        })
}

fn unique(entities: Vec<Entity>) -> Vec<Entity> {
    let mut by_key: BTreeMap<EntityKey, Entity> = BTreeMap::new();
    for e in entities {
        by_key.insert(e.key(), e);
    }
    by_key.into_values().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn apply_then_plan_is_empty_and_other_datasources_are_untouched(
        want in prop::collection::vec(arb_entity(), 0..14),
        ours in prop::collection::vec(arb_entity(), 0..14),
        theirs in prop::collection::vec(arb_entity(), 0..6),
        merge in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let ours = unique(ours);
        let our_keys: HashSet<EntityKey> = ours.iter().map(Entity::key).collect();
        let theirs: Vec<Entity> =
            unique(theirs).into_iter().filter(|e| !our_keys.contains(&e.key())).collect();
        let wanted: HashSet<EntityKey> = want.iter().map(Entity::key).collect();

        let dir = tempfile::tempdir().unwrap();
        let cat = SqliteCatalog::open_seeded(dir.path().join("c.sqlite"), "us", "them", &theirs)
            .unwrap();
        cat.seed("us", &ours).unwrap();
        let d = Desired {
            entities: want,
            options: WriteOptions { merge, ..WriteOptions::default() },
            ..Desired::default()
        };
        let guards = Guards { deletion_threshold: 1.0, ..Guards::default() };

        let kept: Result<HashSet<EntityKey>, TestCaseError> = rt.block_on(async {
            let first = plan_against(&cat, d.clone(), &guards).await;
            let report = apply(&first, &cat, ApplyOptions::default()).await;
            prop_assert!(report.is_success(), "{:?}", report.failures);
            let second = plan_against(&cat, d.clone(), &guards).await;
            prop_assert!(!second.has_changes(), "{:#?}", second);
            // Only relation targets of desired entities are held back (Port keeps them).
            prop_assert!(second.blocked.iter().all(|b| matches!(
                b.reason,
                BlockReason::RelationTarget | BlockReason::RelationTargetUnknown
            )));
            prop_assert_eq!(&second.blocked, &first.blocked);
            Ok(first.blocked.iter().flat_map(|b| b.entities.clone()).collect::<HashSet<_>>())
        });
        let kept = kept?;

        let after: BTreeMap<EntityKey, _> =
            cat.list_all().unwrap().into_iter().map(|s| (s.entity.key(), s)).collect();
        // Another writer's entities are left as they were, even under keys we map: they are
        // held (listed in the plan), never taken over without --adopt.
        for e in &theirs {
            let stored = &after[&e.key()];
            prop_assert_eq!(&stored.datasource, "them");
            prop_assert_eq!(&stored.entity, e);
        }
        // Nothing of ours outlives the desired set.
        for (key, stored) in &after {
            if stored.datasource == "us" {
                prop_assert!(wanted.contains(key) || kept.contains(key), "{key} kept");
            }
        }
    }
}
