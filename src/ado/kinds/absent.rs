//! When a 404 means "none": the ADO error keys each endpoint may answer with when the
//! parent it lists under legitimately has nothing there.
//!
//! A 404 is the most dangerous answer a listing can get: read as "empty and complete", it
//! makes every entity of the kind a deletion. So a 404 counts as "none" only when
//!
//! 1. ADO's JSON error body carries a `typeKey` (for example
//!    `{"message":"VS800075: …","typeKey":"ProjectDoesNotExistException",…}`) that the table
//!    below lists for that endpoint, and
//! 2. the parent was itself listed in the same run: every fan-out here iterates a parent
//!    list fetched in this sync (`SyncCtx::projects`, `repositories`, `boards`), so a key
//!    saying "that project does not exist" means it was deleted since it was listed. A
//!    listing with no parent (projects, teams, users) never reads a 404 as "none".
//!
//! Anything else (a 404 with an HTML page, an empty body, a JSON body with another key, or
//! none) makes the kind incomplete with the 404's words as the reason. A key missing from
//! this table costs completeness, never data: add it here when a real body shows it.
//!
//! (Turning a service off in a project's settings hides it in the UI; ADO's REST API still
//! answers, so there is no "service off" key to accept.)
//!
//! One answer other than a 404 means "none": Advanced Security's alerts list answers HTTP 400
//! for a repository that is not onboarded, typed [`ADVANCED_SECURITY_OFF`]; it is read with
//! `is_status_as(400, …)` under the same two conditions.

/// The project was deleted (or hidden from this PAT) after it was listed.
pub(crate) const PROJECT_GONE: &[&str] = &[
    "ProjectDoesNotExistException",
    "ProjectDoesNotExistWithNameException",
];

/// The repository was deleted after it was listed (or its project was).
pub(crate) const REPOSITORY_GONE: &[&str] = &[
    "GitRepositoryNotFoundException",
    "ProjectDoesNotExistException",
    "ProjectDoesNotExistWithNameException",
];

/// The team was deleted after it was listed (or its project was).
pub(crate) const TEAM_GONE: &[&str] = &[
    "TeamNotFoundException",
    "ProjectDoesNotExistException",
    "ProjectDoesNotExistWithNameException",
];

/// The board was removed after its team's board list was read (or the team was).
pub(crate) const BOARD_GONE: &[&str] = &["BoardDoesNotExistException", "TeamNotFoundException"];

/// The build was deleted after it was listed.
pub(crate) const BUILD_GONE: &[&str] = &["BuildNotFoundException"];

/// The pipeline's build definition was deleted after the pipeline was listed.
pub(crate) const DEFINITION_GONE: &[&str] = &["DefinitionNotFoundException"];

/// The build's source commit is not in the repository (force-pushed away, repository gone).
pub(crate) const COMMIT_GONE: &[&str] = &[
    "GitCommitDoesNotExistException",
    "GitUnresolvableToCommitException",
    "GitRepositoryNotFoundException",
];

/// The file is not on the branch (or the branch or repository is empty): Port reads `""`.
pub(crate) const FILE_ABSENT: &[&str] = &[
    "GitItemNotFoundException",
    "GitUnresolvableToCommitException",
    "GitRepositoryNotFoundException",
];

/// The graph subject (a user) was removed after the user list was read.
pub(crate) const SUBJECT_GONE: &[&str] = &["GraphSubjectNotFoundException"];

/// The team has no area settings (Port's `null`), or the team or project is gone.
pub(crate) const TEAM_SETTINGS_ABSENT: &[&str] = &[
    "TeamNotFoundException",
    "TeamSettingsNotFoundException",
    "ProjectDoesNotExistException",
    "ProjectDoesNotExistWithNameException",
];

/// The group was removed after the group list was read.
pub(crate) const GROUP_GONE: &[&str] = &["GraphSubjectNotFoundException"];

/// HTTP **400** from the Advanced Security alerts list: Advanced Security is not enabled for
/// the repository (or the organization), so it has no alerts. This is the one non-404 answer
/// read as "none", and only with this key: ADO answers it with
/// `{"message": "Advanced Security is not enabled for this repository.", "typeKey":
/// "AdvSecNotEnabledException", …}`. Any other 400 (a bad criteria value, an unknown
/// api-version) makes the kind incomplete.
pub(crate) const ADVANCED_SECURITY_OFF: &[&str] = &[
    "AdvSecNotEnabledException",
    "AdvSecNotEnabledForOrgException",
];

/// The wiki was deleted after the project's wiki list was read (or its project was).
pub(crate) const WIKI_GONE: &[&str] = &[
    "WikiNotFoundException",
    "ProjectDoesNotExistException",
    "ProjectDoesNotExistWithNameException",
];

/// The wiki page was deleted after its wiki's page list was read (or the wiki was).
pub(crate) const WIKI_PAGE_GONE: &[&str] = &["WikiPageNotFoundException", "WikiNotFoundException"];
