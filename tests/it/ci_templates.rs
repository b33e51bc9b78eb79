//! The CI templates in `examples/ci/`: each is valid YAML (or a Jenkinsfile), and every
//! `adoport …` command line in it names a real subcommand with real flags (checked against
//! the binary's own `--help`, so a renamed flag breaks this test, not a user's pipeline).
//! The scheduled templates' command lines are also run, exactly as written, in a config
//! repository against the fake Azure DevOps server and the Port API emulator.

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
            // GitLab: `script:` is a list of lines.
            (Yaml::Value(Scalar::String(k)), Yaml::Sequence(lines))
                if SCRIPT_KEYS.contains(&k.as_ref()) =>
            {
                out.extend(lines.iter().filter_map(|l| match l {
                    Yaml::Value(Scalar::String(line)) => Some(line.to_string()),
                    _ => None,
                }));
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

// The scheduled templates: `adoport apply` on a schedule, one per CI system.

const SCHEDULED: [&str; 4] = [
    "examples/ci/github-actions-scheduled.yml",
    "examples/ci/azure-pipelines-scheduled.yml",
    "examples/ci/gitlab-ci-scheduled.yml",
    "examples/ci/Jenkinsfile-scheduled",
];

/// The secrets every scheduled run needs, with the organization URL.
const RUN_ENV: [&str; 4] = [
    "AZURE_DEVOPS_ORG_URL",
    "AZURE_DEVOPS_PAT",
    "PORT_CLIENT_ID",
    "PORT_CLIENT_SECRET",
];

/// The shell scripts of a Jenkinsfile: the string after each `sh` step, in `'…'`, `"…"`,
/// `'''…'''` or `"""…"""`.
fn jenkins_scripts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("sh ") {
        let preceded = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || c == '{');
        let after = rest[at + 3..].trim_start();
        rest = &rest[at + 3..];
        if !preceded {
            continue;
        }
        let quote = ["'''", "\"\"\"", "'", "\""]
            .into_iter()
            .find(|q| after.starts_with(q));
        let Some(quote) = quote else { continue };
        let body = &after[quote.len()..];
        if let Some(end) = body.find(quote) {
            out.push(body[..end].to_string());
        }
    }
    out
}

/// A template's scripts, whatever the CI system.
fn template_scripts(template: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(template)).unwrap();
    if template.contains("Jenkinsfile") {
        return jenkins_scripts(&text);
    }
    let docs = Yaml::load_from_str(&text).unwrap_or_else(|e| panic!("{template}: {e}"));
    assert_eq!(docs.len(), 1, "{template} is one YAML document");
    let mut found = Vec::new();
    scripts(&docs[0], &mut found);
    found
}

fn template_commands(template: &str) -> Vec<Vec<String>> {
    template_scripts(template)
        .iter()
        .flat_map(|s| adoport_commands(s))
        .collect()
}

#[test]
fn the_jenkins_script_reader_finds_every_sh_step() {
    let found = jenkins_scripts(
        "steps {\n  sh 'adoport lint .'\n  sh \"\"\"\n    adoport plan\n  \"\"\"\n  publish 'x'\n  sh '''a\nb'''\n}",
    );
    assert_eq!(found, ["adoport lint .", "\n    adoport plan\n  ", "a\nb"]);
}

#[test]
fn every_scheduled_template_runs_apply_on_a_schedule_with_its_systems_secrets() {
    let mut problems = Vec::new();
    for template in SCHEDULED {
        let text = std::fs::read_to_string(root().join(template)).unwrap();
        let commands = template_commands(template);
        assert!(
            commands
                .iter()
                .any(|c| c.get(1).is_some_and(|s| s == "apply")),
            "{template} runs `adoport apply`: {commands:?}"
        );
        for c in &commands {
            problems.extend(check(c).into_iter().map(|p| format!("{template}: {p}")));
        }
        // The schedule, and each secret from the system's own store, never a value.
        let (schedule, store): (&str, fn(&str) -> String) = match template {
            t if t.contains("github") => ("- cron: ", |v| format!("{v}: ${{{{ secrets.{v} }}}}")),
            t if t.contains("azure") => ("- cron: ", |v| {
                let stored = if v == "AZURE_DEVOPS_PAT" {
                    "ADO_PAT"
                } else {
                    v
                };
                format!("{v}: $({stored})")
            }),
            // GitLab hands its CI/CD variables to the job as they are: the template must
            // not set them, and its set-up note names each.
            t if t.contains("gitlab") => ("$CI_PIPELINE_SOURCE == \"schedule\"", |v| v.to_string()),
            _ => ("cron('", |v| {
                let id = v.to_lowercase().replace('_', "-");
                format!("{v} = credentials('adoport-{id}')")
            }),
        };
        if !text.contains(schedule) {
            problems.push(format!("{template}: no schedule (`{schedule}`)"));
        }
        for var in &RUN_ENV[1..] {
            if !text.contains(&store(var)) {
                problems.push(format!(
                    "{template}: {var} not taken from the secret store (`{}`)",
                    store(var)
                ));
            }
            if template.contains("gitlab") && text.contains(&format!("{var}:")) {
                problems.push(format!(
                    "{template}: sets {var} instead of taking the CI/CD variable"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Runs every scheduled template's `adoport` command lines, exactly as written, in a git
/// repository holding the example config (as the CI system's checkout would), with the
/// environment the template's secrets provide pointing at the fakes: the fake Azure DevOps
/// server as the organization, the Port API emulator as `--target port`. Each template
/// fills an empty catalog, and running it again (the next tick of the schedule) changes
/// nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_scheduled_templates_commands_sync_the_fake_organization_into_the_port_emulator() {
    use adoport::testkit::fake_ado::{FakeAdo, FakeConfig};
    use adoport::testkit::port_emulator::{
        CLIENT_ID, CLIENT_SECRET, EmulatorOptions, PortEmulator,
    };
    use adoport::testkit::synthetic_org::{OrgSpec, generate};

    let fake = FakeAdo::start(generate(&OrgSpec::small()), FakeConfig::default())
        .await
        .unwrap();
    let config = root().join("examples/config-repo");
    let repo = crate::gitops::Repo::new();
    copy_dir(&config, repo.path());
    repo.commit("the example config");

    for template in SCHEDULED {
        let commands = template_commands(template);
        assert!(!commands.is_empty(), "{template} runs adoport");
        let mut options = EmulatorOptions::default();
        for blueprint in std::fs::read_dir(config.join("blueprints")).unwrap() {
            options = options
                .with_blueprint_file(blueprint.unwrap().path())
                .unwrap();
        }
        let emu = PortEmulator::start(options).await.unwrap();
        // How many entities the organization maps to, from the first run's plan.
        let mut created: Option<usize> = None;
        for tick in ["first", "second"] {
            for command in &commands {
                let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_adoport"));
                run.args(&command[1..])
                    .current_dir(repo.path())
                    .env("NO_COLOR", "1")
                    .env("AZURE_DEVOPS_ORG_URL", fake.org_url())
                    .env("AZURE_DEVOPS_PAT", fake.pat())
                    .env("PORT_CLIENT_ID", CLIENT_ID)
                    .env("PORT_CLIENT_SECRET", CLIENT_SECRET)
                    .env("PORT_BASE_URL", emu.base_url());
                let out = tokio::task::spawn_blocking(move || run.output().unwrap())
                    .await
                    .unwrap();
                let text = stdout(&out);
                let shown = format!(
                    "{template}, {tick} run of {command:?}:\n{text}{}",
                    crate::support::stderr(&out)
                );
                assert_eq!(out.status.code(), Some(0), "{shown}");
                if command[1] != "apply" {
                    continue;
                }
                let wanted = match created {
                    None => {
                        let n = text
                            .strip_prefix("Plan: ")
                            .and_then(|t| t.split(' ').next())
                            .and_then(|n| n.parse::<usize>().ok())
                            .unwrap_or_else(|| panic!("no plan first: {shown}"));
                        assert!(n > 100, "{shown}");
                        created = Some(n);
                        format!("Applied: {n} created, 0 updated, 0 deleted, 0 failed")
                    }
                    Some(n) => {
                        format!("Applied: 0 created, 0 updated, 0 deleted, 0 failed ({n} unchanged")
                    }
                };
                assert!(text.contains(&wanted), "wanted `{wanted}`: {shown}");
            }
            assert_eq!(Some(emu.entity_count()), created, "{template}, {tick} run");
        }
        let project = fake.org().projects[0]["id"].as_str().unwrap().to_owned();
        let datasource = emu.datasource_of("azureDevopsProject", &project);
        assert!(
            datasource
                .as_deref()
                .is_some_and(|d| d.contains("adoport-example")),
            "{template}: written with the config's datasource, not {datasource:?}"
        );
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        // Follows links (the example's blueprints/ is one), as a checkout holds them.
        if std::fs::metadata(entry.path()).unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
