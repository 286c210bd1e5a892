//! Export to the `metrics` crate's recorder (feature `metrics`).
use std::sync::{PoisonError, RwLock};

use metrics::{Counter, Histogram, Label, Unit};

use super::Tally;

/// The `metrics` handles of one table and operation, registered on first use.
pub(super) struct OpExport {
    /// `table` (not for the engine's operations) and `operation`.
    labels: Vec<Label>,
    /// The handles, with the recorder they were registered with.
    handles: RwLock<Option<Handles>>,
}

struct Handles {
    /// The address of the recorder they belong to.
    recorder: usize,
    operations: Counter,
    bytes_read: Counter,
    bytes_written: Counter,
    seconds: Histogram,
}

/// The address of the recorder in effect on this thread.
fn current_recorder() -> usize {
    metrics::with_recorder(|recorder| {
        (recorder as *const dyn metrics::Recorder)
            .cast::<()>()
            .addr()
    })
}

impl OpExport {
    pub(super) fn new(table: Option<&str>, operation: &'static str) -> Self {
        let mut labels = Vec::with_capacity(2);
        if let Some(table) = table {
            labels.push(Label::new("table", table.to_owned()));
        }
        labels.push(Label::new("operation", operation));
        OpExport {
            labels,
            handles: RwLock::new(None),
        }
    }

    /// Reports one call that took `nanos`, handed over what `tally` says and failed with
    /// the error class `error`, if any.
    pub(super) fn record(&self, nanos: u64, tally: &Tally, error: Option<&'static str>) {
        let recorder = current_recorder();
        let reported = {
            let handles = self.handles.read().unwrap_or_else(PoisonError::into_inner);
            match &*handles {
                Some(handles) if handles.recorder == recorder => {
                    handles.record(nanos, tally);
                    true
                }
                _ => false,
            }
        };
        if !reported {
            let handles = Handles::register(recorder, &self.labels);
            handles.record(nanos, tally);
            *self.handles.write().unwrap_or_else(PoisonError::into_inner) = Some(handles);
        }
        if let Some(kind) = error {
            let mut labels = self.labels.clone();
            labels.push(Label::new("kind", kind));
            metrics::counter!("zerotable_errors_total", labels.iter()).increment(1);
        }
    }
}

impl Handles {
    fn register(recorder: usize, labels: &[Label]) -> Self {
        metrics::describe_counter!(
            "zerotable_operations_total",
            Unit::Count,
            "zerotable operations run, failed or not"
        );
        metrics::describe_counter!(
            "zerotable_errors_total",
            Unit::Count,
            "zerotable operations failed, by error class"
        );
        metrics::describe_counter!(
            "zerotable_bytes_read_total",
            Unit::Bytes,
            "bytes of keys and values zerotable read from the engine"
        );
        metrics::describe_counter!(
            "zerotable_bytes_written_total",
            Unit::Bytes,
            "bytes of keys and values zerotable handed to the engine to store"
        );
        metrics::describe_histogram!(
            "zerotable_operation_seconds",
            Unit::Seconds,
            "how long zerotable operations took, callbacks included"
        );
        Handles {
            recorder,
            operations: metrics::counter!("zerotable_operations_total", labels.iter()),
            bytes_read: metrics::counter!("zerotable_bytes_read_total", labels.iter()),
            bytes_written: metrics::counter!("zerotable_bytes_written_total", labels.iter()),
            seconds: metrics::histogram!("zerotable_operation_seconds", labels.iter()),
        }
    }

    fn record(&self, nanos: u64, tally: &Tally) {
        self.operations.increment(1);
        if tally.read != 0 {
            self.bytes_read.increment(tally.read);
        }
        if tally.written != 0 {
            self.bytes_written.increment(tally.written);
        }
        self.seconds.record(nanos as f64 / 1e9);
    }
}
