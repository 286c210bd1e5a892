//! The latency histogram of every table and operation: log-linear buckets of relaxed atomics.

use super::*;

/// Bits of sub-bucket per power of two: 16 sub-buckets.
pub(super) const SUB_BITS: u32 = 4;
/// Sub-buckets per power of two, and the durations (in ns) counted exactly.
pub(super) const SUB: usize = 1 << SUB_BITS;
/// Durations from 2^TOP ns (about 73 minutes) share the top bucket.
pub(super) const TOP: u32 = 42;
/// Buckets: the exact ones below [`SUB`], then [`SUB`] per power of two up to 2^[`TOP`].
pub(super) const BUCKETS: usize = SUB + (TOP - SUB_BITS) as usize * SUB;

/// A log-linear histogram of durations in nanoseconds, recorded with relaxed atomics. Its
/// buckets count the calls of the operation.
pub(super) struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    /// The sum of every duration recorded, for the mean.
    sum: AtomicU64,
    /// The longest duration recorded.
    max: AtomicU64,
}

impl Histogram {
    pub(super) fn new() -> Self {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; BUCKETS],
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(super) fn record(&self, nanos: u64) {
        self.buckets[bucket_of(nanos)].fetch_add(1, Relaxed);
        self.sum.fetch_add(nanos, Relaxed);
        if nanos > self.max.load(Relaxed) {
            self.max.fetch_max(nanos, Relaxed);
        }
    }

    /// How many durations were recorded, and their summary.
    pub(super) fn read(&self) -> (u64, LatencySummary) {
        let counts: [u64; BUCKETS] = std::array::from_fn(|i| self.buckets[i].load(Relaxed));
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return (0, LatencySummary::default());
        }
        let max = self.max.load(Relaxed);
        let percentile = |percent: u64| {
            // The rank of the percentile among the durations recorded, from 1.
            let rank = total.saturating_mul(percent).div_ceil(100).max(1);
            let mut seen = 0u64;
            for (bucket, &count) in counts.iter().enumerate() {
                seen += count;
                if seen >= rank {
                    return Duration::from_nanos(bucket_midpoint(bucket).min(max));
                }
            }
            Duration::from_nanos(max)
        };
        let summary = LatencySummary {
            p50: percentile(50),
            p95: percentile(95),
            p99: percentile(99),
            max: Duration::from_nanos(max),
            mean: Duration::from_nanos(self.sum.load(Relaxed) / total),
        };
        (total, summary)
    }
}

/// The bucket of a duration of `nanos`.
#[inline]
pub(super) fn bucket_of(nanos: u64) -> usize {
    if nanos < SUB as u64 {
        return nanos as usize;
    }
    let nanos = nanos.min((1 << TOP) - 1);
    let power = 63 - nanos.leading_zeros(); // SUB_BITS..TOP
    let sub = (nanos >> (power - SUB_BITS)) as usize & (SUB - 1);
    SUB + (power - SUB_BITS) as usize * SUB + sub
}

/// The lowest duration of `bucket` and the number of durations (in ns) it holds.
pub(super) fn bucket_bounds(bucket: usize) -> (u64, u64) {
    if bucket < SUB {
        return (bucket as u64, 1);
    }
    let power = ((bucket - SUB) / SUB) as u32 + SUB_BITS;
    let sub = ((bucket - SUB) % SUB) as u64;
    let width = 1u64 << (power - SUB_BITS);
    ((1u64 << power) + sub * width, width)
}

/// The duration reported for `bucket`: its middle (within `width / 2 <= low / 32` of any
/// duration in it).
pub(super) fn bucket_midpoint(bucket: usize) -> u64 {
    let (low, width) = bucket_bounds(bucket);
    low + width / 2
}
