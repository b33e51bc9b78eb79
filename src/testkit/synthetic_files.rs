//! The synthetic organization's git trees: a small, fixed file tree in every repository's
//! default branch, a `develop` branch with one folder more, and helpers that add projects,
//! repositories and files for a test's own scenario (Port's example mapping names
//! repositories such as `my-node-app` in a project `project001`).
//!
//! Folders exist only as prefixes of file paths, as in git. The trees are built without the
//! generator's random numbers, so adding them changes nothing else the generator makes.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::synthetic_org::SyntheticOrg;

/// The non-default branch that has a tree of its own in every repository.
pub const DEVELOP: &str = "develop";

/// Files every repository's default branch holds besides `README.md` (and `CODEOWNERS` in
/// every other one), for a repository `name` of project `project`:
/// a JSON and a YAML file, a multi-document YAML file, a legacy `port.yml`, and folders two
/// levels deep (`src/a/docs`, `src/b/docs`, `services/x`, `services/y`). Repositories with an
/// even `index` in their project also have a `package.json`.
#[must_use]
pub fn tree_files(project: &str, name: &str, index: usize) -> Vec<(String, String)> {
    let file = |path: &str, text: String| (path.to_owned(), text);
    let mut files = vec![
        file(
            "/port.yml",
            format!(
                "identifier: {name}\ntitle: {name}\nblueprint: service\nproperties:\n  tier: Internal Service\n"
            ),
        ),
        file(
            "/catalog.json",
            format!(
                "{{\n  \"name\": \"{name}\",\n  \"project\": \"{project}\",\n  \"owners\": [\"{project}-team\"],\n  \"public\": false\n}}\n"
            ),
        ),
        file(
            "/config/app.yaml",
            format!("service: {name}\nreplicas: 2\nenabled: yes\nports:\n  - 8080\n  - 8443\n"),
        ),
        file(
            "/deploy/all.yaml",
            format!("---\nkind: Deployment\nname: {name}\n---\nkind: Service\nname: {name}\n"),
        ),
        file("/src/a/docs/index.md", format!("# {name} a\n")),
        file("/src/a/main.py", "print('a')\n".to_owned()),
        file("/src/b/docs/guide.md", format!("# {name} b\n")),
        file(
            "/services/x/catalog-info.yaml",
            format!(
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}-x\n"
            ),
        ),
        file(
            "/services/y/catalog-info.yaml",
            format!(
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}-y\n"
            ),
        ),
    ];
    if index.is_multiple_of(2) {
        files.push(file(
            "/package.json",
            format!("{{\n  \"name\": \"{name}\",\n  \"version\": \"1.0.{index}\"\n}}\n"),
        ));
    }
    files
}

/// What `develop` adds to the default branch's tree: a third `src/*/docs` folder.
pub const DEVELOP_ONLY: &str = "/src/c/docs/changes.md";

/// Adds the trees to every repository `generate` made (called by `generate`).
pub(crate) fn generate(org: &mut SyntheticOrg) {
    let repos: Vec<(String, String, String)> = org
        .repos
        .iter()
        .map(|r| {
            (
                text(&r["id"]),
                text(&r["project"]["name"]),
                text(&r["name"]),
            )
        })
        .collect();
    let mut previous = String::new();
    let mut index = 0;
    for (id, project, name) in repos {
        index = if project == previous { index + 1 } else { 0 };
        previous.clone_from(&project);
        let files = org.files.entry(id.clone()).or_default();
        files.extend(tree_files(&project, &name, index));
        let mut develop = files.clone();
        develop.insert(DEVELOP_ONLY.to_owned(), "# changes\n".to_owned());
        org.branch_files
            .entry(id)
            .or_default()
            .insert(DEVELOP.to_owned(), develop);
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// An id for a name, stable across runs, shaped like ADO's GUIDs.
fn guid(name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let l = h.rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        l >> 52,
        l & 0xffff_ffff_ffff
    )
}

/// Adds a project named `name` (no teams, no work) and returns its reference; an existing
/// project of that name is returned as it is.
pub fn add_project(org: &mut SyntheticOrg, name: &str) -> Value {
    if let Some(p) = org.projects.iter().find(|p| p["name"] == name) {
        return project_ref(p);
    }
    let id = guid(&format!("project:{name}"));
    let base = format!("https://dev.azure.com/{}", org.name);
    let project = json!({
        "id": id, "name": name, "description": format!("{name}, added for a test"),
        "url": format!("{base}/_apis/projects/{id}"), "state": "wellFormed",
        "revision": 1, "visibility": "private", "lastUpdateTime": "2026-05-01T00:00:00Z",
    });
    org.project_tags.insert(id.clone(), Vec::new());
    org.projects.push(project.clone());
    project_ref(&project)
}

fn project_ref(p: &Value) -> Value {
    json!({
        "id": p["id"], "name": p["name"], "url": p["url"], "state": p["state"],
        "revision": p["revision"], "visibility": p["visibility"], "lastUpdateTime": p["lastUpdateTime"],
    })
}

/// Adds a repository `name` to project `project` (created if missing) whose default branch,
/// `main`, holds `files` (path → text; a leading `/` is added when missing). Returns it.
pub fn add_repository(
    org: &mut SyntheticOrg,
    project: &str,
    name: &str,
    files: &[(&str, &str)],
) -> Value {
    let project = add_project(org, project);
    let project_name = text(&project["name"]);
    let id = guid(&format!("repository:{project_name}/{name}"));
    let base = format!("https://dev.azure.com/{}", org.name);
    let org_name = org.name.clone();
    let repo = json!({
        "id": id, "name": name,
        "url": format!("{base}/{}/_apis/git/repositories/{id}", text(&project["id"])),
        "project": project,
        "defaultBranch": "refs/heads/main",
        "size": 4096,
        "remoteUrl": format!("https://{org_name}@dev.azure.com/{org_name}/{project_name}/_git/{name}"),
        "sshUrl": format!("git@ssh.dev.azure.com:v3/{org_name}/{project_name}/{name}"),
        "webUrl": format!("{base}/{project_name}/_git/{name}"),
        "isDisabled": false, "isInMaintenance": false,
    });
    let tree: HashMap<String, String> = files
        .iter()
        .map(|(path, text)| {
            (
                format!("/{}", path.trim_start_matches('/')),
                (*text).to_owned(),
            )
        })
        .collect();
    org.files.insert(id.clone(), tree);
    org.refs.insert(
        id.clone(),
        vec![json!({"name": "refs/heads/main", "objectId": guid(&format!("main:{id}")).replace('-', ""),
                    "url": format!("{base}/_apis/git/repositories/{id}/refs?filter=heads%2Fmain")})],
    );
    org.repos.push(repo.clone());
    repo
}

/// Adds (or replaces) a branch of the repository with id `repo_id` holding `files`.
pub fn add_branch(org: &mut SyntheticOrg, repo_id: &str, branch: &str, files: &[(&str, &str)]) {
    let tree: HashMap<String, String> = files
        .iter()
        .map(|(path, text)| {
            (
                format!("/{}", path.trim_start_matches('/')),
                (*text).to_owned(),
            )
        })
        .collect();
    org.branch_files
        .entry(repo_id.to_owned())
        .or_default()
        .insert(branch.to_owned(), tree);
}
