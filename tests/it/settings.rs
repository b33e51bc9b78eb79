//! Every setting is honoured (issue 9, item 5): the test walks `schemas/settings.schema.json`
//! and finds, for each property, a check in [`CHECKS`] that runs adoport with and without it
//! and observes the difference. A property the schema gains without a check fails the test,
//! so a setting cannot be offered and ignored.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use adoport::catalog::SqliteCatalog;
use adoport::port::auth::{EU_BASE_URL, US_BASE_URL};
use adoport::serve::auth::basic_header;
use adoport::testkit::fake_ado::{FakeAdo, FakeConfig};
use adoport::testkit::port_emulator::{CLIENT_ID, CLIENT_SECRET, Endpoint, PortEmulator};
use adoport::testkit::synthetic_org::{OrgSpec, generate};
use serde_json::Value;

use crate::gitops::{project_mapping, snapshot};
use crate::serve::{ServeProcess, queue_status, request, sample, wait_for};
use crate::support::root;

/// A check: runs adoport with and without the setting, and asserts the difference.
type Check = fn();

/// Each property of the settings schema (by its path) and the check that proves it works.
const CHECKS: &[(&str, Check)] = &[
    (
        "organizationUrl",
        organization_url_names_the_organization_fetch_reads,
    ),
    (
        "organizationUrls",
        organization_urls_names_every_organization_fetch_reads,
    ),
    ("excludedTags", excluded_tags_leave_out_a_tagged_project),
    ("datasource", datasource_is_stamped_on_every_write),
    (
        "deletion.threshold",
        deletion_threshold_holds_a_larger_share_of_deletes,
    ),
    (
        "deletion.maxDeletes",
        deletion_max_deletes_holds_more_deletes_than_it,
    ),
    (
        "jq.envAllowList",
        jq_env_allow_list_exposes_the_named_variable,
    ),
    ("jq.timeoutMs", jq_timeout_fails_a_field_that_runs_longer),
    (
        "jq.maxOutputBytes",
        jq_max_output_bytes_fails_a_larger_field,
    ),
    (
        "resync.interval",
        resync_interval_sets_how_often_serve_resyncs,
    ),
    (
        "resync.incrementalInterval",
        resync_incremental_interval_runs_passes_between_resyncs,
    ),
    ("port.baseUrl", port_base_url_is_where_the_port_catalog_is),
    ("port.region", port_region_picks_ports_us_api),
    ("catalog", catalog_is_the_default_target),
    ("webhook.listen", webhook_listen_is_where_serve_listens),
    (
        "webhook.maxBodyBytes",
        webhook_max_body_bytes_refuses_larger_events,
    ),
    (
        "webhook.syncSubscriptions",
        webhook_sync_subscriptions_subscribes_at_start,
    ),
    ("webhook.url", webhook_url_is_where_subscriptions_post),
    (
        "webhook.projects",
        webhook_projects_subscribes_project_by_project,
    ),
];

/// The path of every leaf property of a schema object (`deletion.threshold`, …).
fn leaves(schema: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, property) in properties {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        if property.get("properties").is_some() {
            leaves(property, &path, out);
        } else {
            out.insert(path);
        }
    }
}

#[test]
fn every_property_of_the_settings_schema_changes_what_adoport_does() {
    let text = std::fs::read_to_string(root().join("schemas/settings.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let mut offered = BTreeSet::new();
    leaves(&schema, "", &mut offered);
    let checked: BTreeSet<String> = CHECKS.iter().map(|(p, _)| (*p).to_owned()).collect();
    assert_eq!(
        offered, checked,
        "each property of schemas/settings.schema.json needs a check in settings::CHECKS \
         (left: the schema, right: the checks)"
    );
    // The checks run side by side; each failure is reported with its property.
    let running: Vec<_> = CHECKS
        .iter()
        .map(|(path, check)| (*path, std::thread::spawn(*check)))
        .collect();
    let failed: Vec<String> = running
        .into_iter()
        .filter_map(|(path, handle)| {
            handle.join().err().map(|panic| {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                format!("{path}: {why}")
            })
        })
        .collect();
    assert!(
        failed.is_empty(),
        "settings not honoured:\n{}",
        failed.join("\n\n")
    );
}

// ---- the scene each check sets: a config folder, a snapshot, adoport with a clean env ----

/// A scratch folder holding a config (`config/`, the project mapping plus `settings`) and a
/// snapshot of `projects` projects (`snapshot/`).
struct Scene {
    dir: tempfile::TempDir,
}

impl Scene {
    fn new(settings: &str, mapping: &str, projects: usize) -> Scene {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(config.join("port-app-config.yaml"), mapping).unwrap();
        if !settings.is_empty() {
            std::fs::write(config.join("adoport.yaml"), settings).unwrap();
        }
        snapshot(&dir.path().join("snapshot"), projects);
        Scene { dir }
    }

    /// The project mapping with `about: .description`.
    fn plain(settings: &str) -> Scene {
        Scene::new(settings, &project_mapping("about"), 4)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn config(&self) -> String {
        self.path("config").display().to_string()
    }

    fn source(&self) -> String {
        format!("snapshot:{}", self.path("snapshot").display())
    }

    /// adoport in the scene's folder, with none of the environment's settings or secrets
    /// but `env`.
    fn command(&self, args: &[&str], env: &[(&str, String)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_adoport"));
        command.args(args).current_dir(self.dir.path());
        for name in [
            "PORT_CLIENT_ID",
            "PORT_CLIENT_SECRET",
            "PORT_BASE_URL",
            "AZURE_DEVOPS_ORG_URL",
            "AZURE_DEVOPS_PAT",
            "ADOPORT_WEBHOOK_SECRET",
            "ADOPORT_LOG",
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            command.env_remove(name);
        }
        command.env("NO_COLOR", "1");
        for (k, v) in env {
            command.env(k, v);
        }
        command
    }

    fn run(&self, args: &[&str], env: &[(&str, String)]) -> Output {
        self.command(args, env).output().expect("adoport runs")
    }

    /// `plan --format json`'s summary, against `catalog`.
    fn plan_summary(&self, catalog: &Path) -> Value {
        let target = format!("sqlite:{}", catalog.display());
        let out = self.run(
            &[
                "plan",
                "--config",
                &self.config(),
                "--source",
                &self.source(),
                "--target",
                &target,
                "--format",
                "json",
            ],
            &[],
        );
        let plan: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
        plan["summary"].clone()
    }

    /// `map --format json` of the snapshot's projects.
    fn map(&self, env: &[(&str, String)]) -> String {
        let input = self.path("snapshot/project.jsonl").display().to_string();
        let out = self.run(
            &[
                "map",
                "--config",
                &self.config(),
                "--kind",
                "project",
                "--input",
                &input,
                "--format",
                "json",
            ],
            env,
        );
        format!("{}{}", text(&out.stdout), text(&out.stderr))
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A runtime for the fakes, kept with them.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

// ---- organization, ownership, guards ----

fn organization_url_names_the_organization_fetch_reads() {
    let rt = runtime();
    let fake = rt
        .block_on(FakeAdo::start(
            generate(&OrgSpec::small()),
            FakeConfig::default(),
        ))
        .unwrap();
    let with = Scene::plain(&format!("organizationUrl: {}\n", fake.org_url()));
    let without = Scene::plain("");
    let pat = [("AZURE_DEVOPS_PAT", fake.pat())];
    let fetch = |s: &Scene| {
        s.run(
            &[
                "fetch",
                "--out",
                "fetched",
                "--config",
                &s.config(),
                "--kinds",
                "project",
            ],
            &pat,
        )
    };
    let out = fetch(&with);
    assert_exit(&out, 0);
    let manifest = std::fs::read_to_string(with.path("fetched/manifest.json")).unwrap();
    assert!(manifest.contains(&fake.org_url()), "{manifest}");
    let out = fetch(&without);
    assert_exit(&out, 1);
    assert!(
        text(&out.stderr).contains("AZURE_DEVOPS_ORG_URL"),
        "{}",
        text(&out.stderr)
    );
}

/// `fetch --kinds project` of the scene's config with the PAT the fakes accept.
fn fetch_projects(s: &Scene, pat: String) -> Output {
    s.run(
        &[
            "fetch",
            "--out",
            "fetched",
            "--config",
            &s.config(),
            "--kinds",
            "project",
        ],
        &[("AZURE_DEVOPS_PAT", pat)],
    )
}

/// The `__organizationUrl` of each project `fetch_projects` recorded.
fn fetched_organizations(s: &Scene) -> BTreeSet<String> {
    std::fs::read_to_string(s.path("fetched/project.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            let item: Value = serde_json::from_str(line).unwrap();
            item["__organizationUrl"].as_str().unwrap_or("").to_owned()
        })
        .collect()
}

fn organization_urls_names_every_organization_fetch_reads() {
    let rt = runtime();
    let (acme, labs) = rt.block_on(crate::ado_orgs::two_orgs(None));
    let with = Scene::plain(&format!(
        "organizationUrls:\n  - {}\n  - {}\n",
        acme.org_url(),
        labs.org_url()
    ));
    assert_exit(&fetch_projects(&with, acme.pat()), 0);
    assert_eq!(
        fetched_organizations(&with),
        [acme.org_url(), labs.org_url()].into_iter().collect()
    );
    let without = Scene::plain("");
    let out = fetch_projects(&without, acme.pat());
    assert_exit(&out, 1);
    assert!(
        text(&out.stderr).contains("AZURE_DEVOPS_ORG_URL"),
        "{}",
        text(&out.stderr)
    );
}

fn excluded_tags_leave_out_a_tagged_project() {
    let rt = runtime();
    let org = generate(&OrgSpec {
        projects: 5,
        ..OrgSpec::small()
    });
    let tagged: BTreeSet<String> = org
        .project_tags
        .iter()
        .filter(|(_, tags)| tags.iter().any(|t| t == "archived"))
        .map(|(id, _)| id.clone())
        .collect();
    assert!(!tagged.is_empty(), "the generator tags a project archived");
    let fake = rt
        .block_on(FakeAdo::start(org, FakeConfig::default()))
        .unwrap();
    let projects = |settings: &str| -> BTreeSet<String> {
        let s = Scene::plain(&format!("organizationUrl: {}\n{settings}", fake.org_url()));
        assert_exit(&fetch_projects(&s, fake.pat()), 0);
        std::fs::read_to_string(s.path("fetched/project.jsonl"))
            .unwrap()
            .lines()
            .map(|line| {
                let item: Value = serde_json::from_str(line).unwrap();
                item["id"].as_str().unwrap_or("").to_owned()
            })
            .collect()
    };
    let with = projects("excludedTags: [archived]\n");
    let without = projects("");
    assert_eq!(
        without.difference(&with).cloned().collect::<BTreeSet<_>>(),
        tagged
    );
    assert!(with.is_subset(&without));
}

fn datasource_is_stamped_on_every_write() {
    let owners = |s: &Scene| -> BTreeSet<String> {
        let target = format!("sqlite:{}", s.path("c.sqlite").display());
        assert_exit(
            &s.run(
                &[
                    "apply",
                    "--config",
                    &s.config(),
                    "--source",
                    &s.source(),
                    "--target",
                    &target,
                ],
                &[],
            ),
            0,
        );
        SqliteCatalog::open(s.path("c.sqlite"), "unused")
            .unwrap()
            .list_all()
            .unwrap()
            .into_iter()
            .map(|e| e.datasource)
            .collect()
    };
    assert_eq!(
        owners(&Scene::plain("datasource: team-catalog\n")),
        BTreeSet::from(["team-catalog".to_owned()])
    );
    assert_eq!(
        owners(&Scene::plain("")),
        BTreeSet::from(["adoport".to_owned()])
    );
}

/// Deletes planned when 2 of 4 owned projects are gone from the source.
fn deletes_with(settings: &str) -> Value {
    let s = Scene::plain(settings);
    let catalog = s.path("c.sqlite");
    let target = format!("sqlite:{}", catalog.display());
    assert_exit(
        &s.run(
            &[
                "apply",
                "--config",
                &s.config(),
                "--source",
                &s.source(),
                "--target",
                &target,
            ],
            &[],
        ),
        0,
    );
    std::fs::remove_dir_all(s.path("snapshot")).unwrap();
    snapshot(&s.path("snapshot"), 2);
    s.plan_summary(&catalog)
}

fn deletion_threshold_holds_a_larger_share_of_deletes() {
    let with = deletes_with("deletion:\n  threshold: 0.3\n");
    assert_eq!(
        (with["delete"].as_u64(), with["blockedDelete"].as_u64()),
        (Some(0), Some(2))
    );
    let without = deletes_with("");
    assert_eq!(without["delete"].as_u64(), Some(2), "{without}");
}

fn deletion_max_deletes_holds_more_deletes_than_it() {
    let with = deletes_with("deletion:\n  maxDeletes: 1\n");
    assert_eq!(
        (with["delete"].as_u64(), with["blockedDelete"].as_u64()),
        (Some(0), Some(2))
    );
    let without = deletes_with("");
    assert_eq!(without["delete"].as_u64(), Some(2), "{without}");
}

// ---- jq ----

fn jq_env_allow_list_exposes_the_named_variable() {
    let mapping = project_mapping("about").replace(".description", "env.TEAM_NAME");
    let env = [("TEAM_NAME", "team-from-the-environment".to_owned())];
    let with = Scene::new("jq:\n  envAllowList: [TEAM_NAME]\n", &mapping, 2).map(&env);
    assert!(
        with.contains("\"about\":\"team-from-the-environment\""),
        "{with}"
    );
    let without = Scene::new("", &mapping, 2).map(&env);
    assert!(!without.contains("team-from-the-environment"), "{without}");
    assert!(without.contains("\"about\":null"), "{without}");
}

fn jq_timeout_fails_a_field_that_runs_longer() {
    // Some milliseconds of work: far past 1 ms, far below the default 2 s.
    let mapping = project_mapping("about").replace(".description", "'[range(200000)] | length'");
    let with = Scene::new("jq:\n  timeoutMs: 1\n", &mapping, 1).map(&[]);
    assert!(!with.contains("\"about\":200000"), "{with}");
    assert!(with.contains("\"about\":null"), "{with}");
    assert!(with.contains("evaluation timed out"), "{with}");
    let without = Scene::new("", &mapping, 1).map(&[]);
    assert!(without.contains("\"about\":200000"), "{without}");
}

fn jq_max_output_bytes_fails_a_larger_field() {
    // About 700 bytes of output.
    let mapping = project_mapping("about").replace(".description", "'[range(200)] | tostring'");
    let with = Scene::new("jq:\n  maxOutputBytes: 100\n", &mapping, 1).map(&[]);
    assert!(!with.contains("199]"), "{with}");
    assert!(with.contains("\"about\":null"), "{with}");
    assert!(with.contains("output too large"), "{with}");
    let without = Scene::new("", &mapping, 1).map(&[]);
    assert!(without.contains("198,199]"), "{without}");
}

// ---- where the catalog is ----

fn catalog_is_the_default_target() {
    let apply = |s: &Scene| {
        assert_exit(
            &s.run(
                &["apply", "--config", &s.config(), "--source", &s.source()],
                &[],
            ),
            0,
        );
    };
    let with = Scene::plain("catalog: sqlite:chosen.sqlite\n");
    apply(&with);
    assert!(with.path("chosen.sqlite").exists());
    assert!(!with.path(".adoport/catalog.sqlite").exists());
    let without = Scene::plain("");
    apply(&without);
    assert!(without.path(".adoport/catalog.sqlite").exists());
    assert!(!without.path("chosen.sqlite").exists());
}

/// A proxy that records the host of the first `CONNECT` it is asked for and refuses it: what
/// an HTTPS client tried to reach, without reaching it.
fn first_https_host(s: &Scene, credentials: &[(&str, String)]) -> String {
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = proxy.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in proxy.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let _ = BufReader::new(&stream).read_line(&mut line);
            if let Some(host) = line.strip_prefix("CONNECT ") {
                let _ = tx.send(host.split_whitespace().next().unwrap_or("").to_owned());
            }
            let _ = stream.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let mut env = credentials.to_vec();
    env.push(("HTTPS_PROXY", format!("http://{addr}")));
    let mut child = s
        .command(
            &[
                "plan",
                "--config",
                &s.config(),
                "--source",
                &s.source(),
                "--target",
                "port",
            ],
            &env,
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let host = rx.recv_timeout(Duration::from_secs(60));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    host.unwrap_or_else(|_| panic!("no HTTPS request was made: {}", text(&out.stderr)))
}

fn port_credentials() -> Vec<(&'static str, String)> {
    vec![
        ("PORT_CLIENT_ID", CLIENT_ID.to_owned()),
        ("PORT_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
    ]
}

fn host_of(url: &str) -> String {
    format!(
        "{}:443",
        url.trim_start_matches("https://").trim_end_matches('/')
    )
}

fn port_base_url_is_where_the_port_catalog_is() {
    let rt = runtime();
    let emu = rt
        .block_on(PortEmulator::start(Default::default()))
        .unwrap();
    let with = Scene::plain(&format!("port:\n  baseUrl: {}\n", emu.base_url()));
    let out = with.run(
        &[
            "plan",
            "--config",
            &with.config(),
            "--source",
            &with.source(),
            "--target",
            "port",
        ],
        &port_credentials(),
    );
    assert_exit(&out, 2);
    assert!(emu.requests(Endpoint::Token) > 0 && emu.requests(Endpoint::DatasourceEntities) > 0);
    let without = Scene::plain("");
    assert_eq!(
        first_https_host(&without, &port_credentials()),
        host_of(EU_BASE_URL)
    );
}

fn port_region_picks_ports_us_api() {
    let with = Scene::plain("port:\n  region: us\n");
    assert_eq!(
        first_https_host(&with, &port_credentials()),
        host_of(US_BASE_URL)
    );
    let without = Scene::plain("");
    assert_eq!(
        first_https_host(&without, &port_credentials()),
        host_of(EU_BASE_URL)
    );
}

// ---- serve ----

/// `serve` over the scene's snapshot and a SQLite catalog, without `--listen` unless given.
fn serve(s: &Scene, extra: &[&str], env: &[(&str, String)]) -> ServeProcess {
    let mut args: Vec<String> = [
        "--config".to_owned(),
        s.config(),
        "--source".into(),
        s.source(),
        "--target".into(),
        format!("sqlite:{}", s.path("c.sqlite").display()),
        "--queue".into(),
        format!("sqlite:{}", s.path("queue.sqlite").display()),
    ]
    .to_vec();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let mut env = env.to_vec();
    env.push(("ADOPORT_WEBHOOK_SECRET", SECRET.to_owned()));
    ServeProcess::start(s.dir.path(), &args, &env)
}

const SECRET: &str = "settings-test-webhook-secret";
const LIMIT: Duration = Duration::from_secs(90);

fn finished_resyncs(s: &Scene) -> usize {
    let queue = s.path("queue.sqlite");
    if !queue.exists() {
        return 0;
    }
    queue_status(&queue)
        .resyncs
        .iter()
        .filter(|r| r.finished_ms.is_some())
        .count()
}

fn resync_interval_sets_how_often_serve_resyncs() {
    let with = Scene::plain("resync:\n  interval: 300ms\n");
    let without = Scene::plain("");
    let fast = serve(&with, &["--listen", "127.0.0.1:0"], &[]);
    let slow = serve(&without, &["--listen", "127.0.0.1:0"], &[]);
    wait_for("the first resync without the setting", LIMIT, || {
        finished_resyncs(&without) >= 1
    });
    wait_for("three resyncs with the setting", LIMIT, || {
        finished_resyncs(&with) >= 3
    });
    assert_eq!(
        finished_resyncs(&without),
        1,
        "the default interval is an hour"
    );
    fast.terminate();
    slow.terminate();
}

/// Work items, the kind incremental passes read most.
const WORK_ITEMS: &str = r#"resources:
  - kind: work-item
    selector:
      query: 'true'
    port:
      entity:
        mappings:
          identifier: .id | tostring
          title: .fields."System.Title"
          blueprint: '"workItem"'
"#;

fn resync_incremental_interval_runs_passes_between_resyncs() {
    let rt = runtime();
    let fake = rt
        .block_on(FakeAdo::start(
            generate(&OrgSpec::small()),
            FakeConfig::default(),
        ))
        .unwrap();
    let env = [
        ("AZURE_DEVOPS_ORG_URL", fake.org_url()),
        ("AZURE_DEVOPS_PAT", fake.pat()),
    ];
    let live = |s: &Scene| {
        let args: Vec<String> = [
            "--config".to_owned(),
            s.config(),
            "--source".into(),
            "ado".into(),
            "--target".into(),
            format!("sqlite:{}", s.path("c.sqlite").display()),
            "--queue".into(),
            format!("sqlite:{}", s.path("queue.sqlite").display()),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ]
        .to_vec();
        let mut env = env.to_vec();
        env.push(("ADOPORT_WEBHOOK_SECRET", SECRET.to_owned()));
        ServeProcess::start(s.dir.path(), &args, &env)
    };
    // The work-item cursor a full resync set, and where it is now.
    let cursor = |s: &Scene| {
        adoport::serve::cursors::Cursors::open(s.path("queue.sqlite"))
            .unwrap()
            .all()
            .unwrap()
            .get("work-item")
            .copied()
    };
    let with = Scene::new("resync:\n  incrementalInterval: 300ms\n", WORK_ITEMS, 1);
    let without = Scene::new("", WORK_ITEMS, 1);
    let passes = live(&with);
    let none = live(&without);
    wait_for("the first resyncs", LIMIT, || {
        finished_resyncs(&with) >= 1 && finished_resyncs(&without) >= 1
    });
    let (from_with, from_without) = (cursor(&with), cursor(&without));
    assert!(
        from_with.is_some() && from_without.is_some(),
        "a resync sets the cursor"
    );
    wait_for("an incremental pass to move the cursor", LIMIT, || {
        cursor(&with) > from_with
    });
    // A second more, three of the setting's intervals: without it, no pass moves the cursor.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        cursor(&without),
        from_without,
        "no incremental pass by default"
    );
    assert_eq!(finished_resyncs(&without), 1);
    passes.terminate();
    none.terminate();
}

fn webhook_listen_is_where_serve_listens() {
    let with = Scene::plain("webhook:\n  listen: 127.0.0.1:0\n");
    let serving = serve(&with, &[], &[]);
    assert!(serving.addr.ip().is_loopback() && serving.addr.port() != 8080);
    serving.terminate();
    // Without it serve takes (or fails to take, when it is busy) the default 0.0.0.0:8080.
    let without = Scene::plain("");
    let mut child = without
        .command(
            &[
                "serve",
                "--config",
                &without.config(),
                "--source",
                &without.source(),
                "--target",
                "sqlite:c.sqlite",
                "--queue",
                "sqlite:queue.sqlite",
            ],
            &[("ADOPORT_WEBHOOK_SECRET", SECRET.to_owned())],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut log = String::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            log.push_str(&String::from_utf8_lossy(&buf[..n]));
            if log.contains("0.0.0.0:8080") {
                let _ = tx.send(log.clone());
                break;
            }
        }
    });
    let seen = rx.recv_timeout(Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen.is_ok(), "serve did not name 0.0.0.0:8080");
}

fn webhook_max_body_bytes_refuses_larger_events() {
    let event = sample("git.push");
    assert!(event.len() > 2000);
    let auth = basic_header("adoport", SECRET);
    let post = |settings: &str| {
        let s = Scene::plain(settings);
        let serving = serve(&s, &["--listen", "127.0.0.1:0"], &[]);
        let (status, _) = request(serving.addr, "POST", "/webhook", Some(&auth), &event);
        serving.terminate();
        status
    };
    assert_eq!(post("webhook:\n  maxBodyBytes: 2000\n"), 413);
    assert_eq!(post(""), 202);
}

/// A fake ADO for serve's subscriptions, and the environment pointing at it.
fn hooks_ado() -> (
    tokio::runtime::Runtime,
    FakeAdo,
    Vec<(&'static str, String)>,
) {
    let rt = runtime();
    let fake = rt
        .block_on(FakeAdo::start(
            generate(&OrgSpec::small()),
            FakeConfig::default(),
        ))
        .unwrap();
    let env = vec![
        ("AZURE_DEVOPS_ORG_URL", fake.org_url()),
        ("AZURE_DEVOPS_PAT", fake.pat()),
    ];
    (rt, fake, env)
}

const HOOK_URL: &str = "https://adoport.example.com/webhook";

/// The subscriptions serve leaves in the fake ADO once its first resync is done (`expect`
/// of them, when it creates any).
fn subscriptions_after_serving(settings: &str, expect: usize) -> Vec<Value> {
    let (_rt, fake, env) = hooks_ado();
    let s = Scene::plain(settings);
    let serving = serve(&s, &["--listen", "127.0.0.1:0"], &env);
    wait_for("the first resync", LIMIT, || finished_resyncs(&s) >= 1);
    wait_for("the subscriptions", LIMIT, || {
        fake.subscriptions().len() == expect
    });
    serving.terminate();
    fake.subscriptions()
}

fn webhook_sync_subscriptions_subscribes_at_start() {
    let with = subscriptions_after_serving(
        &format!("webhook:\n  syncSubscriptions: true\n  url: {HOOK_URL}\n"),
        23,
    );
    assert_eq!(with.len(), 23);
    let without = subscriptions_after_serving(&format!("webhook:\n  url: {HOOK_URL}\n"), 0);
    assert!(without.is_empty());
}

fn webhook_url_is_where_subscriptions_post() {
    let with = subscriptions_after_serving(
        &format!("webhook:\n  syncSubscriptions: true\n  url: {HOOK_URL}\n"),
        23,
    );
    assert!(
        with.iter().all(|s| s["consumerInputs"]["url"] == HOOK_URL),
        "{with:?}"
    );
    // Without a URL there is nowhere to subscribe: serve says so and does not start.
    let (_rt, _fake, env) = hooks_ado();
    let s = Scene::plain("webhook:\n  syncSubscriptions: true\n");
    let mut env = env;
    env.push(("ADOPORT_WEBHOOK_SECRET", SECRET.to_owned()));
    let out = s.run(
        &[
            "serve",
            "--config",
            &s.config(),
            "--source",
            &s.source(),
            "--target",
            "sqlite:c.sqlite",
            "--queue",
            "sqlite:queue.sqlite",
            "--listen",
            "127.0.0.1:0",
        ],
        &env,
    );
    assert_exit(&out, 1);
    assert!(
        text(&out.stderr).contains("webhook.url"),
        "{}",
        text(&out.stderr)
    );
}

fn webhook_projects_subscribes_project_by_project() {
    let subscribe = |projects: &str| {
        subscriptions_after_serving(
            &format!("webhook:\n  syncSubscriptions: true\n  url: {HOOK_URL}\n{projects}"),
            23,
        )
    };
    let org = generate(&OrgSpec::small());
    let project = org.projects[1]["id"].clone();
    let with = subscribe("  projects: [project-01]\n");
    assert!(
        with.iter()
            .all(|s| s["publisherInputs"]["projectId"] == project),
        "{with:?}"
    );
    let without = subscribe("");
    assert!(
        without
            .iter()
            .all(|s| s["publisherInputs"].get("projectId").is_none()),
        "{without:?}"
    );
}
