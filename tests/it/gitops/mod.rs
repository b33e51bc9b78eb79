//! The config repository drives everything: config read from git revisions (here),
//! pull-request review plans (`review`), watch mode (`watch`) and following a remote branch
//! (`follow`). Every test builds real repositories with the `git` command line in a fresh
//! temp dir.

mod follow;
mod review;
mod watch;

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

pub fn names(files: &[(String, Vec<u8>)]) -> Vec<&str> {
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

#[test]
fn a_symbolic_link_in_the_revision_is_followed_as_a_checkout_would_follow_it() {
    let repo = Repo::new();
    repo.write(
        "common/blueprints/project.json",
        r#"{"identifier": "project"}"#,
    );
    repo.write("config/port-app-config.yaml", &project_mapping("x"));
    std::os::unix::fs::symlink(
        "../common/blueprints",
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
fn a_link_leaving_the_repository_is_refused_alike_in_a_revision_and_in_the_work_tree() {
    let repo = Repo::new();
    repo.write("mappings/10-projects.yaml", &project_mapping("x"));
    std::os::unix::fs::symlink(
        "/proc/self/environ",
        repo.path().join("mappings/50-evil.yaml"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        "../../etc/hostname",
        repo.path().join("mappings/60-up.yaml"),
    )
    .unwrap();
    repo.commit("links out");

    let err = git::read_files_at(repo.path(), "HEAD").unwrap_err();
    assert_eq!(
        err.to_string(),
        "refusing to read `HEAD:mappings/50-evil.yaml`: it is a link that leads outside the repository holding the config"
    );
    let err = adoport::config::read_files(repo.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "refusing to read {}: it is a link that leads outside the repository holding the config",
            repo.path().join("mappings/50-evil.yaml").display()
        )
    );
    std::fs::remove_file(repo.path().join("mappings/50-evil.yaml")).unwrap();
    repo.commit("one link out left");
    for source in [
        format!("git:{}@HEAD", repo.path().display()),
        repo.path().display().to_string(),
    ] {
        let out = adoport(&["lint", &source]);
        let shown = format!("{}{}", stdout(&out), crate::support::stderr(&out));
        assert_eq!(out.status.code(), Some(2), "{shown}");
        assert!(shown.contains("60-up.yaml"), "{shown}");
        assert!(shown.contains("it is a link that leads outside"), "{shown}");
    }
}

#[test]
fn a_blob_over_the_size_limit_in_a_revision_is_refused_by_name() {
    let repo = Repo::new();
    repo.write("mappings/10-projects.yaml", &project_mapping("x"));
    let mut big = String::from("# padding\n");
    while (big.len() as u64) <= adoport::config::MAX_FILE_BYTES {
        big.push_str(&"#".repeat(1023));
        big.push('\n');
    }
    repo.write("mappings/90-big.yaml", &big);
    repo.commit("big");
    let err = git::read_files_at(repo.path(), "HEAD").unwrap_err();
    assert_eq!(
        err.to_string(),
        "refusing to read `HEAD:mappings/90-big.yaml`: it is larger than 16 MiB"
    );
}

#[test]
fn a_pull_request_linking_a_mapping_to_the_environment_gets_a_refusal_not_the_environment() {
    let repo = Repo::new();
    repo.write("mappings/projects.yaml", &project_mapping("about"));
    repo.commit("base");
    std::os::unix::fs::symlink(
        "/proc/self/environ",
        repo.path().join("mappings/50-evil.yaml"),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let snap = tmp.path().join("snap");
    snapshot(&snap, 2);
    let out = Command::new(env!("CARGO_BIN_EXE_adoport"))
        .args([
            "plan",
            "--config",
            &repo.path().display().to_string(),
            "--base",
            "main",
            "--no-catalog",
            "--format",
            "markdown",
            "--source",
            &format!("snapshot:{}", snap.display()),
        ])
        .env("NO_COLOR", "1")
        .env("PORT_CLIENT_SECRET", "client-secret-that-must-not-leak")
        .env_remove("PORT_CLIENT_ID")
        .env_remove("AZURE_DEVOPS_ORG_URL")
        .output()
        .unwrap();
    let shown = format!("{}{}", stdout(&out), crate::support::stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("50-evil.yaml"), "{shown}");
    assert!(
        !shown.contains("client-secret-that-must-not-leak"),
        "{shown}"
    );
}

/// Records a snapshot with `projects` and two repositories.
pub fn snapshot(dir: &Path, projects: usize) {
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

pub const REPOS: &str = r#"resources:
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
pub fn review_repo() -> Repo {
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
pub fn redact(text: &str, paths: &[&Path], commits: &[String]) -> String {
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
