//! The interval resync: it repairs the catalog, never overlaps itself, follows the config
//! and refuses a version with lint errors.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use adoport::catalog::{Catalog, SqliteCatalog, WriteOptions};
use adoport::config::ConfigSource;
use adoport::pipeline::{self, Access, Checked, Gate, Options, SourceSpec};
use adoport::serve::app::Health;
use adoport::serve::metrics::Metrics;
use adoport::serve::queue::{ResyncRecord, SqliteQueue};
use adoport::serve::resync::{self, ConfigFeed, ConfigSpec, Resync, Resyncer};
use adoport::serve::runner::{Opener, Runner};

use super::Scratch;
use crate::support::root;

fn checked(dir: &std::path::Path) -> Checked {
    match pipeline::load(&ConfigSource::Path(dir.to_path_buf())).unwrap() {
        Gate::Passed(c) => *c,
        Gate::Refused(l) => panic!("refused: {:?}", l.diagnostics),
    }
}

/// A resyncer over the example snapshot, writing to a catalog in `s`.
fn resyncer(
    s: &Scratch,
    config: Checked,
    feed: Option<ConfigFeed>,
) -> (Resyncer, Arc<SqliteQueue>) {
    let catalog = Arc::new(
        SqliteCatalog::open(
            s.path("catalog.sqlite"),
            config.config.settings.datasource(),
        )
        .unwrap(),
    );
    let opener = Opener {
        source: SourceSpec::Snapshot(root().join("examples/ado-snapshot")),
        catalog,
        access: Access::default(),
        options: Options::default(),
        traces: Arc::new(adoport::pipeline::NoOrigins),
    };
    let queue = Arc::new(SqliteQueue::open(s.path("queue.sqlite")).unwrap());
    let resyncer = Resyncer {
        runner: Runner::start(opener, config).unwrap(),
        queue: queue.clone(),
        metrics: Arc::new(Metrics::default()),
        health: Arc::new(Health::new(Duration::from_secs(60))),
        feed: feed.map(|f| Arc::new(Mutex::new(f))),
        cursors: None,
    };
    (resyncer, queue)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resync_puts_back_an_entity_deleted_or_changed_by_hand_and_records_itself() {
    let s = Scratch::new();
    let config = checked(&root().join("examples/config-repo"));
    let datasource = config.config.settings.datasource().to_owned();
    let (resyncer, queue) = resyncer(&s, config, None);
    let first = resyncer.resync("start").await;
    assert_eq!(first.outcome, "ok", "{first:?}");
    assert!(first.complete && first.created > 100, "{first:?}");
    assert_eq!(first.entities.get("work-item"), Some(&100));

    let catalog = SqliteCatalog::open(s.path("catalog.sqlite"), &datasource).unwrap();
    let owned = catalog.list_owned_blocking().unwrap();
    let work_item = owned
        .iter()
        .find(|e| e.blueprint == "azureDevopsWorkItem" && e.identifier == "5")
        .unwrap()
        .clone();
    let mut project = owned
        .iter()
        .find(|e| e.blueprint == "azureDevopsProject")
        .unwrap()
        .clone();
    let original_title = project.title.clone();
    project.title = Some(serde_json::json!("renamed by hand"));
    catalog
        .delete(
            "azureDevopsWorkItem",
            &["5".into()],
            WriteOptions::default(),
        )
        .await
        .unwrap();
    catalog
        .upsert(
            "azureDevopsProject",
            &[project.clone()],
            WriteOptions::default(),
        )
        .await
        .unwrap();

    let second = resyncer.resync("interval").await;
    assert_eq!(
        (
            second.outcome.as_str(),
            second.created,
            second.updated,
            second.deleted
        ),
        ("ok", 1, 1, 0),
        "{second:?}"
    );
    let owned = catalog.list_owned_blocking().unwrap();
    assert!(
        owned.contains(&work_item),
        "the work item is back as it was"
    );
    let back = owned.iter().find(|e| e.key() == project.key()).unwrap();
    assert_eq!(back.title, original_title);

    let recorded = queue.resyncs(10).unwrap();
    let triggers: Vec<&str> = recorded.iter().map(|r| r.trigger.as_str()).collect();
    assert_eq!(triggers, ["interval", "start"], "newest first");
    assert!(
        recorded
            .iter()
            .all(|r| r.finished_ms.is_some() && r.complete)
    );
}

/// A resync that takes longer than its interval, recording when each ran.
struct Slow {
    runs: Mutex<Vec<(Instant, Instant)>>,
    running: Mutex<bool>,
}

#[async_trait]
impl Resync for Slow {
    async fn resync(&self, trigger: &str) -> ResyncRecord {
        {
            let mut running = self.running.lock().unwrap();
            assert!(!*running, "two resyncs at once");
            *running = true;
        }
        let start = Instant::now();
        tokio::time::sleep(Duration::from_millis(60)).await;
        self.runs.lock().unwrap().push((start, Instant::now()));
        *self.running.lock().unwrap() = false;
        ResyncRecord {
            trigger: trigger.to_owned(),
            ..ResyncRecord::default()
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(25)
    }
}

#[tokio::test]
async fn two_resyncs_never_overlap_and_a_long_one_delays_the_next() {
    let slow = Arc::new(Slow {
        runs: Mutex::new(Vec::new()),
        running: Mutex::new(false),
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let looped = slow.clone();
    let task = tokio::spawn(async move { resync::run_loop(looped.as_ref(), stopped).await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    let runs = slow.runs.lock().unwrap().clone();
    assert!(runs.len() >= 3, "{} runs", runs.len());
    for pair in runs.windows(2) {
        let ((_, end), (next, _)) = (pair[0], pair[1]);
        assert!(next >= end, "a resync started before the last one ended");
        assert!(
            next - end < Duration::from_millis(20),
            "a resync that outlived its interval delays the next, which then starts at once"
        );
    }
}

fn project_mapping(property: &str) -> String {
    format!(
        "resources:\n  - kind: project\n    selector:\n      query: 'true'\n    port:\n      entity:\n        mappings:\n          identifier: .id\n          title: .name\n          blueprint: '\"project\"'\n          properties:\n            {property}: .description\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_resync_follows_the_config_and_keeps_the_last_good_one_over_a_broken_one() {
    let s = Scratch::new();
    let dir = s.path("config");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("port-app-config.yaml"), project_mapping("about")).unwrap();
    let mut feed = ConfigFeed::new(
        ConfigSpec::Local(ConfigSource::Path(dir.clone())),
        &s.path("cache"),
        None,
    );
    let first = match feed.poll().unwrap() {
        resync::Polled::Passed(c) => *c,
        other => panic!("{other:?}"),
    };
    let (resyncer, _) = resyncer(&s, first, Some(feed));
    let catalog = SqliteCatalog::open(s.path("catalog.sqlite"), "adoport").unwrap();
    // Entities carrying the property, and the property's name on them.
    let carrying = |catalog: &SqliteCatalog, name: &str| {
        catalog
            .list_owned_blocking()
            .unwrap()
            .iter()
            .filter(|e| e.properties.contains_key(name))
            .count()
    };
    assert_eq!(resyncer.resync("start").await.created, 2);
    assert_eq!(carrying(&catalog, "about"), 2);

    std::fs::write(
        dir.join("port-app-config.yaml"),
        "resources:\n  - kind: project\n    selctor: {}\n",
    )
    .unwrap();
    let refused = resyncer.resync("interval").await;
    assert_eq!(
        (refused.outcome.as_str(), refused.updated),
        ("ok", 0),
        "the last good config runs"
    );
    assert_eq!(carrying(&catalog, "summary"), 0);

    std::fs::write(dir.join("port-app-config.yaml"), project_mapping("summary")).unwrap();
    let fixed = resyncer.resync("interval").await;
    assert_eq!(fixed.updated, 2, "{fixed:?}");
    assert_eq!(carrying(&catalog, "summary"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_interval_comes_from_the_config_in_force() {
    let s = Scratch::new();
    let dir = s.path("config");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("port-app-config.yaml"), project_mapping("about")).unwrap();
    std::fs::write(dir.join("adoport.yaml"), "resync:\n  interval: 1h30m\n").unwrap();
    let (resyncer, _) = resyncer(&s, checked(&dir), None);
    assert_eq!(resyncer.interval(), Duration::from_secs(5400));
    std::fs::write(dir.join("adoport.yaml"), "{}\n").unwrap();
    resyncer.runner.set_config(checked(&dir));
    assert_eq!(resyncer.interval(), resync::DEFAULT_INTERVAL);
}

#[test]
fn a_followed_branch_puts_each_good_commit_in_force_once_and_refuses_a_broken_one_once() {
    use crate::gitops::{Repo, git_in};
    let bare = tempfile::tempdir().unwrap();
    git_in(bare.path(), &["init", "-q", "--bare", "-b", "main"]);
    let work = Repo::new();
    work.git(&[
        "remote",
        "add",
        "origin",
        &bare.path().display().to_string(),
    ]);
    work.write("port-app-config.yaml", &project_mapping("about"));
    let good = work.commit("good");
    work.git(&["push", "-q", "origin", "main"]);
    let s = Scratch::new();
    let spec: ConfigSpec = format!("git:{}@main", bare.path().display())
        .parse()
        .unwrap();
    assert!(matches!(spec, ConfigSpec::Branch(_)));
    let mut feed = ConfigFeed::new(spec, &s.path("cache"), None);
    match feed.poll().unwrap() {
        resync::Polled::Passed(c) => assert_eq!(c.revision.as_deref(), Some(good.as_str())),
        other => panic!("{other:?}"),
    }
    assert!(matches!(feed.poll().unwrap(), resync::Polled::Unchanged));

    work.write(
        "port-app-config.yaml",
        "resources:\n  - kind: project\n    selctor: {}\n",
    );
    let broken = work.commit("broken");
    work.git(&["push", "-q", "origin", "main"]);
    match feed.poll().unwrap() {
        resync::Polled::Refused { label, loaded } => {
            assert_eq!(label, broken);
            assert!(
                loaded
                    .diagnostics
                    .iter()
                    .any(|d| d.message.contains("selctor"))
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(feed.poll().unwrap(), resync::Polled::Unchanged),
        "refused once"
    );

    work.write("port-app-config.yaml", &project_mapping("summary"));
    let fixed = work.commit("fixed");
    work.git(&["push", "-q", "origin", "main"]);
    match feed.poll().unwrap() {
        resync::Polled::Passed(c) => assert_eq!(c.revision.as_deref(), Some(fixed.as_str())),
        other => panic!("{other:?}"),
    }
}
