//! A recorded session replayed: frames from `/acquisition`, stimulus marks from
//! `/intervals/stimuli`, and the recorded data-loss gaps reported as lost again so that a
//! replay flags the same sweeps the live run flagged.

use std::path::Path;

use ncs_block::Modality;
use ncs_io::Session;

use crate::source::{ReadOutcome, Source, SourceError, SourceInfo, StimulusMark, StimulusTag};

use super::{Pace, Pacer};

/// Frames read from the file per call at most (bounds the conversion buffer).
const READ_FRAMES: usize = 4096;

/// A recorded NWB session as a [`Source`]. Tag `k` describes row `k` of the stimuli table.
pub struct SessionSource {
    session: Session,
    info: SourceInfo,
    tags: Vec<StimulusTag>,
    /// (sample index, tag), sorted by sample index.
    marks: Vec<(u64, u32)>,
    next_mark: usize,
    gaps: Vec<(u64, u64)>,
    next_gap: usize,
    total: u64,
    pos: u64,
    scratch: Vec<f64>,
    pacer: Pacer,
    assumptions: Vec<String>,
}

impl std::fmt::Debug for SessionSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionSource")
            .field("info", &self.info)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl SessionSource {
    /// Opens the session at `path` (series `series`, or the only/first one) replayed at `pace`.
    pub fn open(path: &Path, series: Option<&str>, pace: Pace) -> Result<Self, SourceError> {
        let fail = |e: ncs_io::NwbError| SourceError::Failed(format!("{}: {e}", path.display()));
        let session = Session::open(path, series).map_err(fail)?;
        let unit_note = session.info().unit_assumption();
        let si = session.info().clone();
        let info = SourceInfo {
            sample_rate_hz: si.sample_rate_hz,
            channels: si.channels,
            channel_names: (0..si.channels).map(|c| format!("ch{c}")).collect(),
            starting_time_s: si.starting_time,
            description: format!("session {} ({})", path.display(), si.series),
        };
        let table = session.stimuli().map_err(fail)?.unwrap_or_default();
        let mut tags = Vec::with_capacity(table.rows.len());
        let mut marks = Vec::with_capacity(table.rows.len());
        for (k, row) in table.rows.iter().enumerate() {
            tags.push(StimulusTag {
                nerve: row.nerve.clone(),
                side: row.side.clone(),
                site: row.site.clone(),
                modality: row.modality.map(|m| match m {
                    ncs_io::Modality::Motor => Modality::Motor,
                    ncs_io::Modality::Sensory => Modality::Sensory,
                }),
                distance_mm: row.distance_mm,
                channel: row.channel,
                intensity_ma: row.intensity_ma,
            });
            let index = ((row.time_s - si.starting_time) * si.sample_rate_hz).round();
            if index >= 0.0 && (index as u64) < si.n_samples {
                marks.push((index as u64, k as u32));
            }
        }
        marks.sort_by_key(|m| m.0);
        let mut gaps: Vec<(u64, u64)> = session
            .gaps()
            .map_err(fail)?
            .into_iter()
            .map(|g| (g.first_sample, g.sample_count))
            .filter(|g| g.1 > 0)
            .collect();
        gaps.sort_unstable();
        Ok(SessionSource {
            scratch: vec![0.0; READ_FRAMES * si.channels],
            pacer: Pacer::new(pace, si.sample_rate_hz),
            total: si.n_samples,
            session,
            info,
            tags,
            marks,
            next_mark: 0,
            gaps,
            next_gap: 0,
            pos: 0,
            assumptions: unit_note.into_iter().chain(table.assumptions).collect(),
        })
    }

    /// What the stimuli table lacked and what was assumed instead.
    pub fn assumptions(&self) -> &[String] {
        &self.assumptions
    }

    /// Frames in the recording.
    pub fn total_frames(&self) -> u64 {
        self.total
    }

    fn take_marks(&mut self, first: u64, end: u64, marks: &mut Vec<StimulusMark>) {
        while let Some(&(s, tag)) = self.marks.get(self.next_mark) {
            if s >= end {
                break;
            }
            if s >= first && marks.len() < marks.capacity() {
                marks.push(StimulusMark::new(s, Some(tag)));
            }
            self.next_mark += 1;
        }
    }
}

impl Source for SessionSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn tags(&self) -> &[StimulusTag] {
        &self.tags
    }

    fn read(
        &mut self,
        out: &mut [f32],
        marks: &mut Vec<StimulusMark>,
    ) -> Result<ReadOutcome, SourceError> {
        let ch = self.info.channels;
        if self.pos >= self.total || ch == 0 {
            return Ok(ReadOutcome::End);
        }
        // A recorded gap: its frames hold placeholders, not data.
        while let Some(&(first, count)) = self.gaps.get(self.next_gap) {
            let end = (first + count).min(self.total);
            if end <= self.pos {
                self.next_gap += 1;
                continue;
            }
            if first <= self.pos {
                self.next_gap += 1;
                let from = self.pos;
                self.take_marks(from, end, marks);
                self.pacer.wait_until(from, end);
                self.pos = end;
                return Ok(ReadOutcome::Lost {
                    first_sample: from,
                    count: end - from,
                });
            }
            break;
        }
        let mut n = ((out.len() / ch) as u64)
            .min(self.total - self.pos)
            .min(READ_FRAMES as u64)
            .min(self.pacer.max_frames() as u64);
        if let Some(&(first, _)) = self.gaps.get(self.next_gap) {
            n = n.min(first - self.pos);
        }
        let n = n as usize;
        let first = self.pos;
        let buf = &mut self.scratch[..n * ch];
        self.session
            .read_frames(first, n, buf)
            .map_err(|e| SourceError::Failed(e.to_string()))?;
        for (o, &x) in out[..n * ch].iter_mut().zip(buf.iter()) {
            *o = x as f32;
        }
        let end = first + n as u64;
        self.take_marks(first, end, marks);
        self.pacer.wait_until(first, end);
        self.pos = end;
        Ok(ReadOutcome::Frames {
            first_sample: first,
            frames: n,
        })
    }
}
