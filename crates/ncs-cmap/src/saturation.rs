//! Recognising amplifier or converter saturation.
//!
//! A saturated input holds one value (the rail) for several consecutive samples at the extreme
//! of the record, which a physiological signal sampled at ≥ 4 kHz does not do.

/// Whether `x` holds its maximum or its minimum for at least `min_run` consecutive samples in
/// a way only a rail explains.
///
/// A converter's coarse steps (an Arduino's 10 bits behind a modest gain are several µV) hold
/// the broad top of a response at one code for a few samples too. Measured in quantisation steps
/// `q` (the smallest change between neighbours), a run at an extreme is clipping when, on
/// either side, the three samples next to it describe a signal that was going on past it (the
/// parabola through them would pass the run's value by more than 2 q beyond the step onto it),
/// or when it lasts four times longer than a top of that curvature stays within one step. Data
/// stored as floating point has a tiny `q`, and every such run counts.
pub fn flat_run_at_extreme(x: &[f64], min_run: usize) -> bool {
    let report = clipping(x, min_run);
    if !report.saturated() {
        return false;
    }
    let q = x
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .filter(|&d| d > 0.0)
        .fold(f64::INFINITY, f64::min);
    if !q.is_finite() {
        return true;
    }
    let min_run = min_run.max(2);
    let mut start = 0;
    while start < x.len() {
        let v = x[start];
        let mut end = start + 1;
        while end < x.len() && x[end] == v {
            end += 1;
        }
        let len = end - start;
        if len >= min_run && (v == report.high || v == report.low) {
            let sign = if v == report.high { 1.0 } else { -1.0 };
            // The three samples before the run, nearest last, and those after it, likewise.
            let before = (start >= 3).then(|| [x[start - 3], x[start - 2], x[start - 1]]);
            let after = (end + 3 <= x.len()).then(|| [x[end + 2], x[end + 1], x[end]]);
            let railed = [before, after]
                .into_iter()
                .flatten()
                .any(|y| heading_past(y, v, q, sign, len, min_run));
            if railed {
                return true;
            }
        }
        start = end;
    }
    false
}

/// Whether the samples `y` (nearest the run last) lead past the run's value `v` — see
/// [`flat_run_at_extreme`]; `sign` is +1 at a maximum, −1 at a minimum, all in steps of `q`.
fn heading_past(y: [f64; 3], v: f64, q: f64, sign: f64, len: usize, min_run: usize) -> bool {
    let (d1, d2) = (sign * (y[1] - y[0]) / q, sign * (y[2] - y[1]) / q);
    let step_in = sign * (v - y[2]) / q;
    let a = d2 - d1;
    let slope = d2 + 0.5 * a;
    // How far past the last sample the signal would go: to the parabola's vertex, or one more
    // step when it was not slowing down.
    let (excess, hold) = if a < 0.0 {
        (slope.max(0.0).powi(2) / (2.0 * -a), 2.0 * (2.0 / -a).sqrt())
    } else {
        (d2.max(0.0), 2.0)
    };
    excess - step_in > 2.0 || len as f64 >= (4.0 * hold).ceil().max(min_run as f64)
}

/// What a clipping scan found.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ClipReport {
    /// Highest value in the record.
    pub high: f64,
    /// Lowest value in the record.
    pub low: f64,
    /// Runs of at least `min_run` samples held at `high`.
    pub high_runs: usize,
    /// Runs of at least `min_run` samples held at `low`.
    pub low_runs: usize,
    /// Samples inside those runs.
    pub clipped_samples: usize,
}

impl ClipReport {
    /// Whether any clipping run was found.
    pub fn saturated(&self) -> bool {
        self.high_runs + self.low_runs > 0
    }
}

/// Scans a whole record (one channel) for runs of at least `min_run` identical samples at its
/// highest or lowest value.
pub fn clipping(x: &[f64], min_run: usize) -> ClipReport {
    let mut report = ClipReport::default();
    if x.is_empty() {
        return report;
    }
    let (mut high, mut low) = (f64::NEG_INFINITY, f64::INFINITY);
    for &v in x {
        high = high.max(v);
        low = low.min(v);
    }
    report.high = high;
    report.low = low;
    if high == low {
        // A flat line is a dead channel, not clipping.
        return report;
    }
    let min_run = min_run.max(2);
    let scan = |target: f64| {
        let (mut runs, mut samples, mut len) = (0, 0, 0);
        for &v in x.iter().chain(std::iter::once(&f64::NAN)) {
            if v == target {
                len += 1;
            } else {
                if len >= min_run {
                    runs += 1;
                    samples += len;
                }
                len = 0;
            }
        }
        (runs, samples)
    };
    let (hr, hs) = scan(high);
    let (lr, ls) = scan(low);
    report.high_runs = hr;
    report.low_runs = lr;
    report.clipped_samples = hs + ls;
    report
}

/// Least and greatest of every `stride`-th sample of `x` from the first, NaN ignored (as
/// `f64::min`/`max` do). Four independent running extremes, so the loop does not wait on one
/// comparison chain.
/// Most channels [`ClipTracker::push_interleaved`] scans in one pass (more take one pass each).
const MAX_INTERLEAVED: usize = 64;

/// Per-channel minimum and maximum of the whole frames of `N` channels in `data`, into the
/// first `N` entries of `lo` and `hi`.
fn frames_min_max<const N: usize>(data: &[f64], lo: &mut [f64], hi: &mut [f64]) {
    let mut l = [f64::INFINITY; N];
    let mut h = [f64::NEG_INFINITY; N];
    for frame in data.chunks_exact(N) {
        for c in 0..N {
            let v = frame[c];
            l[c] = if v < l[c] { v } else { l[c] };
            h[c] = if v > h[c] { v } else { h[c] };
        }
    }
    lo[..N].copy_from_slice(&l);
    hi[..N].copy_from_slice(&h);
}

fn strided_min_max(x: &[f64], stride: usize) -> (f64, f64) {
    const L: usize = 4;
    let (mut lo, mut hi) = ([f64::INFINITY; L], [f64::NEG_INFINITY; L]);
    let n = x.len().div_ceil(stride);
    let mut k = 0;
    while k + L <= n {
        for l in 0..L {
            let v = x[(k + l) * stride];
            lo[l] = if v < lo[l] { v } else { lo[l] };
            hi[l] = if v > hi[l] { v } else { hi[l] };
        }
        k += L;
    }
    for (l, i) in (k..n).enumerate() {
        let v = x[i * stride];
        lo[l] = if v < lo[l] { v } else { lo[l] };
        hi[l] = if v > hi[l] { v } else { hi[l] };
    }
    let fold = |a: [f64; L], pick: fn(f64, f64) -> f64| a.into_iter().fold(a[0], pick);
    (fold(lo, f64::min), fold(hi, f64::max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_runs_at_rails_only() {
        let mut x: Vec<f64> = (0..200).map(|i| (i as f64 * 0.3).sin()).collect();
        assert!(!clipping(&x, 3).saturated());
        for v in x.iter_mut() {
            *v = v.clamp(-0.8, 0.8);
        }
        let r = clipping(&x, 3);
        assert!(r.saturated() && r.high_runs > 0 && r.low_runs > 0);
        assert!(!clipping(&[0.0; 20], 3).saturated());
    }
}

/// Streaming form of [`clipping`]: feed a channel's samples block by block, then ask whether it
/// held its final maximum or minimum for at least `min_run` samples in a row.
#[derive(Debug, Clone, Copy)]
pub struct ClipTracker {
    min_run: usize,
    max_seen: f64,
    min_seen: f64,
    /// Highest and lowest values held for a whole run, with their run counts and samples.
    hi: (f64, usize, usize),
    lo: (f64, usize, usize),
    run_val: f64,
    run_len: usize,
}

impl ClipTracker {
    /// A tracker that counts runs of at least `min_run` (≥ 2) identical samples.
    pub fn new(min_run: usize) -> Self {
        ClipTracker {
            min_run: min_run.max(2),
            max_seen: f64::NEG_INFINITY,
            min_seen: f64::INFINITY,
            hi: (f64::NEG_INFINITY, 0, 0),
            lo: (f64::INFINITY, 0, 0),
            run_val: f64::NAN,
            run_len: 0,
        }
    }

    /// Adds one sample.
    #[inline]
    pub fn push(&mut self, x: f64) {
        self.max_seen = self.max_seen.max(x);
        self.min_seen = self.min_seen.min(x);
        if x == self.run_val {
            self.run_len += 1;
        } else {
            self.close_run();
            self.run_val = x;
            self.run_len = 1;
        }
    }

    /// Adds every `stride`-th sample of `data` from `offset` on (one channel of interleaved
    /// frames). Blocks that cannot touch the extremes are only scanned for their minimum and
    /// maximum, so the per-sample cost is low: a block's samples are checked one by one only
    /// when the block reaches the record's highest or lowest value so far (every occurrence of
    /// the final extremes is in such a block) or continues the open run.
    pub fn push_strided(&mut self, data: &[f64], stride: usize, offset: usize) {
        let stride = stride.max(1);
        let Some(&first) = data.get(offset) else {
            return;
        };
        let (lo, hi) = strided_min_max(&data[offset..], stride);
        self.push_strided_within(data, stride, offset, first, (lo, hi));
    }

    /// [`ClipTracker::push_strided`] for every channel of the interleaved frames in `data`,
    /// `trackers[c]` taking channel `c`: one pass over the block finds every channel's
    /// minimum and maximum, instead of one strided pass per channel.
    pub fn push_interleaved(trackers: &mut [ClipTracker], data: &[f64]) {
        let ch = trackers.len();
        if ch == 0 || data.len() < ch {
            return;
        }
        if ch > MAX_INTERLEAVED {
            for (c, t) in trackers.iter_mut().enumerate() {
                t.push_strided(data, ch, c);
            }
            return;
        }
        let mut lo = [f64::INFINITY; MAX_INTERLEAVED];
        let mut hi = [f64::NEG_INFINITY; MAX_INTERLEAVED];
        // A frame width known at compile time lets the loop run in vector lanes.
        match ch {
            1 => frames_min_max::<1>(data, &mut lo, &mut hi),
            2 => frames_min_max::<2>(data, &mut lo, &mut hi),
            4 => frames_min_max::<4>(data, &mut lo, &mut hi),
            8 => frames_min_max::<8>(data, &mut lo, &mut hi),
            16 => frames_min_max::<16>(data, &mut lo, &mut hi),
            _ => {
                for frame in data.chunks_exact(ch) {
                    for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(frame) {
                        *l = if v < *l { v } else { *l };
                        *h = if v > *h { v } else { *h };
                    }
                }
            }
        }
        // A partial frame at the end belongs to the first channels.
        let whole = data.len() / ch * ch;
        for (c, &v) in data[whole..].iter().enumerate() {
            lo[c] = lo[c].min(v);
            hi[c] = hi[c].max(v);
        }
        for (c, t) in trackers.iter_mut().enumerate() {
            t.push_strided_within(data, ch, c, data[c], (lo[c], hi[c]));
        }
    }

    /// The body of [`ClipTracker::push_strided`] once the block's range `(lo, hi)` on this
    /// channel is known (`first` its first sample).
    fn push_strided_within(
        &mut self,
        data: &[f64],
        stride: usize,
        offset: usize,
        first: f64,
        (lo, hi): (f64, f64),
    ) {
        if hi >= self.max_seen || lo <= self.min_seen || first == self.run_val {
            for &x in data.iter().skip(offset).step_by(stride) {
                self.push(x);
            }
            return;
        }
        // Nothing in this block is an extreme: close the open run and open the block's
        // trailing run (counted backwards from its last sample).
        self.close_run();
        let mut it = data.iter().skip(offset).step_by(stride).rev();
        let last = it.next().copied().unwrap_or(first);
        self.run_val = last;
        self.run_len = 1 + it.take_while(|&&x| x == last).count();
        self.max_seen = self.max_seen.max(hi);
        self.min_seen = self.min_seen.min(lo);
    }

    fn close_run(&mut self) {
        if self.run_len < self.min_run {
            return;
        }
        let (v, n) = (self.run_val, self.run_len);
        if v > self.hi.0 {
            self.hi = (v, 1, n);
        } else if v == self.hi.0 {
            self.hi.1 += 1;
            self.hi.2 += n;
        }
        if v < self.lo.0 {
            self.lo = (v, 1, n);
        } else if v == self.lo.0 {
            self.lo.1 += 1;
            self.lo.2 += n;
        }
    }

    /// The result so far (the current run counts if it is long enough).
    pub fn report(&self) -> ClipReport {
        let mut t = *self;
        t.close_run();
        let mut r = ClipReport {
            high: t.max_seen,
            low: t.min_seen,
            ..ClipReport::default()
        };
        if t.max_seen == t.min_seen {
            return r;
        }
        if t.hi.0 == t.max_seen {
            r.high_runs = t.hi.1;
            r.clipped_samples += t.hi.2;
        }
        if t.lo.0 == t.min_seen {
            r.low_runs = t.lo.1;
            r.clipped_samples += t.lo.2;
        }
        r
    }
}

#[cfg(test)]
mod tracker_tests {
    use super::*;

    #[test]
    fn streaming_tracker_agrees_with_the_whole_record_scan() {
        let x: Vec<f64> = (0..500)
            .map(|i| (i as f64 * 0.05).sin().clamp(-0.9, 0.95))
            .collect();
        let mut t = ClipTracker::new(3);
        for chunk in x.chunks(37) {
            chunk.iter().for_each(|&v| t.push(v));
        }
        assert_eq!(t.report(), clipping(&x, 3));
        assert!(t.report().saturated());
        // Interleaved with another channel, block by block.
        let inter: Vec<f64> = x.iter().flat_map(|&v| [v, -v]).collect();
        let (mut a, mut b) = (ClipTracker::new(3), ClipTracker::new(3));
        for chunk in inter.chunks(2 * 41) {
            a.push_strided(chunk, 2, 0);
            b.push_strided(chunk, 2, 1);
        }
        assert_eq!(a.report(), clipping(&x, 3));
        let neg: Vec<f64> = x.iter().map(|v| -v).collect();
        assert_eq!(b.report(), clipping(&neg, 3));
        // Every channel in one pass: the same reports, for three channels (one flat at zero)
        // in blocks of whole frames.
        let three: Vec<f64> = x.iter().flat_map(|&v| [v, -v, 0.0]).collect();
        let mut t3 = [ClipTracker::new(3); 3];
        for chunk in three.chunks(3 * 29) {
            ClipTracker::push_interleaved(&mut t3, chunk);
        }
        assert_eq!(t3[0].report(), clipping(&x, 3));
        assert_eq!(t3[1].report(), clipping(&neg, 3));
        assert_eq!(t3[2].report(), clipping(&vec![0.0; x.len()], 3));
        let mut quiet = ClipTracker::new(3);
        (0..200).for_each(|i| quiet.push((i as f64 * 0.3).sin()));
        assert!(!quiet.report().saturated());
    }
}
