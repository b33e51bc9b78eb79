//! Wiring `serve` together: the listener, the worker, the resync loop and (optionally) the
//! subscription sync at start, and a bounded, graceful shutdown.
//!
//! On SIGTERM or Ctrl-C: the listener stops accepting and requests in flight finish; the
//! worker finishes the batch in hand and stops (what is still queued stays queued); the
//! resync loop stops scheduling (a resync in progress is left to the pipeline thread and
//! ends with the process); a replica holding the resync lease gives it up. All of it
//! within [`ServeOptions::shutdown_timeout`].
//!
//! With a lease ([`Server::with_lease`]: replicas sharing a NATS queue) the resync loop is
//! [`lease::run_leased`], beside the task that keeps the lease; otherwise it is
//! [`resync::run_loop`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::app::{self, AppState};
use super::hooks::{self, SyncOptions};
use super::lease::{self, Lease};
use super::nats::NatsQueue;
use super::resync::{self, Resyncer};
use super::worker::Worker;
use crate::ado::Client;

/// How `serve` runs, beyond its parts (which carry their own settings).
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The longest a shutdown may take once signalled.
    pub shutdown_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// A bound listener and everything it drives, ready to run.
pub struct Server {
    listener: TcpListener,
    state: AppState,
    worker: Worker,
    resyncer: Resyncer,
    subscriptions: Vec<(Client, SyncOptions)>,
    options: ServeOptions,
    lease: Option<(Lease, Arc<NatsQueue>)>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds `listen` (port 0 picks a free port).
    pub async fn bind(
        listen: &str,
        state: AppState,
        worker: Worker,
        resyncer: Resyncer,
        subscriptions: Vec<(Client, SyncOptions)>,
        options: ServeOptions,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(listen).await?;
        Ok(Server {
            listener,
            state,
            worker,
            resyncer,
            subscriptions,
            options,
            lease: None,
        })
    }

    /// Runs the interval resync only while holding `lease`, on the schedule the replicas
    /// sharing `queue` keep together.
    #[must_use]
    pub fn with_lease(mut self, lease: Lease, queue: Arc<NatsQueue>) -> Server {
        self.lease = Some((lease, queue));
        self
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then shuts down within the bound.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let mut http_stop = stopped.clone();
        let http = tokio::spawn(app::serve(self.listener, self.state, async move {
            let _ = http_stop.wait_for(|s| *s).await;
        }));
        let worker = Arc::new(self.worker);
        let worker_task = {
            let worker = worker.clone();
            let stopped = stopped.clone();
            tokio::spawn(async move { worker.run(stopped).await })
        };
        let resyncer = Arc::new(self.resyncer);
        let mut lease_task = None;
        let resync_task = match self.lease {
            None => {
                let stopped = stopped.clone();
                tokio::spawn(async move { resync::run_loop(resyncer.as_ref(), stopped).await })
            }
            Some((lease, queue)) => {
                let lease = Arc::new(lease);
                let kept = lease.clone();
                let lease_stopped = stopped.clone();
                lease_task = Some(tokio::spawn(async move { kept.run(lease_stopped).await }));
                let stopped = stopped.clone();
                tokio::spawn(async move {
                    lease::run_leased(resyncer.as_ref(), &lease, queue, stopped).await;
                })
            }
        };
        // One set of subscriptions per organization.
        for (client, sync) in self.subscriptions {
            tokio::spawn(async move { sync_subscriptions(&client, &sync).await });
        }
        shutdown.await;
        tracing::info!("shutting down: no new requests; finishing the batch in hand");
        let _ = stop.send(true);
        let deadline = tokio::time::Instant::now() + self.options.shutdown_timeout;
        let served = tokio::time::timeout_at(deadline, http).await;
        let drained = tokio::time::timeout_at(deadline, worker_task).await;
        resync_task.abort();
        if let Some(task) = lease_task {
            // Gives the lease up, so that another replica takes the resync over at once.
            let _ = tokio::time::timeout_at(deadline, task).await;
        }
        if served.is_err() || drained.is_err() {
            tracing::warn!(bound = ?self.options.shutdown_timeout,
                "shutdown took too long: stopping now; queued work stays queued");
        }
        match served {
            Ok(Ok(result)) => result,
            _ => Ok(()),
        }
    }
}

/// Runs `hooks sync` once, logging what it did.
pub async fn sync_subscriptions(client: &Client, options: &SyncOptions) {
    let result = async {
        let plan = hooks::plan(client, options).await?;
        let made = hooks::apply(client, &plan, options).await?;
        Ok::<_, hooks::Error>((plan, made))
    }
    .await;
    match result {
        Ok((plan, made)) => {
            for change in &plan.changes {
                tracing::info!("subscriptions: {change}");
            }
            tracing::info!(
                made,
                unchanged = plan.unchanged,
                "service-hook subscriptions in sync"
            );
        }
        Err(e) => tracing::error!(error = %crate::http::error_chain(&e),
            "could not sync the service-hook subscriptions"),
    }
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
