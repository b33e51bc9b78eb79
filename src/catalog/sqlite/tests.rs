//! Tests of the SQLite catalog: merge and replace, ownership, batches, migrations, streaming.

use super::*;
use serde_json::json;

fn entity(id: &str, props: Value) -> Entity {
    let mut e = Entity::new(id, "service");
    e.title = Some(json!(id.to_uppercase()));
    e.properties = props.as_object().cloned().unwrap_or_default();
    e
}

fn opts(merge: bool) -> WriteOptions {
    WriteOptions {
        merge,
        ..WriteOptions::default()
    }
}

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/catalog.sqlite");
    (dir, path)
}

#[tokio::test]
async fn merge_keeps_unsent_keys_and_replace_clears_them() {
    let (_d, path) = temp();
    let cat = SqliteCatalog::open(&path, "us").unwrap();
    let first = entity("a", json!({"x": 1, "y": 2}));
    cat.upsert("service", &[first], opts(true)).await.unwrap();

    let mut second = Entity::new("a", "service");
    second.properties = json!({"y": 3}).as_object().cloned().unwrap();
    cat.upsert("service", std::slice::from_ref(&second), opts(true))
        .await
        .unwrap();
    let stored = cat.list_owned().await.unwrap();
    assert_eq!(
        stored[0].properties,
        *json!({"x": 1, "y": 3}).as_object().unwrap()
    );
    assert_eq!(stored[0].title, Some(json!("A")));

    cat.upsert("service", &[second.clone()], opts(false))
        .await
        .unwrap();
    assert_eq!(cat.list_owned().await.unwrap(), vec![second]);
}

#[tokio::test]
async fn a_mapped_null_and_an_unmapped_field_are_stored_apart() {
    let (_d, path) = temp();
    let cat = SqliteCatalog::open(&path, "us").unwrap();
    let mut e = Entity::new("a", "service");
    e.title = Some(Value::Null);
    cat.upsert("service", &[e.clone()], opts(true))
        .await
        .unwrap();
    let back = cat.list_owned().await.unwrap();
    assert_eq!(back, vec![e]);
    assert_eq!(back[0].icon, None);
}

#[tokio::test]
async fn overwriting_another_datasources_entity_makes_it_ours() {
    let (_d, path) = temp();
    let theirs = entity("a", json!({"x": 1}));
    let cat = SqliteCatalog::open_seeded(&path, "us", "them", &[theirs]).unwrap();
    assert!(cat.list_owned().await.unwrap().is_empty());
    let mine = entity("a", json!({"y": 2}));
    cat.upsert("service", &[mine], opts(true)).await.unwrap();
    let all = cat.list_all().unwrap();
    assert_eq!(all[0].datasource, "us");
    assert_eq!(
        all[0].entity.properties,
        *json!({"x": 1, "y": 2}).as_object().unwrap()
    );
}

#[tokio::test]
async fn deleting_refuses_other_datasources_and_accepts_missing() {
    let (_d, path) = temp();
    let cat = SqliteCatalog::open_seeded(&path, "us", "them", &[entity("a", json!({}))]).unwrap();
    let out = cat
        .delete(
            "service",
            &["a".to_owned(), "gone".to_owned()],
            WriteOptions::default(),
        )
        .await
        .unwrap();
    assert!(out[0].result.is_err());
    assert!(out[1].result.is_ok());
    assert_eq!(cat.list_all().unwrap().len(), 1);
}

#[tokio::test]
async fn a_bad_identifier_is_refused_alone_and_the_batch_commits() {
    let (_d, path) = temp();
    let cat = SqliteCatalog::open(&path, "us").unwrap();
    let batch = [entity("ok", json!({})), entity("bad id", json!({}))];
    let out = cat.upsert("service", &batch, opts(true)).await.unwrap();
    assert!(out[0].result.is_ok());
    assert!(out[1].result.as_ref().unwrap_err().contains("' '"));
    assert_eq!(cat.list_owned().await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_oversize_batch_fails_whole() {
    let (_d, path) = temp();
    let cat = SqliteCatalog::open(&path, "us").unwrap();
    let batch: Vec<_> = (0..21)
        .map(|i| entity(&format!("e{i}"), json!({})))
        .collect();
    let err = cat.upsert("service", &batch, opts(true)).await.unwrap_err();
    assert!(matches!(err, super::super::Error::WriteFailed(_)));
    assert!(cat.list_owned().await.unwrap().is_empty());
}

#[tokio::test]
async fn reopening_keeps_data_runs_and_schema_version() {
    let (_d, path) = temp();
    {
        let cat = SqliteCatalog::open(&path, "us").unwrap();
        cat.upsert("service", &[entity("a", json!({}))], opts(true))
            .await
            .unwrap();
        let run = RunRecord {
            mapping_revision: Some("abc".into()),
            created: 1,
            ..RunRecord::default()
        };
        cat.record_run(&run).await.unwrap();
    }
    let cat = SqliteCatalog::open(&path, "us").unwrap();
    assert_eq!(cat.list_owned().await.unwrap().len(), 1);
    let runs = cat.runs().unwrap();
    assert_eq!(runs[0].run.mapping_revision.as_deref(), Some("abc"));
    let mode: String = cat
        .lock()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = cat
        .lock()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
}

/// `plan` and `apply` started at once on a catalog that does not exist yet: every one
/// opens it; none runs a migration another already ran.
#[test]
fn processes_opening_a_new_catalog_at_once_all_open_it() {
    for round in 0..10 {
        let (_dir, path) = temp();
        let start = std::sync::Barrier::new(6);
        std::thread::scope(|scope| {
            let opened: Vec<_> = (0..6)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        SqliteCatalog::open(&path, "adoport").map(|_| ())
                    })
                })
                .collect();
            for opened in opened {
                let result = opened.join().expect("no panic");
                assert!(result.is_ok(), "round {round}: {result:?}");
            }
        });
    }
}

#[test]
fn a_file_from_a_newer_adoport_is_refused() {
    let (_d, path) = temp();
    drop(SqliteCatalog::open(&path, "us").unwrap());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = SqliteCatalog::open(&path, "us").unwrap_err();
    assert!(matches!(err, Error::NewerSchema { found: 99, .. }));
}

#[tokio::test]
async fn a_corrupt_row_fails_the_listing_instead_of_shortening_it() {
    let (_d, path) = temp();
    let cat = SqliteCatalog::open(&path, "us").unwrap();
    cat.seed("us", &[entity("a", json!({})), entity("b", json!({}))])
        .unwrap();
    cat.lock()
        .execute(
            "UPDATE entities SET properties = 'not json' WHERE identifier = 'b'",
            [],
        )
        .unwrap();
    assert!(matches!(
        cat.list_owned().await,
        Err(super::super::Error::ListFailed(_))
    ));
}

#[tokio::test]
async fn streaming_yields_the_same_entities_as_listing_in_bounded_chunks() {
    let (_d, path) = temp();
    let cat = SqliteCatalog::open(&path, "us").unwrap();
    let many: Vec<Entity> = (0..2500)
        .map(|i| entity(&format!("e{i:04}"), json!({"i": i})))
        .collect();
    cat.seed("us", &many).unwrap();
    cat.seed("them", &[Entity::new("x", "other")]).unwrap();
    let mut chunks = Vec::new();
    cat.stream_owned(&mut |c| chunks.push(c)).await.unwrap();
    assert!(chunks.iter().all(|c| c.len() <= STREAM_CHUNK));
    assert_eq!(chunks.concat(), cat.list_owned().await.unwrap());
    assert_eq!(chunks.concat(), many);
}

#[tokio::test]
async fn a_corrupt_row_fails_the_stream_too() {
    let (_d, path) = temp();
    let cat = SqliteCatalog::open(&path, "us").unwrap();
    let many: Vec<Entity> = (0..1500)
        .map(|i| entity(&format!("e{i:04}"), json!({})))
        .collect();
    cat.seed("us", &many).unwrap();
    cat.lock()
        .execute(
            "UPDATE entities SET title = '{' WHERE identifier = 'e1400'",
            [],
        )
        .unwrap();
    let mut seen = 0;
    let result = cat.stream_owned(&mut |c| seen += c.len()).await;
    assert!(matches!(result, Err(super::super::Error::ListFailed(_))));
    assert_eq!(seen, STREAM_CHUNK);
}

#[test]
fn identifiers_follow_ports_pattern() {
    assert!(check_identifier("repo:my-org/x_1@v=2+ü").is_ok());
    for bad in ["", ".", "..", "a b", "a#b", &"x".repeat(1001)] {
        assert!(check_identifier(bad).is_err(), "{bad:?}");
    }
}
