//! Finding and reading a config repository's files, and merging them into one `Config`.
//!
//! A config repo holds either one `port-app-config.yaml` or several `mappings/*.yaml`
//! (merged in file-name order), an optional `adoport.yaml`, and optional Port blueprint
//! JSON files in `blueprints/`. A single mapping file may also be given directly.
//! Reading is separated from building so a git revision can feed the same builder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::diagnostic::Diagnostic;
use super::model::{Config, Mapping};
use super::settings::{SETTINGS_FILE, Settings};
use super::source::SourceFile;
use super::yaml::{self, YamlDoc};
use super::{build, rules, schema};

/// The single-file mapping's name in a config repo (Port's own name for it).
pub const MAPPING_FILE: &str = "port-app-config.yaml";
/// The folder of split mapping files.
pub const MAPPINGS_DIR: &str = "mappings";
/// The folder of Port blueprint JSON files.
pub const BLUEPRINTS_DIR: &str = "blueprints";

/// Errors that stop a config from being read at all (lint exits 2 on these).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The path does not exist.
    #[error("no config at {0}")]
    NotFound(PathBuf),
    /// A folder holds no mapping file.
    #[error("{0} holds no mapping: expected `port-app-config.yaml` or `mappings/*.yaml`")]
    NoMapping(PathBuf),
    /// A file or folder could not be read.
    #[error("could not read {path}")]
    Read {
        /// What could not be read.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The raw files of a config repo, however they were found (folder or git revision).
#[derive(Clone, Debug, Default)]
pub struct ConfigFiles {
    /// Mapping files, in merge order: (display name, bytes).
    pub mappings: Vec<(String, Vec<u8>)>,
    /// The settings file, if any.
    pub settings: Option<(String, Vec<u8>)>,
    /// Blueprint JSON files: (display name, bytes).
    pub blueprints: Vec<(String, Vec<u8>)>,
}

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

/// Collects a folder's (or a single file's) config files without interpreting them.
pub fn read_files(path: &Path) -> Result<ConfigFiles> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound(path.to_path_buf()),
        _ => Error::Read {
            path: path.to_path_buf(),
            source: e,
        },
    })?;
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| Error::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let mut files = ConfigFiles::default();
    if !meta.is_dir() {
        let name = path.display().to_string();
        if path.file_name().is_some_and(|n| n == SETTINGS_FILE) {
            files.settings = Some((name, read(path)?));
        } else {
            files.mappings.push((name, read(path)?));
        }
        return Ok(files);
    }
    for single in [MAPPING_FILE, "port-app-config.yml"] {
        let p = path.join(single);
        if p.is_file() {
            files.mappings.push((p.display().to_string(), read(&p)?));
        }
    }
    files.mappings.extend(
        read_dir_sorted(&path.join(MAPPINGS_DIR), &["yaml", "yml"])?
            .into_iter()
            .map(|p| read(&p).map(|b| (p.display().to_string(), b)))
            .collect::<Result<Vec<_>>>()?,
    );
    if files.mappings.is_empty() {
        return Err(Error::NoMapping(path.to_path_buf()));
    }
    let settings = path.join(SETTINGS_FILE);
    if settings.is_file() {
        files.settings = Some((settings.display().to_string(), read(&settings)?));
    }
    for p in read_dir_sorted(&path.join(BLUEPRINTS_DIR), &["json"])? {
        files.blueprints.push((p.display().to_string(), read(&p)?));
    }
    Ok(files)
}

/// The files with one of `exts` directly in `dir`, sorted by name; none if `dir` is absent.
fn read_dir_sorted(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Read {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let p = entry.path();
        if p.is_file() && p.extension().is_some_and(|e| exts.iter().any(|x| e == *x)) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
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
    let config = (!diagnostics.iter().any(Diagnostic::is_error)).then_some(Config {
        settings,
        mapping,
        blueprints,
    });
    Loaded {
        sources,
        diagnostics,
        config,
        docs,
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
        Ok(doc) => {
            for (pointer, text, reading) in &doc.yaml11 {
                diagnostics.push(
                    Diagnostic::new(
                        &rules::yaml11_scalar::RULE,
                        &source.name,
                        doc.span_at(pointer),
                        format!("`{text}` is a string here, but Port's YAML parser reads it as {reading}"),
                    )
                    .with_help(format!("quote it (`'{text}'`) so both read the same")),
                );
            }
            Some((source, doc))
        }
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
