//! Events → signals: every sample payload yields the signals its event implies, with the
//! ids taken from the right fields, and names entities of the synthetic organization.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use adoport::serve::events::{self, EVENT_TYPES, Envelope, Locator, Publisher, Signal};
use adoport::testkit::synthetic_org::{OrgSpec, generate};

use super::{sample, sample_types};

const P0: &str = "cb8a51f2-580b-4833-add1-72ee0e64c683";
const REPO0: &str = "2c74b107-517c-4913-8e8c-4f5bc4a64477";

fn signals(event_type: &str) -> Vec<Signal> {
    let envelope = Envelope::parse(&sample(event_type)).expect("a sample parses");
    assert_eq!(envelope.event_type, event_type);
    events::find(event_type)
        .expect("a known type")
        .signals(&envelope)
}

/// Each signal as (kind, locator as JSON, deleted).
fn brief(signals: &[Signal]) -> Vec<(String, Value, bool)> {
    signals
        .iter()
        .map(|s| {
            (
                s.kind.clone(),
                serde_json::to_value(&s.locator).unwrap(),
                s.deleted,
            )
        })
        .collect()
}

#[test]
fn every_event_type_has_a_sample_and_every_sample_a_known_event_type() {
    let registry: BTreeSet<String> = EVENT_TYPES.iter().map(|t| t.name.to_owned()).collect();
    let samples: BTreeSet<String> = sample_types().into_iter().collect();
    assert_eq!(registry, samples);
    assert_eq!(
        registry.len(),
        23,
        "the 18 of DESIGN.md, build.complete, four release events"
    );
}

#[test]
fn every_sample_is_a_full_envelope() {
    for event_type in sample_types() {
        let value: Value = serde_json::from_slice(&sample(&event_type)).unwrap();
        for key in [
            "subscriptionId",
            "notificationId",
            "id",
            "eventType",
            "publisherId",
            "message",
            "resource",
            "resourceVersion",
            "resourceContainers",
            "createdDate",
        ] {
            assert!(value.get(key).is_some(), "{event_type} lacks {key}");
        }
        let publisher = events::find(&event_type).unwrap().publisher.id();
        assert_eq!(value["publisherId"], publisher, "{event_type}");
    }
}

#[test]
fn every_kind_an_event_names_is_a_kind_adoport_knows_and_every_signal_is_listed() {
    for t in EVENT_TYPES {
        for kind in t.kinds {
            assert!(
                adoport::ado::kinds::find(kind).is_some(),
                "{}: {kind}",
                t.name
            );
        }
        for s in signals(t.name) {
            assert!(t.kinds.contains(&s.kind.as_str()), "{}: {}", t.name, s.kind);
        }
    }
}

#[test]
fn subscriptions_of_each_publisher_live_on_its_host() {
    use adoport::ado::Service;
    let host = |name: &str| events::find(name).unwrap().publisher.service();
    assert_eq!(host("git.push"), Service::Core);
    assert_eq!(
        host("ms.vss-pipelines.run-state-changed-event"),
        Service::Core
    );
    assert_eq!(
        host("ms.vss-release.release-created-event"),
        Service::Release
    );
    assert_eq!(
        host("ms.vss-alerts.alert-created-event"),
        Service::AdvancedSecurity
    );
    assert_eq!(Publisher::Rm.id(), "rm");
}

#[test]
fn workitem_updated_names_the_work_item_by_work_item_id_not_the_update_number() {
    let s = signals("workitem.updated");
    assert_eq!(
        brief(&s),
        [(
            "work-item".into(),
            json!({"type": "workItem", "id": 42}),
            false
        )]
    );
    // Read by id in every project (the item may have moved), not only the event's.
    assert_eq!(s[0].project, None);
    let resource: Value =
        serde_json::from_slice::<Value>(&sample("workitem.updated")).unwrap()["resource"].clone();
    assert_eq!(
        resource["id"], 7,
        "the sample's resource.id is the update's number"
    );
}

#[test]
fn work_item_events_name_the_work_item_and_a_deletion_says_so() {
    let one = |t: &str| brief(&signals(t)).remove(0);
    assert_eq!(
        one("workitem.created"),
        (
            "work-item".into(),
            json!({"type": "workItem", "id": 100}),
            false
        )
    );
    assert_eq!(
        one("workitem.commented"),
        (
            "work-item".into(),
            json!({"type": "workItem", "id": 41}),
            false
        )
    );
    assert_eq!(
        one("workitem.deleted"),
        (
            "work-item".into(),
            json!({"type": "workItem", "id": 99}),
            true
        )
    );
    assert_eq!(
        one("workitem.restored"),
        (
            "work-item".into(),
            json!({"type": "workItem", "id": 99}),
            false
        )
    );
}

#[test]
fn a_push_signals_each_branch_every_commit_and_the_repository_of_its_default_branch() {
    let got = brief(&signals("git.push"));
    let branch = |name: &str, old: &str, new: &str| json!({"type": "branch", "repositoryId": REPO0, "name": name, "oldObjectId": old, "newObjectId": new});
    let commit = |id: &str| json!({"type": "commit", "repositoryId": REPO0, "commitId": id});
    let main_new = "9a1f4c7d2e6b8a0c3f5d7e9b1a2c4e6f8a0b2d4c";
    let earlier = "3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e2b4d6f8a1c";
    assert_eq!(
        got,
        [
            (
                "branch".into(),
                branch(
                    "refs/heads/main",
                    "5059f04886a10a126879b7cdbfcacc82350972cb",
                    main_new
                ),
                false
            ),
            (
                "branch".into(),
                branch(
                    "refs/heads/develop",
                    "cfc33cb123ce0b96b67bbd31be354a4cfa1216c7",
                    "0000000000000000000000000000000000000000"
                ),
                true
            ),
            ("file".into(), commit(earlier), false),
            ("folder".into(), commit(earlier), false),
            ("file".into(), commit(main_new), false),
            ("folder".into(), commit(main_new), false),
            (
                "repository".into(),
                json!({"type": "repository", "id": REPO0}),
                false
            ),
        ],
        "the tag is not a branch; both commits are signalled, not only the head"
    );
}

#[test]
fn pull_request_and_repository_events_name_their_entities() {
    for t in ["git.pullrequest.created", "git.pullrequest.updated"] {
        assert_eq!(
            brief(&signals(t)),
            [(
                "pull-request".into(),
                json!({"type": "pullRequest", "repositoryId": REPO0, "pullRequestId": 13}),
                false
            )]
        );
    }
    assert_eq!(
        brief(&signals("git.repo.created")),
        [(
            "repository".into(),
            json!({"type": "repository", "id": "1d58f0e4-b130-4538-a314-0da939223862"}),
            false
        )]
    );
}

#[test]
fn build_and_pipeline_events_name_runs_stages_and_builds() {
    assert_eq!(
        brief(&signals("build.complete")),
        [
            ("build".into(), json!({"type": "build", "id": 30}), false),
            (
                "pipeline-run".into(),
                json!({"type": "pipelineRun", "pipelineId": 5, "runId": 30}),
                false
            ),
            (
                "pipeline-stage".into(),
                json!({"type": "pipelineStage", "pipelineId": 5, "runId": 30}),
                false
            ),
            (
                "test-run".into(),
                json!({"type": "testRuns", "buildId": 30}),
                false
            ),
        ]
    );
    assert_eq!(
        brief(&signals("ms.vss-pipelines.run-state-changed-event")),
        [
            (
                "pipeline-run".into(),
                json!({"type": "pipelineRun", "pipelineId": 5, "runId": 30}),
                false
            ),
            ("build".into(), json!({"type": "build", "id": 30}), false),
        ]
    );
    let build_stage = json!({"type": "pipelineStage", "pipelineId": 5, "runId": 30, "stageId": "6b6e7a12-5a1c-5d9e-9c7e-3f1b2d4a6c8e"});
    let deploy_stage = json!({"type": "pipelineStage", "pipelineId": 5, "runId": 30, "stageId": "9d3b1f5a-6c2e-5a4d-8b7f-1e3c5a7b9d2f"});
    for (t, stage) in [
        ("ms.vss-pipelines.stage-state-changed-event", &build_stage),
        ("ms.vss-pipelines.job-state-changed-event", &build_stage),
        (
            "ms.vss-pipelinechecks-events.approval-pending",
            &deploy_stage,
        ),
        (
            "ms.vss-pipelinechecks-events.approval-completed",
            &deploy_stage,
        ),
    ] {
        assert_eq!(
            brief(&signals(t)),
            [("pipeline-stage".into(), stage.clone(), false)],
            "{t}"
        );
    }
    assert_eq!(
        brief(&signals("ms.vss-pipelinechecks-events.check-updated-event")),
        [
            (
                "pipeline".into(),
                json!({"type": "pipeline", "id": 5}),
                false
            ),
            ("pipeline-stage".into(), deploy_stage.clone(), false),
        ],
        "the run's pipeline, not checkConfigurationId (12)"
    );
}

#[test]
fn alert_and_release_events_name_their_entities() {
    for (t, id) in [
        ("ms.vss-alerts.alert-created-event", 1),
        ("ms.vss-alerts.alert-state-changed-event", 2),
        ("ms.vss-alerts.alert-updated-event", 3),
    ] {
        assert_eq!(
            brief(&signals(t)),
            [(
                "advanced-security-alert".into(),
                json!({"type": "alert", "repositoryId": REPO0, "alertId": id}),
                false
            )]
        );
    }
    assert_eq!(
        brief(&signals("ms.vss-release.release-created-event")),
        [
            ("release".into(), json!({"type": "release", "id": 6}), false),
            (
                "release-definition".into(),
                json!({"type": "releaseDefinition", "id": 3}),
                false
            ),
        ]
    );
    let deployment = brief(&signals("ms.vss-release.deployment-completed-event"));
    assert_eq!(
        deployment,
        [
            (
                "release-deployment".into(),
                json!({"type": "releaseDeployment", "releaseId": 5, "definitionEnvironmentId": 1, "deploymentId": 11}),
                false
            ),
            ("release".into(), json!({"type": "release", "id": 5}), false),
        ]
    );
    let signals = signals("ms.vss-release.release-abandoned-event");
    assert_eq!(signals[0].project.as_ref().unwrap().id.as_deref(), Some(P0));
}

#[test]
fn the_samples_name_entities_of_the_synthetic_organization() {
    let org = generate(&OrgSpec::small());
    let projects: BTreeSet<&str> = org
        .projects
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    let repos: BTreeSet<&str> = org.repos.iter().filter_map(|r| r["id"].as_str()).collect();
    let has_id = |list: &[Value], id: u64| list.iter().any(|v| v["id"] == id);
    for t in sample_types() {
        let envelope: Value = serde_json::from_slice(&sample(&t)).unwrap();
        let project = envelope["resourceContainers"]["project"]["id"]
            .as_str()
            .unwrap();
        assert!(projects.contains(project), "{t}: project {project}");
        for s in signals(&t) {
            match &s.locator {
                Locator::WorkItem { id } => assert!(has_id(&org.work_items, *id), "{t}: {id}"),
                Locator::PullRequest {
                    repository_id,
                    pull_request_id,
                } => {
                    assert!(repos.contains(repository_id.as_str()), "{t}");
                    assert!(
                        org.pull_requests
                            .iter()
                            .any(|p| p["pullRequestId"] == *pull_request_id
                                && p["repository"]["id"] == repository_id.as_str()),
                        "{t}"
                    );
                }
                Locator::Repository { id } | Locator::Wiki { repository_id: id } => {
                    assert!(repos.contains(id.as_str()), "{t}: {id}");
                }
                Locator::Branch {
                    repository_id,
                    name,
                    old_object_id,
                    ..
                } => {
                    let refs = &org.refs[repository_id];
                    let current = refs
                        .iter()
                        .find(|r| r["name"] == name.as_str())
                        .expect("a branch of the org");
                    assert_eq!(
                        current["objectId"].as_str(),
                        old_object_id.as_deref(),
                        "{t}: {name}"
                    );
                }
                Locator::Commit { repository_id, .. } | Locator::Alert { repository_id, .. } => {
                    assert!(repos.contains(repository_id.as_str()), "{t}");
                }
                Locator::Build { id } | Locator::TestRuns { build_id: id } => {
                    assert!(has_id(&org.builds, *id), "{t}")
                }
                Locator::PipelineRun {
                    pipeline_id,
                    run_id,
                }
                | Locator::PipelineStage {
                    pipeline_id,
                    run_id,
                    ..
                } => {
                    assert!(has_id(&org.builds, *run_id), "{t}");
                    assert!(has_id(&org.pipelines, pipeline_id.unwrap()), "{t}");
                }
                Locator::Pipeline { id } => assert!(has_id(&org.pipelines, *id), "{t}"),
                Locator::Release { id } | Locator::ReleaseDeployment { release_id: id, .. } => {
                    assert!(has_id(&org.releases, *id), "{t}: release {id}");
                }
                Locator::ReleaseDefinition { id } => {
                    assert!(
                        org.releases
                            .iter()
                            .any(|r| r["releaseDefinition"]["id"] == *id),
                        "{t}"
                    );
                }
                Locator::All => panic!("{t}: a sample names its entities"),
            }
        }
    }
}
