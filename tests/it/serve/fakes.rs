//! The fakes `serve`'s end-to-end tests run against: the fake ADO server (changed in place,
//! as ADO changes between a sync and the event that says so), the Port API emulator with
//! the default mapping's blueprints, and the command line that points `serve` at both.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use adoport::testkit::fake_ado::{FakeAdo, FakeConfig};
use adoport::testkit::port_emulator::{CLIENT_ID, CLIENT_SECRET, EmulatorOptions, PortEmulator};
use adoport::testkit::synthetic_org::SyntheticOrg;

use super::{Scratch, queue_status, wait_for};
use crate::support::root;

/// The webhook secret every test's `serve` runs with.
pub(super) const SECRET: &str = "serve-e2e-webhook-secret";
/// How long a test waits for `serve` to do something.
pub(super) const LIMIT: Duration = Duration::from_secs(90);

/// The fake ADO server, on a runtime of its own.
pub(super) struct Ado {
    _runtime: tokio::runtime::Runtime,
    pub(super) fake: FakeAdo,
}

impl Ado {
    pub(super) fn start(org: SyntheticOrg) -> Ado {
        Ado::start_with(org, FakeConfig::default())
    }

    pub(super) fn start_with(org: SyntheticOrg, config: FakeConfig) -> Ado {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let fake = runtime.block_on(FakeAdo::start(org, config)).unwrap();
        Ado {
            _runtime: runtime,
            fake,
        }
    }

    /// The environment `serve` reads ADO's address and credentials (and the webhook
    /// secret) from.
    pub(super) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_DEVOPS_ORG_URL", self.fake.org_url()),
            ("AZURE_DEVOPS_PAT", self.fake.pat()),
            ("ADOPORT_WEBHOOK_SECRET", SECRET.to_owned()),
        ]
    }
}

/// The Port API emulator with the default mapping's blueprints.
pub(super) struct Port {
    _runtime: tokio::runtime::Runtime,
    pub(super) emu: PortEmulator,
}

impl Port {
    pub(super) fn start() -> Port {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let mut options = EmulatorOptions::default();
        for file in std::fs::read_dir(root().join("mappings/blueprints")).unwrap() {
            options = options.with_blueprint_file(file.unwrap().path()).unwrap();
        }
        let emu = runtime.block_on(PortEmulator::start(options)).unwrap();
        Port {
            _runtime: runtime,
            emu,
        }
    }

    pub(super) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PORT_CLIENT_ID", CLIENT_ID.to_owned()),
            ("PORT_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("PORT_BASE_URL", self.emu.base_url().to_owned()),
        ]
    }

    /// A stored entity's field (`title`, `properties.state`, …).
    pub(super) fn field(&self, blueprint: &str, identifier: &str, path: &str) -> Value {
        let Some(entity) = self.emu.entity(blueprint, identifier) else {
            return Value::Null;
        };
        path.split('.')
            .try_fold(&entity, |v, k| v.get(k))
            .cloned()
            .unwrap_or(Value::Null)
    }

    pub(super) fn has(&self, blueprint: &str, identifier: &str) -> bool {
        self.emu.entity(blueprint, identifier).is_some()
    }
}

/// `serve`'s arguments: the default mapping, the live source, `target`, a queue in `s`,
/// any free port on the loopback, quick retries, and `extra`.
pub(super) fn serve_args(s: &Scratch, target: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--config",
        &root().join("mappings").display().to_string(),
        "--source",
        "ado",
        "--target",
        target,
        "--queue",
        &format!("sqlite:{}", s.path("queue.sqlite").display()),
        "--listen",
        "127.0.0.1:0",
        "--retry-base",
        "100ms",
        "--retry-max",
        "500ms",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

/// Waits until `serve`'s first resync is recorded.
pub(super) fn first_resync_done(s: &Scratch) {
    wait_for("the first resync", LIMIT, || {
        s.path("queue.sqlite").exists()
            && queue_status(&s.path("queue.sqlite"))
                .resyncs
                .iter()
                .any(|r| r.finished_ms.is_some())
    });
}

/// Whether nothing is queued.
pub(super) fn drained(s: &Scratch) -> bool {
    queue_status(&s.path("queue.sqlite")).queue.pending == 0
}

/// What changed between two snapshots of a catalog, one line per entity (empty: nothing).
pub(super) fn changes(
    before: &BTreeMap<(String, String), Value>,
    after: &BTreeMap<(String, String), Value>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (key, was) in before {
        match after.get(key) {
            None => out.push(format!("deleted {key:?}")),
            Some(now) if now != was => out.push(format!("changed {key:?}: {was} → {now}")),
            Some(_) => {}
        }
    }
    for key in after.keys().filter(|k| !before.contains_key(*k)) {
        out.push(format!("created {key:?}"));
    }
    out
}
