//! Config loading across files: the example config repo against the shipped default, and
//! the files a config folder may not make us read (links out of it, FIFOs, huge files).

use std::path::Path;

use adoport::config::{self, Mapping};

use crate::support::{adoport, assert_exit, root, stderr, stdout};

/// Everything a mapping says, without where it says it.
fn meaning(m: &Mapping) -> Vec<String> {
    let mut out = vec![format!(
        "{} {} {} {}",
        m.delete_dependent_entities,
        m.create_missing_related_entities,
        m.enable_merge_entity,
        m.entity_deletion_threshold
    )];
    for r in &m.resources {
        out.push(format!(
            "{} {} {:?} {:?} {} {}",
            r.kind,
            r.selector.query.expr,
            r.selector.options,
            r.port.items_to_parse.as_ref().map(|j| &j.expr),
            r.port.items_to_parse_name,
            r.port.items_to_parse_top_level_transform
        ));
        for (path, jq) in r.port.mappings.leaves() {
            out.push(format!("  {path} = {}", jq.expr));
        }
    }
    out
}

fn load(rel: &str) -> config::Config {
    let loaded = config::load(&root().join(rel)).unwrap();
    assert!(!loaded.has_errors(), "{rel}: {:#?}", loaded.diagnostics);
    loaded.config.unwrap()
}

#[test]
fn the_example_config_repo_is_the_default_mapping_split_by_area() {
    let split = load("examples/config-repo");
    let single = load("mappings");
    assert_eq!(meaning(&split.mapping), meaning(&single.mapping));
    assert_eq!(split.blueprints, single.blueprints);
    assert_eq!(split.settings.datasource(), "adoport-example");
}

#[test]
fn split_files_merge_in_file_name_order() {
    let loaded = config::load(Path::new("examples/config-repo")).unwrap();
    let kinds: Vec<&str> = loaded
        .config
        .as_ref()
        .unwrap()
        .mapping
        .resources
        .iter()
        .map(|r| r.kind.as_str())
        .collect();
    assert_eq!(kinds.first(), Some(&"project"));
    assert_eq!(kinds.last(), Some(&"column"));
    let indexes: Vec<usize> = loaded
        .config
        .unwrap()
        .mapping
        .resources
        .iter()
        .map(|r| r.index)
        .collect();
    assert_eq!(indexes, (0..indexes.len()).collect::<Vec<_>>());
}

/// A config folder holding one valid mapping file, in a fresh temp dir.
fn config_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mappings")).unwrap();
    std::fs::write(
        dir.path().join("mappings/10-projects.yaml"),
        "resources:\n  - kind: project\n    selector:\n      query: 'true'\n    port:\n      entity:\n        mappings:\n          identifier: .id\n          blueprint: '\"project\"'\n",
    )
    .unwrap();
    dir
}

/// The refusal `read_files` gives for `dir`, with the file it names.
fn refusal(dir: &Path) -> (config::Refusal, std::path::PathBuf) {
    match config::read_files(dir) {
        Err(config::Error::Refused { path, reason }) => (reason, path),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_mapping_linked_outside_the_config_repository_is_refused_by_name_and_never_quoted() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("environ");
    std::fs::write(&secret, "AZURE_DEVOPS_PAT=pat-that-must-not-leak\n").unwrap();
    let dir = config_dir();
    let evil = dir.path().join("mappings/50-evil.yaml");
    std::os::unix::fs::symlink(&secret, &evil).unwrap();

    assert_eq!(
        refusal(dir.path()),
        (config::Refusal::OutsideRoot, evil.clone())
    );
    for format in ["text", "json"] {
        let out = adoport(&["lint", "--format", format, dir.path().to_str().unwrap()]);
        assert_exit(&out, 2);
        let shown = format!("{}{}", stdout(&out), stderr(&out));
        assert!(shown.contains("refusing to read"), "{shown}");
        assert!(shown.contains("50-evil.yaml"), "{shown}");
        assert!(!shown.contains("pat-that-must-not-leak"), "{shown}");
    }

    // The process's own environment, through /proc, is refused the same way, unread.
    std::fs::remove_file(&evil).unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", &evil).unwrap();
    assert_eq!(refusal(dir.path()).0, config::Refusal::OutsideRoot);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_adoport"))
        .args(["lint", dir.path().to_str().unwrap()])
        .env("ADOPORT_TEST_SECRET", "client-secret-that-must-not-leak")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(!stdout(&out).contains("client-secret-that-must-not-leak"));
    assert!(!stderr(&out).contains("client-secret-that-must-not-leak"));
}

#[test]
fn links_inside_the_config_repository_are_followed_but_not_into_its_git_folder() {
    let dir = config_dir();
    std::fs::create_dir_all(dir.path().join(".git")).unwrap();
    std::fs::create_dir_all(dir.path().join("common")).unwrap();
    std::fs::write(dir.path().join("common/common.yaml"), "resources: []\n").unwrap();
    std::os::unix::fs::symlink(
        "../common/common.yaml",
        dir.path().join("mappings/20-common.yaml"),
    )
    .unwrap();
    let files = config::read_files(dir.path()).unwrap();
    assert_eq!(files.mappings.len(), 2);
    assert_eq!(files.mappings[1].1, b"resources: []\n");

    std::fs::write(
        dir.path().join(".git/config"),
        "[http] extraheader = token\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("../.git/config", dir.path().join("mappings/30-git.yaml")).unwrap();
    assert_eq!(refusal(dir.path()).0, config::Refusal::IntoGitDir);
}

#[test]
fn a_fifo_in_the_config_is_refused_without_waiting_for_a_writer() {
    let dir = config_dir();
    let fifo = dir.path().join("mappings/50-fifo.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Run on a thread: a read that blocks fails the test instead of hanging it.
    let path = dir.path().to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(config::read_files(&path).map(|_| ()));
    });
    let result = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("reading a config with a FIFO returns");
    match result {
        Err(config::Error::Refused { path, reason }) => {
            assert_eq!(reason, config::Refusal::NotAFile);
            assert_eq!(path, fifo);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_device_linked_into_the_config_is_refused_without_being_read() {
    let dir = config_dir();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("mappings/50-zero.yaml")).unwrap();
    assert_eq!(refusal(dir.path()).0, config::Refusal::OutsideRoot);
    // Named directly, the device is not a regular file.
    match config::read_files(Path::new("/dev/zero")) {
        Err(config::Error::Refused { reason, .. }) => assert_eq!(reason, config::Refusal::NotAFile),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_it_is_read() {
    let dir = config_dir();
    let big = dir.path().join("mappings/90-big.yaml");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(config::MAX_FILE_BYTES + 1).unwrap();
    assert_eq!(
        refusal(dir.path()),
        (config::Refusal::TooLarge, big.clone())
    );
    let out = adoport(&["lint", big.to_str().unwrap()]);
    assert_exit(&out, 2);
    let shown = format!("{}{}", stdout(&out), stderr(&out));
    assert!(shown.contains("larger than 16 MiB"), "{shown}");
}
