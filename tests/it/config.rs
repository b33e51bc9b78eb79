//! Config loading across files: the example config repo against the shipped default.

use std::path::Path;

use adoport::config::{self, Mapping};

use crate::support::root;

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
