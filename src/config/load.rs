//! Merging a config repository's files into one `Config`, with every finding.
//!
//! Mapping files are merged in file-name order, then the optional `adoport.yaml` and the
//! Port blueprint JSON files are read. Reading the files is left to `files` (a folder) and
//! `git` (a revision), so both feed the same builder. The model is built from whatever
//! could be read even when there are errors, so the later lint passes still run and one
//! finding never hides another; only a config without errors is handed out for use.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::diagnostic::{self, Diagnostic};
use super::files::{ConfigFiles, Result, read_files};
use super::model::{Config, Mapping};
use super::settings::Settings;
use super::source::SourceFile;
use super::yaml::{self, YamlDoc};
use super::{build, rules, schema};

/// A loaded config: the files (for rendering diagnostics), every finding, and the model
/// when no finding is an error.
#[derive(Debug)]
pub struct Loaded {
    /// Every file read, for quoting source lines.
    pub sources: Vec<Arc<SourceFile>>,
    /// Every finding, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// The config, when there are no errors.
    pub config: Option<Config>,
    /// Each parsed mapping file's node positions, by file name, for later passes.
    pub docs: Vec<(Arc<str>, YamlDoc)>,
    /// When there are errors, the model built from everything that could be read: the lint
    /// passes check it so that every problem is reported in one run. Never mapped or applied.
    pub(crate) partial: Option<Config>,
}

impl Loaded {
    /// The model the lint passes check: the config, or the partial one when there are errors.
    pub(crate) fn model(&self) -> Option<&Config> {
        self.config.as_ref().or(self.partial.as_ref())
    }
}

impl Loaded {
    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads a config repo folder or a single mapping file and builds it.
pub fn load(path: &Path) -> Result<Loaded> {
    Ok(build_config(read_files(path)?))
}

/// Builds a config from its files, collecting every finding.
pub fn build_config(files: ConfigFiles) -> Loaded {
    let mut sources = Vec::new();
    let mut diagnostics = Vec::new();
    let mut mapping = Mapping::default();
    let mut docs = Vec::new();
    // The first file that set each flag, to report disagreements.
    let mut flag_owner: Vec<(&'static str, Value, Arc<str>)> = Vec::new();

    for (name, bytes) in files.mappings {
        let Some((source, doc)) = parse_file(name, bytes, &mut sources, &mut diagnostics) else {
            continue;
        };
        let file = source.name.clone();
        if !doc.value.is_object() {
            diagnostics.push(
                Diagnostic::new(
                    &rules::not_a_mapping::RULE,
                    &file,
                    doc.span_at(""),
                    format!("the top level is {}, not a mapping", describe(&doc.value)),
                )
                .with_help("a mapping file starts with keys such as `resources:`"),
            );
            continue;
        }
        diagnostics.extend(schema::validate(
            schema::Target::Mapping,
            &doc.value,
            &doc,
            &file,
        ));
        selector_checks(&doc, &file, &mut diagnostics);
        let part = build::mapping_part(&doc, &file, &mut diagnostics);
        diagnostics.extend(rules::yaml11_scalar::findings(&doc, &file));
        for (flag, value) in part.flags {
            match flag_owner.iter().find(|(f, _, _)| *f == flag) {
                Some((_, first, owner)) if *first != value => diagnostics.push(
                    Diagnostic::new(
                        &rules::conflicting_flags::RULE,
                        &file,
                        doc.key_span_at(&format!("/{flag}")),
                        format!("`{flag}: {value}` disagrees with `{flag}: {first}` in {owner}"),
                    )
                    .with_help("top-level flags apply to the whole mapping: set them once, or the same in every file"),
                ),
                Some(_) => {}
                None => flag_owner.push((flag, value, file.clone())),
            }
        }
        merge_flags(&mut mapping, &part.mapping, &flag_owner, &file);
        mapping.resources.extend(part.mapping.resources);
        docs.push((file, doc));
    }
    for (i, r) in mapping.resources.iter_mut().enumerate() {
        r.index = i;
    }

    let mut settings = Settings::default();
    if let Some((name, bytes)) = files.settings
        && let Some((source, doc)) = parse_file(name, bytes, &mut sources, &mut diagnostics)
    {
        let file = source.name.clone();
        let before = diagnostics.len();
        diagnostics.extend(schema::validate(
            schema::Target::Settings,
            &doc.value,
            &doc,
            &file,
        ));
        if diagnostics.len() == before {
            match serde_json::from_value::<Settings>(doc.value.clone()) {
                Ok(s) => {
                    diagnostics.extend(rules::secret_env::check(&s, &doc, &file));
                    settings = s;
                }
                Err(e) => diagnostics.push(Diagnostic::new(
                    &rules::schema::RULE,
                    &file,
                    doc.span_at(""),
                    format!("the settings cannot be read: {e}"),
                )),
            }
        }
    }

    let mut blueprints = std::collections::BTreeMap::new();
    for (name, bytes) in files.blueprints {
        let file: Arc<str> = name.into();
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => {
                for bp in blueprint_docs(v) {
                    if let Some(id) = bp.get("identifier").and_then(Value::as_str) {
                        blueprints.insert(id.to_string(), bp.clone());
                    }
                }
            }
            Err(e) => diagnostics.push(
                Diagnostic::new(
                    &rules::schema::RULE,
                    &file,
                    None,
                    format!("this blueprint file is not valid JSON: {e}"),
                )
                .with_help("blueprint files hold a Port blueprint JSON object, or a list of them"),
            ),
        }
    }

    // Two schemas may say the same thing (the mapping's and the selector's `query`).
    let mut seen = std::collections::HashSet::new();
    diagnostics.retain(|d| {
        seen.insert((
            d.code,
            d.file.clone(),
            d.span.map(|s| (s.start, s.end)),
            d.message.clone(),
        ))
    });
    diagnostic::sort(&mut diagnostics);
    let model = Config {
        settings,
        mapping,
        blueprints,
    };
    let (config, partial) = if diagnostics.iter().any(Diagnostic::is_error) {
        (None, Some(model))
    } else {
        (Some(model), None)
    };
    Loaded {
        sources,
        diagnostics,
        config,
        docs,
        partial,
    }
}

/// A blueprint file holds one blueprint object or a list of them (Port's export format).
fn blueprint_docs(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        other => vec![other],
    }
}

fn parse_file(
    name: String,
    bytes: Vec<u8>,
    sources: &mut Vec<Arc<SourceFile>>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<(Arc<SourceFile>, YamlDoc)> {
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let file: Arc<str> = name.into();
            let valid = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
            let source = Arc::new(SourceFile::new(file.clone(), text));
            let span = source.span_of_bytes(valid, valid);
            diagnostics.push(
                Diagnostic::new(
                    &rules::not_utf8::RULE,
                    &file,
                    Some(span),
                    format!("the file is not UTF-8 text (invalid byte at offset {valid})"),
                )
                .with_help("save the file as UTF-8"),
            );
            sources.push(source);
            return None;
        }
    };
    // A byte-order mark is allowed by YAML; drop it so columns stay right.
    let text = text
        .strip_prefix('\u{feff}')
        .map(String::from)
        .unwrap_or(text);
    let source = Arc::new(SourceFile::new(name, text));
    sources.push(source.clone());
    match yaml::parse(&source) {
        Ok(doc) => Some((source, doc)),
        Err(mut ds) => {
            diagnostics.append(&mut ds);
            None
        }
    }
}

/// Per-resource selector validation against the kind's own selector schema.
fn selector_checks(doc: &YamlDoc, file: &Arc<str>, diagnostics: &mut Vec<Diagnostic>) {
    let Some(resources) = doc.value.get("resources").and_then(Value::as_array) else {
        return;
    };
    for (i, r) in resources.iter().enumerate() {
        let (Some(kind), Some(selector)) =
            (r.get("kind").and_then(Value::as_str), r.get("selector"))
        else {
            continue;
        };
        if !selector.is_object() {
            continue;
        }
        let pointer = format!("/resources/{i}/selector");
        let target = schema::Target::Selector {
            kind,
            pointer: &pointer,
        };
        diagnostics.extend(schema::validate(target, selector, doc, file));
    }
}

/// Takes a later file's explicitly written flags (agreement is checked separately).
fn merge_flags(
    into: &mut Mapping,
    part: &Mapping,
    owners: &[(&str, Value, Arc<str>)],
    file: &Arc<str>,
) {
    let owned_here = |flag: &str| owners.iter().any(|(f, _, o)| *f == flag && o == file);
    if owned_here("deleteDependentEntities") {
        into.delete_dependent_entities = part.delete_dependent_entities;
    }
    if owned_here("createMissingRelatedEntities") {
        into.create_missing_related_entities = part.create_missing_related_entities;
    }
    if owned_here("enableMergeEntity") {
        into.enable_merge_entity = part.enable_merge_entity;
    }
    if owned_here("entityDeletionThreshold") {
        into.entity_deletion_threshold = part.entity_deletion_threshold;
    }
    if owned_here("specPath") {
        into.spec_path.clone_from(&part.spec_path);
    }
    if owned_here("useDefaultBranch") {
        into.use_default_branch = part.use_default_branch;
    }
    if owned_here("branch") {
        into.branch.clone_from(&part.branch);
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
