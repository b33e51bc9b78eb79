//! The CI templates in `examples/ci/`: each is valid YAML, and every `adoport …` command
//! line in it names a real subcommand with real flags (checked against the binary's own
//! `--help`, so a renamed flag breaks this test, not a user's pipeline).

use std::collections::BTreeSet;

use saphyr::{LoadableYamlNode, Scalar, Yaml};

use crate::support::{adoport, root, stdout};

const TEMPLATES: [&str; 2] = [
    "examples/ci/azure-pipelines.yml",
    "examples/ci/github-actions.yml",
];

/// Keys whose values are shell scripts (GitHub `run`, Azure Pipelines `script`/`bash`).
const SCRIPT_KEYS: [&str; 3] = ["run", "script", "bash"];

/// Every script of a YAML document, in document order.
fn scripts(node: &Yaml<'_>, out: &mut Vec<String>) {
    match node {
        Yaml::Sequence(items) => items.iter().for_each(|i| scripts(i, out)),
        Yaml::Mapping(map) => map.iter().for_each(|(k, v)| match (k, v) {
            (Yaml::Value(Scalar::String(k)), Yaml::Value(Scalar::String(script)))
                if SCRIPT_KEYS.contains(&k.as_ref()) =>
            {
                out.push(script.to_string());
            }
            _ => scripts(v, out),
        }),
        _ => {}
    }
}

/// Shell words of one command, quotes removed (enough for the templates' plain commands).
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() || any {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if !cur.is_empty() || any {
        out.push(cur);
    }
    out
}

/// The `adoport` command lines in a script: continuation lines joined, split at `&&`, `||`,
/// `;` and `|`, redirections dropped.
fn adoport_commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        for part in line
            .split("&&")
            .flat_map(|p| p.split("||"))
            .flat_map(|p| p.split(';'))
            .flat_map(|p| p.split('|'))
        {
            let w = words(part.split('>').next().unwrap_or(""));
            if w.first().is_some_and(|w| w == "adoport") {
                out.push(w);
            }
        }
    }
    out
}

/// The flags `adoport SUB --help` documents, or `None` when SUB is not a subcommand.
fn flags_of(sub: &str) -> Option<BTreeSet<String>> {
    let out = adoport(&[sub, "--help"]);
    if out.status.code() != Some(0) {
        return None;
    }
    let help = stdout(&out);
    let mut flags = BTreeSet::new();
    for token in help.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']') {
        let name: String = token
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if name.starts_with("--") && name.len() > 2 || name.len() == 2 && name.starts_with('-') {
            flags.insert(name);
        }
    }
    Some(flags)
}

/// Problems with one command line: unknown subcommand or flags.
fn check(command: &[String]) -> Vec<String> {
    let Some(sub) = command.get(1) else {
        return vec!["`adoport` without a subcommand".into()];
    };
    let Some(flags) = flags_of(sub) else {
        return vec![format!("`adoport {sub}` is not a subcommand")];
    };
    command[2..]
        .iter()
        .filter(|w| w.starts_with('-'))
        .map(|w| w.split('=').next().unwrap_or(w).to_string())
        .filter(|f| !flags.contains(f))
        .map(|f| format!("`adoport {sub}` has no flag `{f}`"))
        .collect()
}

#[test]
fn every_adoport_command_in_the_ci_templates_is_a_real_subcommand_with_real_flags() {
    let mut checked = 0;
    let mut problems = Vec::new();
    for template in TEMPLATES {
        let text = std::fs::read_to_string(root().join(template)).unwrap();
        let docs = Yaml::load_from_str(&text).unwrap_or_else(|e| panic!("{template}: {e}"));
        assert_eq!(docs.len(), 1, "{template} is one YAML document");
        let mut found = Vec::new();
        scripts(&docs[0], &mut found);
        let commands: Vec<Vec<String>> = found.iter().flat_map(|s| adoport_commands(s)).collect();
        let subs: BTreeSet<&str> = commands
            .iter()
            .filter_map(|c| c.get(1).map(String::as_str))
            .collect();
        for wanted in ["lint", "plan", "apply"] {
            assert!(subs.contains(wanted), "{template} runs `adoport {wanted}`");
        }
        for c in &commands {
            checked += 1;
            problems.extend(check(c).into_iter().map(|p| format!("{template}: {p}")));
        }
    }
    assert!(checked >= 6, "found only {checked} commands");
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_check_catches_a_made_up_flag_and_subcommand() {
    let cmd = adoport_commands(
        "set +e\nadoport plan --config . \\\n  --bsae \"origin/main\" > plan.md && adoport fly",
    );
    assert_eq!(cmd.len(), 2);
    assert_eq!(check(&cmd[0]), ["`adoport plan` has no flag `--bsae`"]);
    assert_eq!(check(&cmd[1]), ["`adoport fly` is not a subcommand"]);
}

#[test]
fn the_pull_request_jobs_post_markdown_and_the_main_branch_jobs_apply_a_recorded_commit() {
    for template in TEMPLATES {
        let text = std::fs::read_to_string(root().join(template)).unwrap();
        assert!(text.contains("--format markdown"), "{template}");
        assert!(
            text.contains("adoport apply --config git:.@HEAD"),
            "{template}"
        );
    }
    let azure = std::fs::read_to_string(root().join(TEMPLATES[0])).unwrap();
    assert!(azure.contains("/threads?api-version=7.1") && azure.contains("System.AccessToken"));
    let github = std::fs::read_to_string(root().join(TEMPLATES[1])).unwrap();
    assert!(github.contains("gh pr comment") && github.contains("--edit-last"));
}
