//! The config repository drives everything: config read from git revisions, pull-request
//! review plans, watch mode and following a remote branch. Every test builds real
//! repositories with the `git` command line in a fresh temp dir.

use std::path::Path;
use std::process::Command;

use adoport::config::{ConfigSource, git};

use crate::support::{adoport, stdout};

/// A git repository in a temp dir, driven by the `git` command line.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    /// A fresh repository with `main` as its first branch.
    pub fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.email", "test@example.com"]);
        repo.git(&["config", "user.name", "Test"]);
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs git in the repository and returns its stdout, trimmed; fails the test on error.
    pub fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    /// Writes a file (creating folders).
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Stages everything and commits; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A one-resource mapping file for projects, mapping `description` to `property`.
pub fn project_mapping(property: &str) -> String {
    format!(
        r#"resources:
  - kind: project
    selector:
      query: "true"
    port:
      entity:
        mappings:
          identifier: .id
          title: .name
          blueprint: '"project"'
          properties:
            {property}: .description
"#
    )
}

fn names(files: &[(String, Vec<u8>)]) -> Vec<&str> {
    files.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn a_git_revision_reads_the_same_layout_as_a_folder_without_a_work_tree() {
    let repo = Repo::new();
    repo.write("mappings/b.yaml", &project_mapping("b"));
    repo.write("mappings/a.yaml", &project_mapping("a"));
    repo.write("mappings/notes.txt", "not a mapping");
    repo.write("adoport.yaml", "{}\n");
    repo.write("blueprints/project.json", r#"{"identifier": "project"}"#);
    let first = repo.commit("first");
    repo.git(&["tag", "v1"]);
    std::fs::remove_file(repo.path().join("mappings/b.yaml")).unwrap();
    let second = repo.commit("second");

    let at_v1 = git::read_files_at(repo.path(), "v1").unwrap();
    assert_eq!(at_v1.commit, first);
    assert_eq!(
        names(&at_v1.files.mappings),
        ["v1:mappings/a.yaml", "v1:mappings/b.yaml"]
    );
    assert_eq!(at_v1.files.settings.unwrap().0, "v1:adoport.yaml");
    assert_eq!(
        names(&at_v1.files.blueprints),
        ["v1:blueprints/project.json"]
    );

    let at_head = git::read_files_at(repo.path(), "HEAD").unwrap();
    assert_eq!(at_head.commit, second);
    assert_eq!(names(&at_head.files.mappings), ["HEAD:mappings/a.yaml"]);

    let by_id = git::read_files_at(repo.path(), &first[..10]).unwrap();
    assert_eq!(by_id.commit, first);

    // The work tree is not read: an uncommitted file is invisible.
    repo.write("mappings/c.yaml", &project_mapping("c"));
    let at_main = git::read_files_at(repo.path(), "main").unwrap();
    assert_eq!(names(&at_main.files.mappings), ["main:mappings/a.yaml"]);
}

#[test]
fn a_folder_inside_the_repository_is_read_from_its_place_in_the_tree() {
    let repo = Repo::new();
    repo.write("config/port-app-config.yaml", &project_mapping("x"));
    repo.write("README.md", "hello");
    let commit = repo.commit("first");
    let source: ConfigSource = format!("git:{}@main", repo.path().join("config").display())
        .parse()
        .unwrap();
    let (loaded, revision) = source.load().unwrap();
    assert_eq!(revision.as_deref(), Some(commit.as_str()));
    assert!(loaded.config.is_some(), "{:?}", loaded.diagnostics);
    assert_eq!(&*loaded.sources[0].name, "main:config/port-app-config.yaml");
}

#[test]
fn a_missing_revision_or_mapping_is_an_error_that_names_it() {
    let repo = Repo::new();
    repo.write("README.md", "hello");
    repo.commit("first");
    let err = git::read_files_at(repo.path(), "nope").unwrap_err();
    assert_eq!(err.to_string(), "revision `nope` does not name a commit");
    let err = git::read_files_at(repo.path(), "main").unwrap_err();
    assert!(err.to_string().contains("holds no mapping"), "{err}");
    let not_a_repo = tempfile::tempdir().unwrap();
    assert!(git::read_files_at(not_a_repo.path(), "HEAD").is_err());
}

#[test]
fn lint_reads_a_git_revision_and_points_at_rev_and_path() {
    let repo = Repo::new();
    repo.write("mappings/a.yaml", &project_mapping("a"));
    repo.commit("good");
    repo.git(&["tag", "good"]);
    repo.write(
        "mappings/a.yaml",
        "resources:\n  - kind: project\n    selctor: {}\n",
    );
    repo.commit("bad");

    let arg = |rev: &str| format!("git:{}@{rev}", repo.path().display());
    let good = adoport(&["lint", &arg("good")]);
    assert_eq!(good.status.code(), Some(0), "{}", stdout(&good));
    let bad = adoport(&["lint", &arg("HEAD")]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stdout(&bad).contains("HEAD:mappings/a.yaml:3:5"),
        "{}",
        stdout(&bad)
    );
}

/// Records a snapshot with `projects` and two repositories.
fn snapshot(dir: &Path, projects: usize) {
    use adoport::ado::{Listing, SnapshotWriter};
    let mut w = SnapshotWriter::create(dir, "https://dev.azure.com/acme").unwrap();
    let items = (0..projects)
        .map(|i| {
            serde_json::json!({
                "id": format!("p{i}"),
                "name": format!("Project {i}"),
                "description": format!("about {i}"),
                "url": format!("https://dev.azure.com/acme/p{i}"),
            })
        })
        .collect();
    w.record(&Listing::complete("project", items)).unwrap();
    let repos = vec![
        serde_json::json!({"id": "r1", "name": "api", "size": 10}),
        serde_json::json!({"id": "r2", "name": "web", "size": 20}),
    ];
    w.record(&Listing::complete("repository", repos)).unwrap();
}

const REPOS: &str = r#"resources:
  - kind: repository
    selector:
      query: "true"
    port:
      entity:
        mappings:
          identifier: .id
          title: .name
          blueprint: '"service"'
          properties:
            size: .size
"#;

/// A config repository whose `feature` branch edits `main`'s mapping: a property's jq
/// changes, one is added, and the repository resource goes.
fn review_repo() -> Repo {
    let repo = Repo::new();
    repo.write("mappings/projects.yaml", &project_mapping("about"));
    repo.write("mappings/repos.yaml", REPOS);
    repo.commit("base mapping");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(
        "mappings/projects.yaml",
        &project_mapping("about").replace(
            "            about: .description\n",
            "            about: .description | ascii_upcase\n            link: .url\n",
        ),
    );
    std::fs::remove_file(repo.path().join("mappings/repos.yaml")).unwrap();
    repo.commit("change the mapping");
    repo
}

/// Replaces what changes from run to run (temp paths, commit ids) with placeholders.
fn redact(text: &str, paths: &[&Path], commits: &[String]) -> String {
    let mut t = text.to_string();
    for (i, p) in paths.iter().enumerate() {
        t = t.replace(&p.display().to_string(), &format!("[TMP{i}]"));
    }
    for c in commits {
        t = t
            .replace(c.as_str(), "[COMMIT]")
            .replace(&c[..12], "[COMMIT]");
    }
    t
}

#[test]
fn plan_with_base_and_head_shows_mapping_changes_effect_and_apply_as_text_and_markdown() {
    use adoport::catalog::SqliteCatalog;
    use adoport::port::Entity;
    let repo = review_repo();
    let commits = vec![
        repo.git(&["rev-parse", "main"]),
        repo.git(&["rev-parse", "feature"]),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let snap = tmp.path().join("snap");
    snapshot(&snap, 3);
    let db = tmp.path().join("catalog.sqlite");
    // The catalog holds what base maps for two projects, one of them drifted.
    let mut p0 = Entity::new("p0", "project");
    p0.title = Some("Project 0".into());
    p0.properties.insert("about".into(), "about 0".into());
    let mut p1 = Entity::new("p1", "project");
    p1.title = Some("Old title".into());
    p1.properties.insert("about".into(), "about 1".into());
    SqliteCatalog::open(&db, "adoport")
        .unwrap()
        .seed("adoport", &[p0, p1])
        .unwrap();

    let run = |format: &str| {
        adoport(&[
            "plan",
            "--config",
            &repo.path().display().to_string(),
            "--base",
            "main",
            "--head",
            "feature",
            "--source",
            &format!("snapshot:{}", snap.display()),
            "--catalog",
            &format!("sqlite:{}", db.display()),
            "--format",
            format,
        ])
    };
    let text = run("text");
    assert_eq!(
        text.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    let text = redact(&stdout(&text), &[tmp.path(), repo.path()], &commits);
    insta::assert_snapshot!("review_text", text);
    let md = run("markdown");
    assert_eq!(md.status.code(), Some(2));
    let md = redact(&stdout(&md), &[tmp.path(), repo.path()], &commits);
    assert!(
        md.starts_with("**Mapping: 1 resource changed, 1 resource removed."),
        "{md}"
    );
    insta::assert_snapshot!("review_markdown", md);
}

#[test]
fn plan_with_the_same_revision_on_both_sides_has_no_changes() {
    let repo = review_repo();
    let tmp = tempfile::tempdir().unwrap();
    let snap = tmp.path().join("snap");
    snapshot(&snap, 2);
    let out = adoport(&[
        "plan",
        "--config",
        &format!("git:{}@main", repo.path().display()),
        "--base",
        "main",
        "--no-catalog",
        "--source",
        &format!("snapshot:{}", snap.display()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).starts_with("Mapping: no mapping changes. Effect on entities: no changes.")
    );
}

#[test]
fn a_plan_records_the_commit_it_was_made_from() {
    let repo = review_repo();
    let feature = repo.git(&["rev-parse", "feature"]);
    let tmp = tempfile::tempdir().unwrap();
    let snap = tmp.path().join("snap");
    snapshot(&snap, 1);
    let out = adoport(&[
        "plan",
        "--config",
        &format!("git:{}@feature", repo.path().display()),
        "--source",
        &format!("snapshot:{}", snap.display()),
        "--catalog",
        &format!("sqlite:{}", tmp.path().join("c.sqlite").display()),
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["mappingRevision"], serde_json::Value::String(feature));
}

#[test]
fn markdown_for_a_change_touching_ten_thousand_entities_stays_under_the_limit_and_says_what_it_left_out()
 {
    use adoport::ado::Listing;
    use adoport::desired::Listings;
    use adoport::desired::MappingMapper;
    use adoport::review::{self, Side};
    use std::sync::Arc;

    let config = |prop: &str| {
        let loaded = adoport::config::build_config(adoport::config::ConfigFiles {
            mappings: vec![(
                "a.yaml".into(),
                project_mapping("about")
                    .replace(".description", prop)
                    .into_bytes(),
            )],
            ..Default::default()
        });
        loaded.config.unwrap()
    };
    let items = (0..10_000)
        .map(|i| serde_json::json!({"id": format!("p{i}"), "name": "n", "description": "d", "url": "u"}))
        .collect();
    let mut listings = Listings::default();
    listings.0.insert(
        "project".into(),
        Arc::new(Listing::complete("project", items)),
    );
    let side = |prop: &str, label: &str| Side {
        config: config(prop),
        label: label.into(),
        commit: None,
    };
    let r = review::review(
        &side(".description", "main"),
        &side(".url", "feature"),
        &mut listings,
        Arc::new(MappingMapper::default()),
        None,
    );
    assert_eq!(r.effect.summary.update, 10_000);
    let md = review::render::markdown(&r);
    assert!(md.len() < 60_000, "{} characters", md.len());
    assert!(
        md.contains("Truncated to stay under 60000 characters; left out:"),
        "{}",
        &md[md.len() - 500..]
    );
    assert!(
        md.contains("`project` ("),
        "the note names the blueprint cut short"
    );
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
    assert_eq!(md.matches("```").count() % 2, 0);
}

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
    use adoport::desired::MappingMapper;
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
    let session = Session::new(
        &dir,
        Arc::new(MappingMapper::default()),
        Box::new(listings),
        Some(catalog.clone() as Arc<dyn Catalog>),
        true,
    )
    .unwrap();
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
    assert_eq!(first.plan.summary.create, 3);
    assert_eq!(first.applied.as_ref().unwrap().created, 3);

    // A second file in a new folder: a new resource, the old one reused.
    std::fs::create_dir_all(dir.join("mappings")).unwrap();
    std::fs::write(dir.join("mappings/repos.yaml"), REPOS).unwrap();
    let Event::Planned(second) = next_event(
        &rx,
        "after adding mappings/repos.yaml",
        |e| matches!(e, Event::Planned(p) if p.plan.summary.create == 1),
    ) else {
        unreachable!()
    };
    assert_eq!((second.evaluated, second.reused), (1, 1));
    assert_eq!(second.plan.creates[0].identifier, "r1");

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
    assert_eq!(fixed.plan.summary.update, 1, "{:?}", fixed.plan);
    assert_eq!((fixed.evaluated, fixed.reused), (1, 1));
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

/// A bare repository to push to, and a work repository whose `origin` it is.
fn bare_and_work() -> (tempfile::TempDir, Repo) {
    let bare = tempfile::tempdir().unwrap();
    git_in(bare.path(), &["init", "-q", "--bare", "-b", "main"]);
    let work = Repo::new();
    work.git(&[
        "remote",
        "add",
        "origin",
        &bare.path().display().to_string(),
    ]);
    (bare, work)
}

#[test]
fn follow_applies_each_pushed_commit_refuses_a_broken_one_and_records_the_commit() {
    use adoport::ado::Listing;
    use adoport::catalog::{Catalog, SqliteCatalog};
    use adoport::desired::Listings;
    use adoport::desired::MappingMapper;
    use adoport::follow::{Fetcher, Follower, Poll, RemoteBranch};
    use std::sync::Arc;

    let (bare, work) = bare_and_work();
    let tmp = tempfile::tempdir().unwrap();
    let mut listings = Listings::default();
    let projects = (0..3)
        .map(|i| serde_json::json!({"id": format!("p{i}"), "name": format!("P{i}"), "description": "d", "url": "u"}))
        .collect();
    listings.0.insert(
        "project".into(),
        Arc::new(Listing::complete("project", projects)),
    );
    let catalog = Arc::new(SqliteCatalog::open(tmp.path().join("c.sqlite"), "adoport").unwrap());
    let remote: RemoteBranch = format!("git:{}@main", bare.path().display())
        .parse()
        .unwrap();
    let fetcher = Fetcher::new(remote, tmp.path().join("cache"), None);
    let mut follower = Follower::new(
        fetcher,
        Arc::new(MappingMapper::default()),
        Box::new(listings),
        catalog.clone() as Arc<dyn Catalog>,
    )
    .unwrap();

    work.write("port-app-config.yaml", &project_mapping("about"));
    let good = work.commit("good");
    work.git(&["push", "-q", "origin", "main"]);
    let Poll::Applied(applied) = follower.poll().unwrap() else {
        panic!("not applied")
    };
    assert_eq!(applied.commit, good);
    assert_eq!(applied.report.created, 3);
    assert!(matches!(follower.poll().unwrap(), Poll::Unchanged { commit } if commit == good));

    work.write(
        "port-app-config.yaml",
        "resources:\n  - kind: project\n    selctor: {}\n",
    );
    let broken = work.commit("broken");
    work.git(&["push", "-q", "origin", "main"]);
    let Poll::Refused(refused) = follower.poll().unwrap() else {
        panic!("not refused")
    };
    assert_eq!(refused.commit, broken);
    assert_eq!(refused.serving.as_deref(), Some(good.as_str()));
    assert!(
        refused
            .loaded
            .diagnostics
            .iter()
            .any(|d| d.message.contains("selctor"))
    );
    assert!(
        matches!(follower.poll().unwrap(), Poll::Unchanged { .. }),
        "a refusal is reported once"
    );
    assert_eq!(follower.applied(), Some(good.as_str()));

    work.write("port-app-config.yaml", &project_mapping("summary"));
    let fixed = work.commit("fixed");
    work.git(&["push", "-q", "origin", "main"]);
    let Poll::Applied(applied) = follower.poll().unwrap() else {
        panic!("not applied")
    };
    assert_eq!(applied.commit, fixed);
    assert_eq!(applied.report.updated, 3);

    let revisions: Vec<Option<String>> = catalog
        .runs()
        .unwrap()
        .into_iter()
        .map(|r| r.run.mapping_revision)
        .collect();
    assert_eq!(
        revisions,
        [Some(good), Some(fixed)],
        "the broken commit was never applied"
    );
}

#[test]
fn apply_follow_once_applies_the_branch_and_reports_the_commit() {
    let (bare, work) = bare_and_work();
    work.write("port-app-config.yaml", &project_mapping("about"));
    let good = work.commit("good");
    work.git(&["push", "-q", "origin", "main"]);
    let tmp = tempfile::tempdir().unwrap();
    let snap = tmp.path().join("snap");
    snapshot(&snap, 2);
    let db = tmp.path().join("c.sqlite");
    let out = adoport(&[
        "apply",
        "--follow",
        &format!("git:{}@main", bare.path().display()),
        "--once",
        "--source",
        &format!("snapshot:{}", snap.display()),
        "--catalog",
        &format!("sqlite:{}", db.display()),
        "--cache-dir",
        &tmp.path().join("cache").display().to_string(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains(&format!("applied {good}")),
        "{}",
        stdout(&out)
    );
    let runs = adoport::catalog::SqliteCatalog::open(&db, "adoport")
        .unwrap()
        .runs()
        .unwrap();
    assert_eq!(runs[0].run.mapping_revision.as_deref(), Some(good.as_str()));
}

#[test]
fn an_https_fetch_that_fails_names_the_remote_without_its_credentials() {
    use adoport::follow::{Fetcher, GitToken, RemoteBranch};
    let tmp = tempfile::tempdir().unwrap();
    // Port 1 on 127.0.0.1 refuses connections: the https transport is built and tried.
    let remote: RemoteBranch = "git:https://me:s3cret@127.0.0.1:1/cfg.git@main"
        .parse()
        .unwrap();
    let fetcher = Fetcher::new(
        remote,
        tmp.path().join("cache"),
        Some(GitToken::new("x", "t0ken")),
    );
    let err = fetcher.fetch().unwrap_err();
    let mut chain = err.to_string();
    let mut cause = std::error::Error::source(&err);
    while let Some(c) = cause {
        chain.push_str(&format!(": {c}"));
        cause = c.source();
    }
    assert!(
        chain.starts_with("fetching main from https://[redacted]@127.0.0.1:1/cfg.git failed"),
        "{chain}"
    );
    assert!(
        !chain.contains("s3cret") && !chain.contains("t0ken"),
        "{chain}"
    );
    assert!(
        !chain.to_lowercase().contains("unsupported"),
        "https is compiled in: {chain}"
    );
}

#[test]
fn a_symbolic_link_in_the_revision_is_followed_as_a_checkout_would_follow_it() {
    let repo = Repo::new();
    repo.write(
        "shared/blueprints/project.json",
        r#"{"identifier": "project"}"#,
    );
    repo.write("config/port-app-config.yaml", &project_mapping("x"));
    std::os::unix::fs::symlink(
        "../shared/blueprints",
        repo.path().join("config/blueprints"),
    )
    .unwrap();
    std::os::unix::fs::symlink("../../etc", repo.path().join("config/outside")).unwrap();
    repo.commit("linked blueprints");
    let from_git = git::read_files_at(&repo.path().join("config"), "HEAD").unwrap();
    let from_dir = adoport::config::read_files(&repo.path().join("config")).unwrap();
    assert_eq!(
        names(&from_git.files.blueprints),
        ["HEAD:config/blueprints/project.json"]
    );
    assert_eq!(from_git.files.blueprints[0].1, from_dir.blueprints[0].1);
}

#[test]
fn a_pull_request_that_adds_the_config_plans_everything_as_new() {
    let repo = Repo::new();
    repo.write("README.md", "no config yet");
    repo.commit("empty");
    repo.git(&["checkout", "-q", "-b", "add-config"]);
    repo.write("mappings/projects.yaml", &project_mapping("about"));
    repo.commit("add the config");
    let tmp = tempfile::tempdir().unwrap();
    let snap = tmp.path().join("snap");
    snapshot(&snap, 2);
    let out = adoport(&[
        "plan",
        "--config",
        &repo.path().display().to_string(),
        "--base",
        "main",
        "--no-catalog",
        "--source",
        &format!("snapshot:{}", snap.display()),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).starts_with(
            "Mapping: 1 resource added. Effect on entities: 2 create, 0 update, 0 delete."
        ),
        "{}",
        stdout(&out)
    );
}
