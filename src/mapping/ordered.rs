//! A stream of work spread over threads and handed back in the order it came in: how `map`
//! parses, maps and renders windows of items on every core while its output stays exactly
//! the single-threaded one.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;

use crossbeam_channel::bounded;

thread_local! {
    static ON_A_WORKER: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is a worker of an [`in_order`] stream: the stream keeps every
/// core busy already, so work done there is not spread over more threads.
#[must_use]
pub fn on_a_worker() -> bool {
    ON_A_WORKER.get()
}

/// Runs `produce` on a thread of its own, gives each input it emits to one of `threads`
/// workers running `work`, and hands the outputs to `consume`, on the calling thread, in
/// the order of their inputs.
///
/// At most `ahead` inputs are in flight at once (emitted and not yet consumed), which bounds
/// the memory a slow window can make the others pile up. When `consume` returns false, or a
/// worker panics, the stream stops: `produce`'s emit returns false from then on. Returns what
/// `produce` returned; a panic on any thread resumes on the caller.
pub fn in_order<I, O, R>(
    threads: usize,
    ahead: usize,
    produce: impl FnOnce(&mut dyn FnMut(I) -> bool) -> R + Send,
    work: impl Fn(I) -> O + Sync,
    mut consume: impl FnMut(O) -> bool,
) -> R
where
    I: Send,
    O: Send,
    R: Send,
{
    let ahead = ahead.max(1);
    let work = &work;
    std::thread::scope(|scope| {
        // Every channel lives inside the scope, so a panic here drops its ends and unblocks
        // the other threads before the scope waits for them.
        let (tickets, returned) = bounded::<()>(ahead);
        let (inputs, to_work) = bounded::<(usize, I)>(ahead);
        let (outputs, results) = bounded::<(usize, std::thread::Result<O>)>(ahead);
        let producer = scope.spawn(move || {
            let mut seq = 0;
            produce(&mut |input| {
                if tickets.send(()).is_err() || inputs.send((seq, input)).is_err() {
                    return false;
                }
                seq += 1;
                true
            })
        });
        for _ in 0..threads.max(1) {
            let (to_work, outputs) = (to_work.clone(), outputs.clone());
            scope.spawn(move || {
                ON_A_WORKER.set(true);
                for (seq, input) in to_work {
                    // A panic is handed on like an output: the consumer, waiting for this
                    // sequence number, would otherwise wait for ever.
                    let output = std::panic::catch_unwind(AssertUnwindSafe(|| work(input)));
                    if outputs.send((seq, output)).is_err() {
                        break;
                    }
                }
            });
        }
        drop((to_work, outputs));
        let mut next = 0;
        let mut waiting = BTreeMap::new();
        let mut panicked = None;
        'stream: for (seq, output) in &results {
            waiting.insert(seq, output);
            while let Some(output) = waiting.remove(&next) {
                next += 1;
                let _ticket = returned.try_recv();
                let go_on = match output {
                    Ok(output) => consume(output),
                    Err(panic) => {
                        panicked = Some(panic);
                        false
                    }
                };
                if !go_on {
                    break 'stream;
                }
            }
        }
        drop((results, returned, waiting));
        let produced = producer.join();
        if let Some(panic) = panicked {
            std::panic::resume_unwind(panic);
        }
        produced.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_come_back_in_input_order_whatever_order_the_work_ends_in() {
        let mut got = Vec::new();
        let produced = in_order(
            3,
            4,
            |emit| (0..200u64).take_while(|&i| emit(i)).count(),
            |i| {
                // Later inputs often finish first.
                std::thread::sleep(std::time::Duration::from_micros((200 - i) % 7 * 50));
                i * 2
            },
            |o| {
                got.push(o);
                true
            },
        );
        assert_eq!(produced, 200);
        assert_eq!(got, (0..200).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_consumer_that_stops_stops_the_producer() {
        let mut got = Vec::new();
        let produced = in_order(
            2,
            2,
            |emit| (0..u64::MAX).take_while(|&i| emit(i)).count(),
            |i| i,
            |o| {
                got.push(o);
                o < 9
            },
        );
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        assert!(produced >= 10, "{produced}");
    }

    #[test]
    #[should_panic(expected = "worker failed")]
    fn a_panicking_worker_surfaces_on_the_caller_without_hanging() {
        in_order(
            2,
            2,
            |emit| (0..1000u64).take_while(|&i| emit(i)).count(),
            |i| {
                assert!(i != 5, "worker failed");
                i
            },
            |_| true,
        );
    }
}
