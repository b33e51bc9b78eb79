//! The `serve`, `event replay` and settings surface through the real binary: refusing to
//! start without a secret, `adoport.yaml`'s webhook settings, replaying a sample offline.

use adoport::catalog::SqliteCatalog;
use adoport::serve::auth::basic_header;
use adoport::testkit::synthetic_org::{OrgSpec, generate};

use super::fakes::{Ado, LIMIT, SECRET};
use super::{Scratch, ServeProcess, request, sample, wait_for};
use crate::support::{adoport, assert_exit, root, stderr, stdout};

#[test]
fn serve_refuses_to_start_without_a_webhook_secret_unless_told_it_is_insecure() {
    let s = Scratch::new();
    let snapshot = format!(
        "snapshot:{}",
        root().join("examples/ado-snapshot").display()
    );
    let base = [
        "serve".to_owned(),
        "--config".into(),
        root().join("examples/config-repo").display().to_string(),
        "--source".into(),
        snapshot.clone(),
        "--target".into(),
        format!("sqlite:{}", s.path("c.sqlite").display()),
        "--queue".into(),
        format!("sqlite:{}", s.path("q.sqlite").display()),
        "--listen".into(),
        "127.0.0.1:0".into(),
    ];
    let args: Vec<&str> = base.iter().map(String::as_str).collect();
    let refused = adoport(&args);
    assert_exit(&refused, 1);
    assert!(
        stderr(&refused).contains("ADOPORT_WEBHOOK_SECRET"),
        "{}",
        stderr(&refused)
    );
    assert!(!s.path("q.sqlite").exists(), "nothing was started");

    let insecure = ServeProcess::start(
        s.dir.path(),
        &[
            base[1..].to_vec(),
            vec!["--insecure-no-webhook-auth".into()],
        ]
        .concat(),
        &[],
    );
    let (status, _) = request(
        insecure.addr,
        "POST",
        "/webhook",
        None,
        &sample("workitem.updated"),
    );
    assert_eq!(status, 202);
    let (exit, _, log) = insecure.terminate();
    assert!(exit.success(), "{log}");
    assert!(log.contains("without credentials"), "{log}");
}

#[test]
fn event_replay_runs_a_sample_through_the_handler_offline_and_says_what_it_did() {
    let s = Scratch::new();
    let out = adoport(&[
        "event",
        "replay",
        "examples/webhooks/workitem.updated.json",
        "--config",
        "examples/config-repo",
        "--source",
        "snapshot:examples/ado-snapshot",
        "--target",
        &format!("sqlite:{}", s.path("c.sqlite").display()),
    ]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("event workitem.updated (tfs): 1 signals"),
        "{text}"
    );
    assert!(
        text.contains("work-item {\"type\":\"workItem\",\"id\":42}"),
        "{text}"
    );
    assert!(text.contains("work-item: done"), "{text}");
    // Only the work item the event names is read and written, not the organization.
    let written = SqliteCatalog::open(s.path("c.sqlite"), "adoport-example")
        .unwrap()
        .list_owned_blocking()
        .unwrap();
    let keys: Vec<String> = written.iter().map(|e| e.key().to_string()).collect();
    assert_eq!(keys, ["azureDevopsWorkItem/42"], "{text}");

    let dry = adoport(&[
        "event",
        "replay",
        "examples/webhooks/ms.vss-alerts.alert-created-event.json",
        "--config",
        "examples/config-repo",
        "--source",
        "snapshot:examples/ado-snapshot",
        "--target",
        &format!("sqlite:{}", s.path("dry.sqlite").display()),
        "--dry-run",
    ]);
    assert_exit(&dry, 0);
    assert!(
        stdout(&dry).contains("advanced-security-alert: done"),
        "{}",
        stdout(&dry)
    );
    assert!(
        !s.path("dry.sqlite").exists()
            || SqliteCatalog::open(s.path("dry.sqlite"), "adoport-example")
                .unwrap()
                .list_owned_blocking()
                .unwrap()
                .is_empty()
    );
}

#[test]
fn the_webhook_settings_of_adoport_yaml_take_effect() {
    let ado = Ado::start(generate(&OrgSpec::small()));
    let s = Scratch::new();
    let config = s.path("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("port-app-config.yaml"),
        "resources:\n  - kind: project\n    selector:\n      query: 'true'\n    port:\n      entity:\n        mappings:\n          identifier: .id\n          title: .name\n          blueprint: '\"project\"'\n",
    )
    .unwrap();
    std::fs::write(
        config.join("adoport.yaml"),
        "webhook:\n  listen: 127.0.0.1:0\n  maxBodyBytes: 2000\n  syncSubscriptions: true\n  url: https://adoport.example.com/webhook\n  projects: [project-01]\nresync:\n  interval: 1h\n",
    )
    .unwrap();
    let args: Vec<String> = [
        "--config".to_owned(),
        config.display().to_string(),
        "--source".into(),
        format!(
            "snapshot:{}",
            root().join("examples/ado-snapshot").display()
        ),
        "--target".into(),
        format!("sqlite:{}", s.path("catalog.sqlite").display()),
        "--queue".into(),
        format!("sqlite:{}", s.path("queue.sqlite").display()),
    ]
    .to_vec();
    // No --listen: webhook.listen names a free port on the loopback.
    let serve = ServeProcess::start(s.dir.path(), &args, &ado.env());
    assert!(serve.addr.ip().is_loopback());
    let fake = &ado.fake;
    wait_for("the subscriptions", LIMIT, || {
        fake.subscriptions().len() == 23
    });
    let project = fake.org().projects[1]["id"].clone();
    for sub in fake.subscriptions() {
        assert_eq!(
            sub["consumerInputs"]["url"],
            "https://adoport.example.com/webhook"
        );
        assert_eq!(sub["consumerInputs"]["basicAuthPassword"], SECRET);
        assert_eq!(sub["publisherInputs"]["projectId"], project);
    }
    let auth = basic_header("adoport", SECRET);
    let big = sample("git.push");
    assert!(big.len() > 2000);
    let (status, body) = request(serve.addr, "POST", "/webhook", Some(&auth), &big);
    assert_eq!(status, 413, "{body}");
    let small = br#"{"eventType": "workitem.updated", "resource": {"workItemId": 1}}"#;
    let (status, body) = request(serve.addr, "POST", "/webhook", Some(&auth), small);
    assert_eq!(status, 202, "{body}");
    let (exit, _, log) = serve.terminate();
    assert!(exit.success(), "{log}");
}
