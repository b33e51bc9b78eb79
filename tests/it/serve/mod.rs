//! `adoport serve`: the webhook's handlers (`http`, in process with `oneshot`), events and
//! their signals (`events`), the durable queue and the worker (`queue`), the interval
//! resync (`resync`), subscriptions against the fake ADO server (`hooks`), the real binary
//! end to end between the fakes (`e2e`, with their set-up in `fakes`) and under faults
//! (`faults`), incremental passes (`incremental`) and its command-line surface (`cli`); the
//! queue on a real `nats-server` (`nats`), three replicas sharing it (`replicas`) and the
//! status page in headless Chromium (`page`).

mod cli;
mod e2e;
mod events;
mod fakes;
mod faults;
mod hooks;
mod http;
mod incremental;
mod nats;
mod page;
mod queue;
mod replicas;
mod resync;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::root;

/// A sample payload of `examples/webhooks/`.
pub fn sample(event_type: &str) -> Vec<u8> {
    std::fs::read(
        root()
            .join("examples/webhooks")
            .join(format!("{event_type}.json")),
    )
    .unwrap_or_else(|e| panic!("sample {event_type}: {e}"))
}

/// The event types with a sample, as file stems.
pub fn sample_types() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root().join("examples/webhooks"))
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".json").map(str::to_owned)
        })
        .collect();
    out.sort();
    out
}

/// Polls `check` every 50 ms until it holds, failing after `limit` with `what`.
#[track_caller]
pub fn wait_for(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// A running `adoport serve`, with its stderr collected.
pub struct ServeProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<String>>,
}

impl ServeProcess {
    /// Starts the binary with `args` and `envs` in `dir`, and waits until it listens.
    pub fn start(dir: &Path, args: &[String], envs: &[(&str, String)]) -> ServeProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_adoport"));
        command
            .arg("serve")
            .args(args)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env_remove("PORT_CLIENT_ID")
            .env_remove("AZURE_DEVOPS_ORG_URL")
            .env_remove("ADOPORT_WEBHOOK_SECRET")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("adoport serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && let Some(at) = line.find("listening on ") {
                    let addr = line[at + 13..]
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_owned();
                    let _ = tx.send(addr);
                    sent = true;
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr.parse().expect("an address"),
            Err(_) => {
                let _ = child.kill();
                panic!("serve did not start:\n{}", log.lock().unwrap());
            }
        };
        ServeProcess { child, addr, log }
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends SIGTERM (by pid) and waits for the exit.
    pub fn terminate(mut self) -> (std::process::ExitStatus, Duration, String) {
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().expect("serve exits");
        std::thread::sleep(Duration::from_millis(100));
        (status, started.elapsed(), self.log())
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A plain HTTP/1.1 request; returns the status and the body (status 0: no connection).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    // A refused connection is status 0, as for a server that dropped the request: a
    // caller that posts to a replica it may have just killed passes the request on.
    let mut stream = match TcpStream::connect(addr) {
        Ok(stream) => stream,
        Err(e) => return (0, format!("could not connect to {addr}: {e}")),
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(auth) = auth {
        head.push_str(&format!("Authorization: {auth}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The queue's status as `adoport status` reads it.
pub fn queue_status(path: &Path) -> adoport::serve::status::Status {
    adoport::serve::status::read(path, 50, 10).expect("the queue reads")
}

/// Paths of one test's scratch folder.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}
