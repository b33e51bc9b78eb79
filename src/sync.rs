//! The rules that join the stages, used wherever a config and raw items become the
//! reconciler's [`Desired`](crate::reconcile::Desired) and [`Guards`]
//! (`crate::desired` does the evaluating, for `plan`, `apply`, `watch` and review alike).
//!
//! It owns the rules that join the stages: which kinds are incomplete (the fetch said so, or
//! an item failed the mapping), which blueprints an incomplete kind covers (its resources'
//! literal blueprint expressions, or "unknown" when any is computed), and which guard wins
//! (command-line flags over `adoport.yaml`'s `deletion` over the mapping's
//! `entityDeletionThreshold`).

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::WriteOptions;
use crate::config::lint::literal_blueprint;
use crate::config::{Config, Mapping};
use crate::reconcile::{Guards, IncompleteKind, KindBlueprints, RelationTargets};

/// Guard settings given on the command line, each overriding the config when set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GuardFlags {
    /// `--no-prune`: list deletes, apply none.
    pub no_prune: bool,
    /// `--max-deletes N`.
    pub max_deletes: Option<usize>,
    /// `--allow-empty-kind KIND`: kinds or blueprints whose every entity one run may delete.
    pub allow_empty_kinds: Vec<String>,
    /// `--adopt`: take over entities of another datasource under keys the mapping produces.
    pub adopt: bool,
    /// `--prune-blueprints`: delete blueprints the config repository once declared and
    /// declares no more, and remove the entries a declared blueprint dropped.
    pub prune_blueprints: bool,
}

/// The guards for a run: flags over `adoport.yaml` (`deletion.threshold`,
/// `deletion.maxDeletes`) over the mapping (`entityDeletionThreshold`).
pub fn guards(config: &Config, flags: &GuardFlags) -> Guards {
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
        allow_empty: flags.allow_empty_kinds.iter().cloned().collect(),
        adopt: flags.adopt,
        prune_blueprints: flags.prune_blueprints,
    }
}

/// Each relation's target blueprint, from the config repository's `blueprints/`.
pub fn relation_targets(config: &Config) -> RelationTargets {
    RelationTargets::from_blueprints(config.blueprints.values())
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
pub(crate) mod tests {
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

    /// Two resources of one kind with literal blueprints, and a kind with a computed one.
    pub(crate) const MAPPING: &str = r#"
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
            guards(&c, &GuardFlags::default()),
            Guards {
                deletion_threshold: 0.5,
                ..Guards::default()
            }
        );
        let c = config(
            MAPPING,
            Some("deletion:\n  threshold: 0.2\n  maxDeletes: 7\n"),
        );
        let g = guards(&c, &GuardFlags::default());
        assert_eq!((g.deletion_threshold, g.max_deletes), (0.2, Some(7)));
        let g = guards(
            &c,
            &GuardFlags {
                no_prune: true,
                max_deletes: Some(3),
                ..GuardFlags::default()
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
}
