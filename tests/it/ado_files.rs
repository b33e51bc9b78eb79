//! The `file` and `folder` kinds, `includedFiles` and Port's deprecated `file://` mapping
//! values, against the fake ADO server: items and their shape, each selector option's effect
//! on what is fetched, request counts, and the faults that must make a kind incomplete.
//!
//! `OrgSpec::small()` has 2 projects of 3 repositories; each default branch holds the tree of
//! `synthetic_files::tree_files` plus `README.md` (and `CODEOWNERS` in repositories 0 and 2),
//! and `develop` adds `src/c/docs`.

use adoport::ado::Listing;
use adoport::testkit::fake_ado::{FakeAdo, FakeConfig, Fault, FaultKind};
use adoport::testkit::synthetic_files::{DEVELOP, add_repository};
use adoport::testkit::synthetic_org::{OrgSpec, SyntheticOrg, generate};
use serde_json::{Value, json};

use crate::ado::{complete, fast, fetch, source};

mod end_to_end;

pub(super) async fn start(org: SyntheticOrg, config: FakeConfig) -> FakeAdo {
    FakeAdo::start(org, config).await.unwrap()
}

pub(super) async fn small() -> FakeAdo {
    start(generate(&OrgSpec::small()), FakeConfig::default()).await
}

async fn listing(fake: &FakeAdo, kind: &str, selector: Value) -> Listing {
    let ado = source(fake, &fake.pat(), fast(), OrgSpec::small().now);
    fetch(&ado, kind, selector).await
}

fn paths(listing: &Listing) -> Vec<String> {
    listing
        .items
        .iter()
        .map(|i| {
            format!(
                "{}:{}",
                i["repo"]["name"].as_str().unwrap_or("?"),
                i["file"]["path"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

fn per_repo(files: &[&str]) -> Vec<String> {
    let org = generate(&OrgSpec::small());
    org.repos
        .iter()
        .flat_map(|r| {
            files
                .iter()
                .map(move |f| format!("{}:{f}", r["name"].as_str().unwrap_or("?")))
        })
        .collect()
}

#[tokio::test]
async fn a_literal_path_gives_one_item_per_repository_in_ports_shape() {
    let fake = small().await;
    let files = listing(&fake, "file", json!({"files": {"path": "catalog.json"}})).await;
    complete(&files);
    assert_eq!(paths(&files), per_repo(&["catalog.json"]));
    let first = &files.items[0];
    let repo = &fake.org().repos[0];
    assert_eq!(first["repo"], *repo);
    let file = &first["file"];
    assert_eq!(file["isFolder"], false);
    assert_eq!(file["fileName"], "catalog.json");
    assert_eq!(file["extension"], "json");
    assert!(file["objectId"].as_str().is_some_and(|s| s.len() == 40));
    assert!(file["commitId"].is_string());
    let raw = file["content"]["raw"].as_str().unwrap();
    assert_eq!(file["size"], raw.len());
    assert_eq!(file["content"]["parsed"]["name"], repo["name"]);
    assert_eq!(first["__organizationName"], "acme");
    // Per repository: one batch and one read. 1 + p + 2r.
    assert_eq!(fake.requests("itemsbatch"), 6);
    assert_eq!(fake.requests("items"), 6);
    assert_eq!(fake.total_requests(), 1 + 2 + 2 * 6);
}

#[tokio::test]
async fn content_is_parsed_as_json_then_yaml_then_kept_as_text() {
    let fake = small().await;
    let sel = json!({"files": {"path": ["config/app.yaml", "deploy/all.yaml", "README.md"], "repos": ["project-00-repo-00"]}});
    let files = listing(&fake, "file", sel).await;
    complete(&files);
    let parsed: Vec<&Value> = files
        .items
        .iter()
        .map(|i| &i["file"]["content"]["parsed"])
        .collect();
    // PyYAML's reading: `yes` is true.
    assert_eq!(
        *parsed[0],
        json!({"service": "project-00-repo-00", "replicas": 2, "enabled": true, "ports": [8080, 8443]})
    );
    assert_eq!(
        *parsed[1],
        json!([{"kind": "Deployment", "name": "project-00-repo-00"}, {"kind": "Service", "name": "project-00-repo-00"}])
    );
    assert_eq!(
        *parsed[2],
        json!("Service 0 of project-00."),
        "markdown read as YAML, as Port does"
    );
}

#[tokio::test]
async fn repos_keeps_only_the_repositories_named() {
    let fake = small().await;
    let sel =
        json!({"files": {"path": "port.yml", "repos": ["project-01-repo-02", "no-such-repo"]}});
    let files = listing(&fake, "file", sel).await;
    complete(&files);
    assert_eq!(paths(&files), ["project-01-repo-02:port.yml"]);
    assert_eq!(
        fake.requests("itemsbatch"),
        1,
        "only the named repository is read"
    );
}

#[tokio::test]
async fn a_missing_literal_path_is_just_missing_and_the_others_are_kept() {
    let fake = small().await;
    let sel = json!({"files": {"path": ["catalog.json", "no/such/file.txt", "port.yml"]}});
    let files = listing(&fake, "file", sel).await;
    complete(&files);
    // Port's integration gets a 400 for the batch and yields nothing for any repository.
    assert_eq!(paths(&files), per_repo(&["catalog.json", "port.yml"]));
    // The batch fails (400) in each repository; then each path is read on its own.
    assert_eq!(fake.requests("itemsbatch"), 6);
    assert_eq!(fake.requests("items"), 6 * 3);
}

#[tokio::test]
async fn globs_match_with_braces_and_globstar_ignoring_case_and_each_file_once() {
    let fake = small().await;
    let sel = json!({"files": {"path": [
        "**/CATALOG-INFO.yaml",       // any depth, any case
        "src/*/docs/*.md",            // two levels below the prefix: Port lists one
        "{port.yml,catalog.json}",    // braces: two literal paths
        "config/*.{yaml,yml}",
        "services/x/catalog-info.yaml" // also matched by the first pattern: one item
    ], "repos": ["project-00-repo-01"]}});
    let files = listing(&fake, "file", sel).await;
    complete(&files);
    let r = "project-00-repo-01";
    let mut got = paths(&files);
    got.sort();
    let mut want: Vec<String> = [
        "catalog.json",
        "config/app.yaml",
        "port.yml",
        "services/x/catalog-info.yaml",
        "services/y/catalog-info.yaml",
        "src/a/docs/index.md",
        "src/b/docs/guide.md",
    ]
    .iter()
    .map(|p| format!("{r}:{p}"))
    .collect();
    want.sort();
    assert_eq!(got, want);
    // One batch for every literal and prefix, one read per file.
    assert_eq!(fake.requests("itemsbatch"), 1);
    assert_eq!(fake.requests("items"), 7);
}

#[tokio::test]
async fn a_glob_under_a_folder_that_is_not_there_matches_nothing() {
    let fake = small().await;
    let sel = json!({"files": {"path": ["charts/**/values.yaml", "port.yml"], "repos": ["project-00-repo-00"]}});
    let files = listing(&fake, "file", sel).await;
    complete(&files);
    assert_eq!(paths(&files), ["project-00-repo-00:port.yml"]);
}

#[tokio::test]
async fn a_file_over_1_mib_is_skipped_and_one_at_the_limit_is_kept() {
    let mut org = generate(&OrgSpec::small());
    let limit = 1 << 20;
    let at_limit = "a".repeat(limit);
    let over = "b".repeat(limit + 1);
    add_repository(
        &mut org,
        "project-00",
        "big-files",
        &[
            ("at-limit.txt", &at_limit),
            ("over.txt", &over),
            ("small.txt", "small"),
        ],
    );
    let fake = start(org, FakeConfig::default()).await;
    let sel = json!({"files": {"path": "*.txt", "repos": ["big-files"]}});
    let files = listing(&fake, "file", sel).await;
    complete(&files);
    assert_eq!(
        paths(&files),
        ["big-files:at-limit.txt", "big-files:small.txt"]
    );
    assert_eq!(files.items[0]["file"]["size"], limit);
}

#[tokio::test]
async fn a_failed_read_or_a_refused_batch_makes_the_file_kind_incomplete() {
    let fake = small().await;
    fake.add_fault(Fault::from_request("items", 3, FaultKind::Status(500)));
    let files = listing(&fake, "file", json!({"files": {"path": "catalog.json"}})).await;
    assert!(!files.complete);
    assert!(
        files.error.as_deref().unwrap_or_default().contains("500"),
        "{:?}",
        files.error
    );

    let refused = start(
        generate(&OrgSpec::small()),
        FakeConfig {
            denied: vec!["itemsbatch".into()],
            ..FakeConfig::default()
        },
    )
    .await;
    let files = listing(&refused, "file", json!({"files": {"path": "catalog.json"}})).await;
    assert!(
        !files.complete && files.is_unauthorized(),
        "{:?}",
        files.error
    );
    assert!(files.items.is_empty());
}

#[tokio::test]
async fn a_selector_without_paths_or_with_a_broken_glob_is_incomplete_not_empty() {
    let fake = small().await;
    for sel in [json!({}), json!({"files": {"path": "src/[a"}})] {
        let files = listing(&fake, "file", sel.clone()).await;
        assert!(!files.complete, "{sel}");
    }
}

#[tokio::test]
async fn included_files_on_file_items_read_the_repository_root() {
    let fake = small().await;
    let sel = json!({"files": {"path": "services/*/catalog-info.yaml", "repos": ["project-00-repo-00"]},
                     "includedFiles": ["README.md", "/CODEOWNERS", "missing.md"]});
    let files = listing(&fake, "file", sel).await;
    complete(&files);
    assert_eq!(files.items.len(), 2);
    for item in &files.items {
        let inc = &item["__includedFiles"];
        assert_eq!(
            inc["README.md"],
            "# project-00-repo-00\n\nService 0 of project-00.\n"
        );
        assert_eq!(
            inc["/CODEOWNERS"], "* @project-00-team\n",
            "keyed as written, read from the root"
        );
        assert_eq!(
            inc["missing.md"], "",
            "a missing file reads as empty, as in Port"
        );
    }
    // Each distinct file of the repository is read once for both items.
    assert_eq!(fake.requests("items"), 2 + 3);
}

#[tokio::test]
async fn a_failed_included_file_is_null_and_makes_the_kind_incomplete() {
    let fake = small().await;
    fake.add_fault(Fault::from_request("items", 1, FaultKind::Status(500)));
    let repos = listing(&fake, "repository", json!({"includedFiles": ["README.md"]})).await;
    assert!(!repos.complete);
    assert_eq!(repos.items.len(), 6, "the repositories are all there");
    assert!(
        repos
            .items
            .iter()
            .all(|r| r["__includedFiles"]["README.md"].is_null())
    );
}

#[tokio::test]
async fn a_failed_included_file_on_file_and_folder_items_is_null_and_incomplete() {
    // One repository: its listing or file read is request 1 of `items`, the included file 2.
    for (kind, sel) in [
        (
            "file",
            json!({"files": {"path": "port.yml", "repos": ["project-00-repo-00"]}, "includedFiles": ["README.md"]}),
        ),
        (
            "folder",
            json!({"folders": [{"path": "services", "repos": [{"name": "project-00-repo-00"}]}], "includedFiles": ["README.md"]}),
        ),
    ] {
        let fake = small().await;
        fake.add_fault(Fault::from_request("items", 2, FaultKind::Status(500)));
        let found = listing(&fake, kind, sel).await;
        assert!(!found.complete, "{kind}");
        assert_eq!(found.items.len(), 1, "{kind}");
        assert!(
            found.items[0]["__includedFiles"]["README.md"].is_null(),
            "{kind}"
        );
    }
}

fn folders(listing: &Listing) -> Vec<String> {
    listing
        .items
        .iter()
        .map(|i| {
            format!(
                "{}@{}:{}",
                i["__repository"]["name"].as_str().unwrap_or("?"),
                i["__branch"].as_str().unwrap_or("?"),
                i["path"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[tokio::test]
async fn a_folder_pattern_two_levels_deep_matches_with_ports_enrichment_fields() {
    let fake = small().await;
    let found = listing(
        &fake,
        "folder",
        json!({"folders": [{"path": "src/*/docs"}]}),
    )
    .await;
    complete(&found);
    let org = fake.org();
    let want: Vec<String> = org
        .repos
        .iter()
        .flat_map(|r| {
            let name = r["name"].as_str().unwrap_or("?").to_owned();
            ["/src/a/docs", "/src/b/docs"].map(move |p| format!("{name}@main:{p}"))
        })
        .collect();
    assert_eq!(
        folders(&found),
        want,
        "Port's integration lists one level and finds none"
    );
    let first = &found.items[0];
    assert_eq!(first["gitObjectType"], "tree");
    assert_eq!(first["isFolder"], true);
    assert_eq!(first["__repository"], org.repos[0]);
    assert_eq!(first["__pattern"], "src/*/docs");
    // One listing per repository: 1 + p + r.
    assert_eq!(fake.requests("items"), 6);
    assert_eq!(fake.total_requests(), 1 + 2 + 6);
}

#[tokio::test]
async fn a_folder_pattern_for_named_repositories_lists_their_branch() {
    let fake = small().await;
    let sel = json!({"folders": [
        {"path": "src/*/docs", "repos": [{"name": "project-00-repo-00", "branch": DEVELOP}]},
        {"path": "services/*"},
    ]});
    let found = listing(&fake, "folder", sel).await;
    complete(&found);
    let got = folders(&found);
    // The named repository gets only its own pattern, on its branch (Port lists main).
    assert_eq!(
        &got[..3],
        [
            "project-00-repo-00@develop:/src/a/docs",
            "project-00-repo-00@develop:/src/b/docs",
            "project-00-repo-00@develop:/src/c/docs",
        ]
    );
    // The others get the pattern without repositories.
    assert_eq!(got.len(), 3 + 5 * 2);
    assert!(
        got[3..].iter().all(|g| g.contains("@main:/services/")),
        "{got:?}"
    );
    assert_eq!(found.items[3]["__pattern"], "services/*");
}

#[tokio::test]
async fn project_name_and_literal_folders_narrow_what_is_listed() {
    let fake = small().await;
    let sel = json!({"project_name": "project-01", "folders": [{"path": "services/"}]});
    let found = listing(&fake, "folder", sel).await;
    complete(&found);
    assert_eq!(found.items.len(), 3);
    assert!(
        found
            .items
            .iter()
            .all(|i| i["__repository"]["project"]["name"] == "project-01")
    );
    assert!(
        found
            .items
            .iter()
            .all(|i| i["path"] == "/services" && i["__pattern"] == "services/")
    );
    assert_eq!(fake.requests("items"), 3);
}

#[tokio::test]
async fn a_branch_that_is_not_there_has_no_folders_and_a_500_is_incomplete() {
    let fake = small().await;
    let sel = json!({"folders": [{"path": "src/*", "repos": [{"name": "project-00-repo-00", "branch": "gone"}]}]});
    let found = listing(&fake, "folder", sel).await;
    complete(&found);
    assert!(found.items.is_empty());

    let fake = small().await;
    fake.add_fault(Fault::from_request("items", 2, FaultKind::Status(500)));
    let found = listing(&fake, "folder", json!({"folders": [{"path": "src/*"}]})).await;
    assert!(!found.complete);
}

#[tokio::test]
async fn a_paged_tree_listing_is_followed_to_the_end_and_a_500_mid_paging_is_incomplete() {
    let paged = FakeConfig {
        max_page: Some(2),
        ..FakeConfig::default()
    };
    let sel =
        json!({"folders": [{"path": "src/*/docs", "repos": [{"name": "project-00-repo-00"}]}]});
    let fake = start(generate(&OrgSpec::small()), paged.clone()).await;
    let found = listing(&fake, "folder", sel.clone()).await;
    complete(&found);
    assert_eq!(
        folders(&found),
        [
            "project-00-repo-00@main:/src/a/docs",
            "project-00-repo-00@main:/src/b/docs"
        ]
    );
    // /src, /src/a, /src/a/docs, index.md, main.py, /src/b, /src/b/docs, guide.md: 4 pages.
    assert_eq!(fake.requests("items"), 4);

    let fake = start(generate(&OrgSpec::small()), paged).await;
    fake.add_fault(Fault::from_request("items", 2, FaultKind::Status(500)));
    let found = listing(&fake, "folder", sel).await;
    assert!(!found.complete);
    assert!(
        found
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("folders of repository project-00-repo-00"),
        "{:?}",
        found.error
    );
}

#[tokio::test]
async fn a_refused_tree_listing_makes_the_folder_kind_incomplete_for_lack_of_access() {
    let fake = start(
        generate(&OrgSpec::small()),
        FakeConfig {
            denied: vec!["items".into()],
            ..FakeConfig::default()
        },
    )
    .await;
    let found = listing(&fake, "folder", json!({"folders": [{"path": "src/*"}]})).await;
    assert!(
        !found.complete && found.is_unauthorized(),
        "{:?}",
        found.error
    );
}

#[tokio::test]
async fn included_files_on_folders_read_the_folders_branch() {
    let mut org = generate(&OrgSpec::small());
    let repo = org.repos[0]["id"].as_str().unwrap_or_default().to_owned();
    adoport::testkit::synthetic_files::add_branch(
        &mut org,
        &repo,
        "docs-branch",
        &[("README.md", "branch readme"), ("src/x/docs/a.md", "a")],
    );
    let fake = start(org, FakeConfig::default()).await;
    let sel = json!({"folders": [{"path": "src/*/docs", "repos": [{"name": "project-00-repo-00", "branch": "docs-branch"}]}],
                     "includedFiles": ["README.md", "nothing-here"]});
    let found = listing(&fake, "folder", sel).await;
    complete(&found);
    assert_eq!(
        folders(&found),
        ["project-00-repo-00@docs-branch:/src/x/docs"]
    );
    assert_eq!(
        found.items[0]["__includedFiles"],
        json!({"README.md": "branch readme", "nothing-here": ""})
    );
}

#[tokio::test]
async fn the_default_mappings_file_and_folder_resources_find_items_in_the_synthetic_org() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = adoport::config::load(&root.join("mappings"))
        .unwrap()
        .config
        .expect("the default mapping loads");
    let fake = small().await;
    let ado = source(&fake, &fake.pat(), fast(), OrgSpec::small().now);
    for resource in config
        .mapping
        .resources
        .iter()
        .filter(|r| r.kind == "file" || r.kind == "folder")
    {
        let selector = Value::Object(resource.selector.to_object());
        let found = fetch(&ado, &resource.kind, selector).await;
        complete(&found);
        // package.json in repositories 0 and 2 of each project; services/x and y everywhere.
        let want = if resource.kind == "file" { 4 } else { 12 };
        assert_eq!(found.items.len(), want, "{}", resource.kind);
    }
}
