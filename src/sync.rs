//! The rules that join the stages, used wherever a config and raw items become the
//! reconciler's [`Desired`](crate::reconcile::Desired) and [`Guards`]
//! (`crate::desired` does the evaluating, for `plan`, `apply`, `watch` and review alike).
//!
//! It owns the rules that join the stages: which kinds are incomplete (the fetch said so, or
//! an item failed the mapping) and whether the gap is confined to some organizations, which
//! blueprints an incomplete kind covers (its resources' literal blueprint expressions, or
//! "unknown" when any is computed) and which properties name an entity's organization
//! (those mapped straight from `.__organizationUrl` or `.__organizationName`), and which guard wins
//! (command-line flags over `adoport.yaml`'s `deletion` over the mapping's
//! `entityDeletionThreshold`).

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::WriteOptions;
use crate::config::lint::literal_blueprint;
use crate::config::{Config, Mapping};
use crate::reconcile::{
    Confined, Guards, IncompleteKind, KindBlueprints, OrgField, OrgNames, OrgProperty,
    RelationTargets,
};

/// Where an incomplete kind's gaps are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gap {
    /// Anywhere: the whole kind is in doubt.
    Whole,
    /// Only in these organizations' shares; the `complete` ones' are whole.
    Organizations {
        /// Organizations whose share is incomplete.
        incomplete: BTreeSet<OrgNames>,
        /// Organizations whose share is whole.
        complete: BTreeSet<OrgNames>,
    },
}

impl Gap {
    /// The gap of a kind that has both gaps (two listings of it, or a listing and items
    /// that failed the mapping): an organization is whole only when it is whole in both.
    #[must_use]
    pub fn and(self, other: Gap) -> Gap {
        match (self, other) {
            (
                Gap::Organizations {
                    incomplete: mut a,
                    complete: ca,
                },
                Gap::Organizations {
                    incomplete: b,
                    complete: cb,
                },
            ) => {
                a.extend(b);
                let complete = ca
                    .intersection(&cb)
                    .filter(|o| !a.contains(*o))
                    .cloned()
                    .collect();
                Gap::Organizations {
                    incomplete: a,
                    complete,
                }
            }
            _ => Gap::Whole,
        }
    }
}

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

/// By literal blueprint, the properties `kind`'s resources map straight from an item's
/// organization field: `.__organizationUrl` or `.__organizationName` (also written
/// `."__organizationUrl"` or `.["__organizationUrl"]`), nothing else around it.
pub fn organization_properties(
    mapping: &Mapping,
    kind: &str,
) -> BTreeMap<String, Vec<OrgProperty>> {
    let mut out: BTreeMap<String, Vec<OrgProperty>> = BTreeMap::new();
    for r in mapping.resources.iter().filter(|r| r.kind == kind) {
        let Some(bp) = literal_blueprint(r) else {
            continue;
        };
        for (name, jq) in r.port.mappings.properties.iter().flatten() {
            let Some(field) = organization_field(&jq.expr) else {
                continue;
            };
            let property = OrgProperty {
                property: name.clone(),
                field,
            };
            let list = out.entry(bp.clone()).or_default();
            if !list.contains(&property) {
                list.push(property);
            }
        }
    }
    out
}

/// Which organization field `expr` is, when it is one and nothing more.
fn organization_field(expr: &str) -> Option<OrgField> {
    let compact: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
    let field = compact
        .strip_prefix(".[\"")
        .and_then(|r| r.strip_suffix("\"]"))
        .or_else(|| {
            compact
                .strip_prefix(".\"")
                .and_then(|r| r.strip_suffix('"'))
        })
        .or_else(|| compact.strip_prefix('.'))?;
    match field {
        "__organizationUrl" => Some(OrgField::Url),
        "__organizationName" => Some(OrgField::Name),
        _ => None,
    }
}

/// Builds the incomplete-kind list from `(kind, reason, gap)` findings: reasons of one kind
/// are joined and gaps combined, and each kind carries the blueprints its resources write
/// to (and, when its gaps are some organizations', the properties naming organizations).
pub fn incomplete_kinds(
    mapping: &Mapping,
    findings: impl IntoIterator<Item = (String, String, Gap)>,
) -> Vec<IncompleteKind> {
    let blueprints = kind_blueprints(mapping);
    let mut reasons: BTreeMap<String, (Vec<String>, Gap)> = BTreeMap::new();
    for (kind, reason, gap) in findings {
        match reasons.get_mut(&kind) {
            Some((list, seen)) => {
                if !list.contains(&reason) {
                    list.push(reason);
                }
                *seen = std::mem::replace(seen, Gap::Whole).and(gap);
            }
            None => {
                reasons.insert(kind, (vec![reason], gap));
            }
        }
    }
    reasons
        .into_iter()
        .map(|(kind, (reasons, gap))| IncompleteKind {
            blueprints: blueprints
                .get(&kind)
                .cloned()
                .unwrap_or(KindBlueprints::Known(BTreeSet::new())),
            confined: match gap {
                Gap::Whole => None,
                Gap::Organizations {
                    incomplete,
                    complete,
                } => Some(Confined {
                    incomplete: incomplete.into_iter().collect(),
                    complete: complete.into_iter().collect(),
                    attribution: organization_properties(mapping, &kind),
                }),
            },
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
                ("repository".to_owned(), "HTTP 503".to_owned(), Gap::Whole),
                (
                    "repository".to_owned(),
                    "2 items failed".to_owned(),
                    Gap::Whole,
                ),
            ],
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].reason, "HTTP 503; 2 items failed");
    }

    fn org(name: &str) -> OrgNames {
        OrgNames {
            url: format!("https://dev.azure.com/{name}"),
            name: name.into(),
        }
    }

    fn gap(incomplete: &[&str], complete: &[&str]) -> Gap {
        Gap::Organizations {
            incomplete: incomplete.iter().map(|n| org(n)).collect(),
            complete: complete.iter().map(|n| org(n)).collect(),
        }
    }

    #[test]
    fn an_organization_is_whole_only_when_every_gap_of_its_kind_says_so() {
        assert_eq!(
            gap(&["b"], &["a", "c"]).and(gap(&["c"], &["a", "b"])),
            gap(&["b", "c"], &["a"])
        );
        assert_eq!(gap(&["b"], &["a"]).and(Gap::Whole), Gap::Whole);
    }

    #[test]
    fn properties_mapped_straight_from_the_organization_name_an_entitys_organization() {
        let c = config(
            r#"
resources:
  - kind: build
    selector: {query: 'true'}
    port:
      entity:
        mappings:
          identifier: .__organizationName + "-" + (.id | tostring)
          blueprint: '"build"'
          properties:
            org: .__organizationName
            orgUrl: ' ."__organizationUrl" '
            label: .__organizationName + "!"
  - kind: build
    selector: {query: 'true'}
    port: {entity: {mappings: {identifier: .id, blueprint: '"run"', properties: {o: '.["__organizationUrl"]'}}}}
  - kind: project
    selector: {query: 'true'}
    port: {entity: {mappings: {identifier: .id, blueprint: '"project"', properties: {o: .__organizationUrl}}}}
"#,
            None,
        );
        let found = organization_properties(&c.mapping, "build");
        let props = |bp: &str| -> Vec<(String, OrgField)> {
            found[bp]
                .iter()
                .map(|p| (p.property.clone(), p.field))
                .collect()
        };
        assert_eq!(
            props("build"),
            [
                ("org".to_owned(), OrgField::Name),
                ("orgUrl".to_owned(), OrgField::Url)
            ]
        );
        assert_eq!(props("run"), [("o".to_owned(), OrgField::Url)]);
        assert!(!found.contains_key("project"));
        let kinds = incomplete_kinds(
            &c.mapping,
            [(
                "build".to_owned(),
                "beta: HTTP 500".to_owned(),
                gap(&["beta"], &["alpha"]),
            )],
        );
        let confined = kinds[0].confined.as_ref().expect("confined to beta");
        assert_eq!(confined.incomplete, [org("beta")]);
        assert_eq!(confined.complete, [org("alpha")]);
        assert_eq!(confined.attribution, found);
    }
}
