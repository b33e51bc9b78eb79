//! Secrets never leak (issue 10, "Secrets leaked"): every secret the tool can hold gets a
//! sentinel value — the ADO PAT, Port's client id and secret and the access tokens Port
//! issues, the webhook secret, Entra ID's client secret, the git token, a secret variable a
//! mapping reads, and a password inside a URL — and every command runs against the fake ADO
//! server and the Port emulator, with `-v`, `-vv` and `--log-format json`, on the happy path
//! and on the error paths that once leaked (servers echoing the `Authorization` header, the
//! credentials or an old token; URLs carrying credentials). No sentinel, raw or in the base64
//! forms basic auth carries, may appear in stdout, stderr, a file written, a catalog row, or
//! the `Debug` output of the structs that hold them.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use adoport::testkit::fake_ado::{FakeAdo, FakeConfig, Fault, FaultKind};
use adoport::testkit::port_emulator::{EmulatorOptions, Fault as PortFault, PortEmulator};
use adoport::testkit::synthetic_org::{OrgSpec, generate};
use base64::Engine as _;

use crate::serve::{ServeProcess, request, sample, wait_for};
use crate::support::root;

const PAT: &str = "sntl-ado-pat-1f9c4e7a2b";
const CLIENT_ID: &str = "sntl-port-client-id-6d3e";
const CLIENT_SECRET: &str = "sntl-port-client-secret-8a1f";
const WEBHOOK_SECRET: &str = "sntl-webhook-secret-c47b";
const ENTRA_SECRET: &str = "sntl-entra-client-secret-92de";
const GIT_TOKEN: &str = "sntl-git-token-5b0a";
/// A secret-looking variable the mapping reads through `$ENV` and `env`.
const MAPPING_SECRET: &str = "sntl-mapping-env-token-3e6f";
/// A password written into a URL by mistake.
const URL_PASSWORD: &str = "sntl-url-password-d2c8";

/// Every sentinel, with the user names basic auth may pair it with.
const SENTINELS: [&str; 8] = [
    PAT,
    CLIENT_ID,
    CLIENT_SECRET,
    WEBHOOK_SECRET,
    ENTRA_SECRET,
    GIT_TOKEN,
    MAPPING_SECRET,
    URL_PASSWORD,
];
const USERS: [&str; 5] = ["", "adoport", "someone", "x-access-token", CLIENT_ID];

/// The forms a secret travels in: raw, and base64 of itself and of `user:secret` (with and
/// without padding), as basic auth and servers echoing it carry them.
fn forms(secret: &str) -> Vec<String> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut out = vec![secret.to_owned(), b64(secret)];
    for user in USERS {
        out.push(b64(&format!("{user}:{secret}")));
    }
    let trimmed: Vec<String> = out[1..]
        .iter()
        .map(|f| f.trim_end_matches('=').to_owned())
        .collect();
    out.extend(trimmed);
    out
}

/// What was looked at, and every sentinel found in it.
#[derive(Default)]
struct Audit {
    checked: usize,
    found: Vec<String>,
}

impl Audit {
    fn check(&mut self, what: &str, text: &str, extra: &[String]) {
        self.checked += 1;
        for secret in SENTINELS
            .iter()
            .map(|s| (*s).to_owned())
            .chain(extra.iter().cloned())
        {
            for form in forms(&secret) {
                if let Some(at) = text.find(&form) {
                    let from = text[..at]
                        .char_indices()
                        .rev()
                        .nth(80)
                        .map_or(0, |(i, _)| i);
                    let context: String = text[from..].chars().take(240).collect();
                    self.found
                        .push(format!("{what}: {form:?} (of {secret:?}) in …{context}…"));
                }
            }
        }
    }

    fn output(&mut self, what: &str, out: &Output, extra: &[String]) {
        self.check(
            &format!("{what} stdout"),
            &String::from_utf8_lossy(&out.stdout),
            extra,
        );
        self.check(
            &format!("{what} stderr"),
            &String::from_utf8_lossy(&out.stderr),
            extra,
        );
    }

    /// Every file under `dir`, as bytes read as text (SQLite pages included).
    fn files(&mut self, dir: &Path, extra: &[String]) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                self.files(&path, extra);
            } else if let Ok(bytes) = std::fs::read(&path) {
                self.check(
                    &path.display().to_string(),
                    &String::from_utf8_lossy(&bytes),
                    extra,
                );
            }
        }
    }
}

/// The servers, the scratch folder, and every command's output so far.
struct World {
    /// Keeps the servers running.
    _runtime: tokio::runtime::Runtime,
    ado: FakeAdo,
    /// A fake ADO whose project listing answers 500 quoting the `Authorization` header.
    echoing_ado: FakeAdo,
    port: PortEmulator,
    /// An empty Port whose bulk upserts refuse every entity quoting the credentials.
    echoing_port: PortEmulator,
    dir: tempfile::TempDir,
    runs: Vec<(String, Output)>,
}

fn emulator_options() -> EmulatorOptions {
    let mut options = EmulatorOptions {
        clients: vec![(CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())],
        ..EmulatorOptions::default()
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("examples/config-repo/blueprints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        options = options.with_blueprint_file(file).unwrap();
    }
    options
}

impl World {
    fn new() -> World {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (ado, echoing_ado, port, echoing_port) = runtime.block_on(async {
            let config = || FakeConfig {
                pat: PAT.to_owned(),
                ..FakeConfig::default()
            };
            let org = generate(&OrgSpec::small());
            let ado = FakeAdo::start(org.clone(), config()).await.unwrap();
            let echoing = FakeAdo::start(org, config()).await.unwrap();
            echoing.add_fault(Fault::from_request(
                "projects",
                1,
                FaultKind::EchoAuthorization,
            ));
            let port = PortEmulator::start(emulator_options()).await.unwrap();
            let echoing_port = PortEmulator::start(emulator_options()).await.unwrap();
            echoing_port.inject(PortFault::EchoCredentialsInBulkErrors);
            (ado, echoing, port, echoing_port)
        });
        let dir = tempfile::tempdir().unwrap();
        let world = World {
            _runtime: runtime,
            ado,
            echoing_ado,
            port,
            echoing_port,
            dir,
            runs: Vec::new(),
        };
        world.write_config("config", &[]);
        world
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The example config repo at `rel`, its project descriptions reading a secret variable
    /// and the PAT through the environment, and `settings` appended to its adoport.yaml.
    fn write_config(&self, rel: &str, settings: &[&str]) {
        let to = self.path(rel);
        copy_dir(&root().join("examples/config-repo"), &to);
        let org = to.join("mappings/10-organization.yaml");
        let text = std::fs::read_to_string(&org).unwrap().replacen(
            "            description: .description\n",
            "            description: >-\n              [.description, $ENV.DEPLOY_TOKEN, env.AZURE_DEVOPS_PAT,\n               env.PORT_CLIENT_SECRET, env.AZURE_CLIENT_SECRET] | map(select(. != null)) | join(\" \")\n",
            1,
        );
        std::fs::write(&org, text).unwrap();
        if !settings.is_empty() {
            let path = to.join("adoport.yaml");
            let mut text = std::fs::read_to_string(&path).unwrap();
            text.push_str(&settings.join("\n"));
            text.push('\n');
            std::fs::write(path, text).unwrap();
        }
    }

    /// The environment of every run: a sentinel in every secret.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("NO_COLOR", "1".into()),
            ("HOME", self.dir.path().display().to_string()),
            ("AZURE_DEVOPS_ORG_URL", self.ado.org_url()),
            ("AZURE_DEVOPS_PAT", PAT.into()),
            ("PORT_CLIENT_ID", CLIENT_ID.into()),
            ("PORT_CLIENT_SECRET", CLIENT_SECRET.into()),
            ("PORT_BASE_URL", self.port.base_url().to_owned()),
            ("ADOPORT_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
            (
                "AZURE_TENANT_ID",
                "00000000-0000-0000-0000-00000000feed".into(),
            ),
            (
                "AZURE_CLIENT_ID",
                "00000000-0000-0000-0000-00000000c1d0".into(),
            ),
            ("AZURE_CLIENT_SECRET", ENTRA_SECRET.into()),
            ("ADOPORT_GIT_TOKEN", GIT_TOKEN.into()),
            ("DEPLOY_TOKEN", MAPPING_SECRET.into()),
        ]
    }

    fn command(&self, args: &[&str], env: &[(&str, String)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_adoport"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("ADOPORT_LOG");
        for (k, v) in self.env().iter().chain(env) {
            command.env(k, v);
        }
        command
    }

    /// Runs adoport with `args` (and `env` over the sentinels), keeping its output.
    fn run(&mut self, args: &[&str], env: &[(&str, String)]) -> &Output {
        let out = self.command(args, env).output().expect("adoport runs");
        let label = format!("`adoport {}` {env:?}", args.join(" "));
        self.runs.push((label, out));
        &self.runs.last().expect("just pushed").1
    }

    /// Starts adoport with `args` (and `env` over the sentinels) without waiting: for runs
    /// that wait out retries, so they overlap the others. [`World::finish`] keeps its output.
    fn start(&self, args: &[&str], env: &[(&str, String)]) -> Started {
        let child = self
            .command(args, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("adoport starts");
        Started {
            label: format!("`adoport {}` {env:?}", args.join(" ")),
            child,
        }
    }

    /// Waits for a run [`World::start`] began, keeping its output.
    fn finish(&mut self, started: Started) {
        let out = started.child.wait_with_output().expect("adoport runs");
        self.runs.push((started.label, out));
    }

    /// Runs `args` once per log style: `-v`, `-vv`, and `-vv --log-format json`.
    fn run_logged(&mut self, args: &[&str]) {
        for style in [&["-v"][..], &["-vv"], &["-vv", "--log-format", "json"]] {
            let all: Vec<&str> = args.iter().chain(style).copied().collect();
            self.run(&all, &[]);
        }
    }

    /// `adoport watch` until it has printed its first plan.
    fn watch_one_cycle(&mut self, args: &[&str]) {
        let mut child = self
            .command(args, &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("watch starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                text.push_str(&line);
                text.push('\n');
                if line.starts_with("Plan:") || line.starts_with("No changes") {
                    let _ = tx.send(());
                }
            }
            text
        });
        let planned = rx.recv_timeout(Duration::from_secs(120));
        let _ = child.kill();
        let mut out = child.wait_with_output().expect("watch ends");
        out.stdout = reader.join().expect("reader").into_bytes();
        assert!(
            planned.is_ok(),
            "watch printed no plan:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.runs
            .push((format!("`adoport {}`", args.join(" ")), out));
    }
}

/// A run started and not yet waited for.
struct Started {
    label: String,
    child: std::process::Child,
}

fn copy_dir(from: &Path, to: &Path) {
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

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn no_command_on_any_path_shows_a_secret_in_its_output_its_files_or_the_catalog() {
    let mut w = World::new();
    let cfg = "config";

    // A server echoing the credentials in a 500: these runs wait out the retries (some
    // twenty seconds of backoff), so they run beside everything else.
    let echoing = w.echoing_ado.org_url();
    let echo_runs = [
        w.start(
            &[
                "plan",
                "--config",
                cfg,
                "--source",
                "ado",
                "--target",
                "sqlite:echo.sqlite",
                "-vv",
            ],
            &[("AZURE_DEVOPS_ORG_URL", echoing.clone())],
        ),
        w.start(
            &[
                "fetch",
                "--out",
                "snapshot-echo",
                "--kinds",
                "project,repository",
                "-vv",
                "--log-format",
                "json",
            ],
            &[("AZURE_DEVOPS_ORG_URL", echoing)],
        ),
    ];

    // Checking and mapping offline.
    w.run_logged(&["lint", cfg]);
    std::fs::write(w.path("input.json"), r#"{"name": "x"}"#).unwrap();
    w.run_logged(&[
        "jq",
        "[.name, $ENV.DEPLOY_TOKEN, env.AZURE_DEVOPS_PAT, ($ENV | keys)]",
        "input.json",
    ]);

    // Live: fetch, plan in every format, apply to Port and to SQLite.
    w.run_logged(&["fetch", "--out", "snapshot", "--config", cfg]);
    for format in ["text", "markdown", "json"] {
        w.run(
            &[
                "plan", "--config", cfg, "--source", "ado", "--target", "port", "--format", format,
                "-vv",
            ],
            &[],
        );
    }
    w.run(
        &[
            "plan",
            "--config",
            cfg,
            "--source",
            "ado",
            "--target",
            "port",
            "--out",
            "plan.json",
            "--format",
            "json",
            "-vv",
            "--log-format",
            "json",
        ],
        &[],
    );
    w.run_logged(&[
        "apply", "--config", cfg, "--source", "ado", "--target", "port",
    ]);
    w.run(
        &[
            "apply",
            "--config",
            cfg,
            "--source",
            "ado",
            "--target",
            "sqlite:catalog.sqlite",
            "-vv",
        ],
        &[],
    );
    w.run_logged(&[
        "map",
        "--config",
        cfg,
        "--kind",
        "project",
        "--input",
        "snapshot/project.jsonl",
    ]);
    w.run(
        &[
            "map",
            "--config",
            cfg,
            "--kind",
            "project",
            "--input",
            "snapshot/project.jsonl",
            "--format",
            "json",
            "-vv",
        ],
        &[],
    );
    w.watch_one_cycle(&[
        "watch",
        "--config",
        cfg,
        "--source",
        "snapshot:snapshot",
        "--target",
        "sqlite:watch.sqlite",
        "-vv",
    ]);

    // A pull request's review: the mapping changes between two commits.
    let repo = w.path("repo");
    w.write_config("repo", &[]);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["config", "user.email", "t@example.com"]);
    git(&repo, &["config", "user.name", "T"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    let org = repo.join("mappings/10-organization.yaml");
    let text = std::fs::read_to_string(&org).unwrap().replacen(
        "state: .state",
        "state: .state | ascii_upcase",
        1,
    );
    std::fs::write(&org, text).unwrap();
    git(&repo, &["commit", "-q", "-am", "head"]);
    for format in ["text", "markdown", "json"] {
        w.run(
            &[
                "plan",
                "--config",
                "repo",
                "--base",
                "HEAD~1",
                "--source",
                "snapshot:snapshot",
                "--target",
                "port",
                "--format",
                format,
                "-vv",
            ],
            &[],
        );
    }

    // Service hooks and events.
    w.run_logged(&[
        "hooks",
        "sync",
        "--config",
        cfg,
        "--url",
        "https://adoport.example.com/webhook",
        "--dry-run",
    ]);
    w.run(
        &[
            "hooks",
            "sync",
            "--config",
            cfg,
            "--url",
            "https://adoport.example.com/webhook",
            "-vv",
        ],
        &[],
    );
    std::fs::write(w.path("examples-webhook.json"), sample("workitem.updated")).unwrap();
    w.run_logged(&[
        "event",
        "replay",
        "examples-webhook.json",
        "--config",
        cfg,
        "--source",
        "ado",
        "--target",
        "port",
    ]);

    // serve: start, events with and without the right credentials, health, metrics, status.
    let args: Vec<String> = [
        "--config",
        cfg,
        "--source",
        "ado",
        "--target",
        "port",
        "--queue",
        "sqlite:queue.sqlite",
        "--listen",
        "127.0.0.1:0",
        "-vv",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let serve = ServeProcess::start(w.dir.path(), &args, &w.env());
    let good = adoport::serve::auth::basic_header("adoport", WEBHOOK_SECRET);
    let bad = adoport::serve::auth::basic_header("adoport", &format!("{WEBHOOK_SECRET}-wrong"));
    let mut served = Vec::new();
    for (auth, body) in [
        (Some(good.as_str()), sample("workitem.updated")),
        (Some(bad.as_str()), sample("git.push")),
        (None, b"{not json".to_vec()),
    ] {
        served.push(request(serve.addr, "POST", "/webhook", auth, &body));
    }
    wait_for(
        "the first resync and the event",
        Duration::from_secs(120),
        || {
            let status = crate::serve::queue_status(&w.path("queue.sqlite"));
            status.queue.pending == 0 && status.resyncs.iter().any(|r| r.finished_ms.is_some())
        },
    );
    for path in ["/metrics", "/readyz", "/healthz"] {
        served.push(request(serve.addr, "GET", path, None, b""));
    }
    let (_, _, log) = serve.terminate();
    w.run_logged(&["status", "--queue", "sqlite:queue.sqlite"]);
    w.run(
        &[
            "status",
            "--queue",
            "sqlite:queue.sqlite",
            "--format",
            "json",
        ],
        &[],
    );

    // Error paths: servers echoing credentials, URLs carrying them, a refused allow-list.
    for started in echo_runs {
        w.finish(started);
    }
    let echoing_port = w.echoing_port.base_url().to_owned();
    w.run(
        &[
            "apply",
            "--config",
            cfg,
            "--source",
            "snapshot:snapshot",
            "--target",
            "port",
            "-vv",
        ],
        &[("PORT_BASE_URL", echoing_port.clone())],
    );
    w.run(
        &[
            "apply",
            "--config",
            cfg,
            "--source",
            "snapshot:snapshot",
            "--target",
            "port",
            "--format",
            "json",
            "--log-format",
            "json",
        ],
        &[("PORT_BASE_URL", echoing_port)],
    );
    w.port.inject(PortFault::RefuseTokenEchoingOld);
    w.port.expire_tokens();
    w.run(
        &[
            "plan",
            "--config",
            cfg,
            "--source",
            "snapshot:snapshot",
            "--target",
            "port",
            "-vv",
        ],
        &[],
    );
    w.port.clear_faults();
    let ado_addr = w.ado.addr();
    let with_password = |at: &str| format!("http://someone:{URL_PASSWORD}@{at}");
    w.run(
        &[
            "plan",
            "--config",
            cfg,
            "--source",
            "ado",
            "--target",
            "sqlite:url.sqlite",
            "-vv",
        ],
        &[(
            "AZURE_DEVOPS_ORG_URL",
            format!("{}/acme", with_password(&ado_addr.to_string())),
        )],
    );
    w.run(
        &[
            "fetch",
            "--out",
            "snapshot-url",
            "--kinds",
            "project",
            "-vv",
        ],
        &[(
            "AZURE_DEVOPS_ORG_URL",
            format!("{}/acme", with_password(&ado_addr.to_string())),
        )],
    );
    let port_at = w.port.base_url().trim_start_matches("http://").to_owned();
    w.run(
        &[
            "plan",
            "--config",
            cfg,
            "--source",
            "snapshot:snapshot",
            "--target",
            "port",
            "-vv",
        ],
        &[("PORT_BASE_URL", with_password(&port_at))],
    );
    let target = format!("port:{}", with_password(&port_at));
    w.run(
        &[
            "plan",
            "--config",
            cfg,
            "--source",
            "snapshot:snapshot",
            "--target",
            &target,
            "-vv",
            "--log-format",
            "json",
        ],
        &[],
    );
    let follow = format!("git:https://x-access-token:{URL_PASSWORD}@127.0.0.1:9/config.git@main");
    w.run(
        &[
            "apply",
            "--follow",
            &follow,
            "--once",
            "--source",
            "snapshot:snapshot",
            "--target",
            "sqlite:follow.sqlite",
            "-vv",
        ],
        &[],
    );
    w.write_config(
        "leaky-config",
        &["jq:", "  envAllowList: [DEPLOY_TOKEN, AZURE_DEVOPS_PAT]"],
    );
    w.run_logged(&["lint", "leaky-config"]);
    w.run(
        &[
            "plan",
            "--config",
            "leaky-config",
            "--source",
            "snapshot:snapshot",
            "--target",
            "sqlite:leaky.sqlite",
            "--format",
            "markdown",
            "-vv",
        ],
        &[],
    );

    // What Port issued this run is a secret too.
    let tokens = w.port.issued_tokens();
    assert!(!tokens.is_empty(), "Port issued tokens");
    let mut audit = Audit::default();
    for (label, out) in &w.runs {
        audit.output(label, out, &tokens);
    }
    audit.check("serve's log", &log, &tokens);
    for (status, body) in &served {
        audit.check(&format!("a serve response ({status})"), body, &tokens);
    }
    audit.files(w.dir.path(), &tokens);
    let stored: BTreeMap<_, _> = w.port.entities();
    audit.check(
        "Port's catalog",
        &serde_json::to_string(&stored.into_iter().collect::<Vec<_>>()).unwrap(),
        &tokens,
    );
    assert!(
        audit.found.is_empty(),
        "{} leaks:\n{}",
        audit.found.len(),
        audit.found.join("\n")
    );

    // The runs did what they say, so the audit looked at real output: the servers did echo
    // the credentials, and what they echoed was taken out.
    let shown = |part: &str| -> String {
        let (_, out) = w
            .runs
            .iter()
            .find(|(l, _)| l.contains(part))
            .unwrap_or_else(|| panic!("no run {part}"));
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    for part in [
        "sqlite:echo.sqlite",
        "--target port -vv` [(\"PORT_BASE_URL\", \"http://127.0.0.1",
        "--target port:http://someone",
        "sqlite:url.sqlite",
        "--follow",
    ] {
        assert!(
            shown(part).contains("[redacted]"),
            "{part}: {}",
            shown(part)
        );
    }
    assert!(
        shown("snapshot:snapshot --target port -vv` []").contains("token [redacted] was revoked")
    );
    assert!(shown("`adoport jq").contains("\"x\""));
    let ok = |prefix: &str| {
        w.runs
            .iter()
            .any(|(l, o)| l.starts_with(prefix) && o.status.success())
    };
    for prefix in [
        "`adoport lint config",
        "`adoport jq",
        "`adoport fetch",
        "`adoport apply --config config --source ado --target port",
        "`adoport hooks sync",
        "`adoport event replay examples-webhook.json",
        "`adoport status",
    ] {
        assert!(ok(prefix), "no successful {prefix}");
    }
    assert!(
        w.runs.iter().any(
            |(l, o)| l.starts_with("`adoport plan --config repo") && o.status.code() == Some(2)
        )
    );
    assert!(w.port.entity_count() > 100, "apply wrote the catalog");
    assert_eq!(served[0].0, 202);
    assert_eq!(served[1].0, 401);
    assert!(audit.checked > 100, "{} texts checked", audit.checked);
}

#[test]
fn no_struct_holding_a_secret_shows_it_in_debug() {
    use adoport::ado::{
        Client, ClientOptions, OrgUrl, Pat, ServicePrincipal, ServicePrincipalConfig,
    };
    use adoport::desired::engine_options;
    use adoport::follow::GitToken;
    use adoport::pipeline::Access;
    use adoport::port::{Credentials, PortClient, PortClientOptions};
    use adoport::secrets::Secret;
    use adoport::serve::auth::WebhookAuth;
    use adoport::serve::hooks::SyncOptions;
    use adoport::serve::resync::ConfigSpec;
    use std::sync::Arc;

    let pat = Pat::new(PAT);
    let credentials = Credentials::new(CLIENT_ID, CLIENT_SECRET);
    let access = Access {
        ado_org_url: Some(format!("https://someone:{URL_PASSWORD}@dev.azure.com/acme")),
        ado_pat: Some(pat.clone()),
        ado_service_principal: Some(
            ServicePrincipalConfig::new(
                "tenant",
                "00000000-0000-0000-0000-00000000c1d0",
                ENTRA_SECRET,
            )
            .with_authority(format!("https://someone:{URL_PASSWORD}@login.example.com")),
        ),
        port_credentials: Some(credentials.clone()),
        port_base_url: Some(format!("https://someone:{URL_PASSWORD}@api.port.io")),
        env: Arc::new(|name: &str| (name == "DEPLOY_TOKEN").then(|| MAPPING_SECRET.to_owned())),
    };
    let principal =
        ServicePrincipal::new(access.ado_service_principal.clone().expect("set")).unwrap();
    let port_options = PortClientOptions::new(credentials.clone(), "adoport");
    let port = PortClient::new(port_options.clone()).unwrap();
    let ado_options = ClientOptions::default();
    let ado = Client::new(
        OrgUrl::parse("https://dev.azure.com/acme").unwrap(),
        &pat,
        ado_options.clone(),
    )
    .unwrap();
    let auth = WebhookAuth::new("adoport", Secret::new(WEBHOOK_SECRET));
    let sync = SyncOptions {
        url: "https://adoport.example.com/webhook".into(),
        projects: Vec::new(),
        auth: Some(auth.clone()),
        prune: false,
    };
    let git = GitToken::new("x-access-token", GIT_TOKEN);
    let jq = adoport::config::settings::JqSettings {
        env_allow_list: vec!["DEPLOY_TOKEN".into()],
        ..Default::default()
    };
    let engine = engine_options(&jq, &access.env);
    let followed: ConfigSpec =
        format!("git:https://x-access-token:{URL_PASSWORD}@example.com/config.git@main")
            .parse()
            .unwrap();
    let texts = [
        format!("{pat:?}"),
        format!("{credentials:?}"),
        format!("{access:?} {access:#?}"),
        format!("{port_options:?}"),
        format!("{port:?}"),
        format!("{ado_options:?}"),
        format!("{ado:?}"),
        format!("{auth:?}"),
        format!("{sync:?} {sync:#?}"),
        format!("{git:?}"),
        format!("{engine:?}"),
        format!("{followed:?}"),
        format!("{:?}", Secret::new(ENTRA_SECRET)),
        format!("{principal:?}"),
    ];
    let mut audit = Audit::default();
    for text in &texts {
        audit.check(&format!("Debug {}", &text[..text.len().min(40)]), text, &[]);
    }
    assert!(audit.found.is_empty(), "{}", audit.found.join("\n"));
}
