//! The examiner's hand on the simulated patient: where the stimulating electrode is placed.
//!
//! With real hardware only the examiner knows where the electrode sits, so the placement
//! reaches the virtual amplifier out of band: from another thread through [`Hand`], or from
//! lines on the emulator binary's standard input ([`Placement::parse_line`]).

use std::sync::{Arc, Mutex, PoisonError};

use ncs_block::names::{canonical_nerve, canonical_side, canonical_site};
use ncs_sim::{Scenario, Side};
use serde::{Deserialize, Serialize};

use crate::AmpError;

/// A place for the stimulating electrode: a site of a nerve on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Nerve (`median`).
    pub nerve: String,
    /// `left` or `right`.
    pub side: String,
    /// Site (`wrist`, `upper arm`).
    pub site: String,
}

impl Placement {
    /// The electrode over `site` of the `side` `nerve`.
    pub fn new(nerve: &str, side: &str, site: &str) -> Self {
        Self {
            nerve: nerve.to_owned(),
            side: side.to_owned(),
            site: site.to_owned(),
        }
    }

    /// One line of the emulator's standard input: `place NERVE SIDE SITE` (the site may have
    /// spaces: `place median right upper arm`), `lift` (the electrode on no nerve), or the
    /// same as JSON: `{"nerve":"median","side":"right","site":"elbow"}` or `null`. Returns
    /// the placement (`None` for lifted).
    pub fn parse_line(line: &str) -> Result<Option<Self>, AmpError> {
        let line = line.trim();
        let bad = |rule: &'static str| AmpError::Config {
            what: "placement line",
            rule,
            value: line.to_owned(),
        };
        if line.starts_with('{') || line == "null" {
            return serde_json::from_str(line)
                .map_err(|_| bad("must be {\"nerve\":…,\"side\":…,\"site\":…} or null"));
        }
        let mut words = line.split_whitespace();
        match words.next() {
            Some("lift") if words.next().is_none() => Ok(None),
            Some("place") => {
                let (Some(nerve), Some(side)) = (words.next(), words.next()) else {
                    return Err(bad("must be `place NERVE SIDE SITE`"));
                };
                let site = words.collect::<Vec<_>>().join(" ");
                if site.is_empty() {
                    return Err(bad("must be `place NERVE SIDE SITE`"));
                }
                Ok(Some(Self::new(nerve, side, &site)))
            }
            _ => Err(bad(
                "must be `place NERVE SIDE SITE`, `lift`, a JSON placement or null",
            )),
        }
    }
}

/// A site of the patient's scenario: its names there, its names in canonical form (for
/// matching), its (nerve, site) indices and the nerve's recording channel.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub(crate) named: Placement,
    canonical: (String, String, String),
    pub(crate) index: (usize, usize),
    pub(crate) channel: usize,
}

fn canonical(p: &Placement) -> (String, String, String) {
    (
        canonical_nerve(&p.nerve),
        canonical_side(&p.side),
        canonical_site(&p.site),
    )
}

/// Every site of `scenario`'s nerves.
pub(crate) fn sites(scenario: &Scenario) -> Vec<Site> {
    let mut out = Vec::new();
    for (ni, n) in scenario.nerves.iter().enumerate() {
        let side = match n.side {
            Side::Left => "left",
            Side::Right => "right",
        };
        for (si, s) in n.sites.iter().enumerate() {
            let named = Placement::new(&n.name, side, &s.name);
            out.push(Site {
                canonical: canonical(&named),
                named,
                index: (ni, si),
                channel: n.channel,
            });
        }
    }
    out
}

/// The examiner's hand on the patient that [`crate::Content::Patient`] plays: clone it to any
/// thread and move the electrode while the amplifier runs. Each FireStimulus stimulates where
/// the electrode is at that moment.
#[derive(Debug, Clone)]
pub struct Hand {
    sites: Arc<[Site]>,
    at: Arc<Mutex<Option<Site>>>,
}

impl Hand {
    pub(crate) fn new(sites: Vec<Site>) -> Self {
        Self {
            sites: sites.into(),
            at: Arc::new(Mutex::new(None)),
        }
    }

    /// Puts the electrode over `place` (names compared in canonical form: `Rt`, `upper_arm`
    /// and `Upper arm` are the same); returns the place in the scenario's own names. A place
    /// the patient's scenario does not have is refused, and the electrode stays where it was.
    pub fn place(&self, place: &Placement) -> Result<Placement, AmpError> {
        if self.sites.is_empty() {
            return Err(AmpError::Config {
                what: "placement",
                rule: "applies to a simulated patient (Content::Patient, --patient)",
                value: format!("{} {} {}", place.side, place.nerve, place.site),
            });
        }
        let want = canonical(place);
        let site = self
            .sites
            .iter()
            .find(|s| s.canonical == want)
            .ok_or_else(|| AmpError::Config {
                what: "placement",
                rule: "must name a site of the patient's scenario",
                value: format!(
                    "{} {} {} (sites: {})",
                    place.side,
                    place.nerve,
                    place.site,
                    self.sites
                        .iter()
                        .map(|s| format!("{} {} {}", s.named.side, s.named.nerve, s.named.site))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        *self.lock() = Some(site.clone());
        Ok(site.named.clone())
    }

    /// Takes the electrode off every nerve: a stimulus then gives only its artefact.
    pub fn lift(&self) {
        *self.lock() = None;
    }

    /// Where the electrode is, in the scenario's names.
    pub fn placement(&self) -> Option<Placement> {
        self.lock().as_ref().map(|s| s.named.clone())
    }

    /// Carries out one line of the emulator's standard input ([`Placement::parse_line`]);
    /// returns the placement now in effect.
    pub fn apply_line(&self, line: &str) -> Result<Option<Placement>, AmpError> {
        match Placement::parse_line(line)? {
            Some(p) => self.place(&p).map(Some),
            None => {
                self.lift();
                Ok(None)
            }
        }
    }

    pub(crate) fn current(&self) -> Option<Site> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Site>> {
        // A thread that panicked while holding it cannot have left a half-written placement.
        self.at.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
