//! The synthetic organization's group memberships, iterations, area trees, Advanced
//! Security alerts and wikis, shaped like ADO's payloads (the REST reference's samples):
//! what the `group-member`, `iteration`, `area-path`, `advanced-security-alert` and `wiki`
//! kinds read. `synthetic_org::generate` calls [`generate`] last, over what it made.
//!
//! It draws from its own seeded generator, so adding it left everything generated before it
//! byte for byte the same.
//!
//! - Groups: each group's direct members are the users that belong to it, and the
//!   organization-wide group also holds every project's Contributors and Readers groups
//!   (nested groups).
//! - Iterations: `iterations_per_team` two-week sprints per project, the second to last
//!   current; every team of the project subscribes to all of them.
//! - Areas: a root area per project (named after it) with three areas, two below each, then
//!   one below each, down to `area_depth` levels.
//! - Alerts: `alerts_per_repo` per repository, except every third repository, which is not
//!   onboarded to Advanced Security; types, severities and states rotate.
//! - Wikis: a project wiki per project, and a code wiki (over the first repository's
//!   `/docs`) in every other project, each with `wiki_pages` pages.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::synthetic_org::{OrgSpec, SyntheticOrg};

/// Adds this family's data to `out`.
pub fn generate(spec: &OrgSpec, out: &mut SyntheticOrg) {
    let mut rng = fastrand::Rng::with_seed(spec.seed ^ 0x6f72_675f_6b69_6e64);
    let base = format!("https://dev.azure.com/{}", out.name);
    memberships(out);
    iterations(spec, &mut rng, &base, out);
    areas(spec, &mut rng, &base, out);
    alerts(spec, &mut rng, out);
    wikis(spec, &mut rng, &base, out);
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

fn sha(rng: &mut fastrand::Rng) -> String {
    format!(
        "{:016x}{:016x}{:08x}",
        rng.u64(..),
        rng.u64(..),
        rng.u32(..)
    )
}

fn text(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_default().to_owned()
}

/// Group → direct members: the users of `memberships_up`, and the project groups nested in
/// the organization-wide group (the first group).
fn memberships(out: &mut SyntheticOrg) {
    let mut down: HashMap<String, Vec<String>> = out
        .groups
        .iter()
        .map(|g| (text(g, "descriptor"), Vec::new()))
        .collect();
    for user in &out.graph_users {
        let descriptor = text(user, "descriptor");
        for group in out.memberships_up.get(&descriptor).into_iter().flatten() {
            down.entry(group.clone())
                .or_default()
                .push(descriptor.clone());
        }
    }
    if let Some((everyone, nested)) = out.groups.split_first() {
        let members = down.entry(text(everyone, "descriptor")).or_default();
        members.extend(nested.iter().map(|g| text(g, "descriptor")));
    }
    out.memberships_down = down;
}

/// Midnight (UTC) of the day `now` falls on.
fn day_of(now: jiff::Timestamp) -> jiff::Timestamp {
    let second = now.as_second();
    jiff::Timestamp::from_second(second - second.rem_euclid(86_400)).unwrap_or(now)
}

fn iterations(spec: &OrgSpec, rng: &mut fastrand::Rng, base: &str, out: &mut SyntheticOrg) {
    let today = day_of(spec.now);
    let count = spec.iterations_per_team;
    // The second to last sprint is the current one.
    let current = count.saturating_sub(2) as i64;
    for project in &out.projects {
        let (project_id, name) = (text(project, "id"), text(project, "name"));
        let sprints: Vec<(String, String, jiff::Timestamp, jiff::Timestamp)> = (0..count)
            .map(|k| {
                let start =
                    today + jiff::SignedDuration::from_hours(24 * (14 * (k as i64 - current) - 7));
                let finish = start + jiff::SignedDuration::from_hours(24 * 11);
                (guid(rng), format!("Sprint {}", k + 1), start, finish)
            })
            .collect();
        for team in out.teams.iter().filter(|t| t["projectId"] == project["id"]) {
            let team_id = text(team, "id");
            let list: Vec<Value> = sprints
                .iter()
                .map(|(id, sprint, start, finish)| {
                    let time_frame = if *finish < today {
                        "past"
                    } else if *start <= today {
                        "current"
                    } else {
                        "future"
                    };
                    json!({
                        "id": id, "name": sprint, "path": format!("{name}\\{sprint}"),
                        "attributes": {"startDate": start.to_string(), "finishDate": finish.to_string(),
                                       "timeFrame": time_frame},
                        "url": format!("{base}/{project_id}/{team_id}/_apis/work/teamsettings/iterations/{id}"),
                    })
                })
                .collect();
            out.iterations.insert(team_id, list);
        }
    }
}

fn areas(spec: &OrgSpec, rng: &mut fastrand::Rng, base: &str, out: &mut SyntheticOrg) {
    let mut next_id = 100_000_u64;
    for project in &out.projects {
        let (project_id, name) = (text(project, "id"), text(project, "name"));
        let root = area_node(
            rng,
            &mut next_id,
            (base, &project_id),
            &name,
            &format!("\\{name}\\Area"),
            spec.area_depth,
            0,
        );
        out.areas.insert(project_id, root);
    }
}

/// An area node named `name` at `path`, with `levels` levels of children below it.
fn area_node(
    rng: &mut fastrand::Rng,
    next_id: &mut u64,
    (base, project_id): (&str, &str),
    name: &str,
    path: &str,
    levels: usize,
    level: usize,
) -> Value {
    *next_id += 1;
    let id = *next_id;
    let names: &[&str] = match level {
        0 => &["Web", "Services", "Platform"],
        1 => &["Core", "Edge"],
        _ => &["Shared"],
    };
    let below = path
        .splitn(4, '\\')
        .nth(3)
        .map(|rest| format!("/{}", rest.replace('\\', "/")))
        .unwrap_or_default();
    let url = format!("{base}/{project_id}/_apis/wit/classificationNodes/Areas{below}");
    let mut node = json!({
        "id": id, "identifier": guid(rng), "name": name, "structureType": "area",
        "hasChildren": levels > 0, "path": path,
        "_links": {"self": {"href": url}},
        "url": url,
    });
    if levels > 0 {
        let children: Vec<Value> = names
            .iter()
            .map(|child| {
                area_node(
                    rng,
                    next_id,
                    (base, project_id),
                    child,
                    &format!("{path}\\{child}"),
                    levels - 1,
                    level + 1,
                )
            })
            .collect();
        node["children"] = Value::Array(children);
    }
    node
}

fn alerts(spec: &OrgSpec, rng: &mut fastrand::Rng, out: &mut SyntheticOrg) {
    let types = ["dependency", "code", "secret"];
    let severities = ["critical", "high", "medium", "low"];
    let states = ["active", "active", "dismissed", "fixed"];
    let mut alert_id = 0_u64;
    for (r, repo) in out.repos.iter().enumerate() {
        if r % 3 == 2 {
            continue;
        }
        let repo_url = text(repo, "webUrl");
        let list: Vec<Value> = (0..spec.alerts_per_repo)
            .map(|a| {
                alert_id += 1;
                let kind = types[(r + a) % types.len()];
                let state = states[a % states.len()];
                let severity = severities[(r * 7 + a) % severities.len()];
                let seen = spec.now - jiff::SignedDuration::from_hours(24 * (40 - a as i64));
                let (title, rule, tool, path) = match kind {
                    "dependency" => (
                        format!("lodash 4.17.{} is vulnerable to prototype pollution", 10 + a),
                        "GHSA-jf85-cpcp-j695", "ComponentGovernance", "package-lock.json",
                    ),
                    "code" => (
                        "Database query built from user-controlled sources".to_owned(),
                        "cs/sql-injection", "CodeQL", "src/Data/Orders.cs",
                    ),
                    _ => (
                        "Azure Storage account access key".to_owned(),
                        "SEC101/106", "Secret scanning", "deploy/settings.json",
                    ),
                };
                let mut alert = json!({
                    "alertId": alert_id, "alertType": kind, "severity": severity, "state": state,
                    "title": title, "gitRef": "refs/heads/main", "repositoryUrl": repo_url,
                    "firstSeenDate": seen.to_string(), "introducedDate": seen.to_string(),
                    "lastSeenDate": (spec.now - jiff::SignedDuration::from_hours(24)).to_string(),
                    "physicalLocations": [{"filePath": path,
                        "region": {"lineStart": 10 + a, "lineEnd": 10 + a, "columnStart": 5, "columnEnd": 42},
                        "versionControl": {"commitHash": sha(rng), "itemUrl": format!("{repo_url}?path=/{path}")}}],
                    "tools": [{"name": tool, "rules": [{"id": rule, "friendlyName": rule,
                        "description": title, "helpMessage": "See the rule's documentation."}]}],
                });
                match kind {
                    "dependency" => {
                        alert["logicalLocations"] = json!([{"fullyQualifiedName": format!("lodash 4.17.{}", 10 + a), "kind": "npm"}]);
                    }
                    "secret" => {
                        alert["confidence"] = json!("high");
                        alert["truncatedSecret"] = json!("DefaultEndpointsProtocol=https;Account...");
                    }
                    _ => {}
                }
                match state {
                    "fixed" => alert["fixedDate"] = json!((spec.now - jiff::SignedDuration::from_hours(48)).to_string()),
                    "dismissed" => {
                        alert["dismissal"] = json!({"dismissalId": alert_id, "dismissalType": "acceptedRisk",
                            "message": "Not reachable from public endpoints.", "stateChangedBy": guid(rng),
                            "requestedOn": (spec.now - jiff::SignedDuration::from_hours(72)).to_string()});
                    }
                    _ => {}
                }
                alert
            })
            .collect();
        out.alerts.insert(text(repo, "id"), list);
    }
}

fn wikis(spec: &OrgSpec, rng: &mut fastrand::Rng, base: &str, out: &mut SyntheticOrg) {
    let mut page_id = 0_u64;
    for (p, project) in out.projects.iter().enumerate() {
        let (project_id, name) = (text(project, "id"), text(project, "name"));
        let mut list = vec![json!({
            "id": guid(rng), "versions": [{"version": "wikiMaster"}], "type": "projectWiki",
            "name": format!("{name}.wiki"), "projectId": project_id, "repositoryId": guid(rng),
            "mappedPath": "/", "isDisabled": false,
        })];
        let code_repo = out
            .repos
            .iter()
            .find(|r| r["project"]["id"] == project["id"]);
        if let Some(repo) = code_repo.filter(|_| p % 2 == 0) {
            list.push(json!({
                "id": guid(rng), "versions": [{"version": "main"}], "type": "codeWiki",
                "name": format!("{} docs", text(repo, "name")), "projectId": project_id,
                "repositoryId": repo["id"], "mappedPath": "/docs", "isDisabled": false,
            }));
        }
        for wiki in &mut list {
            let wiki_id = text(wiki, "id");
            wiki["url"] = json!(format!("{base}/{project_id}/_apis/wiki/wikis/{wiki_id}"));
            wiki["remoteUrl"] = json!(format!("{base}/{project_id}/_wiki/wikis/{wiki_id}"));
            let code = wiki["type"] == "codeWiki";
            let pages: Vec<Value> = (0..spec.wiki_pages)
                .map(|n| {
                    page_id += 1;
                    let (path, parent) = match n {
                        0 => ("/Home".to_owned(), true),
                        n if n % 5 == 1 => (format!("/Runbooks {}", n / 5 + 1), true),
                        n => (format!("/Runbooks {}/Step {n}", n / 5 + 1), false),
                    };
                    let file = format!("{}.md", path.replace(' ', "-"));
                    let git_path = if code { format!("/docs{file}") } else { file };
                    json!({
                        "id": page_id, "path": path, "order": n, "gitItemPath": git_path,
                        "subPages": [], "isParentPage": parent, "isNonConformant": false,
                        "url": format!("{base}/{project_id}/_apis/wiki/wikis/{wiki_id}/pages/{page_id}"),
                        "remoteUrl": format!("{base}/{project_id}/_wiki/wikis/{wiki_id}/{page_id}"),
                        "content": format!("# {}\n\nPage {page_id} of the {} wiki.\n",
                            path.rsplit('/').next().unwrap_or_default(), text(wiki, "name")),
                    })
                })
                .collect();
            out.wiki_pages.insert(wiki_id, pages);
        }
        out.wikis.insert(project_id, list);
    }
}

#[cfg(test)]
mod tests {
    use super::super::synthetic_org::generate as org;
    use super::*;

    #[test]
    fn the_small_org_has_some_of_everything_this_family_serves() {
        let spec = OrgSpec::small();
        let a = org(&spec);
        assert_eq!(a.iterations.len(), spec.projects * spec.teams_per_project);
        assert_eq!(a.areas.len(), spec.projects);
        assert_eq!(
            a.alerts.len(),
            4,
            "every third of the 6 repositories is not onboarded"
        );
        assert_eq!(a.wikis.values().map(Vec::len).sum::<usize>(), 3);
        let everyone = text(&a.groups[0], "descriptor");
        assert_eq!(
            a.memberships_down[&everyone].len(),
            spec.users + 2 * spec.projects,
            "every user, and each project's two groups nested"
        );
        let b = org(&spec);
        assert_eq!(a.areas, b.areas);
        assert_eq!(a.wiki_pages, b.wiki_pages);
    }
}
