//! `serve` under faults, between the fake ADO server and the Port API emulator: deliveries
//! that repeat or come out of order converge to ADO's state; a 429 storm from ADO makes
//! events wait, none lost; Port's 5xx are retried, then dead-lettered with the reason.

use serde_json::{Value, json};

use adoport::serve::auth::basic_header;
use adoport::testkit::fake_ado::{Fault, FaultKind};
use adoport::testkit::port_emulator::{Endpoint, Fault as PortFault};
use adoport::testkit::synthetic_org::{OrgSpec, SyntheticOrg, generate};

use super::fakes::{Ado, LIMIT, Port, SECRET, drained, first_resync_done, serve_args};
use super::{Scratch, ServeProcess, queue_status, request, sample, wait_for};

const WORK_ITEM: &str = "azureDevopsWorkItem";

/// A `workitem.updated` delivery (update number `1000 + id`) of work item `id`, in its
/// project, as ADO sends it.
fn updated(org: &SyntheticOrg, id: u64) -> Vec<u8> {
    let mut body: Value = serde_json::from_slice(&sample("workitem.updated")).unwrap();
    let name = &org.work_items[id as usize - 1]["fields"]["System.TeamProject"];
    let project = org.projects.iter().find(|p| p["name"] == *name).unwrap();
    body["resource"]["id"] = json!(1000 + id);
    body["resource"]["workItemId"] = json!(id);
    body["resource"]["revision"]["id"] = json!(id);
    body["resourceContainers"]["project"]["id"] = project["id"].clone();
    serde_json::to_vec(&body).unwrap()
}

fn retitle(ado: &Ado, id: usize, title: &str) {
    ado.fake.edit(|org| {
        org.work_items[id - 1]["fields"]["System.Title"] = json!(title);
    });
}

/// A running `serve` between the fakes.
struct Running {
    ado: Ado,
    port: Port,
    s: Scratch,
    serve: ServeProcess,
    auth: String,
}

impl Running {
    fn start(extra: &[&str]) -> Running {
        let ado = Ado::start(generate(&OrgSpec::small()));
        let port = Port::start();
        let s = Scratch::new();
        let mut env = ado.env();
        env.extend(port.env());
        let serve = ServeProcess::start(s.dir.path(), &serve_args(&s, "port", extra), &env);
        first_resync_done(&s);
        Running {
            ado,
            port,
            s,
            serve,
            auth: basic_header("adoport", SECRET),
        }
    }

    fn post(&self, body: &[u8]) {
        let (status, text) = request(self.serve.addr, "POST", "/webhook", Some(&self.auth), body);
        assert_eq!(status, 202, "{text}");
    }

    fn settle(&self) {
        wait_for("the queue to drain", LIMIT, || drained(&self.s));
        let status = queue_status(&self.s.path("queue.sqlite"));
        assert_eq!(
            status.queue.dead,
            0,
            "{:?}\n{}",
            status.dead_letters,
            self.serve.log()
        );
    }

    fn title(&self, id: &str) -> Value {
        self.port.field(WORK_ITEM, id, "title")
    }
}

#[test]
fn duplicate_and_out_of_order_deliveries_converge_to_ados_state() {
    let run = Running::start(&[]);
    assert!(run.port.has(WORK_ITEM, "99"));
    // ADO now: 42 renamed, 99 deleted. The deliveries repeat, and the stale ones (99
    // restored, an older update of 42) come last.
    retitle(&run.ado, 42, "Task 42: final");
    run.ado
        .fake
        .reconfigure(|c| c.vanished_work_items = vec![99]);
    let org = run.ado.fake.current();
    for body in [
        updated(&org, 42),
        sample("workitem.deleted"),
        updated(&org, 42),
        sample("workitem.restored"),
        sample("workitem.deleted"),
        updated(&org, 42),
        sample("workitem.restored"),
    ] {
        run.post(&body);
    }
    run.settle();
    assert_eq!(run.title("42"), "Task 42: final");
    assert!(!run.port.has(WORK_ITEM, "99"), "ADO says 99 is deleted");

    // ADO changes back; a stale deletion arrives after the restore.
    retitle(&run.ado, 42, "Task 42: final, again");
    run.ado.fake.reconfigure(|c| c.vanished_work_items.clear());
    for body in [
        sample("workitem.restored"),
        updated(&org, 42),
        sample("workitem.deleted"),
        updated(&org, 42),
    ] {
        run.post(&body);
    }
    run.settle();
    assert_eq!(run.title("42"), "Task 42: final, again");
    assert!(run.port.has(WORK_ITEM, "99"), "ADO says 99 exists");
}

#[test]
fn an_ado_429_storm_while_events_are_handled_makes_them_wait_and_none_is_lost() {
    let run = Running::start(&["--max-attempts", "1000"]);
    let org = run.ado.fake.current();
    let ids: Vec<u64> = (1..=20).collect();
    for &id in &ids {
        retitle(&run.ado, id as usize, &format!("Work item {id}, renamed"));
    }
    // Every work-item read from now on is refused with 429 (Retry-After: 1).
    let from = run.ado.fake.requests("work-items") + 1;
    run.ado.fake.add_fault(Fault::from_request(
        "work-items",
        from,
        FaultKind::TooManyRequests(1),
    ));
    for &id in &ids {
        run.post(&updated(&org, id));
    }
    let queue = run.s.path("queue.sqlite");
    wait_for("every event to have failed once", LIMIT, || {
        let status = queue_status(&queue);
        status.pending.len() == ids.len() && status.pending.iter().all(|p| p.attempts >= 1)
    });
    let status = queue_status(&queue);
    assert_eq!(
        (status.queue.pending, status.queue.dead),
        (20, 0),
        "every event waits, none is lost"
    );
    assert!(
        status.pending[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("429")),
        "{:?}",
        status.pending[0]
    );
    assert_eq!(
        run.title("1"),
        json!(org.work_items[0]["fields"]["System.Title"])
    );
    let (_, metrics) = request(run.serve.addr, "GET", "/metrics", Some(&run.auth), b"");
    let waits: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("adoport_rate_limit_waits_total{api=\"ado\"} "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(waits > 0, "{metrics}");

    run.ado.fake.clear_faults();
    run.settle();
    for &id in &ids {
        assert_eq!(
            run.title(&id.to_string()),
            format!("Work item {id}, renamed"),
            "{}",
            run.serve.log()
        );
    }
}

#[test]
fn port_server_errors_are_retried_then_dead_lettered_with_the_reason() {
    let run = Running::start(&["--max-attempts", "3"]);
    let org = run.ado.fake.current();
    let bulk = |run: &Running| run.port.emu.requests(Endpoint::BulkUpsert);

    // A passing fault: the client's own retries get through it.
    retitle(&run.ado, 42, "Task 42: written after a retry");
    run.port
        .emu
        .inject(PortFault::ServerErrorOnBulkCallRetryAfter {
            nth: bulk(&run) + 1,
            times: 2,
            retry_after_secs: 0,
        });
    run.post(&updated(&org, 42));
    run.settle();
    assert_eq!(run.title("42"), "Task 42: written after a retry");

    // A lasting one: every attempt fails; after the last, a dead letter says why.
    retitle(&run.ado, 42, "Task 42: never written");
    let calls_before = bulk(&run);
    run.port
        .emu
        .inject(PortFault::ServerErrorOnBulkCallRetryAfter {
            nth: calls_before + 1,
            times: u64::MAX / 2,
            retry_after_secs: 0,
        });
    run.post(&updated(&org, 42));
    let queue = run.s.path("queue.sqlite");
    wait_for("the dead letter", LIMIT, || {
        queue_status(&queue).queue.dead == 1
    });
    let status = queue_status(&queue);
    let dead = &status.dead_letters[0];
    assert_eq!(dead.attempts, 3, "{dead:?}");
    assert!(
        dead.reason.contains("catalog writes failed")
            && dead.reason.contains("azureDevopsWorkItem/42")
            && dead.reason.contains("500"),
        "{}",
        dead.reason
    );
    assert_eq!(status.queue.pending, 0);
    assert!(
        bulk(&run) - calls_before > 3,
        "each attempt's write was retried by the client too"
    );
    assert_eq!(run.title("42"), "Task 42: written after a retry");
}
