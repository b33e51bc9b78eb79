//! Requests per kind, and the parent lists a sync shares: every kind fetched in registry
//! order from one source, each costing what it adds (the fake server counts every request),
//! against what Port's integration's paging would need for the same organization
//! (`testkit::port_paging`).
//!
//! The table for the reference organization is printed by an ignored test (it generates and
//! serves 20,000 work items and 5,000 builds; about a minute in a debug build):
//!
//! ```sh
//! cargo test --locked --test it request_counts_per_kind_of_the_reference_organization -- --ignored --nocapture
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use adoport::ado::record::{self, KindFetch};
use adoport::ado::{KINDS, SnapshotWriter, Source};
use adoport::testkit::fake_ado::{FakeAdo, FakeConfig};
use adoport::testkit::port_paging::{FILE_SELECTOR, FOLDER_SELECTOR, port_requests};
use adoport::testkit::synthetic_org::{OrgSpec, generate};
use serde_json::Value;

use crate::ado::{complete, fast, fetch, source};

/// Endpoints that list a parent several kinds read: each must be requested by one kind only.
const SHARED_LISTS: &[(&str, &str)] = &[
    ("projects", "project"),
    ("teams", "team"),
    ("graph-groups", "group"),
    ("repositories", "repository"),
    ("pipelines", "pipeline"),
    ("builds", "build"),
    ("environments", "environment"),
    ("boards", "board"),
];

/// Kinds that send more requests than Port's integration on purpose, and why.
const READS_MORE_THAN_PORT: &[(&str, &str)] = &[(
    "test-run",
    "each run's results are read with `$top`/`$skip` to the empty page that ends them; Port \
     reads one page of 50 with a continuation token ADO never sends, so it can truncate",
)];

/// The selector each kind is fetched with: Port's defaults, and what `port_paging` assumes
/// for the two kinds that need one.
fn selector(kind: &str) -> Value {
    let text = match kind {
        "file" => FILE_SELECTOR,
        "folder" => FOLDER_SELECTOR,
        _ => "{}",
    };
    serde_json::from_str(text).unwrap()
}

/// One kind's requests in a sequential sync: in all, and per endpoint.
struct KindCost {
    kind: &'static str,
    items: usize,
    requests: u64,
    endpoints: BTreeMap<String, u64>,
}

/// Every kind, in registry order, from one source (one sync): what each adds.
async fn per_kind(fake: &FakeAdo, spec: &OrgSpec) -> Vec<KindCost> {
    fake.reset_counts();
    let ado = source(fake, &fake.pat(), fast(), spec.now);
    let mut out = Vec::new();
    for kind in KINDS {
        let before = fake.counts();
        let listing = fetch(&ado, kind.name, selector(kind.name)).await;
        complete(&listing);
        let endpoints: BTreeMap<String, u64> = fake
            .counts()
            .into_iter()
            .map(|(e, n)| {
                let was = before.get(&e).copied().unwrap_or(0);
                (e, n - was)
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        out.push(KindCost {
            kind: kind.name,
            items: listing.items.len(),
            requests: endpoints.values().sum(),
            endpoints,
        });
    }
    out
}

/// Every kind at once, as `adoport fetch` runs a full sync: the requests per endpoint.
async fn all_at_once(fake: &FakeAdo, spec: &OrgSpec) -> BTreeMap<String, u64> {
    fake.reset_counts();
    let ado: Arc<dyn Source> = Arc::new(source(fake, &fake.pat(), fast(), spec.now));
    let fetches: Vec<KindFetch> = record::plan(KINDS.iter().map(|k| {
        let options = selector(k.name).as_object().cloned().unwrap_or_default();
        (k.name.to_owned(), options)
    }));
    let dir = tempfile::tempdir().unwrap();
    let mut writer = SnapshotWriter::create(dir.path(), fake.org_url()).unwrap();
    let outcomes = record::fetch_and_record(ado, &fetches, &mut writer, |_| {})
        .await
        .unwrap();
    assert!(outcomes.iter().all(|o| o.complete), "{outcomes:?}");
    fake.counts()
}

#[tokio::test(flavor = "multi_thread")]
async fn parent_lists_are_fetched_once_per_sync_and_shared_by_every_kind() {
    let spec = OrgSpec::small();
    let fake = FakeAdo::start(generate(&spec), FakeConfig::default())
        .await
        .unwrap();
    let costs = per_kind(&fake, &spec).await;
    for (endpoint, owner) in SHARED_LISTS {
        let askers: Vec<&str> = costs
            .iter()
            .filter(|c| c.endpoints.contains_key(*endpoint))
            .map(|c| c.kind)
            .collect();
        assert_eq!(askers, [*owner], "`{endpoint}` is listed by");
    }
    // One page each: the small organization fits in one page of every parent list.
    let lists = fake.org().projects.len() as u64;
    let sequential: BTreeMap<String, u64> = costs.iter().fold(BTreeMap::new(), |mut all, c| {
        for (e, n) in &c.endpoints {
            *all.entry(e.clone()).or_default() += n;
        }
        all
    });
    assert_eq!(sequential["projects"], 1);
    assert_eq!(sequential["repositories"], lists);
    assert_eq!(sequential["environments"], lists);
    // A full sync that runs every kind at once shares them the same way.
    let concurrent = all_at_once(&fake, &spec).await;
    assert_eq!(concurrent, sequential);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_kind_of_the_small_organization_needs_more_requests_than_ports_paging_unless_listed() {
    let spec = OrgSpec::small();
    let fake = FakeAdo::start(generate(&spec), FakeConfig::default())
        .await
        .unwrap();
    let costs = per_kind(&fake, &spec).await;
    let port = port_requests(fake.org(), spec.now);
    for cost in &costs {
        let theirs = port[cost.kind];
        let listed = READS_MORE_THAN_PORT.iter().any(|(k, _)| *k == cost.kind);
        assert_eq!(
            cost.requests > theirs,
            listed,
            "{}: {} requests ({:?}), Port's paging {theirs}",
            cost.kind,
            cost.requests,
            cost.endpoints
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "generates and serves the reference organization: about a minute; prints the table"]
// The table is this test's report (BENCHMARKS.md quotes it).
#[allow(clippy::print_stdout)]
async fn request_counts_per_kind_of_the_reference_organization() {
    let spec = OrgSpec::reference();
    let org = tokio::task::spawn_blocking({
        let spec = spec.clone();
        move || generate(&spec)
    })
    .await
    .unwrap();
    let fake = FakeAdo::start(org, FakeConfig::default()).await.unwrap();
    let costs = per_kind(&fake, &spec).await;
    let port = port_requests(fake.org(), spec.now);
    let (ours, theirs): (u64, u64) = costs
        .iter()
        .map(|c| (c.requests, port[c.kind]))
        .fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
    let mut table =
        String::from("| kind | items | adoport | Port's paging |\n|---|---:|---:|---:|\n");
    for c in &costs {
        table.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            c.kind, c.items, c.requests, port[c.kind]
        ));
    }
    table.push_str(&format!("| **total** | | **{ours}** | **{theirs}** |\n"));
    println!("{table}");
    for c in &costs {
        println!("{:<24} {:?}", c.kind, c.endpoints);
    }
    for (endpoint, owner) in SHARED_LISTS {
        let askers: Vec<&str> = costs
            .iter()
            .filter(|c| c.endpoints.contains_key(*endpoint))
            .map(|c| c.kind)
            .collect();
        assert_eq!(askers, [*owner], "`{endpoint}` is listed by");
    }
    assert!(ours < theirs, "{ours} requests, Port's paging {theirs}");
}
