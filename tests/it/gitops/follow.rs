//! Following a branch: commits pushed to a local bare repository, each applied or refused.

use super::{Repo, git_in, project_mapping, snapshot};
use crate::support::{adoport, stdout};

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
    use adoport::follow::{Fetcher, Follower, Poll, RemoteBranch};
    use adoport::pipeline::{Access, Options, Pipeline};
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
    let pipeline = Pipeline::new(
        Box::new(listings),
        Some(catalog.clone() as Arc<dyn Catalog>),
        &Access::default(),
        Options::default(),
    )
    .unwrap();
    let mut follower = Follower::new(fetcher, pipeline);

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
fn apply_follow_once_applies_the_branch_with_its_settings_and_reports_the_commit() {
    let (bare, work) = bare_and_work();
    work.write("port-app-config.yaml", &project_mapping("about"));
    work.write("adoport.yaml", "datasource: team-x\n");
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
        "--target",
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
    let ours = adoport::catalog::SqliteCatalog::open(&db, "team-x").unwrap();
    let runs = ours.runs().unwrap();
    assert_eq!(runs[0].run.mapping_revision.as_deref(), Some(good.as_str()));
    // The branch's own settings name the datasource its entities are stamped with.
    assert!(!ours.list_owned_blocking().unwrap().is_empty());
    let default = adoport::catalog::SqliteCatalog::open(&db, "adoport").unwrap();
    assert!(default.list_owned_blocking().unwrap().is_empty());
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
fn follow_once_in_a_fresh_folder_makes_its_state_folder_and_applies() {
    let (bare, work) = bare_and_work();
    work.write("port-app-config.yaml", &project_mapping("about"));
    work.commit("good");
    work.git(&["push", "-q", "origin", "main"]);
    let cwd = tempfile::tempdir().unwrap();
    let snap = cwd.path().join("snap");
    snapshot(&snap, 2);
    // No .adoport/ yet: the fetch cache and the default catalog go there.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_adoport"))
        .args(["apply", "--once", "--follow"])
        .arg(format!("git:{}@main", bare.path().display()))
        .arg("--source")
        .arg(format!("snapshot:{}", snap.display()))
        .current_dir(cwd.path())
        .env("NO_COLOR", "1")
        .env_remove("PORT_CLIENT_ID")
        .env_remove("AZURE_DEVOPS_ORG_URL")
        .output()
        .expect("adoport runs");
    crate::support::assert_exit(&out, 0);
    assert!(stdout(&out).contains("2 created"), "{}", stdout(&out));
    assert!(cwd.path().join(".adoport/follow/HEAD").is_file());
    assert!(cwd.path().join(".adoport/catalog.sqlite").is_file());
}
