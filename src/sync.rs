//! The glue between the stages: a loaded config and a source become the reconciler's
//! [`Desired`] state and [`Guards`]. `plan`, `apply`, `watch` and `serve` all call this, so
//! none of them assembles the stages on its own.
//!
//! It owns the rules that join the stages: which kinds are incomplete (the fetch said so, or
//! an item failed the mapping), which blueprints an incomplete kind covers (its resources'
//! literal blueprint expressions, or "unknown" when any is computed), and which guard wins
//! (command-line flags over `adoport.yaml`'s `deletion` over the mapping's
//! `entityDeletionThreshold`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::ado::{Listing, Source};
use crate::catalog::WriteOptions;
use crate::config::lint::literal_blueprint;
use crate::config::{Config, Mapping};
use crate::jq::Engine;
use crate::mapping;
use crate::reconcile::{Desired, Guards, IncompleteKind, KindBlueprints};

/// How one resource's mapping went, for the status lines `plan` and `apply` print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceStats {
    /// Position in the merged mapping.
    pub index: usize,
    /// The resource's kind.
    pub kind: String,
    /// Raw items the source gave.
    pub items: usize,
    /// Entities mapped (search-identifier entities excluded).
    pub entities: usize,
    /// Entities whose identifier is a search query: Port resolves those, so they are not
    /// planned.
    pub searched: usize,
    /// Items the selector rejected.
    pub rejected: usize,
    /// Items dropped for a null or empty identifier or blueprint.
    pub dropped: usize,
    /// Items that failed the mapping (they make the kind incomplete).
    pub item_errors: usize,
    /// Why the kind's listing is incomplete, when it is.
    pub incomplete: Option<String>,
}

/// The desired state and how each resource contributed to it.
#[derive(Debug)]
pub struct Prepared {
    /// What the reconciler plans against.
    pub desired: Desired,
    /// One entry per resource, in mapping order.
    pub resources: Vec<ResourceStats>,
}

/// Fetches each resource's kind from `source` (once per distinct kind and selector options),
/// maps the items, and gathers the desired state: entities in resource order (so the last
/// resource wins a duplicate, as in Port), incomplete kinds (an incomplete listing or any
/// item error), the mapping's write flags, and `revision`.
pub async fn desired_state(
    config: &Config,
    source: &dyn Source,
    engine: &Engine,
    revision: Option<String>,
) -> Prepared {
    let mut listings: HashMap<(String, String), Listing> = HashMap::new();
    let mut entities = Vec::new();
    let mut findings: Vec<(String, String)> = Vec::new();
    let mut resources = Vec::with_capacity(config.mapping.resources.len());
    for r in &config.mapping.resources {
        let options = Value::Object(r.selector.options.clone()).to_string();
        let key = (r.kind.clone(), options);
        if !listings.contains_key(&key) {
            let listing = source.fetch(&r.kind, &r.selector.to_object()).await;
            listings.insert(key.clone(), listing);
        }
        let Some(listing) = listings.get(&key) else {
            continue;
        };
        let incomplete = (!listing.complete).then(|| {
            listing
                .error
                .clone()
                .unwrap_or_else(|| "the listing is incomplete".to_owned())
        });
        if let Some(reason) = &incomplete {
            findings.push((r.kind.clone(), reason.clone()));
        }
        let result = mapping::evaluate(r, &listing.items, engine);
        if result.item_errors > 0 {
            findings.push((
                r.kind.clone(),
                format!(
                    "{} items failed the mapping of resource {}",
                    result.item_errors, r.index
                ),
            ));
        }
        let mut stats = ResourceStats {
            index: r.index,
            kind: r.kind.clone(),
            items: listing.items.len(),
            entities: 0,
            searched: 0,
            rejected: result.rejected.len(),
            dropped: result.dropped,
            item_errors: result.item_errors,
            incomplete,
        };
        for mapped in result.entities {
            match mapped.entity {
                Some(e) => {
                    stats.entities += 1;
                    entities.push(e);
                }
                None => stats.searched += 1,
            }
        }
        resources.push(stats);
    }
    Prepared {
        desired: Desired {
            entities,
            incomplete: incomplete_kinds(&config.mapping, findings),
            options: write_options(&config.mapping),
            revision,
        },
        resources,
    }
}

/// Guard settings given on the command line, each overriding the config when set.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GuardFlags {
    /// `--no-prune`: list deletes, apply none.
    pub no_prune: bool,
    /// `--max-deletes N`.
    pub max_deletes: Option<usize>,
}

/// The guards for a run: flags over `adoport.yaml` (`deletion.threshold`,
/// `deletion.maxDeletes`) over the mapping (`entityDeletionThreshold`).
pub fn guards(config: &Config, flags: GuardFlags) -> Guards {
    let deletion = &config.settings.deletion;
    Guards {
        prune: !flags.no_prune,
        deletion_threshold: deletion
            .threshold
            .unwrap_or(config.mapping.entity_deletion_threshold),
        max_deletes: flags.max_deletes.or_else(|| {
            deletion
                .max_deletes
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
        }),
    }
}

/// The write flags the mapping sets (`enableMergeEntity`, `createMissingRelatedEntities`,
/// `deleteDependentEntities`).
pub fn write_options(mapping: &Mapping) -> WriteOptions {
    WriteOptions {
        merge: mapping.enable_merge_entity,
        create_missing_related_entities: mapping.create_missing_related_entities,
        delete_dependents: mapping.delete_dependent_entities,
    }
}

/// The blueprints each kind's resources write to: the literal blueprint of every resource
/// of the kind, or [`KindBlueprints::Unknown`] as soon as one computes it per item.
pub fn kind_blueprints(mapping: &Mapping) -> BTreeMap<String, KindBlueprints> {
    let mut out: BTreeMap<String, KindBlueprints> = BTreeMap::new();
    for r in &mapping.resources {
        let entry = out
            .entry(r.kind.clone())
            .or_insert_with(|| KindBlueprints::Known(BTreeSet::new()));
        match (literal_blueprint(r), &mut *entry) {
            (Some(bp), KindBlueprints::Known(set)) => {
                set.insert(bp);
            }
            (None, _) => *entry = KindBlueprints::Unknown,
            (Some(_), KindBlueprints::Unknown) => {}
        }
    }
    out
}

/// Builds the incomplete-kind list from `(kind, reason)` findings: reasons of one kind are
/// joined, and each kind carries the blueprints its resources write to.
pub fn incomplete_kinds(
    mapping: &Mapping,
    findings: impl IntoIterator<Item = (String, String)>,
) -> Vec<IncompleteKind> {
    let blueprints = kind_blueprints(mapping);
    let mut reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (kind, reason) in findings {
        let list = reasons.entry(kind).or_default();
        if !list.contains(&reason) {
            list.push(reason);
        }
    }
    reasons
        .into_iter()
        .map(|(kind, reasons)| IncompleteKind {
            blueprints: blueprints
                .get(&kind)
                .cloned()
                .unwrap_or(KindBlueprints::Known(BTreeSet::new())),
            kind,
            reason: reasons.join("; "),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigFiles, build_config};

    fn config(mapping: &str, settings: Option<&str>) -> Config {
        let files = ConfigFiles {
            mappings: vec![("port-app-config.yaml".into(), mapping.as_bytes().to_vec())],
            settings: settings.map(|s| ("adoport.yaml".into(), s.as_bytes().to_vec())),
            blueprints: Vec::new(),
        };
        let loaded = build_config(files);
        loaded
            .config
            .unwrap_or_else(|| panic!("{:#?}", loaded.diagnostics))
    }

    const MAPPING: &str = r#"
entityDeletionThreshold: 0.5
enableMergeEntity: false
resources:
  - kind: repository
    selector: {query: 'true'}
    port: {entity: {mappings: {identifier: .id, blueprint: '"service"'}}}
  - kind: repository
    selector: {query: 'true'}
    port: {entity: {mappings: {identifier: .id, blueprint: '"repo"'}}}
  - kind: work-item
    selector: {query: 'true'}
    port: {entity: {mappings: {identifier: .id, blueprint: '.fields."System.WorkItemType"'}}}
"#;

    #[test]
    fn flags_override_settings_which_override_the_mapping() {
        let c = config(MAPPING, None);
        assert_eq!(
            guards(&c, GuardFlags::default()),
            Guards {
                prune: true,
                deletion_threshold: 0.5,
                max_deletes: None
            }
        );
        let c = config(
            MAPPING,
            Some("deletion:\n  threshold: 0.2\n  maxDeletes: 7\n"),
        );
        let g = guards(&c, GuardFlags::default());
        assert_eq!((g.deletion_threshold, g.max_deletes), (0.2, Some(7)));
        let g = guards(
            &c,
            GuardFlags {
                no_prune: true,
                max_deletes: Some(3),
            },
        );
        assert_eq!((g.prune, g.max_deletes), (false, Some(3)));
        assert!(!write_options(&c.mapping).merge);
    }

    #[test]
    fn a_kind_covers_its_literal_blueprints_or_is_unknown() {
        let c = config(MAPPING, None);
        let kinds = kind_blueprints(&c.mapping);
        assert_eq!(
            kinds["repository"],
            KindBlueprints::Known(["repo".to_owned(), "service".to_owned()].into())
        );
        assert_eq!(kinds["work-item"], KindBlueprints::Unknown);
        let found = incomplete_kinds(
            &c.mapping,
            [
                ("repository".to_owned(), "HTTP 503".to_owned()),
                ("repository".to_owned(), "2 items failed".to_owned()),
            ],
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].reason, "HTTP 503; 2 items failed");
    }

    /// A source that answers from a table and counts its fetches.
    struct Scripted {
        fetches: std::sync::Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl Source for Scripted {
        async fn fetch(&self, kind: &str, _selector: &serde_json::Map<String, Value>) -> Listing {
            if let Ok(mut f) = self.fetches.lock() {
                f.push(kind.to_owned());
            }
            match kind {
                "repository" => Listing::complete(
                    kind,
                    vec![
                        serde_json::json!({"id": "r1"}),
                        serde_json::json!({"id": "r2"}),
                    ],
                ),
                _ => Listing::incomplete(
                    kind,
                    vec![serde_json::json!({"id": "w1", "fields": {"System.WorkItemType": "Bug"}})],
                    "HTTP 503 on page 2".to_owned(),
                ),
            }
        }
    }

    #[tokio::test]
    async fn the_desired_state_keeps_resource_order_and_marks_partial_kinds_incomplete() {
        let c = config(MAPPING, None);
        let source = Scripted {
            fetches: std::sync::Mutex::new(Vec::new()),
        };
        let engine = Engine::new(crate::jq::EngineOptions::default());
        let prepared = desired_state(&c, &source, &engine, Some("abc".into())).await;
        let d = &prepared.desired;
        let keys: Vec<String> = d.entities.iter().map(|e| e.key().to_string()).collect();
        assert_eq!(
            keys,
            ["service/r1", "service/r2", "repo/r1", "repo/r2", "Bug/w1"]
        );
        // Two repository resources with the same selector options share one fetch.
        assert_eq!(
            *source.fetches.lock().unwrap(),
            ["repository".to_owned(), "work-item".to_owned()]
        );
        assert_eq!(d.incomplete.len(), 1);
        assert_eq!(d.incomplete[0].kind, "work-item");
        assert_eq!(d.incomplete[0].blueprints, KindBlueprints::Unknown);
        assert!(d.incomplete[0].reason.contains("HTTP 503"));
        assert_eq!(d.revision.as_deref(), Some("abc"));
        assert!(!d.options.merge);
        assert_eq!(
            prepared.resources[2].incomplete.as_deref(),
            Some("HTTP 503 on page 2")
        );
        assert_eq!(prepared.resources[0].entities, 2);
    }
}
