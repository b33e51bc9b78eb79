//! Watch mode driven through its library loop: files edited on disk, each new plan observed.

use super::{REPOS, project_mapping};

/// Waits (up to a generous bound, never asserting on time) for an event `want` accepts.
fn next_event(
    rx: &std::sync::mpsc::Receiver<adoport::watch::Event>,
    what: &str,
    want: impl Fn(&adoport::watch::Event) -> bool,
) -> adoport::watch::Event {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut seen = Vec::new();
    while std::time::Instant::now() < deadline {
        if let Ok(e) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            if want(&e) {
                return e;
            }
            seen.push(format!("{e:?}").chars().take(300).collect::<String>());
        }
    }
    panic!("no event {what}; saw {seen:#?}");
}

#[test]
fn watch_replans_each_save_reuses_unchanged_resources_and_keeps_the_last_good_state() {
    use adoport::ado::Listing;
    use adoport::catalog::{Catalog, SqliteCatalog};
    use adoport::desired::Listings;
    use adoport::pipeline::{Access, Options, Pipeline};
    use adoport::watch::{Event, Session, WatchOptions};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("config");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("port-app-config.yaml"), project_mapping("about")).unwrap();
    let mut listings = Listings::default();
    let projects = (0..3)
        .map(|i| serde_json::json!({"id": format!("p{i}"), "name": format!("P{i}"), "description": "d", "url": "u"}))
        .collect();
    listings.0.insert(
        "project".into(),
        Arc::new(Listing::complete("project", projects)),
    );
    let repos = vec![serde_json::json!({"id": "r1", "name": "api", "size": 1})];
    listings.0.insert(
        "repository".into(),
        Arc::new(Listing::complete("repository", repos)),
    );
    let catalog = Arc::new(SqliteCatalog::open(tmp.path().join("c.sqlite"), "adoport").unwrap());
    let pipeline = Pipeline::new(
        Box::new(listings),
        Some(catalog.clone() as Arc<dyn Catalog>),
        &Access::default(),
        Options {
            reuse_mapped: true,
            ..Options::default()
        },
    )
    .unwrap();
    let session = Session::new(&dir, pipeline, true);
    let options = WatchOptions {
        debounce: std::time::Duration::from_millis(100),
        rescan: std::time::Duration::from_millis(400),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let loop_stop = stop.clone();
    let worker =
        std::thread::spawn(move || adoport::watch::run(session, &options, &tx, &loop_stop));

    // The first step plans and applies the folder as it is.
    let Event::Planned(first) = next_event(&rx, "for the first plan", |e| {
        matches!(e, Event::Planned(_))
    }) else {
        unreachable!()
    };
    assert_eq!(first.planned.plan.summary.create, 3);
    assert_eq!(first.applied.as_ref().unwrap().as_ref().unwrap().created, 3);

    // A second file in a new folder: a new resource, the old one reused.
    std::fs::create_dir_all(dir.join("mappings")).unwrap();
    std::fs::write(dir.join("mappings/repos.yaml"), REPOS).unwrap();
    let Event::Planned(second) = next_event(
        &rx,
        "after adding mappings/repos.yaml",
        |e| matches!(e, Event::Planned(p) if p.planned.plan.summary.create == 1),
    ) else {
        unreachable!()
    };
    assert_eq!((second.planned.evaluated, second.planned.reused), (1, 1));
    assert_eq!(
        second
            .planned
            .plan
            .creates
            .first()
            .expect("a create")
            .identifier,
        "r1"
    );

    // A broken save is shown and changes nothing.
    std::fs::write(
        dir.join("mappings/repos.yaml"),
        "resources:\n  - kind: repository\n    selctor: {}\n",
    )
    .unwrap();
    let Event::Rejected(rejected) = next_event(&rx, "rejecting the broken save", |e| {
        matches!(e, Event::Rejected(_))
    }) else {
        unreachable!()
    };
    assert!(rejected.kept_last_good);
    assert!(
        rejected
            .loaded
            .diagnostics
            .iter()
            .any(|d| d.message.contains("selctor"))
    );
    assert_eq!(
        catalog.list_owned_blocking().unwrap().len(),
        4,
        "nothing applied from a broken save"
    );

    // Editor temp files wake nothing; the fix plans an update of the changed resource only.
    std::fs::write(dir.join("mappings/.repos.yaml.swp"), "junk").unwrap();
    std::fs::write(
        dir.join("mappings/repos.yaml"),
        REPOS.replace("size: .size", "size: .size + 1"),
    )
    .unwrap();
    let Event::Planned(fixed) =
        next_event(&rx, "after the fix", |e| matches!(e, Event::Planned(_)))
    else {
        unreachable!()
    };
    assert_eq!(
        fixed.planned.plan.summary.update, 1,
        "{:?}",
        fixed.planned.plan
    );
    assert_eq!((fixed.planned.evaluated, fixed.planned.reused), (1, 1));
    assert!(
        fixed
            .changed
            .as_ref()
            .is_some_and(|d| d.resources.len() == 1)
    );

    stop.store(true, Ordering::Relaxed);
    drop(rx);
    worker.join().unwrap().unwrap();
}

#[test]
fn watch_plans_against_the_catalog_as_it_is_now_not_as_it_was_at_start() {
    use adoport::ado::Snapshot;
    use adoport::catalog::{Catalog, SqliteCatalog};
    use adoport::desired::SnapshotItems;
    use adoport::pipeline::{Access, Options, Pipeline};
    use adoport::watch::{Event, Session};
    use std::sync::Arc;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("config");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("port-app-config.yaml"), project_mapping("about")).unwrap();
    let snap = tmp.path().join("snap");
    super::snapshot(&snap, 3);
    let path = tmp.path().join("c.sqlite");
    let catalog = Arc::new(SqliteCatalog::open(&path, "adoport").unwrap());
    let pipeline = Pipeline::new(
        Box::new(SnapshotItems::new(Snapshot::open(&snap).unwrap())),
        Some(catalog as Arc<dyn Catalog>),
        &Access::default(),
        Options {
            reuse_mapped: true,
            ..Options::default()
        },
    )
    .unwrap();
    // Plan only: the session never writes.
    let mut session = Session::new(&dir, pipeline, false);
    let Some(Event::Planned(first)) = session.step() else {
        panic!("no first plan")
    };
    assert_eq!(first.planned.plan.summary.create, 3);

    // Another process applies the same config to the catalog.
    let out = crate::support::adoport(&[
        "apply",
        "--config",
        &dir.display().to_string(),
        "--source",
        &format!("snapshot:{}", snap.display()),
        "--target",
        &format!("sqlite:{}", path.display()),
    ]);
    crate::support::assert_exit(&out, 0);

    // The next save plans against the catalog as it is now: nothing left to create.
    std::fs::write(
        dir.join("port-app-config.yaml"),
        project_mapping("about") + "# saved again\n",
    )
    .unwrap();
    let Some(Event::Planned(second)) = session.step() else {
        panic!("no second plan")
    };
    assert!(
        !second.planned.plan.has_changes(),
        "{:?}",
        second.planned.plan.summary
    );
    assert_eq!(second.planned.plan.summary.unchanged, 3);
}
