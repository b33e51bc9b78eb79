//! The real `adoport serve` between the fake ADO server and the Port API emulator: every
//! sample event is posted after ADO changed as the event says, and Port's catalog checked
//! after each (created, updated, deleted, or left alone); queued events survive a SIGKILL;
//! SIGTERM stops it.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use adoport::catalog::{Catalog, SqliteCatalog};
use adoport::entity::Entity;
use adoport::serve::auth::basic_header;
use adoport::testkit::synthetic_org::{OrgSpec, SyntheticOrg, generate};

use super::fakes::{Ado, LIMIT, Port, SECRET, changes, drained, first_resync_done, serve_args};
use super::{Scratch, ServeProcess, queue_status, request, sample, wait_for};
use crate::support::{adoport, assert_exit, stdout};

const P0: &str = "cb8a51f2-580b-4833-add1-72ee0e64c683";
const P1: &str = "a376dc74-075e-40aa-bd2d-d83ec9a38a1c";
const REPO0: &str = "2c74b107-517c-4913-8e8c-4f5bc4a64477";
const REPO2: &str = "1d58f0e4-b130-4538-a314-0da939223862";
const NEW_MAIN: &str = "9a1f4c7d2e6b8a0c3f5d7e9b1a2c4e6f8a0b2d4c";
const WORK_ITEM: &str = "azureDevopsWorkItem";

/// The organization before the events: what the created events bring is missing.
fn before_events(full: &SyntheticOrg) -> SyntheticOrg {
    let mut org = full.clone();
    org.pull_requests.retain(|p| p["pullRequestId"] != 13);
    org.repos.retain(|r| r["id"] != REPO2);
    org.builds.retain(|b| b["id"] != 30);
    org.releases.retain(|r| r["id"] != 6);
    org
}

fn work_item(org: &mut SyntheticOrg, id: usize) -> &mut Value {
    &mut org.work_items[id - 1]
}

#[test]
fn serve_brings_every_sample_event_into_the_port_catalog_as_ado_now_stands() {
    let full = generate(&OrgSpec::small());
    let ado = Ado::start(before_events(&full));
    // Work item 100 does not exist yet: ADO's batch read answers `null` for it.
    ado.fake.reconfigure(|c| c.vanished_work_items = vec![100]);
    let port = Port::start();
    let s = Scratch::new();
    let mut env = ado.env();
    env.extend(port.env());
    let serve = ServeProcess::start(s.dir.path(), &serve_args(&s, "port", &[]), &env);
    first_resync_done(&s);
    assert!(port.has(WORK_ITEM, "1"), "{}", serve.log());
    assert!(!port.has(WORK_ITEM, "100"));
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

    // Code.
    let pr = full
        .pull_requests
        .iter()
        .find(|p| p["pullRequestId"] == 13)
        .unwrap()
        .clone();
    ado.fake.edit(|org| org.pull_requests.push(pr));
    post("git.pullrequest.created");
    let key = format!("{REPO0}/13");
    assert_eq!(
        port.field("azureDevopsPullRequest", &key, "title"),
        "Change 13: improve project-00-repo-00"
    );

    ado.fake.edit(|org| {
        for p in org
            .pull_requests
            .iter_mut()
            .filter(|p| p["pullRequestId"] == 13)
        {
            p["title"] = json!("Change 13: make project-00-repo-00 faster");
        }
    });
    post("git.pullrequest.updated");
    assert_eq!(
        port.field("azureDevopsPullRequest", &key, "title"),
        "Change 13: make project-00-repo-00 faster"
    );

    let develop = format!("{REPO0}/develop");
    let manifest = format!("{REPO0}/catalog-info.yaml");
    let package = format!("{REPO0}/package.json");
    assert!(port.has("azureDevopsBranch", &develop));
    assert!(port.has("azureDevopsFile", &package), "{}", serve.log());
    assert!(!port.has("azureDevopsFile", &manifest));
    ado.fake.edit(|org| {
        let refs = org.refs.get_mut(REPO0).unwrap();
        refs.retain(|r| r["name"] != "refs/heads/develop");
        refs[0]["objectId"] = json!(NEW_MAIN);
        let files = org.files.get_mut(REPO0).unwrap();
        files.remove("/package.json");
        files.insert(
            "/catalog-info.yaml".into(),
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: exporter\n"
                .into(),
        );
    });
    post("git.push");
    assert!(
        !port.has("azureDevopsBranch", &develop),
        "a deleted branch is deleted"
    );
    assert_eq!(
        port.field(
            "azureDevopsBranch",
            &format!("{REPO0}/main"),
            "properties.commit"
        ),
        NEW_MAIN
    );
    assert!(
        !port.has("azureDevopsFile", &package),
        "a file the push removed is deleted"
    );
    assert!(
        port.field("azureDevopsFile", &manifest, "properties.content")
            .as_str()
            .is_some_and(|c| c.contains("name: exporter")),
        "a file the push added is read"
    );

    let repo = full
        .repos
        .iter()
        .find(|r| r["id"] == REPO2)
        .unwrap()
        .clone();
    ado.fake.edit(|org| org.repos.push(repo));
    post("git.repo.created");
    assert!(port.has("azureDevopsRepository", REPO2));

    // Work items.
    ado.fake.reconfigure(|c| c.vanished_work_items.clear());
    post("workitem.created");
    assert_eq!(
        port.field(WORK_ITEM, "100", "title"),
        "Epic 100: make the login page faster"
    );

    // The update (`resource.id` 7) is of work item 42 (`resource.workItemId`): only 42 is
    // read again, though ADO changed both.
    let title_7 = port.field(WORK_ITEM, "7", "title");
    ado.fake.edit(|org| {
        work_item(org, 42)["fields"]["System.Title"] =
            json!("Task 42: make the exporter twice as fast");
        work_item(org, 7)["fields"]["System.Title"] = json!("Task 7: renamed meanwhile");
    });
    post("workitem.updated");
    assert_eq!(
        port.field(WORK_ITEM, "42", "title"),
        "Task 42: make the exporter twice as fast"
    );
    assert_eq!(port.field(WORK_ITEM, "7", "title"), title_7);

    let before = port.emu.snapshot();
    post("workitem.commented");
    let after = port.emu.snapshot();
    assert!(
        changes(&before, &after).is_empty(),
        "a comment changes nothing the mapping reads: {:?}",
        changes(&before, &after)
    );

    ado.fake.reconfigure(|c| c.vanished_work_items = vec![99]);
    post("workitem.deleted");
    assert!(!port.has(WORK_ITEM, "99"), "a deleted work item is deleted");

    ado.fake.reconfigure(|c| c.vanished_work_items.clear());
    post("workitem.restored");
    assert!(port.has(WORK_ITEM, "99"));

    // Builds and pipelines: a completed build brings the build and its stages (its run
    // was already listed under its pipeline; the build was a placeholder, the target of
    // its test runs' relation).
    let build = full.builds.iter().find(|b| b["id"] == 30).unwrap().clone();
    ado.fake.edit(|org| org.builds.insert(0, build));
    let before = port.emu.snapshot();
    post("build.complete");
    let made = changes(&before, &port.emu.snapshot());
    assert_eq!(
        port.field("azureDevopsBuild", &format!("{P0}/30"), "properties.status"),
        "completed",
        "{made:?}"
    );
    assert!(
        made.iter()
            .any(|c| c.starts_with("created") && c.contains("azureDevopsPipelineStage")),
        "{made:?}"
    );
    assert!(
        port.has("azureDevopsPipelineRun", &format!("{P0}/30")),
        "{made:?}"
    );

    let before = port.emu.snapshot();
    for event in [
        "ms.vss-pipelines.run-state-changed-event",
        "ms.vss-pipelines.stage-state-changed-event",
        "ms.vss-pipelines.job-state-changed-event",
        "ms.vss-pipelinechecks-events.approval-pending",
        "ms.vss-pipelinechecks-events.approval-completed",
        "ms.vss-pipelinechecks-events.check-updated-event",
        "ms.vss-alerts.alert-created-event",
        "ms.vss-alerts.alert-updated-event",
    ] {
        post(event);
        let now = port.emu.snapshot();
        assert!(
            changes(&before, &now).is_empty(),
            "{event}: ADO did not change: {:?}",
            changes(&before, &now)
        );
    }

    // Advanced Security: the alert's new state is read.
    ado.fake.edit(|org| {
        for alert in org.alerts.get_mut(REPO0).unwrap() {
            if alert["alertId"] == 2 {
                alert["state"] = json!("fixed");
            }
        }
    });
    post("ms.vss-alerts.alert-state-changed-event");
    assert_eq!(
        port.field(
            "azureDevopsAdvancedSecurityAlert",
            &format!("{REPO0}/2"),
            "properties.state"
        ),
        "fixed"
    );

    // Classic releases.
    let release = full.releases.iter().find(|r| r["id"] == 6).unwrap().clone();
    ado.fake.edit(|org| org.releases.insert(0, release));
    post("ms.vss-release.release-created-event");
    assert!(port.has("azureDevopsRelease", &format!("{P1}/6")));

    ado.fake.edit(|org| {
        for r in org.releases.iter_mut().filter(|r| r["id"] == 5) {
            r["status"] = json!("abandoned");
        }
    });
    post("ms.vss-release.release-abandoned-event");
    assert_eq!(
        port.field(
            "azureDevopsRelease",
            &format!("{P0}/5"),
            "properties.status"
        ),
        "abandoned"
    );

    let before = port.emu.snapshot();
    post("ms.vss-release.deployment-started-event");
    post("ms.vss-release.deployment-completed-event");
    assert!(changes(&before, &port.emu.snapshot()).is_empty());

    // Operating it: the probes answer without credentials, the metrics do not.
    for probe in ["/healthz", "/readyz"] {
        let (status, body) = request(serve.addr, "GET", probe, None, b"");
        assert_eq!(status, 200, "{probe}: {body}");
    }
    let (status, _) = request(serve.addr, "GET", "/metrics", None, b"");
    assert_eq!(status, 401);
    let (status, metrics) = request(serve.addr, "GET", "/metrics", Some(&auth), b"");
    assert_eq!(status, 200);
    for line in [
        "adoport_events_accepted_total{type=\"git.push\"} 1",
        "adoport_signals_handled_total{outcome=\"done\"}",
        "adoport_rate_limit_waits_total{api=\"ado\"}",
    ] {
        assert!(metrics.contains(line), "{line}\n{metrics}");
    }

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

fn entity(s: &Scratch, blueprint: &str, identifier: &str) -> Option<Entity> {
    SqliteCatalog::open(s.path("catalog.sqlite"), "adoport")
        .unwrap()
        .list_owned_blocking()
        .unwrap()
        .into_iter()
        .find(|e| e.blueprint == blueprint && e.identifier == identifier)
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
    let full = generate(&OrgSpec::small());
    let ado = Ado::start(full.clone());
    ado.fake.reconfigure(|c| c.vanished_work_items = vec![100]);
    let s = Scratch::new();
    let queue = s.path("queue.sqlite");
    let target = format!("sqlite:{}", s.path("catalog.sqlite").display());
    let args = serve_args(&s, &target, &["--max-attempts", "1000"]);
    let mut first = ServeProcess::start(s.dir.path(), &args, &ado.env());
    first_resync_done(&s);
    let runs_before = SqliteCatalog::open(s.path("catalog.sqlite"), "adoport")
        .unwrap()
        .runs()
        .unwrap()
        .len();

    // Another apply holds the catalog: events can be queued, not applied.
    let lock = holds_lock(&s);
    ado.fake.reconfigure(|c| c.vanished_work_items.clear());
    ado.fake.edit(|org| {
        work_item(org, 42)["fields"]["System.Title"] =
            json!("Task 42: make the exporter twice as fast");
    });
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
    assert!(entity(&s, WORK_ITEM, "100").is_none());
    drop(lock);
    wait_for("the queue to drain", LIMIT, || drained(&s));
    let status = queue_status(&queue);
    assert_eq!(status.queue.dead, 0, "{:?}", status.dead_letters);
    assert!(entity(&s, WORK_ITEM, "100").is_some(), "{}", second.log());
    let title = entity(&s, WORK_ITEM, "42").unwrap().title;
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
