//! Incremental passes against the fake ADO server: a pass reads, for each kind ADO can
//! filter by time, only what changed since its cursor (the fake honours WIQL's
//! `[System.ChangedDate]`, `minTime`, `minCreatedTime`, `minModifiedTime`,
//! `minLastUpdatedDate`, `criteria.modifiedSince`), upserts it and deletes nothing merely
//! unlisted; `serve` runs passes between full resyncs and moves a kind's cursor only after
//! the kind was read completely and applied.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use adoport::ado::Pat;
use adoport::catalog::SqliteCatalog;
use adoport::config::ConfigSource;
use adoport::pipeline::{
    self, Access, Checked, Gate, Options, Pipeline, SourceSpec, TargetOutcome, TraceUpdate,
};
use adoport::serve::traces::{SqliteTraces, Traces};
use adoport::testkit::fake_ado::{Fault, FaultKind};
use adoport::testkit::synthetic_org::{OrgSpec, generate};

use super::fakes::{Ado, LIMIT, first_resync_done, serve_args};
use super::{Scratch, ServeProcess, request, wait_for};
use crate::support::root;

/// The kinds an incremental pass reads.
const INCREMENTAL: [&str; 7] = [
    "work-item",
    "build",
    "release",
    "release-deployment",
    "test-run",
    "advanced-security-alert",
    "pipeline-run",
];

const REPO0: &str = "2c74b107-517c-4913-8e8c-4f5bc4a64477";

fn default_mapping() -> Checked {
    match pipeline::load(&ConfigSource::Path(root().join("mappings"))).unwrap() {
        Gate::Passed(c) => *c,
        Gate::Refused(l) => panic!("refused: {:?}", l.diagnostics),
    }
}

/// A pipeline over the fake ADO server and a SQLite catalog in `s`, tracing entities.
fn pipeline(ado: &Ado, s: &Scratch, checked: &Checked) -> Pipeline {
    let access = Access {
        ado_org_url: Some(ado.fake.org_url()),
        ado_pat: Some(Pat::new(ado.fake.pat())),
        ..Access::default()
    };
    let items = pipeline::open::items(&SourceSpec::Ado, &checked.config.settings, &access).unwrap();
    let catalog = Arc::new(
        SqliteCatalog::open(
            s.path("catalog.sqlite"),
            checked.config.settings.datasource(),
        )
        .unwrap(),
    );
    let options = Options {
        trace: true,
        ..Options::default()
    };
    Pipeline::new(items, Some(catalog), &access, options).unwrap()
}

#[test]
fn an_incremental_pass_upserts_only_what_changed_since_its_cursor_and_deletes_nothing_unlisted() {
    let ado = Ado::start(generate(&OrgSpec::small()));
    let s = Scratch::new();
    let checked = default_mapping();
    let mut p = pipeline(&ado, &s, &checked);
    let traces = SqliteTraces::in_memory().unwrap();
    let full = p.plan(&checked).unwrap();
    assert!(p.apply(&full).unwrap().is_success());
    traces
        .record(&TraceUpdate {
            replace: Vec::new(),
            rows: full.traced.clone(),
        })
        .unwrap();

    // The organization's dates are all before its "now": nothing changed since.
    let cursor: jiff::Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
    let since: BTreeMap<String, jiff::Timestamp> = INCREMENTAL
        .iter()
        .map(|k| ((*k).to_owned(), cursor))
        .collect();
    let quiet = p.plan_changed(&checked, &since, &traces).unwrap();
    assert!(
        quiet.outcomes.iter().all(|o| *o == TargetOutcome::Read),
        "{:?}",
        quiet.outcomes
    );
    assert!(
        !quiet.planned.plan.has_changes(),
        "{:?}",
        quiet.planned.plan.summary
    );

    // After the cursor: work item 5 changed, 6 changed without ADO dating it (so it is not
    // read), 7 was deleted; a build finished again, a release was created, a deployment,
    // a test run and an alert changed.
    let later = "2026-06-01T01:00:00Z";
    let (build_id, build_project) = {
        let org = ado.fake.current();
        (
            org.builds[0]["id"].as_u64().unwrap(),
            org.builds[0]["project"]["id"].as_str().unwrap().to_owned(),
        )
    };
    ado.fake.edit(|org| {
        let wi = &mut org.work_items[4]["fields"];
        wi["System.Title"] = json!("Work item 5, changed");
        wi["System.ChangedDate"] = json!(later);
        org.work_items[5]["fields"]["System.Title"] = json!("Work item 6, unseen");
        org.builds[0]["result"] = json!("canceled");
        org.builds[0]["finishTime"] = json!(later);
        let mut release = org.releases[0].clone();
        release["id"] = json!(900);
        release["name"] = json!("Release-900");
        release["createdOn"] = json!(later);
        org.releases.push(release);
        let deployments = org
            .delivery
            .release_deployments
            .values_mut()
            .next()
            .unwrap();
        deployments[0]["deploymentStatus"] = json!("partiallySucceeded");
        deployments[0]["lastModifiedOn"] = json!(later);
        org.delivery.test_runs[0]["name"] = json!("Test run, renamed");
        org.delivery.test_runs[0]["lastUpdatedDate"] = json!(later);
        let alert = &mut org.alerts.get_mut(REPO0).unwrap()[0];
        alert["state"] = json!("fixed");
        alert["lastSeenDate"] = json!(later);
    });
    ado.fake.reconfigure(|c| c.vanished_work_items = vec![7]);
    ado.fake.reset_counts();
    let pass = p.plan_changed(&checked, &since, &traces).unwrap();
    assert!(
        pass.outcomes.iter().all(|o| *o == TargetOutcome::Read),
        "{:?}",
        pass.outcomes
    );
    let plan = &pass.planned.plan;
    assert!(plan.deletes.is_empty(), "{:?}", plan.deletes);
    let updated: Vec<String> = plan
        .updates
        .iter()
        .map(|u| u.entity.key().to_string())
        .collect();
    let created: Vec<String> = plan.creates.iter().map(|e| e.key().to_string()).collect();
    for key in [
        "azureDevopsWorkItem/5".to_owned(),
        format!("azureDevopsBuild/{build_project}/{build_id}"),
        format!("azureDevopsAdvancedSecurityAlert/{REPO0}/1"),
    ] {
        assert!(updated.contains(&key), "{key}: {updated:?}");
    }
    assert!(
        updated
            .iter()
            .any(|k| k.starts_with("azureDevopsReleaseDeployment/")),
        "{updated:?}"
    );
    assert!(
        updated.iter().any(|k| k.starts_with("azureDevopsTestRun/")),
        "{updated:?}"
    );
    assert!(
        created.iter().any(|k| k.ends_with("/900")),
        "the new release: {created:?}"
    );
    assert!(!updated.contains(&"azureDevopsWorkItem/6".to_owned()));
    assert_eq!(
        ado.fake.requests("work-items"),
        1,
        "one batch read, of the one work item changed since the cursor"
    );
    assert!(p.apply(&pass.planned).unwrap().is_success());
}

#[test]
fn serve_runs_incremental_passes_between_resyncs_and_moves_a_cursor_only_after_a_complete_read() {
    let ado = Ado::start(generate(&OrgSpec::small()));
    let s = Scratch::new();
    let config = s.path("config");
    std::fs::create_dir_all(config.join("blueprints")).unwrap();
    std::fs::copy(
        root().join("mappings/port-app-config.yaml"),
        config.join("port-app-config.yaml"),
    )
    .unwrap();
    for file in std::fs::read_dir(root().join("mappings/blueprints")).unwrap() {
        let file = file.unwrap().path();
        std::fs::copy(
            &file,
            config.join("blueprints").join(file.file_name().unwrap()),
        )
        .unwrap();
    }
    std::fs::write(
        config.join("adoport.yaml"),
        "resync:\n  interval: 1h\n  incrementalInterval: 1s\n",
    )
    .unwrap();
    let target = format!("sqlite:{}", s.path("catalog.sqlite").display());
    let mut args = serve_args(&s, &target, &[]);
    args[1] = config.display().to_string();
    let serve = ServeProcess::start(s.dir.path(), &args, &ado.env());
    first_resync_done(&s);
    let cursors = adoport::serve::cursors::Cursors::open(s.path("queue.sqlite")).unwrap();
    let first = cursors.all().unwrap();
    assert_eq!(
        first.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut kinds = INCREMENTAL.to_vec();
            kinds.sort_unstable();
            kinds
        },
        "the full resync set every incremental kind's cursor"
    );

    let title = |id: &str| {
        SqliteCatalog::open(s.path("catalog.sqlite"), "adoport")
            .unwrap()
            .list_owned_blocking()
            .unwrap()
            .into_iter()
            .find(|e| e.blueprint == "azureDevopsWorkItem" && e.identifier == id)
            .and_then(|e| e.title)
    };
    // A change ADO dates now, and no event for it: the next pass finds it.
    let now = jiff::Timestamp::now().to_string();
    ado.fake.edit(|org| {
        let wi = &mut org.work_items[4]["fields"];
        wi["System.Title"] = json!("Work item 5, changed quietly");
        wi["System.ChangedDate"] = json!(now);
    });
    wait_for("an incremental pass to read the change", LIMIT, || {
        title("5") == Some(json!("Work item 5, changed quietly"))
    });
    wait_for("the cursors to move", LIMIT, || {
        let all = cursors.all().unwrap();
        all.iter().all(|(k, t)| *t > first[k])
    });

    // The work items cannot be queried: their cursor stays, the others move on.
    let from = ado.fake.requests("wiql") + 1;
    ado.fake
        .add_fault(Fault::from_request("wiql", from, FaultKind::Status(400)));
    let stuck = cursors.all().unwrap()["work-item"];
    let moved = cursors.all().unwrap()["build"];
    wait_for("a pass after the fault", LIMIT, || {
        cursors.all().unwrap()["build"] > moved
    });
    assert_eq!(cursors.all().unwrap()["work-item"], stuck);
    let auth = adoport::serve::auth::basic_header("adoport", super::fakes::SECRET);
    let (_, metrics) = request(serve.addr, "GET", "/metrics", Some(&auth), b"");
    assert!(
        metrics.contains("adoport_incremental_passes_total{outcome=\"partial\"}"),
        "{metrics}"
    );
    let (exit, _, log) = serve.terminate();
    assert!(exit.success(), "{log}");
}
