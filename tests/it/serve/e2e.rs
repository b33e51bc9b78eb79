//! The real `adoport serve` against the fake ADO server: every sample event is posted and
//! the catalog checked after each; queued events survive a SIGKILL; SIGTERM stops it.
//!
//! ADO "changes" by restarting the fake server on the same port with another synthetic
//! organization, then posting the event that says so.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use adoport::catalog::{Catalog, SqliteCatalog};
use adoport::entity::Entity;
use adoport::serve::auth::basic_header;
use adoport::testkit::fake_ado::{FakeAdo, FakeConfig};
use adoport::testkit::synthetic_org::{OrgSpec, SyntheticOrg, generate};

use super::{Scratch, ServeProcess, queue_status, request, sample, wait_for};
use crate::support::{adoport, assert_exit, root, stdout};

pub(super) const SECRET: &str = "serve-e2e-webhook-secret";
const P0: &str = "cb8a51f2-580b-4833-add1-72ee0e64c683";
const P1: &str = "a376dc74-075e-40aa-bd2d-d83ec9a38a1c";
const REPO0: &str = "2c74b107-517c-4913-8e8c-4f5bc4a64477";
const REPO2: &str = "1d58f0e4-b130-4538-a314-0da939223862";
const NEW_MAIN: &str = "9a1f4c7d2e6b8a0c3f5d7e9b1a2c4e6f8a0b2d4c";
pub(super) const LIMIT: Duration = Duration::from_secs(90);

/// The fake server, restartable on its port with another organization.
pub(super) struct Ado {
    runtime: tokio::runtime::Runtime,
    pub(super) fake: Option<FakeAdo>,
    port: u16,
    url: String,
    pat: String,
}

impl Ado {
    pub(super) fn start(org: SyntheticOrg) -> Ado {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let fake = runtime
            .block_on(FakeAdo::start(org, FakeConfig::default()))
            .unwrap();
        Ado {
            port: fake.addr().port(),
            url: fake.org_url(),
            pat: fake.pat(),
            fake: Some(fake),
            runtime,
        }
    }

    /// ADO now stands as `org`.
    fn become_(&mut self, org: &SyntheticOrg) {
        drop(self.fake.take());
        for _ in 0..100 {
            match self.runtime.block_on(FakeAdo::start_on(
                org.clone(),
                FakeConfig::default(),
                self.port,
            )) {
                Ok(fake) => {
                    self.fake = Some(fake);
                    return;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        panic!("the fake server could not listen on {} again", self.port);
    }

    pub(super) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_DEVOPS_ORG_URL", self.url.clone()),
            ("AZURE_DEVOPS_PAT", self.pat.clone()),
            ("ADOPORT_WEBHOOK_SECRET", SECRET.to_owned()),
        ]
    }
}

fn serve_args(s: &Scratch, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--config",
        &root().join("mappings").display().to_string(),
        "--source",
        "ado",
        "--target",
        &format!("sqlite:{}", s.path("catalog.sqlite").display()),
        "--queue",
        &format!("sqlite:{}", s.path("queue.sqlite").display()),
        "--listen",
        "127.0.0.1:0",
        "--retry-base",
        "100ms",
        "--retry-max",
        "500ms",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

fn catalog(s: &Scratch) -> BTreeMap<(String, String), Entity> {
    SqliteCatalog::open(s.path("catalog.sqlite"), "adoport")
        .unwrap()
        .list_owned_blocking()
        .unwrap()
        .into_iter()
        .map(|e| ((e.blueprint.clone(), e.identifier.clone()), e))
        .collect()
}

fn entity(s: &Scratch, blueprint: &str, identifier: &str) -> Option<Entity> {
    catalog(s).remove(&(blueprint.to_owned(), identifier.to_owned()))
}

fn first_resync_done(s: &Scratch) {
    wait_for("the first resync", LIMIT, || {
        s.path("queue.sqlite").exists()
            && queue_status(&s.path("queue.sqlite"))
                .resyncs
                .iter()
                .any(|r| r.finished_ms.is_some())
    });
}

fn drained(s: &Scratch) -> bool {
    queue_status(&s.path("queue.sqlite")).queue.pending == 0
}

/// The organization before the events: what the created/restored events bring is missing.
fn before_events() -> SyntheticOrg {
    let mut org = generate(&OrgSpec::small());
    org.pull_requests.retain(|p| p["pullRequestId"] != 13);
    org.repos.retain(|r| r["id"] != REPO2);
    hide_work_item(&mut org, 100);
    org.builds.retain(|b| b["id"] != 30);
    org.releases.retain(|r| r["id"] != 6);
    org
}

/// ADO no longer lists the work item (its index stays: the fake reads items by id).
fn hide_work_item(org: &mut SyntheticOrg, id: usize) {
    org.work_items[id - 1]["fields"]["System.TeamProject"] = json!("recycle-bin");
}

fn work_item(org: &mut SyntheticOrg, id: usize) -> &mut Value {
    &mut org.work_items[id - 1]
}

#[test]
fn serve_applies_every_sample_event_to_the_catalog_as_ado_now_stands() {
    let full = generate(&OrgSpec::small());
    let mut org = before_events();
    let mut ado = Ado::start(org.clone());
    let s = Scratch::new();
    let serve = ServeProcess::start(s.dir.path(), &serve_args(&s, &[]), &ado.env());
    first_resync_done(&s);
    assert!(
        entity(&s, "azureDevopsWorkItem", "1").is_some(),
        "{}",
        serve.log()
    );
    assert!(entity(&s, "azureDevopsWorkItem", "100").is_none());
    let auth = basic_header("adoport", SECRET);

    let post = |event: &str| {
        let (status, body) = request(serve.addr, "POST", "/webhook", Some(&auth), &sample(event));
        assert_eq!(status, 202, "{event}: {body}");
        wait_for(&format!("{event} to be handled"), LIMIT, || drained(&s));
        let status = queue_status(&s.path("queue.sqlite"));
        assert_eq!(
            status.queue.dead,
            0,
            "{event}: {:?}\n{}",
            status.dead_letters,
            serve.log()
        );
    };
    let title = |e: Option<Entity>| e.and_then(|e| e.title).unwrap_or(Value::Null);

    // Code.
    let pr = full
        .pull_requests
        .iter()
        .find(|p| p["pullRequestId"] == 13)
        .unwrap()
        .clone();
    org.pull_requests.push(pr);
    ado.become_(&org);
    post("git.pullrequest.created");
    let key = format!("{REPO0}/13");
    assert_eq!(
        title(entity(&s, "azureDevopsPullRequest", &key)),
        "Change 13: improve project-00-repo-00"
    );

    for p in org
        .pull_requests
        .iter_mut()
        .filter(|p| p["pullRequestId"] == 13)
    {
        p["title"] = json!("Change 13: make project-00-repo-00 faster");
    }
    ado.become_(&org);
    post("git.pullrequest.updated");
    assert_eq!(
        title(entity(&s, "azureDevopsPullRequest", &key)),
        "Change 13: make project-00-repo-00 faster"
    );

    let refs = org.refs.get_mut(REPO0).unwrap();
    refs.retain(|r| r["name"] != "refs/heads/develop");
    refs[0]["objectId"] = json!(NEW_MAIN);
    ado.become_(&org);
    assert!(entity(&s, "azureDevopsBranch", &format!("{REPO0}/develop")).is_some());
    post("git.push");
    assert!(
        entity(&s, "azureDevopsBranch", &format!("{REPO0}/develop")).is_none(),
        "a deleted branch is deleted"
    );
    let main = entity(&s, "azureDevopsBranch", &format!("{REPO0}/main")).unwrap();
    assert_eq!(main.properties["commit"], NEW_MAIN);

    let repo = full
        .repos
        .iter()
        .find(|r| r["id"] == REPO2)
        .unwrap()
        .clone();
    org.repos.push(repo);
    ado.become_(&org);
    post("git.repo.created");
    assert!(entity(&s, "azureDevopsRepository", REPO2).is_some());

    // Work items.
    *work_item(&mut org, 100) = full.work_items[99].clone();
    ado.become_(&org);
    post("workitem.created");
    assert_eq!(
        title(entity(&s, "azureDevopsWorkItem", "100")),
        "Epic 100: make the login page faster"
    );

    work_item(&mut org, 42)["fields"]["System.Title"] =
        json!("Task 42: make the exporter twice as fast");
    ado.become_(&org);
    post("workitem.updated");
    assert_eq!(
        title(entity(&s, "azureDevopsWorkItem", "42")),
        "Task 42: make the exporter twice as fast"
    );

    let before = catalog(&s);
    post("workitem.commented");
    assert_eq!(
        catalog(&s),
        before,
        "a comment changes nothing the mapping reads"
    );

    hide_work_item(&mut org, 99);
    ado.become_(&org);
    post("workitem.deleted");
    assert!(
        entity(&s, "azureDevopsWorkItem", "99").is_none(),
        "a deleted work item is deleted"
    );

    *work_item(&mut org, 99) = full.work_items[98].clone();
    ado.become_(&org);
    post("workitem.restored");
    assert!(entity(&s, "azureDevopsWorkItem", "99").is_some());

    // Builds and pipelines.
    let build = full.builds.iter().find(|b| b["id"] == 30).unwrap().clone();
    org.builds.insert(0, build);
    ado.become_(&org);
    post("build.complete");
    assert!(entity(&s, "azureDevopsBuild", &format!("{P0}/30")).is_some());

    let before = catalog(&s);
    for event in [
        "ms.vss-pipelines.run-state-changed-event",
        "ms.vss-pipelines.stage-state-changed-event",
        "ms.vss-pipelines.job-state-changed-event",
        "ms.vss-pipelinechecks-events.approval-pending",
        "ms.vss-pipelinechecks-events.approval-completed",
        "ms.vss-pipelinechecks-events.check-updated-event",
        "ms.vss-alerts.alert-created-event",
        "ms.vss-alerts.alert-state-changed-event",
        "ms.vss-alerts.alert-updated-event",
    ] {
        post(event);
        assert_eq!(catalog(&s), before, "{event}: ADO did not change");
    }

    // Classic releases.
    let release = full.releases.iter().find(|r| r["id"] == 6).unwrap().clone();
    org.releases.insert(0, release);
    ado.become_(&org);
    post("ms.vss-release.release-created-event");
    assert!(entity(&s, "azureDevopsRelease", &format!("{P1}/6")).is_some());

    for r in org.releases.iter_mut().filter(|r| r["id"] == 5) {
        r["status"] = json!("abandoned");
    }
    ado.become_(&org);
    post("ms.vss-release.release-abandoned-event");
    let release = entity(&s, "azureDevopsRelease", &format!("{P0}/5")).unwrap();
    assert_eq!(release.properties["status"], "abandoned");

    let before = catalog(&s);
    post("ms.vss-release.deployment-started-event");
    post("ms.vss-release.deployment-completed-event");
    assert_eq!(catalog(&s), before);

    let (status, metrics) = request(serve.addr, "GET", "/metrics", Some(&auth), b"");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("adoport_events_accepted_total{type=\"git.push\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("adoport_signals_handled_total{outcome=\"done\"}"),
        "{metrics}"
    );
    let (status, ready) = request(serve.addr, "GET", "/readyz", Some(&auth), b"");
    assert_eq!(status, 200, "{ready}");

    let report = adoport(&[
        "status",
        "--queue",
        &format!("sqlite:{}", s.path("queue.sqlite").display()),
    ]);
    assert_exit(&report, 0);
    assert!(
        stdout(&report).contains("queue: 0 pending (0 due)"),
        "{}",
        stdout(&report)
    );
    assert!(
        stdout(&report).contains("start ok in"),
        "{}",
        stdout(&report)
    );

    let (exit, took, log) = serve.terminate();
    assert!(exit.success(), "{log}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(log.contains("shutting down"), "{log}");
}

fn holds_lock(s: &Scratch) -> adoport::catalog::ApplyLock {
    SqliteCatalog::open(s.path("catalog.sqlite"), "adoport")
        .unwrap()
        .lock_for_apply()
        .unwrap()
        .expect("the SQLite catalog has an apply lock")
}

fn attempts(queue: &Path) -> Vec<u32> {
    queue_status(queue)
        .pending
        .iter()
        .map(|p| p.attempts)
        .collect()
}

#[test]
fn queued_events_survive_a_sigkill_and_are_each_applied_once_after_a_restart() {
    let mut org = generate(&OrgSpec::small());
    let full = org.clone();
    hide_work_item(&mut org, 100);
    let mut ado = Ado::start(org.clone());
    let s = Scratch::new();
    let queue = s.path("queue.sqlite");
    let args = serve_args(&s, &["--max-attempts", "1000"]);
    let mut first = ServeProcess::start(s.dir.path(), &args, &ado.env());
    first_resync_done(&s);
    let runs_before = SqliteCatalog::open(s.path("catalog.sqlite"), "adoport")
        .unwrap()
        .runs()
        .unwrap()
        .len();

    // Another apply holds the catalog: events can be queued, not applied.
    let lock = holds_lock(&s);
    *work_item(&mut org, 100) = full.work_items[99].clone();
    work_item(&mut org, 42)["fields"]["System.Title"] =
        json!("Task 42: make the exporter twice as fast");
    ado.become_(&org);
    let auth = basic_header("adoport", SECRET);
    for event in ["workitem.created", "workitem.updated"] {
        let (status, body) = request(first.addr, "POST", "/webhook", Some(&auth), &sample(event));
        assert_eq!(status, 202, "{body}");
    }
    wait_for("a failed attempt on both", LIMIT, || {
        let a = attempts(&queue);
        a.len() == 2 && a.iter().all(|n| *n >= 1)
    });
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let after_kill = queue_status(&queue);
    assert_eq!(
        (after_kill.queue.pending, after_kill.queue.dead),
        (2, 0),
        "nothing lost"
    );
    let last_error = after_kill.pending[0].last_error.clone().unwrap_or_default();
    assert!(
        last_error.contains("another apply is running"),
        "{last_error}"
    );

    let second = ServeProcess::start(s.dir.path(), &args, &ado.env());
    let attempted = after_kill
        .pending
        .iter()
        .map(|p| p.attempts)
        .max()
        .unwrap_or(0);
    wait_for("the restarted process to retry them", LIMIT, || {
        attempts(&queue).iter().all(|n| *n > attempted)
    });
    assert!(entity(&s, "azureDevopsWorkItem", "100").is_none());
    drop(lock);
    wait_for("the queue to drain", LIMIT, || drained(&s));
    let status = queue_status(&queue);
    assert_eq!(status.queue.dead, 0, "{:?}", status.dead_letters);
    assert!(
        entity(&s, "azureDevopsWorkItem", "100").is_some(),
        "{}",
        second.log()
    );
    let title = entity(&s, "azureDevopsWorkItem", "42").unwrap().title;
    assert_eq!(
        title,
        Some(json!("Task 42: make the exporter twice as fast"))
    );
    let runs = SqliteCatalog::open(s.path("catalog.sqlite"), "adoport")
        .unwrap()
        .runs()
        .unwrap();
    let created: u64 = runs[runs_before..].iter().map(|r| r.run.created).sum();
    let updated: u64 = runs[runs_before..].iter().map(|r| r.run.updated).sum();
    assert_eq!(
        (created, updated),
        (1, 1),
        "each event applied once in effect"
    );
    let (exit, _, log) = second.terminate();
    assert!(exit.success(), "{log}");
}
