//! `plan --base/--head`: the mapping diff, the effect on entities and head's plan, as text,
//! markdown (snapshots, and the size bound) and JSON.

use super::{Repo, project_mapping, redact, review_repo, snapshot};
use crate::support::{adoport, stdout};

#[test]
fn plan_with_base_and_head_shows_mapping_changes_effect_and_apply_as_text_and_markdown() {
    use adoport::catalog::SqliteCatalog;
    use adoport::entity::Entity;
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
            "--target",
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
        "--target",
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
    use adoport::pipeline::{Access, Checked, Options, Pipeline};
    use adoport::review;
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
    let side = |prop: &str| Checked {
        config: config(prop),
        revision: None,
        warnings: Vec::new(),
        sources: Vec::new(),
        origin: None,
    };
    let mut pipeline = Pipeline::new(
        Box::new(listings),
        None,
        &Access::default(),
        Options::default(),
    )
    .unwrap();
    let r = pipeline
        .review(&side(".description"), "main", &side(".url"), "feature")
        .unwrap()
        .review;
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
