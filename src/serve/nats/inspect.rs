//! What a NATS queue holds, read without changing it: depth and ages, waiting signals, dead
//! letters, resync records and the lease — for `status`, the status page and the resync
//! schedule.

use std::collections::BTreeMap;
use std::time::SystemTime;

use async_nats::jetstream::stream;
use futures_util::StreamExt as _;
use serde::Deserialize;

use super::{CONSUMER, NatsQueue, Queued, Result, request};
use crate::serve::lease::{self, LeaseInfo};
use crate::serve::queue::{ResyncRecord, Stats, millis};
use crate::serve::status::{PendingSignal, Status};

impl NatsQueue {
    pub(super) async fn stats_now(&self, now: SystemTime) -> Result<Stats> {
        let info = self
            .signals
            .get_info()
            .await
            .map_err(|e| request("describe the queue")(e.into()))?;
        let due = match &self.consumer {
            Some(consumer) => {
                consumer
                    .get_info()
                    .await
                    .map_err(|e| request("describe the queue")(e.into()))?
                    .num_pending
            }
            None => self
                .signals
                .consumer_info(CONSUMER)
                .await
                .map(|i| i.num_pending)
                .unwrap_or(info.state.messages),
        };
        let dead = self
            .dead
            .get_info()
            .await
            .map_err(|e| request("describe the dead letters")(e.into()))?
            .state
            .messages;
        let oldest = if info.state.messages == 0 {
            None
        } else {
            let first = self
                .next_signal(info.state.first_sequence)
                .await?
                .map(|(_, q)| q.first_seen_ms);
            let published =
                i64::try_from(info.state.first_timestamp.unix_timestamp_nanos() / 1_000_000)
                    .unwrap_or(0);
            Some(first.unwrap_or(published))
        };
        let age = oldest.map(|ms| u64::try_from(millis(now) - ms).unwrap_or(0));
        Ok(Stats {
            pending: info.state.messages,
            due,
            oldest_age_ms: age,
            oldest_due_age_ms: age.filter(|_| due > 0),
            dead,
        })
    }

    /// The first signal at or after `sequence`.
    pub(super) async fn next_signal(&self, sequence: u64) -> Result<Option<(u64, Queued)>> {
        let found = self
            .signals
            .raw_message_builder()
            .sequence(sequence)
            .next_by_subject(self.names.all_signals())
            .send()
            .await;
        match found {
            Ok(message) => Ok(serde_json::from_slice(&message.payload)
                .ok()
                .map(|q| (message.sequence, q))),
            Err(e) if e.kind() == stream::RawMessageErrorKind::NoMessageFound => Ok(None),
            Err(e) => Err(request("read the queue")(e.into())),
        }
    }

    /// The newest `limit` records of `stream`, newest first, skipping replaced ones.
    pub(super) async fn newest<T: for<'de> Deserialize<'de>>(
        &self,
        stream: &stream::Stream,
        limit: usize,
        what: &'static str,
    ) -> Result<Vec<T>> {
        let info = stream
            .get_info()
            .await
            .map_err(|e| request(what)(e.into()))?;
        let mut out = Vec::new();
        let mut sequence = info.state.last_sequence;
        while out.len() < limit && sequence >= info.state.first_sequence && sequence > 0 {
            match stream.get_raw_message(sequence).await {
                Ok(message) => {
                    if let Ok(record) = serde_json::from_slice(&message.payload) {
                        out.push(record);
                    }
                }
                Err(e) if e.kind() == stream::RawMessageErrorKind::NoMessageFound => {}
                Err(e) => return Err(request(what)(e.into())),
            }
            sequence -= 1;
        }
        Ok(out)
    }

    pub(super) async fn newest_resyncs(&self, limit: usize) -> Result<Vec<ResyncRecord>> {
        self.newest(&self.resyncs, limit, "read the resync records")
            .await
    }

    pub(super) async fn read_lease(&self) -> Result<LeaseInfo> {
        lease::read(
            &self.lease_kv,
            self.lease_ttl,
            self.options.replica.as_deref(),
        )
        .await
        .map_err(|e| request("read the resync lease")(e.into()))
    }

    pub(super) async fn read_status(&self, limit: usize, resyncs: usize) -> Result<Status> {
        let queue = self.stats_now(SystemTime::now()).await?;
        let subjects = self
            .signals
            .info_with_subjects(self.names.all_signals())
            .await
            .map_err(|e| request("describe the queue")(e.into()))?;
        let mut pending_by_kind = BTreeMap::new();
        let mut subjects = subjects;
        while let Some(entry) = subjects.next().await {
            let (subject, count) = entry.map_err(|e| request("describe the queue")(e.into()))?;
            if let Some(kind) = subject.split('.').nth(2) {
                *pending_by_kind.entry(kind.to_owned()).or_insert(0) += count as u64;
            }
        }
        let mut pending = Vec::new();
        let mut sequence = 1;
        while pending.len() < limit {
            let Some((at, q)) = self.next_signal(sequence).await? else {
                break;
            };
            pending.push(PendingSignal {
                signal: q.signal,
                attempts: 0,
                last_error: None,
                events: q.events,
                first_seen_ms: q.first_seen_ms,
                not_before_ms: 0,
            });
            sequence = at + 1;
        }
        Ok(Status {
            queue,
            pending_by_kind,
            pending,
            dead_letters: self
                .newest(&self.dead, limit, "read the dead letters")
                .await?,
            resyncs: self.newest_resyncs(resyncs).await?,
            lease: Some(self.read_lease().await?),
        })
    }
}
