//! A synthetic ADO organization from a seeded generator: projects, teams, users,
//! repositories, refs, policies, pull requests, pipelines, builds, releases, work items
//! and boards, shaped like ADO's REST payloads (Port's reference samples, ADO's docs).
//! Group memberships, iterations, areas, alerts and wikis come from `synthetic_org_kinds`;
//! the delivery data built on them (runs, timelines, environments, test runs, …) from
//! `synthetic_pipelines`.
//!
//! The same spec and seed always give the same organization, byte for byte, so tests can
//! state expectations and recorded snapshots stay stable. URLs inside items name
//! `https://dev.azure.com/{org}` whatever port the fake server listens on.
//!
//! The file runs past 600 lines because payload shapes are written out field by field, as
//! ADO returns them: a declarative recipe, one block per kind.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::synthetic_pipelines::{Delivery, DeliverySpec};

/// How big the organization is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgSpec {
    /// The organization name (the first path segment of its URL).
    pub name: String,
    /// Projects.
    pub projects: usize,
    /// Teams per project (each has three boards).
    pub teams_per_project: usize,
    /// Repositories per project.
    pub repos_per_project: usize,
    /// Branches per repository.
    pub branches_per_repo: usize,
    /// Pull requests, spread over repositories.
    pub pull_requests: usize,
    /// Work items, spread over projects (ids are organization-wide).
    pub work_items: usize,
    /// Pipelines, spread over projects.
    pub pipelines: usize,
    /// Builds, spread over pipelines.
    pub builds: usize,
    /// Classic releases, spread over projects.
    pub releases: usize,
    /// Users.
    pub users: usize,
    /// Iterations (sprints) of each project; each team of the project subscribes to all.
    pub iterations_per_team: usize,
    /// Levels of each project's area tree below its root area.
    pub area_depth: usize,
    /// Advanced Security alerts of each onboarded repository (every third is not onboarded).
    pub alerts_per_repo: usize,
    /// Pages of each wiki (every project has a project wiki; every other one a code wiki too).
    pub wiki_pages: usize,
    /// Delivery data: timelines, runs, environments, release definitions and deployments,
    /// test runs (`synthetic_pipelines`).
    pub delivery: DeliverySpec,
    /// Generator seed.
    pub seed: u64,
    /// "Now" of the organization: dates are generated before it (closed pull requests
    /// within the last 30 days of it).
    pub now: jiff::Timestamp,
}

impl OrgSpec {
    /// A tiny organization for unit-sized tests.
    #[must_use]
    pub fn small() -> Self {
        OrgSpec {
            name: "acme".into(),
            projects: 2,
            teams_per_project: 1,
            repos_per_project: 3,
            branches_per_repo: 2,
            pull_requests: 20,
            work_items: 100,
            pipelines: 5,
            builds: 30,
            releases: 6,
            users: 4,
            iterations_per_team: 4,
            area_depth: 3,
            alerts_per_repo: 3,
            wiki_pages: 5,
            delivery: DeliverySpec::small(),
            seed: 7,
            now: fixed_now(),
        }
    }

    /// The benchmark organization: 10 projects, 200 repositories, 2,000 pull requests,
    /// 20,000 work items, 500 pipelines, 5,000 builds (and their runs and timelines),
    /// 30 environments with 600 deployment records, 50 release definitions, 500 release
    /// deployments, 1,000 test runs with 25,000 results; 12 sprints per project, area trees
    /// four levels deep, 10 alerts per onboarded repository, 120 pages per wiki (two pages
    /// batches).
    #[must_use]
    pub fn reference() -> Self {
        OrgSpec {
            name: "acme".into(),
            projects: 10,
            teams_per_project: 1,
            repos_per_project: 20,
            branches_per_repo: 3,
            pull_requests: 2_000,
            work_items: 20_000,
            pipelines: 500,
            builds: 5_000,
            releases: 0,
            users: 50,
            iterations_per_team: 12,
            area_depth: 4,
            alerts_per_repo: 10,
            wiki_pages: 120,
            delivery: DeliverySpec::reference(),
            seed: 42,
            now: fixed_now(),
        }
    }
}

fn fixed_now() -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_780_272_000).unwrap_or(jiff::Timestamp::UNIX_EPOCH) // 2026-06-01T00:00:00Z
}

/// The generated organization, indexed the way the fake server serves it.
#[derive(Clone, Debug, Default)]
pub struct SyntheticOrg {
    /// The organization name.
    pub name: String,
    /// Projects as the list endpoint returns them.
    pub projects: Vec<Value>,
    /// Per project id: the default team reference and extra detail fields of `GET project`.
    pub project_details: HashMap<String, Value>,
    /// Per project id: tag names.
    pub project_tags: HashMap<String, Vec<String>>,
    /// Teams as `GET _apis/teams` returns them (organization-wide).
    pub teams: Vec<Value>,
    /// Per team id: members.
    pub team_members: HashMap<String, Vec<Value>>,
    /// Per team id: boards with their full details.
    pub boards: HashMap<String, Vec<Value>>,
    /// Users, entitlement shape.
    pub entitlements: Vec<Value>,
    /// Users, graph shape.
    pub graph_users: Vec<Value>,
    /// Graph groups: each project's Contributors and Readers, and one organization group.
    pub groups: Vec<Value>,
    /// Per user descriptor: the descriptors of the groups it belongs to directly.
    pub memberships_up: HashMap<String, Vec<String>>,
    /// Repositories, in project order.
    pub repos: Vec<Value>,
    /// Per repository id: files of the default branch (path → text).
    pub files: HashMap<String, HashMap<String, String>>,
    /// Per repository id, per other branch: its files (a branch not here that the
    /// repository's refs name has the default branch's files).
    pub branch_files: HashMap<String, HashMap<String, HashMap<String, String>>>,
    /// Per repository id: refs.
    pub refs: HashMap<String, Vec<Value>>,
    /// Per repository id: policy configurations scoped to its default branch.
    pub policies: HashMap<String, Vec<Value>>,
    /// Per project id: policy configurations scoped to no repository (every repository).
    pub project_policies: HashMap<String, Vec<Value>>,
    /// Pull requests, newest first.
    pub pull_requests: Vec<Value>,
    /// Pipelines (each has `__project` stripped: the project id is in `pipeline_project`).
    pub pipelines: Vec<Value>,
    /// Per pipeline id: its project id.
    pub pipeline_project: HashMap<u64, String>,
    /// Per pipeline id: its build definition.
    pub definitions: HashMap<u64, Value>,
    /// Builds, newest first.
    pub builds: Vec<Value>,
    /// Per build id − 1: the build's changes (a third of builds have none with a timestamp).
    pub build_changes: Vec<Vec<Value>>,
    /// Source commits of builds, by sha.
    pub commits: HashMap<String, Value>,
    /// Releases, newest first.
    pub releases: Vec<Value>,
    /// Work items by id (full, `$expand=All` shape).
    pub work_items: Vec<Value>,
    /// Per group descriptor: the descriptors of its direct members (users and groups).
    pub memberships_down: HashMap<String, Vec<String>>,
    /// Per team id: the iterations it subscribes to (`teamsettings/iterations` shape).
    pub iterations: HashMap<String, Vec<Value>>,
    /// Per project id: its root area node, with every level of `children`.
    pub areas: HashMap<String, Value>,
    /// Per repository id: its Advanced Security alerts; a repository that is not here is not
    /// onboarded to Advanced Security.
    pub alerts: HashMap<String, Vec<Value>>,
    /// Per project id: its wikis (`wiki/wikis` shape).
    pub wikis: HashMap<String, Vec<Value>>,
    /// Per wiki id: its pages in full (`pages/{id}?includeContent=true` shape), in list order.
    pub wiki_pages: HashMap<String, Vec<Value>>,
    /// Timelines, runs, environments, release definitions and deployments, test runs.
    pub delivery: Delivery,
}

struct Gen {
    rng: fastrand::Rng,
}

impl Gen {
    fn guid(&mut self) -> String {
        let a = self.rng.u64(..);
        let b = self.rng.u64(..);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
    fn sha(&mut self) -> String {
        format!(
            "{:016x}{:016x}{:08x}",
            self.rng.u64(..),
            self.rng.u64(..),
            self.rng.u32(..)
        )
    }
}

fn ts(now: jiff::Timestamp, minutes_before: i64) -> String {
    (now - jiff::SignedDuration::from_mins(minutes_before)).to_string()
}

fn identity(base: &str, user: &Value) -> Value {
    let id = &user["id"];
    json!({
        "displayName": user["user"]["displayName"],
        "url": format!("https://spsprodweu5.vssps.visualstudio.com/_apis/Identities/{}", id.as_str().unwrap_or_default()),
        "_links": {"avatar": {"href": format!("{base}/_apis/GraphProfile/MemberAvatars/{}", user["user"]["descriptor"].as_str().unwrap_or_default())}},
        "id": id,
        "uniqueName": user["user"]["principalName"],
        "imageUrl": format!("{base}/_api/_common/identityImage?id={}", id.as_str().unwrap_or_default()),
        "descriptor": user["user"]["descriptor"],
    })
}

/// Generates the organization `spec` describes.
#[must_use]
#[allow(clippy::too_many_lines)] // One linear recipe, one block per kind: splitting it hides the order.
pub fn generate(spec: &OrgSpec) -> SyntheticOrg {
    let mut g = Gen {
        rng: fastrand::Rng::with_seed(spec.seed),
    };
    let now = spec.now;
    let org = spec.name.clone();
    let base = format!("https://dev.azure.com/{org}");
    let mut out = SyntheticOrg {
        name: org.clone(),
        ..SyntheticOrg::default()
    };

    // Users.
    let first = [
        "Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances",
    ];
    let last = [
        "Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen",
    ];
    for i in 0..spec.users.max(1) {
        let id = g.guid();
        let display = format!(
            "{} {}",
            first[i % first.len()],
            last[(i / first.len() + i) % last.len()]
        );
        let mail = format!("user{i}@{org}.example.com");
        let descriptor = format!(
            "aad.{}",
            id.replace('-', "").chars().take(24).collect::<String>()
        );
        let user = json!({
            "subjectKind": "user", "metaType": "member", "directoryAlias": format!("user{i}"),
            "domain": "3f2b6c1e-0000-4000-8000-000000000001", "principalName": mail,
            "mailAddress": mail, "origin": "aad", "originId": g.guid(), "displayName": display,
            "_links": {"self": {"href": format!("https://vssps.dev.azure.com/{org}/_apis/Graph/Users/{descriptor}")}},
            "url": format!("https://vssps.dev.azure.com/{org}/_apis/Graph/Users/{descriptor}"),
            "descriptor": descriptor,
        });
        out.graph_users.push(user.clone());
        out.entitlements.push(json!({
            "id": id, "user": user,
            "accessLevel": {"licensingSource": "account", "accountLicenseType": if i % 3 == 0 { "stakeholder" } else { "express" },
                "msdnLicenseType": "none", "gitHubLicenseType": "none",
                "licenseDisplayName": if i % 3 == 0 { "Stakeholder" } else { "Basic" },
                "status": "active", "statusMessage": "", "assignmentSource": "unknown"},
            "lastAccessedDate": ts(now, 60 * (i as i64 + 1)), "dateCreated": ts(now, 60 * 24 * (200 + i as i64)),
            "projectEntitlements": [], "extensions": [], "groupAssignments": [],
        }));
    }
    let person = |i: usize| identity(&base, &out.entitlements[i % out.entitlements.len()]);
    let people: Vec<Value> = (0..out.entitlements.len()).map(person).collect();

    // Projects and teams.
    let mut project_refs = Vec::new();
    for p in 0..spec.projects {
        let id = g.guid();
        let name = format!("project-{p:02}");
        let project = json!({
            "id": id, "name": name, "description": format!("Synthetic project {p}"),
            "url": format!("{base}/_apis/projects/{id}"), "state": "wellFormed",
            "revision": 400 + p, "visibility": "private", "lastUpdateTime": ts(now, 60 * 24 * (30 + p as i64)),
        });
        let short = json!({
            "id": id, "name": name, "url": format!("{base}/_apis/projects/{id}"), "state": "wellFormed",
            "revision": 400 + p, "visibility": "private", "lastUpdateTime": project["lastUpdateTime"],
        });
        let mut default_team = Value::Null;
        for t in 0..spec.teams_per_project.max(1) {
            let team_id = g.guid();
            let team_name = if t == 0 {
                format!("{name} Team")
            } else {
                format!("{name} Team {t}")
            };
            let team = json!({
                "id": team_id, "name": team_name,
                "url": format!("{base}/_apis/projects/{id}/teams/{team_id}"),
                "description": if t == 0 { "The default project team.".to_owned() } else { format!("Team {t}") },
                "identityUrl": format!("https://spsprodweu5.vssps.visualstudio.com/_apis/Identities/{team_id}"),
                "projectName": name, "projectId": id,
            });
            if t == 0 {
                default_team = json!({"id": team_id, "name": team_name, "url": team["url"]});
            }
            let members: Vec<Value> = (0..3.min(people.len()))
                .map(|m| {
                    let mut member = json!({"identity": people[(p + t + m) % people.len()]});
                    if m == 0 {
                        member["isTeamAdmin"] = Value::Bool(true);
                    }
                    member
                })
                .collect();
            out.team_members.insert(team_id.clone(), members);
            out.boards
                .insert(team_id.clone(), boards(&mut g, &base, &id, &team_id));
            out.teams.push(team);
        }
        out.project_details.insert(
            id.clone(),
            json!({
                "defaultTeam": default_team,
                "capabilities": {"versioncontrol": {"sourceControlType": "Git", "gitEnabled": "true", "tfvcEnabled": "false"},
                                  "processTemplate": {"templateName": "Agile", "templateTypeId": "adcc42ab-9882-485e-a3ed-7678f01f66bc"}},
                "_links": {"self": {"href": format!("{base}/_apis/projects/{id}")},
                           "collection": {"href": format!("{base}/_apis/projectCollections/{}", "c0ffee00-0000-4000-8000-000000000000")},
                           "web": {"href": format!("{base}/{name}")}},
            }),
        );
        out.project_tags.insert(
            id.clone(),
            if p % 5 == 4 {
                vec!["archived".into()]
            } else {
                Vec::new()
            },
        );
        out.projects.push(project);
        project_refs.push(short);
    }

    // Graph groups and direct memberships.
    let group = |g: &mut Gen, scope: &str, name: &str, domain: String| {
        let descriptor = format!("vssgp.{}", g.guid().replace('-', ""));
        json!({
            "subjectKind": "group", "description": format!("Members of {name}"),
            "domain": domain, "principalName": format!("[{scope}]\\{name}"), "mailAddress": null,
            "origin": "vsts", "originId": g.guid(), "displayName": name,
            "_links": {"self": {"href": format!("https://vssps.dev.azure.com/{org}/_apis/Graph/Groups/{descriptor}")}},
            "url": format!("https://vssps.dev.azure.com/{org}/_apis/Graph/Groups/{descriptor}"),
            "descriptor": descriptor,
        })
    };
    let everyone = group(
        &mut g,
        &org,
        "Project Collection Valid Users",
        format!(
            "vstfs:///Framework/IdentityDomain/{}",
            "c0ffee00-0000-4000-8000-000000000000"
        ),
    );
    let mut per_project = Vec::new();
    for project in &project_refs {
        let name = project["name"].as_str().unwrap_or_default().to_owned();
        let domain = format!(
            "vstfs:///Classification/TeamProject/{}",
            project["id"].as_str().unwrap_or_default()
        );
        let contributors = group(&mut g, &name, "Contributors", domain.clone());
        let readers = group(&mut g, &name, "Readers", domain);
        per_project.push((contributors, readers));
    }
    for (i, user) in out.graph_users.iter().enumerate() {
        let mut groups = vec![
            everyone["descriptor"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ];
        if !per_project.is_empty() {
            groups.push(
                per_project[i % per_project.len()].0["descriptor"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
            groups.push(
                per_project[(i + 1) % per_project.len()].1["descriptor"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        out.memberships_up.insert(
            user["descriptor"].as_str().unwrap_or_default().to_owned(),
            groups,
        );
    }
    out.groups.push(everyone);
    for (contributors, readers) in per_project {
        out.groups.push(contributors);
        out.groups.push(readers);
    }

    // A project-wide policy per project: it applies to every repository's default branch.
    for (p, project) in project_refs.iter().enumerate() {
        let project_id = project["id"].as_str().unwrap_or_default().to_owned();
        out.project_policies.insert(
            project_id.clone(),
            vec![json!({
                "createdBy": people[p % people.len()], "createdDate": ts(now, 60 * 24 * 120),
                "isEnabled": true, "isBlocking": false, "isDeleted": false,
                "settings": {"scope": [{"repositoryId": null}], "message": null},
                "isEnterpriseManaged": false, "_links": {}, "revision": 1, "id": 1 + p,
                "url": format!("{base}/{project_id}/_apis/policy/configurations/{}", 1 + p),
                "type": {"id": "c6a1889d-b943-4856-b76f-9e46bb6b0df2",
                         "url": format!("{base}/{project_id}/_apis/policy/types/c6a1889d-b943-4856-b76f-9e46bb6b0df2"),
                         "displayName": "Comment requirements"},
            })],
        );
    }

    // Repositories, files, refs, policies.
    for (p, project) in project_refs.iter().enumerate() {
        let project_name = project["name"].as_str().unwrap_or_default().to_owned();
        let project_id = project["id"].as_str().unwrap_or_default().to_owned();
        for r in 0..spec.repos_per_project {
            let id = g.guid();
            let name = format!("{project_name}-repo-{r:02}");
            let repo = json!({
                "id": id, "name": name,
                "url": format!("{base}/{project_id}/_apis/git/repositories/{id}"),
                "project": project,
                "defaultBranch": "refs/heads/main",
                "size": 10_000 + g.rng.u64(..1_000_000),
                "remoteUrl": format!("https://{org}@dev.azure.com/{org}/{project_name}/_git/{name}"),
                "sshUrl": format!("git@ssh.dev.azure.com:v3/{org}/{project_name}/{name}"),
                "webUrl": format!("{base}/{project_name}/_git/{name}"),
                "isDisabled": false, "isInMaintenance": false,
            });
            let mut files = HashMap::new();
            files.insert(
                "/README.md".to_owned(),
                format!("# {name}\n\nService {r} of {project_name}.\n"),
            );
            if r % 2 == 0 {
                files.insert(
                    "/CODEOWNERS".to_owned(),
                    format!("* @{project_name}-team\n"),
                );
            }
            out.files.insert(id.clone(), files);
            let branches: Vec<Value> = (0..spec.branches_per_repo.max(1))
                .map(|b| {
                    let branch = match b {
                        0 => "main".to_owned(),
                        1 => "develop".to_owned(),
                        n => format!("feature/change-{n}"),
                    };
                    json!({
                        "name": format!("refs/heads/{branch}"), "objectId": g.sha(),
                        "creator": people[(p + r + b) % people.len()],
                        "url": format!("{base}/{project_id}/_apis/git/repositories/{id}/refs?filter=heads%2F{branch}"),
                    })
                })
                .collect();
            out.refs.insert(id.clone(), branches);
            let scope =
                json!([{"refName": "refs/heads/main", "matchKind": "exact", "repositoryId": id}]);
            let policies = vec![
                json!({
                    "createdBy": people[p % people.len()], "createdDate": ts(now, 60 * 24 * 90),
                    "isEnabled": true, "isBlocking": true, "isDeleted": false,
                    "settings": {"minimumApproverCount": 1 + (r % 3), "creatorVoteCounts": false,
                                 "allowDownvotes": false, "resetOnSourcePush": true, "scope": scope},
                    "isEnterpriseManaged": false, "_links": {}, "revision": 1, "id": 1000 + out.repos.len() * 2,
                    "url": format!("{base}/{project_id}/_apis/policy/configurations/{}", 1000 + out.repos.len() * 2),
                    "type": {"id": "fa4e907d-c16b-4a4c-9dfa-4906e5d171dd",
                             "url": format!("{base}/{project_id}/_apis/policy/types/fa4e907d-c16b-4a4c-9dfa-4906e5d171dd"),
                             "displayName": "Minimum number of reviewers"},
                }),
                json!({
                    "createdBy": people[p % people.len()], "createdDate": ts(now, 60 * 24 * 90),
                    "isEnabled": r % 2 == 0, "isBlocking": true, "isDeleted": false,
                    "settings": {"scope": scope}, "isEnterpriseManaged": false, "_links": {}, "revision": 1,
                    "id": 1001 + out.repos.len() * 2,
                    "url": format!("{base}/{project_id}/_apis/policy/configurations/{}", 1001 + out.repos.len() * 2),
                    "type": {"id": "40e92b44-2fe1-4dd6-b3d8-74a9c21d0c6e",
                             "url": format!("{base}/{project_id}/_apis/policy/types/40e92b44-2fe1-4dd6-b3d8-74a9c21d0c6e"),
                             "displayName": "Work item linking"},
                }),
            ];
            out.policies.insert(id.clone(), policies);
            out.repos.push(repo);
        }
    }

    // Pull requests: 30 % active, the rest completed or abandoned within the last 30 days.
    let repo_count = out.repos.len();
    if repo_count > 0 {
        for i in (0..spec.pull_requests).rev() {
            let repo = &out.repos[i % repo_count];
            let pr_id = i + 1;
            let status = match i % 10 {
                0..=2 => "active",
                3..=7 => "completed",
                _ => "abandoned",
            };
            let created = 60 * 24 * 45 - (i as i64 * 7) % (60 * 24 * 40);
            let closed_before = (i as i64 * 131) % (60 * 24 * 30);
            let project = &repo["project"];
            let project_id = project["id"].as_str().unwrap_or_default();
            let repo_id = repo["id"].as_str().unwrap_or_default();
            let author = people[i % people.len()].clone();
            let mut reviewer = people[(i + 1) % people.len()].clone();
            if let Value::Object(map) = &mut reviewer {
                map.insert("reviewerUrl".into(), json!(format!("{base}/{project_id}/_apis/git/repositories/{repo_id}/pullRequests/{pr_id}/reviewers/{}", reviewer_id(&people[(i + 1) % people.len()]))));
                map.insert(
                    "vote".into(),
                    json!(if status == "completed" { 10 } else { 0 }),
                );
                map.insert("hasDeclined".into(), json!(false));
                map.insert("isFlagged".into(), json!(false));
            }
            let mut pr = json!({
                "repository": {"id": repo_id, "name": repo["name"], "url": repo["url"], "project": project},
                "pullRequestId": pr_id, "codeReviewId": pr_id, "status": status,
                "createdBy": author, "creationDate": ts(now, created.max(closed_before + 60)),
                "title": format!("Change {pr_id}: improve {}", repo["name"].as_str().unwrap_or_default()),
                "description": format!("Implements change {pr_id}."),
                "sourceRefName": format!("refs/heads/feature/change-{pr_id}"), "targetRefName": "refs/heads/main",
                "mergeStatus": "succeeded", "isDraft": i % 17 == 0, "mergeId": g.guid(),
                "lastMergeSourceCommit": {"commitId": g.sha(), "url": format!("{base}/{project_id}/_apis/git/repositories/{repo_id}/commits")},
                "lastMergeTargetCommit": {"commitId": g.sha(), "url": format!("{base}/{project_id}/_apis/git/repositories/{repo_id}/commits")},
                "reviewers": [reviewer], "labels": [],
                "url": format!("{base}/{project_id}/_apis/git/repositories/{repo_id}/pullRequests/{pr_id}"),
                "supportsIterations": true,
            });
            if status != "active" {
                pr["closedDate"] = json!(ts(now, closed_before));
                pr["closedBy"] = people[(i + 2) % people.len()].clone();
            }
            if status == "completed" {
                pr["lastMergeCommit"] = json!({"commitId": g.sha(), "url": format!("{base}/{project_id}/_apis/git/repositories/{repo_id}/commits")});
                pr["completionOptions"] = json!({"mergeCommitMessage": format!("Merged PR {pr_id}"), "deleteSourceBranch": true, "mergeStrategy": "squash"});
            }
            out.pull_requests.push(pr);
        }
    }

    // Pipelines, definitions, builds.
    if !project_refs.is_empty() {
        for i in 0..spec.pipelines {
            let project = &project_refs[i % project_refs.len()];
            let project_id = project["id"].as_str().unwrap_or_default().to_owned();
            let id = (i + 1) as u64;
            let name = format!(
                "{}-pipeline-{i:03}",
                project["name"].as_str().unwrap_or_default()
            );
            out.pipelines.push(json!({
                "_links": {"self": {"href": format!("{base}/{project_id}/_apis/pipelines/{id}?revision=1")},
                           "web": {"href": format!("{base}/{project_id}/_build/definition?definitionId={id}")}},
                "url": format!("{base}/{project_id}/_apis/pipelines/{id}?revision=1"),
                "id": id, "revision": 1 + (i % 4), "name": name, "folder": "\\",
            }));
            out.pipeline_project.insert(id, project_id.clone());
            let repos_here: Vec<&Value> = out
                .repos
                .iter()
                .filter(|r| r["project"]["id"] == project["id"])
                .collect();
            let repo = repos_here
                .get(i % repos_here.len().max(1))
                .map_or(Value::Null, |r| (*r).clone());
            out.definitions.insert(id, json!({
                "id": id, "name": name, "path": "\\", "type": "build", "queueStatus": "enabled", "revision": 1,
                "repository": {"id": repo["id"], "type": "TfsGit", "name": repo["name"], "url": repo["remoteUrl"],
                               "defaultBranch": "refs/heads/main", "clean": null, "checkoutSubmodules": false,
                               "properties": {"cleanOptions": "0", "reportBuildStatus": "true"}},
                "project": project,
            }));
        }
        let pipeline_count = out.pipelines.len().max(1);
        for i in (0..spec.builds).rev() {
            let pipeline_id = (i % pipeline_count) as u64 + 1;
            let project_id = out
                .pipeline_project
                .get(&pipeline_id)
                .cloned()
                .unwrap_or_default();
            let project = project_refs
                .iter()
                .find(|p| p["id"] == project_id.as_str())
                .cloned()
                .unwrap_or(Value::Null);
            let definition = out
                .definitions
                .get(&pipeline_id)
                .cloned()
                .unwrap_or(Value::Null);
            let id = (i + 1) as u64;
            let queued = (spec.builds - i) as i64 * 13;
            let requester = people[i % people.len()].clone();
            out.builds.push(json!({
                "_links": {"self": {"href": format!("{base}/{project_id}/_apis/build/Builds/{id}")},
                           "web": {"href": format!("{base}/{project_id}/_build/results?buildId={id}")}},
                "properties": {}, "tags": [], "validationResults": [],
                "plans": [{"planId": g.guid()}],
                "triggerInfo": {"ci.sourceBranch": "refs/heads/main", "ci.sourceSha": g.sha()},
                "id": id, "buildNumber": format!("2026{:04}.{}", i / 10, i % 10 + 1),
                "status": "completed", "result": if i % 7 == 0 { "failed" } else { "succeeded" },
                "queueTime": ts(now, queued + 3), "startTime": ts(now, queued + 2), "finishTime": ts(now, queued),
                "url": format!("{base}/{project_id}/_apis/build/Builds/{id}"),
                "definition": {"drafts": [], "id": pipeline_id, "name": definition["name"],
                               "url": format!("{base}/{project_id}/_apis/build/Definitions/{pipeline_id}?revision=1"),
                               "uri": format!("vstfs:///Build/Definition/{pipeline_id}"), "path": "\\", "type": "build",
                               "queueStatus": "enabled", "revision": 1, "project": project},
                "buildNumberRevision": 1, "project": project,
                "uri": format!("vstfs:///Build/Build/{id}"),
                "sourceBranch": "refs/heads/main", "sourceVersion": g.sha(),
                "queue": {"id": 9, "name": "Azure Pipelines", "pool": {"id": 9, "name": "Azure Pipelines", "isHosted": true}},
                "priority": "normal", "reason": if i % 3 == 0 { "manual" } else { "individualCI" },
                "requestedFor": requester, "requestedBy": requester,
                "lastChangedDate": ts(now, queued), "lastChangedBy": requester,
                "orchestrationPlan": {"planId": g.guid()},
                "logs": {"id": 0, "type": "Container", "url": format!("{base}/{project_id}/_apis/build/builds/{id}/logs")},
                "repository": {"id": definition["repository"]["id"], "type": "TfsGit", "clean": null, "checkoutSubmodules": false},
                "retainedByRelease": false, "triggeredByBuild": null, "appendCommitMessageToRunName": true,
            }));
        }
        // Changes of each build, and its source commit.
        out.build_changes = vec![Vec::new(); out.builds.len()];
        for build in &out.builds {
            let id = build["id"].as_u64().unwrap_or(0);
            let project_id = build["project"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let sha = build["sourceVersion"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let queued = build["queueTime"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .unwrap_or(now);
            let author = people[(id as usize) % people.len()].clone();
            let changes: Vec<Value> = (0..(1 + id % 3))
                .map(|n| {
                    let commit = if n == 0 { sha.clone() } else { g.sha() };
                    let mut change = json!({
                        "id": commit, "message": format!("Change {n} of build {id}"), "type": "TfsGit",
                        "author": author,
                        "location": format!("{base}/{project_id}/_apis/git/repositories/{}/commits/{commit}", build["repository"]["id"].as_str().unwrap_or_default()),
                        "displayUri": format!("{base}/{project_id}/_git/commit/{commit}"),
                    });
                    // A third of the builds report changes without timestamps: Port then
                    // reads the source commit instead.
                    if id % 3 != 0 {
                        change["timestamp"] = json!((queued - jiff::SignedDuration::from_mins(30 * (n as i64 + 1))).to_string());
                    }
                    change
                })
                .collect();
            if let Some(slot) = usize::try_from(id)
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| out.build_changes.get_mut(i))
            {
                *slot = changes;
            }
            out.commits.insert(sha.clone(), json!({
                "commitId": sha, "author": {"name": author["displayName"], "email": author["uniqueName"], "date": (queued - jiff::SignedDuration::from_mins(90)).to_string()},
                "committer": {"name": author["displayName"], "email": author["uniqueName"], "date": (queued - jiff::SignedDuration::from_mins(60)).to_string()},
                "comment": format!("Source of build {id}"), "changeCounts": {"Add": 1, "Edit": 2, "Delete": 0},
                "url": format!("{base}/{project_id}/_apis/git/repositories/{}/commits/{sha}", build["repository"]["id"].as_str().unwrap_or_default()),
                "remoteUrl": format!("{base}/{project_id}/_git/commit/{sha}"),
            }));
        }
        // Releases.
        for i in (0..spec.releases).rev() {
            let project = &project_refs[i % project_refs.len()];
            let project_id = project["id"].as_str().unwrap_or_default();
            let id = (i + 1) as u64;
            let definition_id = (i % 3) as u64 + 1;
            let creator = people[i % people.len()].clone();
            out.releases.push(json!({
                "id": id, "name": format!("Release-{id}"),
                "status": if i % 4 == 3 { "abandoned" } else { "active" }, "reason": "manual",
                "createdOn": ts(now, 600 - i as i64), "modifiedOn": ts(now, 590 - i as i64),
                "modifiedBy": creator, "createdBy": creator, "createdFor": creator,
                "variables": {}, "variableGroups": [],
                "releaseDefinition": {"id": definition_id, "name": format!("Deploy-{definition_id}"), "path": "\\",
                    "projectReference": null,
                    "url": format!("https://vsrm.dev.azure.com/{org}/{project_id}/_apis/Release/definitions/{definition_id}"),
                    "_links": {}},
                "releaseDefinitionRevision": 1, "description": "", "reason": "manual",
                "releaseNameFormat": "Release-$(rev:r)", "keepForever": false, "definitionSnapshotRevision": 1,
                "logsContainerUrl": format!("https://vsrm.dev.azure.com/{org}/{project_id}/_apis/Release/releases/{id}/logs"),
                "url": format!("https://vsrm.dev.azure.com/{org}/{project_id}/_apis/Release/releases/{id}"),
                "_links": {"self": {"href": format!("https://vsrm.dev.azure.com/{org}/{project_id}/_apis/Release/releases/{id}")},
                           "web": {"href": format!("{base}/{project_id}/_release?releaseId={id}&_a=release-summary")}},
                "tags": [], "triggeringArtifactAlias": null,
                "projectReference": {"id": project_id, "name": project["name"]},
                "properties": {},
            }));
        }
    }

    // Work items: ids are organization-wide; item i belongs to project i % projects.
    let types = ["User Story", "Task", "Bug", "Feature", "Epic"];
    let states = ["New", "Active", "Resolved", "Closed"];
    // A work item carries one `WEF_<board>_Kanban.Column` field per board its type is on,
    // valued with the column its state maps to, as ADO returns it with `$expand=All`.
    let mut kanban: HashMap<String, Vec<(String, String, String, String)>> = HashMap::new();
    for team in &out.teams {
        let (Some(project_id), Some(team_id)) = (team["projectId"].as_str(), team["id"].as_str())
        else {
            continue;
        };
        for board in out.boards.get(team_id).into_iter().flatten() {
            let Some(field) = board
                .pointer("/fields/columnField/referenceName")
                .and_then(Value::as_str)
            else {
                continue;
            };
            for column in board["columns"].as_array().into_iter().flatten() {
                for (wit, state) in column["stateMappings"].as_object().into_iter().flatten() {
                    kanban.entry(project_id.to_owned()).or_default().push((
                        field.to_owned(),
                        wit.clone(),
                        state.as_str().unwrap_or_default().to_owned(),
                        column["name"].as_str().unwrap_or_default().to_owned(),
                    ));
                }
            }
        }
    }
    if !project_refs.is_empty() {
        for i in 0..spec.work_items {
            let id = (i + 1) as u64;
            let project = &project_refs[i % project_refs.len()];
            let name = project["name"].as_str().unwrap_or_default();
            let project_id = project["id"].as_str().unwrap_or_default();
            let kind = types[i % types.len()];
            let state = states[(i / types.len()) % states.len()];
            let who = people[i % people.len()].clone();
            let changed = (i as i64 * 17) % (60 * 24 * 60);
            let url = format!("{base}/{project_id}/_apis/wit/workItems/{id}");
            out.work_items.push(json!({
                "id": id, "rev": 1 + (i % 9),
                "fields": {
                    "System.AreaPath": name, "System.TeamProject": name,
                    "System.IterationPath": format!("{name}\\Sprint {}", 1 + i % 12),
                    "System.WorkItemType": kind, "System.State": state,
                    "System.Reason": if state == "New" { "New" } else { "Work started" },
                    "System.AssignedTo": who, "System.CreatedDate": ts(now, changed + 60 * 24 * 3),
                    "System.CreatedBy": people[(i + 1) % people.len()], "System.ChangedDate": ts(now, changed),
                    "System.ChangedBy": who, "System.CommentCount": i % 5,
                    "System.Title": format!("{kind} {id}: make the {} faster", ["parser", "exporter", "cache", "login page"][i % 4]),
                    "System.BoardColumn": state, "System.BoardColumnDone": false,
                    "Microsoft.VSTS.Common.StateChangeDate": ts(now, changed),
                    "Microsoft.VSTS.Common.Priority": 1 + i % 4,
                    "Microsoft.VSTS.Common.ValueArea": "Business",
                    "Microsoft.VSTS.Scheduling.StoryPoints": (i % 8) as f64,
                    "System.Description": format!("<div>Details of work item {id}. Acceptance criteria follow in the linked items.</div>"),
                    "System.Tags": if i % 3 == 0 { "backend; performance" } else { "frontend" },
                },
                "relations": if i > 0 { json!([{"rel": "System.LinkTypes.Hierarchy-Reverse",
                    "url": format!("{base}/{project_id}/_apis/wit/workItems/{}", i), "attributes": {"isLocked": false, "name": "Parent"}}]) } else { json!([]) },
                "_links": {"self": {"href": url}, "workItemUpdates": {"href": format!("{url}/updates")},
                           "workItemRevisions": {"href": format!("{url}/revisions")},
                           "workItemComments": {"href": format!("{base}/{project_id}/_apis/wit/workItems/{id}/comments")},
                           "html": {"href": format!("{base}/{project_id}/_workitems/edit/{id}")},
                           "workItemType": {"href": format!("{base}/{project_id}/_apis/wit/workItemTypes/{}", kind.replace(' ', "%20"))},
                           "fields": {"href": format!("{base}/{project_id}/_apis/wit/fields")}},
                "url": url,
            }));
            if let Some(fields) = out
                .work_items
                .last_mut()
                .and_then(|w| w["fields"].as_object_mut())
            {
                for (field, wit, column_state, column) in
                    kanban.get(project_id).into_iter().flatten()
                {
                    if wit == kind && column_state == state {
                        fields.insert(field.clone(), Value::String(column.clone()));
                    }
                }
            }
        }
    }
    super::synthetic_org_kinds::generate(spec, &mut out);
    super::synthetic_files::generate(&mut out);
    out.delivery = super::synthetic_pipelines::generate(spec, &out);
    out
}

fn reviewer_id(user: &Value) -> String {
    user["id"].as_str().unwrap_or_default().to_owned()
}

fn boards(g: &mut Gen, base: &str, project_id: &str, team_id: &str) -> Vec<Value> {
    let levels = [
        ("Epics", "Epic"),
        ("Features", "Feature"),
        ("Stories", "User Story"),
    ];
    levels
        .iter()
        .map(|(name, wit)| {
            let id = g.guid();
            let columns: Vec<Value> = [("New", "incoming"), ("Active", "inProgress"), ("Resolved", "inProgress"), ("Closed", "outgoing")]
                .iter()
                .map(|(state, column_type)| {
                    json!({"id": g.guid(), "name": state, "itemLimit": if *column_type == "inProgress" { 5 } else { 0 },
                           "stateMappings": {*wit: state}, "columnType": column_type,
                           "isSplit": false, "description": ""})
                })
                .collect();
            json!({
                "id": id, "url": format!("{base}/{project_id}/{team_id}/_apis/work/boards/{id}"), "name": name,
                "revision": 0, "columns": columns, "rows": [{"id": "00000000-0000-0000-0000-000000000000", "name": null}],
                "isValid": true,
                "allowedMappings": {"Incoming": {*wit: ["New"]}, "InProgress": {*wit: ["Active", "Resolved", "New"]}, "Outgoing": {*wit: ["Closed"]}},
                "canEdit": true,
                "fields": {"columnField": {"referenceName": format!("WEF_{}_Kanban.Column", id.replace('-', "").to_uppercase()), "url": format!("{base}/_apis/wit/fields/WEF_Kanban.Column")},
                           "rowField": {"referenceName": format!("WEF_{}_Kanban.Lane", id.replace('-', "").to_uppercase()), "url": format!("{base}/_apis/wit/fields/WEF_Kanban.Lane")},
                           "doneField": {"referenceName": format!("WEF_{}_Kanban.Column.Done", id.replace('-', "").to_uppercase()), "url": format!("{base}/_apis/wit/fields/WEF_Kanban.Column.Done")}},
                "_links": {"self": {"href": format!("{base}/{project_id}/{team_id}/_apis/work/boards/{id}")}},
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_organization() {
        let a = generate(&OrgSpec::small());
        let b = generate(&OrgSpec::small());
        assert_eq!(a.projects, b.projects);
        assert_eq!(a.work_items, b.work_items);
        assert_eq!(a.pull_requests.len(), 20);
        assert_eq!(a.repos.len(), 6);
        assert_eq!(a.builds.len(), 30);
    }
}
