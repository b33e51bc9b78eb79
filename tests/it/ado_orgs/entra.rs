//! Entra ID service-principal auth against the fake tenant: a token refused mid-run is
//! replaced once with no request lost, a token is renewed before it expires, a refused
//! secret names the variables to check, and no token, secret or PAT reaches any text.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use adoport::ado::{
    AdoSource, Client, ClientOptions, Credential, OrgUrl, ServicePrincipal, ServicePrincipalConfig,
    Source, SourceOptions,
};
use adoport::testkit::fake_ado::{FakeAdo, FakeEntra, Fault, FaultKind};
use serde_json::json;

use super::{Scene, adoport_with, two_orgs};
use crate::ado::{complete, fast, selector};
use crate::support::{stderr, stdout};

/// Command-line environment: variable names and values.
type Env = Vec<(&'static str, String)>;

/// A service principal signing in at `fake`'s tenant, renewing tokens as `min_lifetime` allows.
fn principal(fake: &FakeAdo, entra: &FakeEntra, min_lifetime: Duration) -> ServicePrincipal {
    let mut config = ServicePrincipalConfig::new(
        entra.tenant.clone(),
        entra.client_id.clone(),
        entra.client_secret.clone(),
    )
    .with_authority(fake.authority());
    config.min_lifetime = min_lifetime;
    ServicePrincipal::new(config).unwrap()
}

fn entra(lifetime: Duration) -> Arc<FakeEntra> {
    Arc::new(FakeEntra::new(
        "tenant-0001",
        "entra-app-id-0001",
        "entra-client-secret-0001",
        lifetime,
    ))
}

fn bearer_source(
    fake: &FakeAdo,
    principal: &ServicePrincipal,
    options: ClientOptions,
) -> AdoSource {
    let org = OrgUrl::parse(&fake.org_url()).unwrap();
    let client = Client::with_credential(
        org,
        Credential::ServicePrincipal(principal.clone()),
        options,
    )
    .unwrap();
    AdoSource::new(client, SourceOptions::default())
}

#[tokio::test]
async fn an_entra_token_refused_mid_run_is_replaced_once_and_no_request_is_lost() {
    let tenant = entra(Duration::from_secs(3600));
    let (acme, _labs) = two_orgs(Some(tenant.clone())).await;
    // The second repository list meets a token the tenant has just ended.
    acme.add_fault(Fault::once("repositories", 2, FaultKind::ExpireTokens));
    let sp = principal(&acme, &tenant, Duration::from_secs(60));
    let source = bearer_source(&acme, &sp, fast());
    let repos = source.fetch("repository", &selector(json!({}))).await;
    complete(&repos);
    assert_eq!(repos.items.len(), 6, "every repository of both projects");
    assert_eq!(acme.unauthorized_responses(), 1);
    assert_eq!(
        tenant.token_requests(),
        2,
        "one token, then one replacement"
    );
    assert_eq!(sp.tokens_fetched(), 2);
    // Two projects: two lists, and the refused one sent again.
    assert_eq!(acme.requests("repositories"), 3);
}

#[tokio::test]
async fn an_entra_token_is_renewed_before_it_expires_never_sent_stale() {
    let tenant = entra(Duration::from_secs(2));
    let (acme, _labs) = two_orgs(Some(tenant.clone())).await;
    // A lifetime this short is below the default floor (60 s): lower the floor to use it.
    let sp = principal(&acme, &tenant, Duration::from_secs(1));
    let source = bearer_source(&acme, &sp, fast());
    complete(&source.fetch("project", &selector(json!({}))).await);
    // Past the token's life (the client treats it as stale after 1.5 s).
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let fresh = source;
    fresh.start_new_sync();
    complete(&fresh.fetch("project", &selector(json!({}))).await);
    assert_eq!(tenant.token_requests(), 2);
    assert_eq!(
        acme.unauthorized_responses(),
        0,
        "the stale token must not be sent"
    );
}

#[tokio::test]
async fn a_refused_client_secret_makes_every_kind_unauthorized_naming_the_variables() {
    let tenant = entra(Duration::from_secs(3600));
    let (acme, _labs) = two_orgs(Some(tenant.clone())).await;
    let mut config = ServicePrincipalConfig::new(
        tenant.tenant.clone(),
        tenant.client_id.clone(),
        "not-the-client-secret",
    )
    .with_authority(acme.authority());
    config.min_lifetime = Duration::from_secs(60);
    let sp = ServicePrincipal::new(config).unwrap();
    let listing = bearer_source(&acme, &sp, fast())
        .fetch("project", &selector(json!({})))
        .await;
    assert!(
        !listing.complete && listing.is_unauthorized(),
        "{listing:?}"
    );
    let error = listing.error.unwrap();
    assert!(
        error.contains("AADSTS7000215") && error.contains("AZURE_CLIENT_SECRET"),
        "{error}"
    );
    assert!(!error.contains("not-the-client-secret"), "{error}");
    assert_eq!(acme.total_requests(), 1, "only the token request");
}

/// Every file under `dir`, as text.
fn all_files(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            text.push_str(&all_files(&path));
        } else {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(path).unwrap()));
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn no_token_client_secret_or_pat_reaches_output_logs_snapshots_or_plans() {
    use base64::Engine as _;
    let tenant = entra(Duration::from_secs(3600));
    let (acme, labs) = two_orgs(Some(tenant.clone())).await;
    let scene = Scene::new(&[&acme, &labs], "");
    // `labs` echoes the Authorization header in every repository list's 500 (kept in the
    // listing's reason, so in plans and snapshots too); `acme` ends the token once.
    labs.add_fault(Fault::from_request(
        "repositories",
        1,
        FaultKind::EchoAuthorization,
    ));
    acme.add_fault(Fault::once("repositories", 1, FaultKind::ExpireTokens));
    let config = scene.config().display().to_string();
    let target = scene.target();
    let dir = scene.dir.path();
    let entra_env: Env = vec![
        ("AZURE_TENANT_ID", tenant.tenant.clone()),
        ("AZURE_CLIENT_ID", tenant.client_id.clone()),
        ("AZURE_CLIENT_SECRET", tenant.client_secret.clone()),
        ("AZURE_AUTHORITY_HOST", acme.authority()),
    ];
    let pat_env: Env = vec![("AZURE_DEVOPS_PAT", acme.pat())];
    let path = |name: &str| dir.join(name).display().to_string();
    let (plan_a, plan_b, snap_a, snap_b) = (
        path("plan-a.json"),
        path("plan-b.md"),
        path("snapshot-a"),
        path("snapshot-b"),
    );
    let source = [
        "--config",
        config.as_str(),
        "--source",
        "ado",
        "--target",
        target.as_str(),
    ];
    let runs: Vec<(Vec<&str>, &Env)> = vec![
        (
            [
                &[
                    "plan",
                    "-vv",
                    "--log-format",
                    "json",
                    "--format",
                    "json",
                    "--out",
                    &plan_a,
                ][..],
                &source,
            ]
            .concat(),
            &entra_env,
        ),
        ([&["apply", "-v"][..], &source].concat(), &entra_env),
        (
            vec!["fetch", "-vv", "--config", &config, "--out", &snap_a],
            &entra_env,
        ),
        (
            [
                &["plan", "-vv", "--format", "markdown", "--out", &plan_b][..],
                &source,
            ]
            .concat(),
            &pat_env,
        ),
        (
            vec![
                "fetch",
                "-vv",
                "--log-format",
                "json",
                "--config",
                &config,
                "--out",
                &snap_b,
            ],
            &pat_env,
        ),
    ];
    // At once: each run waits out the retries of the failing list.
    let outs =
        futures_util::future::join_all(runs.iter().map(|(args, env)| adoport_with(args, env)))
            .await;
    let mut text = String::new();
    for out in &outs {
        text.push_str(&stdout(out));
        text.push_str(&stderr(out));
    }
    for file in [&plan_a, &plan_b] {
        let plan = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("{file}: {e}; the runs printed:\n{text}"));
        text.push_str(&plan);
    }
    for snapshot in [&snap_a, &snap_b] {
        text.push_str(&all_files(Path::new(snapshot)));
    }
    text.push_str(&String::from_utf8_lossy(
        &std::fs::read(scene.catalog()).unwrap(),
    ));
    // The runs did what the test needs: signed in and refreshed, met the echo, logged.
    assert!(tenant.issued().len() >= 2, "{text}");
    assert!(
        text.contains("[redacted]"),
        "the echo was met and scrubbed: {text}"
    );
    assert!(text.contains("http exchange"), "debug logs were on");
    assert!(text.contains("\"level\""), "json logs were written");
    let pat = acme.pat();
    let engine = base64::engine::general_purpose::STANDARD;
    let mut secrets = vec![
        tenant.client_secret.clone(),
        tenant.client_id.clone(),
        pat.clone(),
        engine.encode(format!(":{pat}")),
    ];
    secrets.extend(tenant.issued());
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "{secret} leaked");
    }
}
