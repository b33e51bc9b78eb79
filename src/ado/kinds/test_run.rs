//! `test-run`: each project's test runs (`GET {org}/{project}/_apis/test/runs?includeRunDetails=true`,
//! `$top`/`$skip`), with the two enrichments Port adds:
//!
//! - `__testResults` (`includeResults`, default true): every result of the run, from
//!   `GET …/test/runs/{id}/results`, paged with `$top`/`$skip` as ADO documents for that
//!   endpoint. Port pages it with continuation tokens, which the endpoint does not send, so
//!   it keeps only the first page of each run. `[]` when the option is false.
//! - `__codeCoverage` (`codeCoverage: {flags}`): the code coverage of the run's build, the
//!   body of `GET …/test/codecoverage?buildId={id}[&flags=N]`, read once per build (Port
//!   reads it once per run). `{}` for a run without a build (a manual run) and when the
//!   option is not set.
//!
//! A results or coverage read that fails makes the kind incomplete and leaves that run's
//! field out (the mapping sees `null`, as with Port), rather than a short list that would
//! read as the run's whole result. A coverage 404 that ADO types as "that build is gone" is
//! `{}`.
//!
//! Narrowed to builds (a live `build.complete`), the list asks for each build's runs
//! (`buildUri=vstfs:///Build/Build/{id}`). An incremental pass asks, as Port does, for the
//! runs updated since its time, in windows of at most 7 days up to now
//! (`minLastUpdatedDate`/`maxLastUpdatedDate`: ADO refuses longer ones).
//!
//! Every project's runs are listed (with their builds' coverage) first; then each run's
//! results are read, a few runs at a time in listing order, and each run handed to the
//! sync's page sink when it has one.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{
    Collected, KindDef, Problem, SyncCtx, absent, each, each_in_order, field, id_field,
    opt_bool_or, selector_schema, set_field,
};
use crate::ado::client::{Call, Client, Scope};
use crate::ado::org::Service;
use crate::ado::paging;

/// `$top` for test runs: no documented maximum; paging stops at an empty page.
pub(crate) const RUN_PAGE: usize = 1000;
/// `$top` for a run's results: ADO's documented maximum (without `detailsToInclude`).
pub(crate) const RESULT_PAGE: usize = 1000;

pub(super) const KIND: KindDef = KindDef {
    name: "test-run",
    schema: selector_schema!("test-run"),
    options: &["includeResults", "codeCoverage"],
    ignored_options: &[],
    scope: Scope::TestManagement,
    fetch: |ctx, selector| Box::pin(fetch(ctx, selector)),
    incremental: true,
};

/// What to attach to each run, from the selector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Enrich {
    /// `includeResults`.
    results: bool,
    /// `codeCoverage`: `None` when not asked for, else its `flags` (if any).
    coverage: Option<Option<i64>>,
}

impl Enrich {
    fn of(selector: &Map<String, Value>) -> Self {
        Enrich {
            results: opt_bool_or(selector, "includeResults", true),
            // Port reads coverage whenever `codeCoverage` is an object, `{}` included.
            coverage: match selector.get("codeCoverage") {
                Some(Value::Object(options)) => Some(options.get("flags").and_then(Value::as_i64)),
                _ => None,
            },
        }
    }
}

async fn fetch(ctx: SyncCtx, selector: Map<String, Value>) -> Collected {
    let projects = ctx.projects().await;
    let mut out = Collected::under(&projects);
    let enrich = Enrich::of(&selector);
    let client = ctx.client.clone();
    let queries = Arc::new(queries(&ctx));
    let listed = each(projects.items.clone(), move |project| {
        project_runs(
            client.clone(),
            field(&project, "/id").to_owned(),
            enrich,
            queries.clone(),
        )
    })
    .await;
    // Then each run's results, a few runs at a time in listing order: with its results a
    // run is ten times its size, so the kind is handed over run by run, never held whole.
    let mut runs = Vec::new();
    for project in listed {
        out.problems.extend(project.problems);
        let coverage = Arc::new(project.coverage);
        runs.extend(
            project
                .runs
                .into_iter()
                .map(|run| (project.id.clone(), run, coverage.clone())),
        );
    }
    let client = ctx.client.clone();
    let enriched = each_in_order(&ctx, "test runs", runs, |(project, run, coverage)| {
        enriched(client.clone(), project, run, enrich, coverage)
    })
    .await;
    out.extend(enriched);
    out
}

/// The longest window of `minLastUpdatedDate`/`maxLastUpdatedDate` ADO accepts.
const UPDATED_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_hours(7 * 24);

/// The extra query parameters of each listing a project's runs take: one with none (a
/// full sync), one per build, or one per window since a time.
fn queries(ctx: &SyncCtx) -> Vec<Vec<(&'static str, String)>> {
    if let Some(builds) = &ctx.narrow.test_builds {
        return builds
            .iter()
            .map(|id| vec![("buildUri", format!("vstfs:///Build/Build/{id}"))])
            .collect();
    }
    let Some(since) = ctx.narrow.since else {
        return vec![Vec::new()];
    };
    // A time not yet past (clocks differ) still asks once, for a window of no length.
    let now = ctx.now().max(since);
    let mut windows = Vec::new();
    let mut from = since;
    loop {
        let to = (from + UPDATED_WINDOW).min(now);
        windows.push(vec![
            ("minLastUpdatedDate", from.to_string()),
            ("maxLastUpdatedDate", to.to_string()),
        ]);
        if to >= now {
            break windows;
        }
        from = to;
    }
}

/// One project's runs as listed, and the coverage of the builds they name.
struct ProjectRuns {
    id: String,
    runs: Vec<Value>,
    /// By build id; a build whose read failed is missing (its problem is in `problems`).
    coverage: HashMap<String, Value>,
    problems: Vec<Problem>,
}

async fn project_runs(
    client: Client,
    project: String,
    enrich: Enrich,
    queries: Arc<Vec<Vec<(&'static str, String)>>>,
) -> ProjectRuns {
    let mut out = Collected::default();
    let mut runs: Vec<Value> = Vec::new();
    let mut seen = BTreeSet::new();
    for extra in queries.iter() {
        let mut call = Call::get(
            Service::Core,
            format!("/{project}/_apis/test/runs"),
            Scope::TestManagement,
        )
        .param("includeRunDetails", "true")
        .param("api-version", "7.1");
        for (k, v) in extra {
            call = call.param(*k, v.clone());
        }
        let listed = out.take_under(
            "test runs",
            paging::by_skip(&client, call, "value", RUN_PAGE, None, ("$top", "$skip")).await,
            absent::PROJECT_GONE,
        );
        // Windows meet at their bounds: a run updated at one is listed by both.
        runs.extend(
            listed
                .into_iter()
                .filter(|r| seen.insert(id_field(r, "/id"))),
        );
    }
    let coverage = match enrich.coverage {
        Some(flags) => coverage_by_build(&client, &project, &runs, flags, &mut out).await,
        None => HashMap::new(),
    };
    ProjectRuns {
        id: project,
        runs,
        coverage,
        problems: out.problems,
    }
}

/// One run with its enrichments: its results read (when asked) and its build's coverage.
async fn enriched(
    client: Client,
    project: String,
    mut run: Value,
    enrich: Enrich,
    coverage: Arc<HashMap<String, Value>>,
) -> Collected {
    let mut out = Collected::default();
    let results = if enrich.results {
        match results_of(client, project, id_field(&run, "/id")).await {
            Ok(list) => Some(Value::Array(list)),
            Err(problem) => {
                out.problems.push(problem);
                None
            }
        }
    } else {
        Some(json!([]))
    };
    if let Some(results) = results {
        set_field(&mut run, "__testResults", results);
    }
    let build = id_field(&run, "/build/id");
    let cov = match enrich.coverage {
        None => Some(json!({})),
        Some(_) if build.is_empty() => Some(json!({})),
        Some(_) => coverage.get(&build).cloned(),
    };
    if let Some(cov) = cov {
        set_field(&mut run, "__codeCoverage", cov);
    }
    out.items.push(run);
    out
}

/// Every result of one run, `$top`/`$skip` to the end.
async fn results_of(client: Client, project: String, run: String) -> Result<Vec<Value>, Problem> {
    let call = Call::get(
        Service::Core,
        format!("/{project}/_apis/test/runs/{run}/results"),
        Scope::TestManagement,
    )
    .param("api-version", "7.1");
    match paging::by_skip(&client, call, "value", RESULT_PAGE, None, ("$top", "$skip")).await {
        Ok(results) => Ok(results),
        Err(partial) => Err(Problem::paging(
            &format!("results of test run {run}"),
            &partial.error,
        )),
    }
}

/// The coverage body of each distinct build the runs name (failures recorded in `out`).
async fn coverage_by_build(
    client: &Client,
    project: &str,
    runs: &[Value],
    flags: Option<i64>,
    out: &mut Collected,
) -> HashMap<String, Value> {
    let builds: Vec<String> = runs
        .iter()
        .map(|r| id_field(r, "/build/id"))
        .filter(|b| !b.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let read = each(builds, {
        let client = client.clone();
        let project = project.to_owned();
        move |build| {
            let client = client.clone();
            let project = project.clone();
            async move {
                let mut call = Call::get(
                    Service::Core,
                    format!("/{project}/_apis/test/codecoverage"),
                    Scope::TestManagement,
                )
                .param("buildId", build.clone())
                .param("api-version", "7.1");
                if let Some(flags) = flags {
                    call = call.param("flags", flags.to_string());
                }
                let result = match client.send(&call).await {
                    Ok(page) => Ok(page.body),
                    Err(e) if e.is_not_found_as(absent::BUILD_GONE) => Ok(json!({})),
                    Err(e) => Err(Problem::call(
                        &format!("code coverage of build {build}"),
                        &e,
                    )),
                };
                (build, result)
            }
        }
    })
    .await;
    let mut coverage = HashMap::new();
    for (build, result) in read {
        match result {
            Ok(body) => {
                coverage.insert(build, body);
            }
            Err(problem) => out.problems.push(problem),
        }
    }
    coverage
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn results_are_included_unless_turned_off_the_way_port_reads_booleans() {
        assert!(Enrich::of(&of(json!({}))).results);
        assert!(!Enrich::of(&of(json!({"includeResults": false}))).results);
        assert!(!Enrich::of(&of(json!({"includeResults": "no"}))).results);
        assert!(Enrich::of(&of(json!({"includeResults": "Yes"}))).results);
    }

    #[test]
    fn coverage_is_read_when_code_coverage_is_an_object_with_or_without_flags() {
        assert_eq!(Enrich::of(&of(json!({}))).coverage, None);
        assert_eq!(
            Enrich::of(&of(json!({"codeCoverage": null}))).coverage,
            None
        );
        assert_eq!(
            Enrich::of(&of(json!({"codeCoverage": {}}))).coverage,
            Some(None)
        );
        assert_eq!(
            Enrich::of(&of(json!({"codeCoverage": {"flags": 3}}))).coverage,
            Some(Some(3))
        );
    }
}
