//! The delivery side of the synthetic organization: build timelines with stages, pipeline
//! runs, pipeline environments and their deployment records, classic release definitions
//! and deployments, and test runs with results and code coverage, shaped like ADO's REST
//! payloads (ADO's documentation samples and Port's reference items).
//!
//! Generated after everything else, from the organization built so far and from a random
//! stream of its own, so adding it changed no byte of the items generated before it.
//! Everything here hangs off what exists: a run is a build seen through the pipelines API
//! (same id), each build has a timeline ([`timeline`], built on request), deployment
//! records and test runs name builds of their project.
//!
//! The file runs to about 600 lines because payload shapes are written out field by
//! field, as ADO returns them: a declarative recipe, one function per kind.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::synthetic_org::{OrgSpec, SyntheticOrg};

/// How much delivery data the organization has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliverySpec {
    /// Pipeline environments per project.
    pub environments_per_project: usize,
    /// Deployment records per environment.
    pub deployments_per_environment: usize,
    /// Classic release definitions per project (ids 1.., as classic releases name them).
    pub release_definitions_per_project: usize,
    /// Classic release deployments, spread over projects.
    pub release_deployments: usize,
    /// Test runs, spread over projects; every third is a manual run without a build.
    pub test_runs: usize,
    /// Results per test run.
    pub results_per_test_run: usize,
}

impl DeliverySpec {
    /// A few of each, for request-counting tests.
    #[must_use]
    pub fn small() -> Self {
        DeliverySpec {
            environments_per_project: 2,
            deployments_per_environment: 3,
            release_definitions_per_project: 3,
            release_deployments: 8,
            test_runs: 6,
            results_per_test_run: 3,
        }
    }

    /// In proportion to the reference organization (10 projects, 5,000 builds).
    #[must_use]
    pub fn reference() -> Self {
        DeliverySpec {
            environments_per_project: 3,
            deployments_per_environment: 20,
            release_definitions_per_project: 5,
            release_deployments: 500,
            test_runs: 1_000,
            results_per_test_run: 25,
        }
    }
}

/// The generated delivery data, indexed the way the fake server serves it.
#[derive(Clone, Debug, Default)]
pub struct Delivery {
    /// Per pipeline id: its runs, newest first (one per build of the pipeline, same id).
    pub runs: HashMap<u64, Vec<Value>>,
    /// Pipeline environments, in project order (`project` is `{id, name: null}`).
    pub environments: Vec<Value>,
    /// Per environment id: its deployment records, newest first.
    pub environment_deployments: HashMap<u64, Vec<Value>>,
    /// Per project id: its release definitions with every `$expand` section; the server
    /// leaves out the sections a request does not expand.
    pub release_definitions: HashMap<String, Vec<Value>>,
    /// Per project id: its release deployments, newest first.
    pub release_deployments: HashMap<String, Vec<Value>>,
    /// Test runs, newest first (`project.id` names the project).
    pub test_runs: Vec<Value>,
    /// Per test run id: its results.
    pub test_results: HashMap<u64, Vec<Value>>,
    /// Per build id: its coverage (`BuildCoverage` list) with modules, functions and block
    /// data; the server leaves out what `flags` does not ask for. Builds with no entry have
    /// no coverage.
    pub code_coverage: HashMap<u64, Vec<Value>>,
}

fn ts(now: jiff::Timestamp, minutes_before: i64) -> String {
    (now - jiff::SignedDuration::from_mins(minutes_before)).to_string()
}

fn guid(rng: &mut fastrand::Rng) -> String {
    let a = rng.u64(..);
    let b = rng.u64(..);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

fn str_of<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Generates the delivery data of `org`, as `spec` sizes it.
#[must_use]
pub fn generate(spec: &OrgSpec, org: &SyntheticOrg) -> Delivery {
    let mut rng = fastrand::Rng::with_seed(spec.seed ^ 0xde11_7e51_0000_0001);
    let base = format!("https://dev.azure.com/{}", org.name);
    let vsrm = format!("https://vsrm.dev.azure.com/{}", org.name);
    let people: Vec<Value> = org
        .team_members
        .values()
        .flatten()
        .map(|m| m["identity"].clone())
        .collect::<Vec<_>>();
    let mut people = people;
    people.sort_by(|a, b| str_of(a, "/uniqueName").cmp(str_of(b, "/uniqueName")));
    people.dedup_by(|a, b| a["id"] == b["id"]);
    if people.is_empty() {
        people.push(json!({"displayName": "Build Service", "id": "00000002-0000-8888-8000-000000000000", "uniqueName": "build@example.com"}));
    }
    let mut out = Delivery::default();
    runs(&mut out, org, &base);
    environments(&mut out, spec, org, &base, &people, &mut rng);
    releases(&mut out, spec, org, &base, &vsrm, &people);
    tests(&mut out, spec, org, &base, &people, &mut rng);
    out
}

/// The timeline of `build` (`GET …/build/builds/{id}/timeline`): a Build and a Test stage,
/// and a Deploy stage for every other build, each with its phase, job and task (and the
/// Deploy stage's approval checkpoint). Built on request rather than stored: an
/// organization of 10,000 builds would otherwise hold 130,000 records. The same build
/// always gives the same timeline.
#[must_use]
pub fn timeline(org: &str, build: &Value) -> Value {
    let base = format!("https://dev.azure.com/{org}");
    let id = build["id"].as_u64().unwrap_or(0);
    let mut rng = fastrand::Rng::with_seed(0x7133_11e0 ^ id);
    let project = str_of(build, "/project/id");
    let (start, finish) = times(build);
    let failed = build["result"] == "failed";
    let mut names = vec!["Build", "Test"];
    if id.is_multiple_of(2) {
        names.push("Deploy");
    }
    let span = (finish.as_second() - start.as_second()).max(names.len() as i64);
    let slice = span / names.len() as i64;
    let mut records = Vec::new();
    let mut broken = false;
    for (n, name) in names.iter().enumerate() {
        let from = start + jiff::SignedDuration::from_secs(slice * n as i64);
        let to = from + jiff::SignedDuration::from_secs(slice);
        let result = if broken {
            "skipped"
        } else if failed && *name == "Test" {
            broken = true;
            "failed"
        } else {
            "succeeded"
        };
        let (from, to) = if result == "skipped" {
            (Value::Null, Value::Null)
        } else {
            (json!(from.to_string()), json!(to.to_string()))
        };
        let record = |id: String,
                      parent: Option<&str>,
                      kind: &str,
                      label: String,
                      identifier: Option<String>,
                      order: usize| {
            let logged = kind == "Job" || kind == "Task";
            json!({
                "previousAttempts": [], "id": id, "parentId": parent, "type": kind, "name": label,
                "startTime": from, "finishTime": to, "currentOperation": null, "percentComplete": null,
                "state": "completed", "result": result, "resultCode": null, "changeId": 1 + order,
                "lastModified": to, "workerName": if kind == "Job" { json!("Hosted Agent") } else { Value::Null },
                "order": order, "details": null,
                "errorCount": usize::from(result == "failed" && kind != "Phase"), "warningCount": 0, "url": null,
                "log": if logged {
                    json!({"id": order + 2, "type": "Container", "url": format!("{base}/{project}/_apis/build/builds/{id}/logs/{}", order + 2)})
                } else { Value::Null },
                "task": null, "attempt": 1, "identifier": identifier,
            })
        };
        let stage = guid(&mut rng);
        let phase = guid(&mut rng);
        let job = guid(&mut rng);
        records.push(record(
            stage.clone(),
            None,
            "Stage",
            (*name).to_owned(),
            Some((*name).to_owned()),
            n + 1,
        ));
        records.push(record(
            phase.clone(),
            Some(&stage),
            "Phase",
            format!("{name} job"),
            Some(format!("{name}.__default")),
            1,
        ));
        records.push(record(
            job.clone(),
            Some(&phase),
            "Job",
            format!("{name} job"),
            Some(format!("{name}.__default.__default")),
            1,
        ));
        let mut task = record(
            guid(&mut rng),
            Some(&job),
            "Task",
            format!("Run {}", name.to_lowercase()),
            None,
            2,
        );
        task["task"] = json!({"id": "d9bafed4-0b18-4f58-968d-86655b4d2ce9", "name": "CmdLine", "version": "2.250.1"});
        records.push(task);
        if *name == "Deploy" {
            records.push(record(
                guid(&mut rng),
                Some(&stage),
                "Checkpoint",
                "Checkpoint".to_owned(),
                Some(format!("Checkpoint.{name}")),
                1,
            ));
        }
    }
    let timeline_id = guid(&mut rng);
    json!({
        "records": records, "lastChangedBy": "00000002-0000-8888-8000-000000000000",
        "lastChangedOn": build["finishTime"], "id": timeline_id, "changeId": records.len(),
        "url": format!("{base}/{project}/_apis/build/builds/{id}/Timeline/{timeline_id}"),
    })
}

/// Times of a build, parsed (its start and finish).
fn times(build: &Value) -> (jiff::Timestamp, jiff::Timestamp) {
    let parse = |key: &str| {
        build[key]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    };
    (parse("startTime"), parse("finishTime"))
}

/// A run per build, under the build's pipeline (a run is a build seen through the
/// pipelines API: same id, number and times).
fn runs(out: &mut Delivery, org: &SyntheticOrg, base: &str) {
    let pipelines: HashMap<u64, &Value> = org
        .pipelines
        .iter()
        .filter_map(|p| Some((p["id"].as_u64()?, p)))
        .collect();
    for build in &org.builds {
        let (Some(id), Some(pipeline_id)) =
            (build["id"].as_u64(), build["definition"]["id"].as_u64())
        else {
            continue;
        };
        let project = str_of(build, "/project/id");
        let pipeline = pipelines
            .get(&pipeline_id)
            .copied()
            .cloned()
            .unwrap_or(Value::Null);
        out.runs.entry(pipeline_id).or_default().push(json!({
            "_links": {"self": {"href": format!("{base}/{project}/_apis/pipelines/{pipeline_id}/runs/{id}")},
                       "web": {"href": format!("{base}/{project}/_build/results?buildId={id}")},
                       "pipeline.web": {"href": format!("{base}/{project}/_build/definition?definitionId={pipeline_id}")},
                       "pipeline": {"href": format!("{base}/{project}/_apis/pipelines/{pipeline_id}?revision={}", pipeline["revision"])}},
            "pipeline": {"url": pipeline["url"], "id": pipeline_id, "revision": pipeline["revision"],
                         "name": pipeline["name"], "folder": pipeline["folder"]},
            "state": "completed", "result": build["result"],
            "createdDate": build["queueTime"], "finishedDate": build["finishTime"],
            "url": format!("{base}/{project}/_apis/pipelines/{pipeline_id}/runs/{id}"),
            "id": id, "name": build["buildNumber"],
        }));
    }
}

/// Builds per project id, newest first.
fn builds_by_project(org: &SyntheticOrg) -> HashMap<&str, Vec<&Value>> {
    let mut by: HashMap<&str, Vec<&Value>> = HashMap::new();
    for build in &org.builds {
        by.entry(str_of(build, "/project/id"))
            .or_default()
            .push(build);
    }
    by
}

fn environments(
    out: &mut Delivery,
    spec: &OrgSpec,
    org: &SyntheticOrg,
    base: &str,
    people: &[Value],
    rng: &mut fastrand::Rng,
) {
    let names = ["dev", "staging", "production", "qa", "perf"];
    let builds = builds_by_project(org);
    let now = spec.now;
    let mut record_id = 0u64;
    for (p, project) in org.projects.iter().enumerate() {
        let project_id = str_of(project, "/id");
        let project_builds = builds.get(project_id).cloned().unwrap_or_default();
        for e in 0..spec.delivery.environments_per_project {
            let id = out.environments.len() as u64 + 1;
            let name = match names.get(e) {
                Some(n) => (*n).to_owned(),
                None => format!("env-{e}"),
            };
            let who = people[(p + e) % people.len()].clone();
            out.environments.push(json!({
                "id": id, "name": name, "description": format!("The {name} environment of {}", str_of(project, "/name")),
                "createdBy": who, "createdOn": ts(now, 60 * 24 * (90 + e as i64)),
                "lastModifiedBy": who, "lastModifiedOn": ts(now, 60 * 24 * (10 + e as i64)),
                "project": {"id": project_id, "name": null},
            }));
            let mut records = Vec::new();
            for j in 0..spec.delivery.deployments_per_environment {
                record_id += 1;
                let Some(build) = project_builds.get(j % project_builds.len().max(1)).copied()
                else {
                    break;
                };
                let build_id = build["id"].as_u64().unwrap_or(0);
                let pipeline_id = build["definition"]["id"].as_u64().unwrap_or(0);
                let finish = build["finishTime"].clone();
                records.push(json!({
                    "id": record_id, "requestIdentifier": guid(rng), "environmentId": id,
                    "serviceOwner": "00025394-6065-48ca-87d9-7f5672854ef7", "scopeId": project_id,
                    "resourceId": null, "planType": "Build", "planId": guid(rng),
                    "stageName": "Deploy", "jobName": format!("Deploy_{name}"), "stageAttempt": 1, "jobAttempt": 1,
                    "definition": {"id": pipeline_id, "name": build["definition"]["name"],
                                   "_links": {"web": {"href": format!("{base}/{project_id}/_build/definition?definitionId={pipeline_id}")},
                                              "self": {"href": format!("{base}/{project_id}/_apis/build/Definitions/{pipeline_id}")}}},
                    "owner": {"id": build_id, "name": build["buildNumber"],
                              "_links": {"web": {"href": format!("{base}/{project_id}/_build/results?buildId={build_id}")},
                                         "self": {"href": format!("{base}/{project_id}/_apis/build/Builds/{build_id}")}}},
                    "result": if j % 5 == 4 { "failed" } else { "succeeded" },
                    "queueTime": build["queueTime"], "startTime": build["startTime"], "finishTime": finish,
                }));
            }
            out.environment_deployments.insert(id, records);
        }
    }
}

fn releases(
    out: &mut Delivery,
    spec: &OrgSpec,
    org: &SyntheticOrg,
    base: &str,
    vsrm: &str,
    people: &[Value],
) {
    let now = spec.now;
    let stages = ["Dev", "QA", "Prod"];
    for (p, project) in org.projects.iter().enumerate() {
        let project_id = str_of(project, "/id");
        let mut definitions = Vec::new();
        for d in 1..=spec.delivery.release_definitions_per_project {
            let who = people[(p + d) % people.len()].clone();
            let url = format!("{vsrm}/{project_id}/_apis/Release/definitions/{d}");
            let environments: Vec<Value> = stages
                .iter()
                .enumerate()
                .map(|(rank, stage)| {
                    json!({"id": d * 10 + rank, "name": stage, "rank": rank + 1, "owner": who,
                           "variables": {}, "variableGroups": [],
                           "preDeployApprovals": {"approvals": [{"rank": 1, "isAutomated": rank == 0, "isNotificationOn": false, "id": d * 100 + rank}]},
                           "postDeployApprovals": {"approvals": [{"rank": 1, "isAutomated": true, "isNotificationOn": false, "id": d * 100 + 50 + rank}]},
                           "deployPhases": [{"deploymentInput": {"queueId": 9}, "rank": 1, "phaseType": "agentBasedDeployment", "name": "Agent job", "workflowTasks": []}],
                           "conditions": if rank == 0 { json!([{"name": "ReleaseStarted", "conditionType": "event", "value": ""}]) }
                                         else { json!([{"name": stages[rank - 1], "conditionType": "environmentState", "value": "4"}]) },
                           "retentionPolicy": {"daysToKeep": 30, "releasesToKeep": 3, "retainBuild": true},
                           "badgeUrl": format!("{vsrm}/_apis/public/Release/badge/{project_id}/{d}/{}", d * 10 + rank)})
                })
                .collect();
            definitions.push(json!({
                "source": "userInterface", "revision": 1 + d, "description": format!("Deploys service {d}"),
                "createdBy": who, "createdOn": ts(now, 60 * 24 * (200 + d as i64)),
                "modifiedBy": who, "modifiedOn": ts(now, 60 * 24 * (20 + d as i64)),
                "isDeleted": false, "isDisabled": false, "variableGroups": [],
                "releaseNameFormat": "Release-$(rev:r)", "properties": {},
                "id": d, "name": format!("Deploy-{d}"), "path": "\\", "projectReference": null, "url": url,
                "_links": {"self": {"href": url}, "web": {"href": format!("{base}/{project_id}/_release?definitionId={d}")}},
                "environments": environments,
                "artifacts": [{"sourceId": format!("{project_id}:{d}"), "type": "Build", "alias": format!("_service-{d}"),
                               "definitionReference": {"definition": {"id": d.to_string(), "name": format!("service-{d}")},
                                                       "project": {"id": project_id, "name": project["name"]}},
                               "isPrimary": true, "isRetained": false}],
                "triggers": [{"artifactAlias": format!("_service-{d}"), "triggerConditions": [], "triggerType": "artifactSource"}],
                "variables": {"region": {"value": "westeurope"}},
                "tags": if d % 2 == 1 { json!(["backend", "team-a"]) } else { json!(["frontend"]) },
                "lastRelease": {"id": d * 7, "name": format!("Release-{}", d * 7), "_links": {}},
            }));
        }
        out.release_definitions
            .insert(project_id.to_owned(), definitions);
    }
    let projects = org.projects.len();
    if projects == 0 {
        return;
    }
    for j in (0..spec.delivery.release_deployments).rev() {
        let project = &org.projects[j % projects];
        let project_id = str_of(project, "/id");
        let releases: Vec<&Value> = org
            .releases
            .iter()
            .filter(|r| str_of(r, "/projectReference/id") == project_id)
            .collect();
        let (release_id, release_name, definition_id) =
            match releases.get((j / projects) % releases.len().max(1)) {
                Some(r) => (
                    r["id"].clone(),
                    r["name"].clone(),
                    r["releaseDefinition"]["id"].as_u64().unwrap_or(1),
                ),
                None => (
                    json!(10_000 + j),
                    json!(format!("Release-{}", 10_000 + j)),
                    1,
                ),
            };
        let rank = j % stages.len();
        let id = j as u64 + 1;
        let who = people[j % people.len()].clone();
        let when = 60 * (j as i64 + 1);
        let status = if j % 6 == 5 { "failed" } else { "succeeded" };
        out.release_deployments.entry(project_id.to_owned()).or_default().push(json!({
            "id": id,
            "release": {"id": release_id, "name": release_name,
                        "url": format!("{vsrm}/{project_id}/_apis/Release/releases/{release_id}"), "artifacts": [],
                        "webAccessUri": format!("{base}/{project_id}/_release?releaseId={release_id}&_a=release-summary"),
                        "_links": {"web": {"href": format!("{base}/{project_id}/_release?releaseId={release_id}&_a=release-summary")}}},
            "releaseDefinition": {"id": definition_id, "name": format!("Deploy-{definition_id}"), "path": "\\",
                                  "projectReference": null,
                                  "url": format!("{vsrm}/{project_id}/_apis/Release/definitions/{definition_id}"), "_links": {}},
            "releaseEnvironment": {"id": 1000 + id, "name": stages[rank],
                                   "url": format!("{vsrm}/{project_id}/_apis/Release/releases/{release_id}/environments/{}", 1000 + id),
                                   "_links": {}},
            "projectReference": {"id": project_id, "name": project["name"]},
            "definitionEnvironmentId": definition_id as usize * 10 + rank, "attempt": 1,
            "reason": if rank == 0 { "automated" } else { "manual" },
            "deploymentStatus": status, "operationStatus": if status == "failed" { "PhaseFailed" } else { "Approved" },
            "requestedBy": who, "requestedFor": who,
            "queuedOn": ts(now, when + 5), "startedOn": ts(now, when + 4), "completedOn": ts(now, when),
            "lastModifiedOn": ts(now, when), "lastModifiedBy": who,
            "conditions": [], "preDeployApprovals": [], "postDeployApprovals": [],
            "_links": {},
        }));
    }
}

fn tests(
    out: &mut Delivery,
    spec: &OrgSpec,
    org: &SyntheticOrg,
    base: &str,
    people: &[Value],
    rng: &mut fastrand::Rng,
) {
    let projects = org.projects.len();
    if projects == 0 {
        return;
    }
    let builds = builds_by_project(org);
    let now = spec.now;
    let outcomes = ["Passed", "Passed", "Failed", "Passed", "NotExecuted"];
    let mut result_id = 100_000u64;
    for i in (0..spec.delivery.test_runs).rev() {
        let project = &org.projects[i % projects];
        let project_id = str_of(project, "/id");
        let project_ref = json!({"id": project_id, "name": project["name"], "url": format!("{base}/_apis/projects/{project_id}")});
        let id = i as u64 + 1;
        let manual = i % 3 == 2;
        let build = builds
            .get(project_id)
            .and_then(|list| list.get((i / projects) % list.len().max(1)))
            .copied()
            .filter(|_| !manual);
        let who = people[i % people.len()].clone();
        let url = format!("{base}/{project_id}/_apis/test/Runs/{id}");
        let started = 60 * (i as i64 + 2);
        let count = spec.delivery.results_per_test_run;
        let run_outcomes: Vec<&str> = (0..count)
            .map(|r| outcomes[(i + r) % outcomes.len()])
            .collect();
        let passed = run_outcomes.iter().filter(|o| **o == "Passed").count();
        let failed = run_outcomes.iter().filter(|o| **o == "Failed").count();
        let skipped = count - passed - failed;
        let mut run = json!({
            "id": id, "name": if manual { format!("Manual run {id}") } else { format!("VSTest run {id}") },
            "url": url, "isAutomated": !manual, "owner": who, "project": project_ref,
            "startedDate": ts(now, started), "completedDate": ts(now, started - 30), "state": "Completed",
            "plan": {"id": "0"}, "postProcessState": "Complete",
            "totalTests": count, "incompleteTests": 0, "notApplicableTests": skipped,
            "passedTests": passed, "unanalyzedTests": failed, "revision": 3,
            "webAccessUrl": format!("{base}/{project_id}/_TestManagement/Runs?runId={id}&_a=runCharts"),
            "runStatistics": [{"state": "Completed", "outcome": "Passed", "count": passed},
                              {"state": "Completed", "outcome": "Failed", "count": failed},
                              {"state": "Completed", "outcome": "NotExecuted", "count": skipped}],
            "lastUpdatedDate": ts(now, started - 31), "lastUpdatedBy": who, "createdDate": ts(now, started + 1),
            "release": {"id": 0, "definitionId": 0, "environmentId": 0, "environmentDefinitionId": 0},
        });
        let build_ref = build.map(|b| {
            let build_id = b["id"].as_u64().unwrap_or(0);
            json!({"id": build_id.to_string(), "name": b["buildNumber"], "url": format!("{base}/_apis/build/Builds/{build_id}")})
        });
        if let Some(build_ref) = &build_ref {
            run["build"] = build_ref.clone();
            run["buildConfiguration"] = json!({"id": id, "number": build_ref["name"], "flavor": "Release", "platform": "Any CPU",
                                               "buildDefinitionId": build.map(|b| b["definition"]["id"].clone()),
                                               "branchName": "refs/heads/main", "project": {"id": project_id, "name": project["name"]}});
            run["dropLocation"] = json!("#/1/drop");
        }
        let results: Vec<Value> = run_outcomes
            .iter()
            .enumerate()
            .map(|(r, outcome)| {
                result_id += 1;
                let mut result = json!({
                    "id": result_id, "project": project_ref,
                    "startedDate": ts(now, started - r as i64), "completedDate": ts(now, started - r as i64 - 1),
                    "durationInMs": 1000.0 + (r * 37) as f64, "outcome": outcome, "revision": 1, "state": "Completed",
                    "testCase": {"name": format!("Cart_adds_item_{r}")},
                    "testRun": {"id": id.to_string(), "name": run["name"], "url": url},
                    "lastUpdatedDate": ts(now, started - 40), "priority": r % 3, "computerName": format!("fv-az{:03}", rng.u16(..1000)),
                    "createdDate": ts(now, started - 40), "url": format!("{url}/Results/{result_id}"),
                    "failureType": "None", "automatedTestStorage": "web.tests.dll", "automatedTestType": "UnitTest",
                    "testCaseTitle": format!("Cart_adds_item_{r}"), "testCaseReferenceId": 5000 + r,
                    "lastUpdatedBy": who, "automatedTestName": format!("Web.Tests.Cart.Cart_adds_item_{r}"),
                });
                if let Some(build_ref) = &build_ref {
                    result["build"] = build_ref.clone();
                }
                if *outcome == "Failed" {
                    result["errorMessage"] = json!("Assert.AreEqual failed. Expected:<2>. Actual:<1>.");
                    result["stackTrace"] = json!("at Web.Tests.Cart.Cart_adds_item() in Cart.cs:line 42");
                }
                result
            })
            .collect();
        out.test_results.insert(id, results);
        out.test_runs.push(run);
        // Every fourth build tested reports no coverage.
        if let Some(b) = build {
            let build_id = b["id"].as_u64().unwrap_or(0);
            if !build_id.is_multiple_of(4) && !out.code_coverage.contains_key(&build_id) {
                out.code_coverage
                    .insert(build_id, coverage(base, project_id, build_id, now, rng));
            }
        }
    }
}

/// A build's coverage: one configuration with two modules, every detail present.
fn coverage(
    base: &str,
    project: &str,
    build: u64,
    now: jiff::Timestamp,
    rng: &mut fastrand::Rng,
) -> Vec<Value> {
    let modules: Vec<Value> = ["web.dll", "core.dll"]
        .iter()
        .enumerate()
        .map(|(m, name)| {
            let covered = 300 + (build as usize * 7 + m * 13) % 200;
            let missed = 40 + (build as usize + m) % 60;
            json!({"name": name, "signature": guid(rng), "signatureAge": 1,
                   "statistics": {"blocksCovered": covered, "blocksNotCovered": missed,
                                  "linesCovered": covered * 2, "linesNotCovered": missed * 2, "linesPartiallyCovered": m * 3},
                   "functions": [{"name": "Add", "namespace": "Web.Cart", "class": "Cart", "sourceFile": "Cart.cs",
                                  "statistics": {"blocksCovered": 12, "blocksNotCovered": 1, "linesCovered": 20, "linesNotCovered": 2, "linesPartiallyCovered": 0}}],
                   "blockCount": covered + missed, "blockData": "/////w==", "fileUrl": ""})
        })
        .collect();
    vec![json!({
        "codeCoverageFileUrl": format!("{base}/{project}/_apis/test/CodeCoverage/browse/{build}"),
        "configuration": {"id": build, "flavor": "Release", "platform": "Any CPU",
                          "buildUri": format!("vstfs:///Build/Build/{build}"), "buildPlatform": "Any CPU",
                          "buildFlavor": "Release", "lastUpdated": ts(now, 30)},
        "lastError": "", "modules": modules, "state": "Completed",
    })]
}
