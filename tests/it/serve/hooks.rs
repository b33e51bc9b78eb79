//! `hooks sync` against the fake ADO server: creates every subscription on its host, then
//! changes nothing, re-enables a disabled one, prunes only ours, names a missing scope.

use serde_json::{Value, json};

use adoport::ado::{Client, OrgUrl, Pat};
use adoport::secrets::Secret;
use adoport::serve::auth::WebhookAuth;
use adoport::serve::hooks::{self, Change, SyncOptions};
use adoport::testkit::fake_ado::{FakeAdo, FakeConfig, Fault, FaultKind};
use adoport::testkit::synthetic_org::{OrgSpec, generate};

use crate::ado::fast;
use crate::support::{assert_exit, stdout};

const URL: &str = "https://adoport.example.com/webhook";

async fn fake(config: FakeConfig) -> (FakeAdo, Client) {
    let fake = FakeAdo::start(generate(&OrgSpec::small()), config)
        .await
        .unwrap();
    let client = Client::new(
        OrgUrl::parse(&fake.org_url()).unwrap(),
        &Pat::new(fake.pat()),
        fast(),
    )
    .unwrap();
    (fake, client)
}

fn options(prune: bool) -> SyncOptions {
    SyncOptions {
        url: URL.into(),
        projects: Vec::new(),
        auth: Some(WebhookAuth::new(
            "adoport",
            Secret::new("hooks-test-secret"),
        )),
        prune,
    }
}

#[tokio::test]
async fn a_first_sync_creates_every_subscription_on_its_publishers_host_and_a_second_changes_nothing()
 {
    let (fake, client) = fake(FakeConfig::default()).await;
    let plan = hooks::plan(&client, &options(false)).await.unwrap();
    assert_eq!(plan.changes.len(), 23, "{}", plan.render());
    assert!(
        plan.changes
            .iter()
            .all(|c| matches!(c, Change::Create { .. }))
    );
    assert_eq!(
        hooks::apply(&client, &plan, &options(false)).await.unwrap(),
        23
    );
    let subs = fake.subscriptions();
    assert_eq!(subs.len(), 23);
    let on = |publisher: &str| {
        subs.iter()
            .filter(|s| s["publisherId"] == publisher)
            .count()
    };
    assert_eq!(
        (on("tfs"), on("pipelines"), on("rm"), on("advsec")),
        (10, 6, 4, 3)
    );
    assert_eq!(
        fake.requests("hooks-create"),
        23,
        "no create was refused for its host"
    );
    let push = subs.iter().find(|s| s["eventType"] == "git.push").unwrap();
    assert_eq!(push["consumerInputs"]["url"], URL);
    assert_eq!(push["consumerInputs"]["basicAuthUsername"], "adoport");
    assert_eq!(
        push["consumerInputs"]["basicAuthPassword"],
        "hooks-test-secret"
    );
    assert_eq!(push["consumerInputs"]["messagesToSend"], "none");
    assert_eq!(push["publisherInputs"], json!({}), "organization-wide");

    let again = hooks::plan(&client, &options(false)).await.unwrap();
    assert!(again.changes.is_empty(), "{}", again.render());
    assert_eq!(again.unchanged, 23);
}

#[tokio::test]
async fn a_disabled_subscription_is_re_enabled_in_place() {
    let (fake, client) = fake(FakeConfig::default()).await;
    let plan = hooks::plan(&client, &options(false)).await.unwrap();
    hooks::apply(&client, &plan, &options(false)).await.unwrap();
    let id = fake.subscriptions()[0]["id"].as_str().unwrap().to_owned();
    fake.set_subscription_status(&id, "disabledBySystem");
    let plan = hooks::plan(&client, &options(false)).await.unwrap();
    assert_eq!(plan.changes.len(), 1, "{}", plan.render());
    assert!(
        plan.render().contains("re-enable (it is disabledBySystem)"),
        "{}",
        plan.render()
    );
    hooks::apply(&client, &plan, &options(false)).await.unwrap();
    let sub = fake
        .subscriptions()
        .into_iter()
        .find(|s| s["id"] == id.as_str())
        .unwrap();
    assert_eq!(sub["status"], "enabled");
    assert_eq!(
        sub["consumerInputs"]["basicAuthPassword"], "hooks-test-secret",
        "not the mask"
    );
    assert!(
        hooks::plan(&client, &options(false))
            .await
            .unwrap()
            .changes
            .is_empty()
    );
}

#[tokio::test]
async fn prune_removes_only_our_subscription_that_is_no_longer_wanted() {
    let (fake, client) = fake(FakeConfig::default()).await;
    let plan = hooks::plan(&client, &options(false)).await.unwrap();
    hooks::apply(&client, &plan, &options(false)).await.unwrap();
    let extra = |id: &str, url: &str| -> Value {
        json!({"id": id, "publisherId": "tfs", "eventType": "git.pullrequest.merged", "status": "enabled",
               "consumerId": "webHooks", "consumerActionId": "httpRequest",
               "publisherInputs": {}, "consumerInputs": {"url": url}})
    };
    fake.insert_subscription(extra("ours-unwanted", URL));
    fake.insert_subscription(extra("someone-elses", "https://other.example.com/hook"));
    let kept = hooks::plan(&client, &options(false)).await.unwrap();
    assert!(kept.changes.is_empty());
    assert_eq!(kept.kept, 1, "{}", kept.render());
    let pruned = hooks::plan(&client, &options(true)).await.unwrap();
    assert_eq!(pruned.changes.len(), 1, "{}", pruned.render());
    assert!(matches!(&pruned.changes[0], Change::Delete { id, .. } if id == "ours-unwanted"));
    hooks::apply(&client, &pruned, &options(true))
        .await
        .unwrap();
    let ids: Vec<String> = fake
        .subscriptions()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!ids.contains(&"ours-unwanted".to_owned()));
    assert!(
        ids.contains(&"someone-elses".to_owned()),
        "another consumer's is never touched"
    );
    assert_eq!(ids.len(), 24);
}

#[tokio::test]
async fn project_scoped_subscriptions_name_their_project() {
    let (fake, client) = fake(FakeConfig::default()).await;
    let mut opts = options(false);
    opts.projects = vec!["project-01".into()];
    let plan = hooks::plan(&client, &opts).await.unwrap();
    assert!(
        plan.render()
            .contains("create git.push (project project-01)"),
        "{}",
        plan.render()
    );
    hooks::apply(&client, &plan, &opts).await.unwrap();
    let project_id = fake.org().projects[1]["id"].clone();
    assert!(
        fake.subscriptions()
            .iter()
            .all(|s| s["publisherInputs"]["projectId"] == project_id)
    );
}

#[tokio::test]
async fn a_refused_create_names_the_missing_pat_scope() {
    let (fake, client) = fake(FakeConfig::default()).await;
    fake.add_fault(Fault {
        endpoint: "hooks-create".into(),
        from: 1,
        times: u64::MAX,
        kind: FaultKind::Status(403),
    });
    let plan = hooks::plan(&client, &options(false)).await.unwrap();
    let err = hooks::apply(&client, &plan, &options(false))
        .await
        .unwrap_err();
    let chain = adoport::http::error_chain(&err);
    assert!(
        chain.contains("\"Service Hooks (Read & write)\" scope"),
        "{chain}"
    );
    assert!(chain.starts_with("could not create "), "{chain}");
    assert_eq!(
        fake.requests("hooks-create"),
        1,
        "the first refusal stops the run"
    );
}

#[test]
fn the_cli_prints_the_plan_on_a_dry_run_and_a_second_sync_changes_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fake = runtime
        .block_on(FakeAdo::start(
            generate(&OrgSpec::small()),
            FakeConfig::default(),
        ))
        .unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["hooks", "sync", "--url", URL];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_adoport"))
            .args(&args)
            .current_dir(cwd.path())
            .env("AZURE_DEVOPS_ORG_URL", fake.org_url())
            .env("AZURE_DEVOPS_PAT", fake.pat())
            .env("ADOPORT_WEBHOOK_SECRET", "hooks-cli-secret")
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let dry = run(&["--dry-run"]);
    assert_exit(&dry, 0);
    assert!(
        stdout(&dry).contains("+ create ms.vss-release.release-created-event (organization)"),
        "{}",
        stdout(&dry)
    );
    assert!(
        stdout(&dry).contains("23 to create, 0 to update, 0 to delete, 0 unchanged"),
        "{}",
        stdout(&dry)
    );
    assert!(fake.subscriptions().is_empty(), "a dry run changes nothing");
    assert_exit(&run(&[]), 0);
    assert_eq!(fake.subscriptions().len(), 23);
    let second = run(&[]);
    assert_exit(&second, 0);
    assert!(
        stdout(&second).contains("0 to create, 0 to update, 0 to delete, 23 unchanged"),
        "{}",
        stdout(&second)
    );
}
