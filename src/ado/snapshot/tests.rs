//! Record and replay of snapshot directories, and the files replay refuses to read.

use super::*;
use serde_json::json;

fn record(dir: &Path, listings: &[Listing]) {
    let mut writer = SnapshotWriter::create(dir, "https://dev.azure.com/acme").unwrap();
    for listing in listings {
        writer.record(listing).unwrap();
    }
}

#[test]
fn a_recorded_listing_replays_item_for_item() {
    let dir = tempfile::tempdir().unwrap();
    let items = vec![
        json!({"id": 1, "__project": {"id": "p"}}),
        json!({"id": 2, "s": "a\nb"}),
    ];
    record(dir.path(), &[Listing::complete("work-item", items.clone())]);
    let snapshot = Snapshot::open(dir.path()).unwrap();
    assert_eq!(
        snapshot.listing("work-item"),
        Listing::complete("work-item", items)
    );
    assert_eq!(
        snapshot.manifest().organization,
        "https://dev.azure.com/acme"
    );
}

#[test]
fn an_empty_complete_kind_replays_as_complete_and_empty() {
    let dir = tempfile::tempdir().unwrap();
    record(dir.path(), &[Listing::complete("team", vec![])]);
    let listing = Snapshot::open(dir.path()).unwrap().listing("team");
    assert!(listing.complete);
    assert!(listing.items.is_empty());
}

#[test]
fn a_kind_missing_from_the_manifest_is_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    record(dir.path(), &[Listing::complete("project", vec![json!({})])]);
    let listing = Snapshot::open(dir.path()).unwrap().listing("build");
    assert!(!listing.complete);
    assert!(listing.error.unwrap().contains("no build data"));
}

#[test]
fn a_kind_recorded_incomplete_stays_incomplete_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let partial = Listing::incomplete("build", vec![json!({"id": 1})], "HTTP 500 on page 2");
    record(dir.path(), &[partial]);
    let listing = Snapshot::open(dir.path()).unwrap().listing("build");
    assert!(!listing.complete);
    assert_eq!(listing.items.len(), 1);
    assert!(listing.error.unwrap().contains("HTTP 500 on page 2"));
}

#[test]
fn a_line_count_that_disagrees_with_the_manifest_is_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    record(
        dir.path(),
        &[Listing::complete("project", vec![json!(1), json!(2)])],
    );
    std::fs::write(dir.path().join("project.jsonl"), "1\n").unwrap();
    let listing = Snapshot::open(dir.path()).unwrap().listing("project");
    assert!(!listing.complete);
    assert!(listing.error.unwrap().contains("manifest records 2"));
}

#[test]
fn a_malformed_line_is_an_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    record(
        dir.path(),
        &[Listing::complete("project", vec![json!(1), json!(2)])],
    );
    std::fs::write(dir.path().join("project.jsonl"), "1\n{oops\n").unwrap();
    let snapshot = Snapshot::open(dir.path()).unwrap();
    let err = snapshot.read_items("project").unwrap_err();
    assert!(
        matches!(err, Error::MalformedLine { line: 2, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("project.jsonl:2"));
    let listing = snapshot.listing("project");
    assert!(!listing.complete);
    assert!(listing.error.unwrap().contains("project.jsonl:2"));
}

#[test]
fn a_missing_manifest_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Snapshot::open(dir.path()),
        Err(Error::ManifestUnreadable { .. })
    ));
}

#[test]
fn kind_names_cannot_escape_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = SnapshotWriter::create(dir.path(), "o").unwrap();
    let err = writer
        .record(&Listing::complete("../x", vec![]))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidKind(_)));
}

/// Replays `kind` on another thread, failing the test (instead of hanging it) when the
/// replay does not come back within five seconds.
fn listing_within_seconds(snapshot: &Snapshot, kind: &str) -> Listing {
    let (tx, rx) = std::sync::mpsc::channel();
    let (snapshot, kind) = (snapshot.clone(), kind.to_owned());
    std::thread::spawn(move || {
        let _ = tx.send(snapshot.listing(&kind));
    });
    rx.recv_timeout(std::time::Duration::from_secs(5))
        .expect("replaying the kind hung")
}

#[test]
fn a_kind_file_that_is_a_fifo_is_refused_instead_of_blocking_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    record(dir.path(), &[Listing::complete("project", vec![json!(1)])]);
    let path = dir.path().join("project.jsonl");
    std::fs::remove_file(&path).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&path).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo failed");
    let snapshot = Snapshot::open(dir.path()).unwrap();
    let listing = listing_within_seconds(&snapshot, "project");
    assert!(!listing.complete);
    assert!(listing.items.is_empty());
    assert_eq!(listing.cause, Some(Incomplete::Failed));
    assert!(
        listing.error.unwrap().contains("not a regular file"),
        "the reason names the problem"
    );
}

#[test]
fn a_kind_file_linking_out_of_the_snapshot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    record(dir.path(), &[Listing::complete("project", vec![json!(1)])]);
    let path = dir.path().join("project.jsonl");
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
    let snapshot = Snapshot::open(dir.path()).unwrap();
    let listing = listing_within_seconds(&snapshot, "project");
    assert!(!listing.complete);
    assert!(listing.items.is_empty());
    assert!(
        listing
            .error
            .unwrap()
            .contains("links outside the snapshot directory")
    );
    assert!(matches!(
        snapshot.read_items("project"),
        Err(Error::OutsideSnapshot { .. })
    ));
}

#[test]
fn a_link_to_a_file_inside_the_snapshot_replays() {
    let dir = tempfile::tempdir().unwrap();
    record(dir.path(), &[Listing::complete("project", vec![json!(1)])]);
    let path = dir.path().join("project.jsonl");
    std::fs::rename(&path, dir.path().join("project.data")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("project.data"), &path).unwrap();
    let listing = Snapshot::open(dir.path()).unwrap().listing("project");
    assert_eq!(listing, Listing::complete("project", vec![json!(1)]));
}

#[test]
fn a_kind_file_over_the_size_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let items: Vec<Value> = (0..100).map(|i| json!({"id": i})).collect();
    record(dir.path(), &[Listing::complete("project", items)]);
    let snapshot = Snapshot::open(dir.path()).unwrap().with_max_file_bytes(64);
    let listing = snapshot.listing("project");
    assert!(!listing.complete);
    assert!(listing.items.is_empty());
    assert!(listing.error.unwrap().contains("64-byte limit"));
}

#[test]
fn a_manifest_that_is_not_a_regular_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join(MANIFEST_FILE)).unwrap();
    assert!(matches!(
        Snapshot::open(dir.path()),
        Err(Error::OutsideSnapshot { .. })
    ));
    let inner = tempfile::tempdir().unwrap();
    std::fs::create_dir(inner.path().join(MANIFEST_FILE)).unwrap();
    assert!(matches!(
        Snapshot::open(inner.path()),
        Err(Error::NotARegularFile { .. })
    ));
}

#[test]
fn an_auth_failure_is_recorded_and_replayed_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let refused = Listing::incomplete("build", vec![], "ADO refused the PAT").with_cause(
        Incomplete::Unauthorized {
            scope: crate::ado::Scope::Build,
        },
    );
    record(dir.path(), std::slice::from_ref(&refused));
    let text = std::fs::read_to_string(dir.path().join(MANIFEST_FILE)).unwrap();
    assert!(text.contains(r#""type": "unauthorized""#), "{text}");
    let listing = Snapshot::open(dir.path()).unwrap().listing("build");
    assert!(listing.is_unauthorized(), "{listing:?}");
}

#[test]
fn a_manifest_written_before_causes_existed_still_replays() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(MANIFEST_FILE),
        r#"{"version": 1, "organization": "o", "fetched_at": "2026-01-01T00:00:00Z",
            "kinds": {"project": {"count": 1, "complete": true, "error": null},
                      "build": {"count": 0, "complete": false, "error": "HTTP 500"}}}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("project.jsonl"), "1\n").unwrap();
    std::fs::write(dir.path().join("build.jsonl"), "").unwrap();
    let snapshot = Snapshot::open(dir.path()).unwrap();
    assert!(snapshot.listing("project").complete);
    let build = snapshot.listing("build");
    assert_eq!(build.cause, Some(Incomplete::Failed));
    // A complete kind writes no cause: the manifest reads as before.
    let mut writer = SnapshotWriter::create(dir.path(), "o").unwrap();
    writer
        .record(&Listing::complete("project", vec![json!(1)]))
        .unwrap();
    let text = std::fs::read_to_string(dir.path().join(MANIFEST_FILE)).unwrap();
    assert!(!text.contains("cause"), "{text}");
}

#[tokio::test]
async fn the_source_ignores_the_selector_and_replays_everything() {
    let dir = tempfile::tempdir().unwrap();
    record(
        dir.path(),
        &[Listing::complete("work-item", vec![json!(1), json!(2)])],
    );
    let snapshot = Snapshot::open(dir.path()).unwrap();
    let mut selector = Map::new();
    selector.insert("wiql".into(), json!("[System.Id] = 1"));
    let listing = snapshot.fetch("work-item", &selector).await;
    assert_eq!(listing.items.len(), 2);
    assert!(listing.complete);
}

fn part(name: &str, count: usize, complete: bool) -> Part {
    Part {
        organization: Organization {
            url: format!("https://dev.azure.com/{name}"),
            name: name.into(),
        },
        count,
        complete,
        error: (!complete).then(|| "HTTP 500".to_owned()),
        cause: (!complete).then_some(Incomplete::Failed),
    }
}

/// Two organizations' items of one kind, `acme` whole and `labs` cut short.
fn two_organizations() -> Listing {
    let acme = Listing::complete("build", vec![json!({"id": 1}), json!({"id": 2})])
        .in_organization(part("acme", 2, true).organization);
    let labs = Listing::incomplete("build", vec![json!({"id": 3})], "HTTP 500 on page 2")
        .in_organization(part("labs", 1, false).organization);
    Listing::join("build", vec![acme, labs])
}

#[test]
fn several_organizations_replay_with_each_ones_share_so_the_gap_stays_confined() {
    let dir = tempfile::tempdir().unwrap();
    let orgs = vec![
        "https://dev.azure.com/acme".to_owned(),
        "https://dev.azure.com/labs".to_owned(),
    ];
    let mut writer = SnapshotWriter::create_for(dir.path(), &orgs).unwrap();
    let recorded = two_organizations();
    writer.record(&recorded).unwrap();
    let snapshot = Snapshot::open(dir.path()).unwrap();
    assert_eq!(snapshot.manifest().organizations, orgs);
    let replayed = snapshot.listing("build");
    assert!(!replayed.complete);
    assert_eq!(replayed.items, recorded.items);
    assert_eq!(replayed.parts, recorded.parts);
    let failed: Vec<&str> = replayed
        .incomplete_organizations()
        .unwrap()
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(failed, ["labs"]);
}

#[test]
fn organization_shares_that_disagree_with_the_kind_leave_it_in_doubt_as_a_whole() {
    let dir = tempfile::tempdir().unwrap();
    let orgs = vec![
        "https://dev.azure.com/acme".into(),
        "https://dev.azure.com/labs".into(),
    ];
    let mut writer = SnapshotWriter::create_for(dir.path(), &orgs).unwrap();
    writer.record(&two_organizations()).unwrap();
    let path = dir.path().join(MANIFEST_FILE);
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    manifest["kinds"]["build"]["organizations"][0]["count"] = json!(5);
    std::fs::write(&path, manifest.to_string()).unwrap();
    let replayed = Snapshot::open(dir.path()).unwrap().listing("build");
    assert!(!replayed.complete);
    assert!(
        replayed.incomplete_organizations().is_none(),
        "{replayed:?}"
    );

    // A kind recorded whole whose shares say otherwise is not whole.
    manifest["kinds"]["build"]["organizations"][0]["count"] = json!(2);
    manifest["kinds"]["build"]["complete"] = json!(true);
    std::fs::write(&path, manifest.to_string()).unwrap();
    let replayed = Snapshot::open(dir.path()).unwrap().listing("build");
    assert!(!replayed.complete);
    assert!(replayed.error.unwrap().contains("disagree"));
}

#[test]
fn one_organizations_snapshot_keeps_the_single_organization_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer =
        SnapshotWriter::create_for(dir.path(), &["https://dev.azure.com/acme".to_owned()]).unwrap();
    let listing = Listing::complete("build", vec![json!({"id": 1})])
        .in_organization(part("acme", 1, true).organization);
    writer.record(&listing).unwrap();
    let text = std::fs::read_to_string(dir.path().join(MANIFEST_FILE)).unwrap();
    assert!(!text.contains("organizations"), "{text}");
    assert_eq!(
        Snapshot::open(dir.path()).unwrap().manifest().organization,
        "https://dev.azure.com/acme"
    );
}
