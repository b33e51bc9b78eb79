//! What the schemas accept, the code does: a walk over every kind and every selector option
//! of `schemas/`, proving each kind fetches items from the fake ADO server, each option a
//! kind reads changes what is fetched (the items, or the requests sent to ADO), and each
//! option nothing reads draws a lint warning that says so.
//!
//! A kind or option added to a schema without code fails here: the schema files must match
//! the registry of kinds (`adoport::ado::KINDS`), and the table of effects below must name
//! exactly the options the registry says each kind reads.

use std::collections::{BTreeMap, BTreeSet};

use adoport::ado::{COMMON_IGNORED_OPTIONS, KINDS, Listing};
use adoport::config::{self, ConfigFiles};
use adoport::testkit::fake_ado::{FakeAdo, FakeConfig};
use adoport::testkit::synthetic_org::{OrgSpec, generate};
use serde_json::{Value, json};

use crate::ado::{fast, fetch, source};
use crate::support::root;

/// The selector a kind is fetched with when nothing else is asked (the file and folder kinds
/// need to be told what to look for).
fn base(kind: &str) -> Value {
    match kind {
        "file" => json!({"files": {"path": "catalog.json"}}),
        "folder" => json!({"folders": [{"path": "services/"}]}),
        _ => json!({}),
    }
}

/// Per (kind, option): the selector without the option and with it. Each pair must fetch
/// differently from `OrgSpec::small()`.
fn effects() -> Vec<(&'static str, &'static str, Value, Value)> {
    let file = |with: Value| {
        let mut s = base("file");
        s.as_object_mut()
            .unwrap()
            .extend(with.as_object().unwrap().clone());
        s
    };
    let folder = |with: Value| {
        let mut s = base("folder");
        s.as_object_mut()
            .unwrap()
            .extend(with.as_object().unwrap().clone());
        s
    };
    let graph = json!({"source": "graph"});
    let closed = json!({"minTimeInDays": 30});
    vec![
        (
            "project",
            "defaultTeam",
            json!({}),
            json!({"defaultTeam": true}),
        ),
        (
            "team",
            "includeMembers",
            json!({}),
            json!({"includeMembers": true}),
        ),
        (
            "team",
            "includeAreaPaths",
            json!({}),
            json!({"includeAreaPaths": true}),
        ),
        ("user", "source", json!({}), graph.clone()),
        (
            "user",
            "subjectTypes",
            graph.clone(),
            json!({"source": "graph", "subjectTypes": ["msa"]}),
        ),
        (
            "user",
            "includeGroupMemberships",
            graph,
            json!({"source": "graph", "includeGroupMemberships": true}),
        ),
        (
            "user",
            "includeFields",
            json!({}),
            json!({"includeFields": ["license"]}),
        ),
        (
            "user",
            "apiVersion",
            json!({}),
            json!({"apiVersion": "6.0"}),
        ),
        (
            "repository",
            "includedFiles",
            json!({}),
            json!({"includedFiles": ["README.md"]}),
        ),
        ("pull-request", "minTimeInDays", json!({}), closed.clone()),
        (
            "pull-request",
            "maxResults",
            closed,
            json!({"minTimeInDays": 30, "maxResults": 1}),
        ),
        (
            "file",
            "files",
            base("file"),
            json!({"files": {"path": "README.md"}}),
        ),
        (
            "file",
            "includedFiles",
            base("file"),
            file(json!({"includedFiles": ["README.md"]})),
        ),
        (
            "folder",
            "project_name",
            base("folder"),
            folder(json!({"project_name": "project-01"})),
        ),
        (
            "folder",
            "folders",
            base("folder"),
            json!({"folders": [{"path": "src/*"}]}),
        ),
        (
            "folder",
            "includedFiles",
            base("folder"),
            folder(json!({"includedFiles": ["README.md"]})),
        ),
        (
            "pipeline",
            "includeRepo",
            json!({}),
            json!({"includeRepo": true}),
        ),
        (
            "build",
            "enrichWithFirstCommit",
            json!({}),
            json!({"enrichWithFirstCommit": true}),
        ),
        (
            "release",
            "expand",
            json!({}),
            json!({"expand": "environments"}),
        ),
        (
            "release",
            "statusFilter",
            json!({}),
            json!({"statusFilter": "abandoned"}),
        ),
        (
            "release",
            "tagFilter",
            json!({}),
            json!({"tagFilter": ["hotfix"]}),
        ),
        (
            "release",
            "sourceBranchFilter",
            json!({}),
            json!({"sourceBranchFilter": "refs/heads/main"}),
        ),
        (
            "release",
            "minCreatedTime",
            json!({}),
            json!({"minCreatedTime": "2026-05-01T00:00:00Z"}),
        ),
        (
            "release",
            "maxCreatedTime",
            json!({}),
            json!({"maxCreatedTime": "2026-05-01T00:00:00Z"}),
        ),
        (
            "release-definition",
            "expand",
            json!({}),
            json!({"expand": "artifacts"}),
        ),
        (
            "release-definition",
            "tagFilter",
            json!({}),
            json!({"tagFilter": ["nobody-uses-this"]}),
        ),
        (
            "test-run",
            "includeResults",
            json!({}),
            json!({"includeResults": false}),
        ),
        (
            "test-run",
            "codeCoverage",
            json!({}),
            json!({"codeCoverage": {}}),
        ),
        (
            "work-item",
            "wiql",
            json!({}),
            json!({"wiql": "[System.WorkItemType] = 'Bug'"}),
        ),
        ("work-item", "expand", json!({}), json!({"expand": "None"})),
        ("area-path", "depth", json!({}), json!({"depth": 1})),
        (
            "advanced-security-alert",
            "criteria",
            json!({}),
            json!({"criteria": {"alertType": "secret"}}),
        ),
        (
            "wiki",
            "wikiType",
            json!({}),
            json!({"wikiType": "codeWiki"}),
        ),
        (
            "wiki",
            "includeContent",
            json!({}),
            json!({"includeContent": true}),
        ),
        (
            "wiki",
            "apiVersion",
            json!({}),
            json!({"apiVersion": "7.0"}),
        ),
    ]
}

/// The options a selector schema accepts, by kind, from the files in `schemas/selectors/`.
fn schema_options() -> BTreeMap<String, BTreeSet<String>> {
    let dir = root().join("schemas/selectors");
    std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let kind = name.strip_suffix(".schema.json")?.to_owned();
            let schema: Value =
                serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap();
            let options = schema["properties"]
                .as_object()
                .map(|p| p.keys().filter(|k| *k != "query").cloned().collect())
                .unwrap_or_default();
            Some((kind, options))
        })
        .collect()
}

#[test]
fn the_schemas_name_exactly_the_kinds_of_the_registry() {
    let registry: BTreeSet<String> = KINDS.iter().map(|k| k.name.to_owned()).collect();
    let files: BTreeSet<String> = schema_options().into_keys().collect();
    assert_eq!(files, registry, "schemas/selectors/*.schema.json");
    let mapping: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/mapping.schema.json")).unwrap(),
    )
    .unwrap();
    let mut enums = Vec::new();
    collect_kind_enums(&mapping, &mut enums);
    assert!(!enums.is_empty(), "the mapping schema lists the kinds");
    for names in enums {
        assert_eq!(names, registry, "the mapping schema's `kind`");
    }
    assert_eq!(registry.len(), 29);
}

/// Every `kind: {enum: [...]}` in a schema.
fn collect_kind_enums(v: &Value, out: &mut Vec<BTreeSet<String>>) {
    match v {
        Value::Object(map) => {
            if let Some(names) = map.get("kind").and_then(|k| k["enum"].as_array()) {
                out.push(
                    names
                        .iter()
                        .filter_map(|n| n.as_str().map(str::to_owned))
                        .collect(),
                );
            }
            map.values().for_each(|v| collect_kind_enums(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_kind_enums(v, out)),
        _ => {}
    }
}

#[test]
fn every_schema_option_is_read_by_its_kind_or_warned_about_as_ignored() {
    let mut unexplained = Vec::new();
    for (kind, options) in schema_options() {
        let def = adoport::ado::kinds::find(&kind).expect("a kind of the registry");
        for option in options {
            let read = def.options.contains(&option.as_str());
            let ignored = def.ignored_option(&option).is_some();
            if read == ignored {
                unexplained.push(format!("{kind}.{option}: read {read}, ignored {ignored}"));
            }
        }
        for option in def.options {
            assert!(
                schema_options()[&kind].contains(*option),
                "{kind} reads {option}, which its schema refuses"
            );
        }
    }
    assert!(unexplained.is_empty(), "{unexplained:#?}");
}

#[test]
fn the_table_of_effects_names_every_option_a_kind_reads() {
    let table: BTreeSet<(String, String)> = effects()
        .iter()
        .map(|(k, o, _, _)| ((*k).to_owned(), (*o).to_owned()))
        .collect();
    let registry: BTreeSet<(String, String)> = KINDS
        .iter()
        .flat_map(|k| {
            k.options
                .iter()
                .map(|o| (k.name.to_owned(), (*o).to_owned()))
        })
        .collect();
    assert_eq!(table, registry);
    assert_eq!(table.len(), effects().len(), "one row per option");
}

/// What one fetch did: its listing and the requests it sent.
struct Fetched {
    listing: Listing,
    counts: BTreeMap<String, u64>,
    received: BTreeMap<String, BTreeSet<String>>,
}

async fn fetch_fresh(fake: &FakeAdo, kind: &str, selector: Value) -> Fetched {
    fake.reset_counts();
    let spec = OrgSpec::small();
    let ado = source(fake, &fake.pat(), fast(), spec.now);
    let listing = fetch(&ado, kind, selector).await;
    Fetched {
        listing,
        counts: fake.counts(),
        received: fake.received(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_the_registry_fetches_items_from_the_fake_server() {
    let fake = FakeAdo::start(generate(&OrgSpec::small()), FakeConfig::default())
        .await
        .unwrap();
    for kind in KINDS {
        let got = fetch_fresh(&fake, kind.name, base(kind.name)).await;
        assert!(
            got.listing.complete,
            "{}: {:?}",
            kind.name, got.listing.error
        );
        assert!(!got.listing.items.is_empty(), "{}: no items", kind.name);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_option_a_kind_reads_changes_what_is_fetched() {
    let fake = FakeAdo::start(generate(&OrgSpec::small()), FakeConfig::default())
        .await
        .unwrap();
    let mut no_effect = Vec::new();
    for (kind, option, without, with) in effects() {
        let before = fetch_fresh(&fake, kind, without).await;
        let after = fetch_fresh(&fake, kind, with).await;
        assert!(
            before.listing.complete,
            "{kind}: {:?}",
            before.listing.error
        );
        let items_differ = before.listing.items != after.listing.items
            || before.listing.complete != after.listing.complete;
        let requests_differ = before.counts != after.counts || before.received != after.received;
        if !items_differ && !requests_differ {
            no_effect.push(format!("{kind}.{option}"));
        }
    }
    assert!(
        no_effect.is_empty(),
        "options with no effect: {no_effect:?}"
    );
}

/// Lints a one-resource mapping of `kind` whose selector sets `option` to `value`.
fn lint_option(kind: &str, option: &str, value: Value) -> Vec<config::Diagnostic> {
    let mut selector = base(kind);
    selector["query"] = json!("true");
    selector[option] = value;
    let doc = json!({"resources": [{
        "kind": kind,
        "selector": selector,
        "port": {"entity": {"mappings": {"identifier": ".id", "blueprint": "\"b\""}}},
    }]});
    let mut loaded = config::build_config(ConfigFiles {
        mappings: vec![("port-app-config.yaml".into(), doc.to_string().into_bytes())],
        ..ConfigFiles::default()
    });
    config::lint::lint(&mut loaded);
    loaded.diagnostics
}

#[test]
fn every_option_nothing_reads_draws_a_lint_warning_saying_so() {
    let mut checked = 0;
    for kind in KINDS {
        let ignored = kind.ignored_options.iter().chain(COMMON_IGNORED_OPTIONS);
        for option in ignored {
            let value = match option.name {
                "exportEnvVariables" => json!(["HOME"]),
                _ => json!(true),
            };
            let found = lint_option(kind.name, option.name, value);
            let about: Vec<_> = found
                .iter()
                .filter(|d| d.message.contains(&format!("`{}`", option.name)))
                .collect();
            assert_eq!(about.len(), 1, "{}.{}: {found:#?}", kind.name, option.name);
            assert_eq!(about[0].code, "ignored-selector-option");
            assert!(!about[0].is_error());
            assert!(
                about[0]
                    .help
                    .as_deref()
                    .is_some_and(|h| h.contains(option.why)),
                "{}.{}: {:?}",
                kind.name,
                option.name,
                about[0].help
            );
            assert!(
                !found.iter().any(config::Diagnostic::is_error),
                "{found:#?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 31, "{checked}");
}

#[test]
fn an_option_or_a_kind_nothing_implements_is_a_lint_error() {
    for kind in KINDS {
        let found = lint_option(kind.name, "includeEverything", json!(true));
        assert!(
            found
                .iter()
                .any(|d| d.is_error() && d.code == "unknown-selector-option"),
            "{}: {found:#?}",
            kind.name
        );
    }
    let found = lint_option("commit", "query", json!("true"));
    assert!(
        found
            .iter()
            .any(|d| d.is_error() && d.code == "unknown-kind"),
        "{found:#?}"
    );
}
