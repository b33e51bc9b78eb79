//! The Azure DevOps kinds a mapping may name, with each kind's selector schema.
//!
//! A declarative table: adding a kind is one line here and one schema file.

/// Every kind Port's Azure DevOps integration defines, with its selector schema (JSON text).
pub static KINDS: &[(&str, &str)] = &[
    (
        "project",
        include_str!("../../schemas/selectors/project.schema.json"),
    ),
    (
        "team",
        include_str!("../../schemas/selectors/team.schema.json"),
    ),
    (
        "member",
        include_str!("../../schemas/selectors/member.schema.json"),
    ),
    (
        "user",
        include_str!("../../schemas/selectors/user.schema.json"),
    ),
    (
        "group",
        include_str!("../../schemas/selectors/group.schema.json"),
    ),
    (
        "group-member",
        include_str!("../../schemas/selectors/group-member.schema.json"),
    ),
    (
        "repository",
        include_str!("../../schemas/selectors/repository.schema.json"),
    ),
    (
        "repository-policy",
        include_str!("../../schemas/selectors/repository-policy.schema.json"),
    ),
    (
        "branch",
        include_str!("../../schemas/selectors/branch.schema.json"),
    ),
    (
        "pull-request",
        include_str!("../../schemas/selectors/pull-request.schema.json"),
    ),
    (
        "file",
        include_str!("../../schemas/selectors/file.schema.json"),
    ),
    (
        "folder",
        include_str!("../../schemas/selectors/folder.schema.json"),
    ),
    (
        "pipeline",
        include_str!("../../schemas/selectors/pipeline.schema.json"),
    ),
    (
        "build",
        include_str!("../../schemas/selectors/build.schema.json"),
    ),
    (
        "pipeline-stage",
        include_str!("../../schemas/selectors/pipeline-stage.schema.json"),
    ),
    (
        "pipeline-run",
        include_str!("../../schemas/selectors/pipeline-run.schema.json"),
    ),
    (
        "pipeline-deployment",
        include_str!("../../schemas/selectors/pipeline-deployment.schema.json"),
    ),
    (
        "environment",
        include_str!("../../schemas/selectors/environment.schema.json"),
    ),
    (
        "release",
        include_str!("../../schemas/selectors/release.schema.json"),
    ),
    (
        "release-definition",
        include_str!("../../schemas/selectors/release-definition.schema.json"),
    ),
    (
        "release-deployment",
        include_str!("../../schemas/selectors/release-deployment.schema.json"),
    ),
    (
        "test-run",
        include_str!("../../schemas/selectors/test-run.schema.json"),
    ),
    (
        "work-item",
        include_str!("../../schemas/selectors/work-item.schema.json"),
    ),
    (
        "board",
        include_str!("../../schemas/selectors/board.schema.json"),
    ),
    (
        "column",
        include_str!("../../schemas/selectors/column.schema.json"),
    ),
    (
        "iteration",
        include_str!("../../schemas/selectors/iteration.schema.json"),
    ),
    (
        "area-path",
        include_str!("../../schemas/selectors/area-path.schema.json"),
    ),
    (
        "advanced-security-alert",
        include_str!("../../schemas/selectors/advanced-security-alert.schema.json"),
    ),
    (
        "wiki",
        include_str!("../../schemas/selectors/wiki.schema.json"),
    ),
];

/// Whether `kind` is a known kind.
pub fn is_known(kind: &str) -> bool {
    KINDS.iter().any(|(k, _)| *k == kind)
}

/// The names of every known kind, in table order.
pub fn names() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|(k, _)| *k)
}
