//! NanoAOD-like LHC collision events (CMS 2012, `SingleMu` primary dataset flavour).
//!
//! Layout: `out/run=<run>/part-NNNNN.parquet`; the `run` key lives only in the folder name.
//! The columns, their names and Arrow types follow the CMS open-data NanoAOD file
//! (`Run2012B_SingleMu`): flat event columns, and per-object `List<Float32>` (etc.) columns with
//! their `nX` counters.
//!
//! Physics, per event (one of three classes):
//! - **Z → μμ** (12 %): Z mass from a truncated Breit–Wigner (91.19 GeV, Γ 2.50 GeV), a falling
//!   Z pT and a broad rapidity; isotropic two-body decay in the rest frame, boosted to the lab;
//!   opposite charges; muon pT smeared by 2.5 %. Kinematics are redrawn until both muons are in
//!   the tracker acceptance (|η| < 2.4, pT > 5 GeV).
//! - **W → μν** (33 %): the same machinery with a W (80.38 GeV, Γ 2.09 GeV); the neutrino makes
//!   real missing transverse momentum, the muon shows the Jacobian peak near 40 GeV.
//! - **Multijet** (55 %): non-prompt, non-isolated muons on a power-law pT spectrum above 3 GeV.
//!
//! Every event also gets soft non-prompt muons, electrons, jets (Poisson multiplicity, power-law
//! pT above 15 GeV, |η| < 4.7), taus and photons; pile-up vertices; and MET from the neutrino plus
//! a resolution term growing with the hadronic activity. Objects are sorted by descending pT, as
//! in NanoAOD. `HLT_IsoMu24` fires (93 % efficient) on an isolated muon above 24 GeV.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float32Array, Int32Array, ListArray, UInt32Array, UInt64Array,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use parquet::file::properties::WriterProperties;

use super::random::{Rng64, cumulative};
use super::writer::{
    DEFAULT_SHAPE, FileTask, ParquetFile, Shape, default_threads, plan_partition, run_tasks,
    split_by_weights, writer_properties,
};
use super::{GenerateError, GenerateOptions, GenerateSummary};

/// Real CMS Run2012B run numbers, used in this order.
const RUNS: [u32; 8] = [
    194050, 194075, 194108, 194115, 194151, 194199, 194210, 194223,
];
/// Relative run sizes (real runs differ in length).
const RUN_WEIGHTS: [f64; 8] = [1.0, 0.7, 1.3, 0.9, 1.15, 0.6, 1.05, 0.85];

const MUON_MASS: f64 = 0.105_658;
const ELECTRON_MASS: f32 = 0.000_511;
const Z_MASS: f64 = 91.1876;
const Z_WIDTH: f64 = 2.4952;
const W_MASS: f64 = 80.379;
const W_WIDTH: f64 = 2.085;

/// Fraction of events that are Z → μμ and W → μν.
const Z_FRACTION: f64 = 0.12;
const W_FRACTION: f64 = 0.33;

/// Per-run facts every file of the run needs.
#[derive(Debug, Clone)]
struct RunInfo {
    /// Events per luminosity block (a block is ~23 s of beam).
    events_per_lumi: u64,
}

/// How many runs `events` events are spread over: 1 below 10 k, one more per doubling, at most 8.
fn run_count(events: u64) -> usize {
    let mut runs = 1usize;
    let mut threshold = 10_000u64;
    while events >= threshold && runs < RUNS.len() {
        runs += 1;
        threshold = threshold.saturating_mul(2);
    }
    runs
}

/// Writes `opts.events` events under `opts.out` (which the caller has prepared).
pub(crate) fn generate(
    opts: &GenerateOptions,
    progress: &dyn Fn(u64),
) -> Result<GenerateSummary, GenerateError> {
    let shape = DEFAULT_SHAPE;
    let tasks = plan(&opts.out, opts.events, opts.seed, shape);
    let schema = schema();
    let props = writer_properties(shape, &["luminosityBlock", "PV_npvs"])?;
    run_tasks(&tasks, default_threads(), progress, |task, report| {
        write_file(task, &schema, &props, shape, report)
    })
}

/// One task per file: runs by weight, each run cut into ~1 M-event files.
fn plan(out: &Path, events: u64, seed: u64, shape: Shape) -> Vec<FileTask<RunInfo>> {
    let runs = run_count(events);
    let sizes = split_by_weights(events, &RUN_WEIGHTS[..runs]);
    let mut tasks = Vec::new();
    for (index, (&run, &size)) in RUNS.iter().zip(&sizes).enumerate() {
        if size == 0 {
            continue;
        }
        let info = RunInfo {
            events_per_lumi: (size / 300).clamp(20, 2000),
        };
        let dir = out.join(format!("run={run}"));
        plan_partition(&mut tasks, &dir, size, shape, seed, index as u64, &info);
    }
    tasks
}

fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, true)))
}

/// The Arrow schema of the files (the `run` partition column is not stored).
pub(crate) fn schema() -> SchemaRef {
    use DataType::{Boolean, Float32, Int32, UInt32, UInt64};
    let mut fields = vec![
        Field::new("luminosityBlock", UInt32, false),
        Field::new("event", UInt64, false),
        Field::new("HLT_IsoMu24", Boolean, false),
        Field::new("PV_npvs", Int32, false),
        Field::new("PV_x", Float32, false),
        Field::new("PV_y", Float32, false),
        Field::new("PV_z", Float32, false),
        Field::new("MET_pt", Float32, false),
        Field::new("MET_phi", Float32, false),
        Field::new("MET_sumet", Float32, false),
    ];
    let collections: [(&str, &[(&str, DataType)]); 5] = [
        (
            "Jet",
            &[
                ("pt", Float32),
                ("eta", Float32),
                ("phi", Float32),
                ("mass", Float32),
                ("btag", Float32),
                ("puId", Boolean),
            ],
        ),
        (
            "Muon",
            &[
                ("pt", Float32),
                ("eta", Float32),
                ("phi", Float32),
                ("mass", Float32),
                ("charge", Int32),
                ("pfRelIso03_all", Float32),
                ("pfRelIso04_all", Float32),
                ("dxy", Float32),
                ("dz", Float32),
                ("tightId", Boolean),
                ("softId", Boolean),
            ],
        ),
        (
            "Electron",
            &[
                ("pt", Float32),
                ("eta", Float32),
                ("phi", Float32),
                ("mass", Float32),
                ("charge", Int32),
                ("pfRelIso03_all", Float32),
                ("dxy", Float32),
                ("dz", Float32),
                ("cutBasedId", Boolean),
            ],
        ),
        (
            "Tau",
            &[
                ("pt", Float32),
                ("eta", Float32),
                ("phi", Float32),
                ("mass", Float32),
                ("charge", Int32),
            ],
        ),
        (
            "Photon",
            &[
                ("pt", Float32),
                ("eta", Float32),
                ("phi", Float32),
                ("mass", Float32),
            ],
        ),
    ];
    for (name, columns) in collections {
        fields.push(Field::new(format!("n{name}"), UInt32, false));
        for (column, item) in columns {
            fields.push(Field::new(
                format!("{name}_{column}"),
                list_of(item.clone()),
                false,
            ));
        }
    }
    Arc::new(Schema::new(fields))
}

// ---------------------------------------------------------------------------------------------
// Kinematics

/// A four-momentum (GeV).
#[derive(Debug, Clone, Copy)]
struct P4 {
    e: f64,
    px: f64,
    py: f64,
    pz: f64,
}

impl P4 {
    fn pt(&self) -> f64 {
        self.px.hypot(self.py)
    }

    fn eta(&self) -> f64 {
        let pt = self.pt();
        if pt > 0.0 {
            (self.pz / pt).asinh()
        } else {
            0.0
        }
    }

    fn phi(&self) -> f64 {
        self.py.atan2(self.px)
    }
}

/// A resonance of mass `m` with transverse momentum `pt`, rapidity `y` and azimuth `phi`
/// decays isotropically (in its rest frame) into daughters of masses `m1` and `m2`; returns
/// both daughters in the lab frame.
fn two_body_decay(
    rng: &mut Rng64,
    m: f64,
    m1: f64,
    m2: f64,
    pt: f64,
    y: f64,
    phi: f64,
) -> (P4, P4) {
    // Parent in the lab.
    let mt = m.hypot(pt);
    let parent = P4 {
        e: mt * y.cosh(),
        px: pt * phi.cos(),
        py: pt * phi.sin(),
        pz: mt * y.sinh(),
    };
    // Daughters in the rest frame.
    let m2sum = (m1 + m2) * (m1 + m2);
    let m2diff = (m1 - m2) * (m1 - m2);
    let p = (((m * m - m2sum) * (m * m - m2diff)).max(0.0)).sqrt() / (2.0 * m);
    let e1 = (m * m + m1 * m1 - m2 * m2) / (2.0 * m);
    let e2 = (m * m + m2 * m2 - m1 * m1) / (2.0 * m);
    let cos_theta = rng.range(-1.0, 1.0);
    let sin_theta = (1.0 - cos_theta * cos_theta).max(0.0).sqrt();
    let phi_star = rng.phi();
    let q = [
        p * sin_theta * phi_star.cos(),
        p * sin_theta * phi_star.sin(),
        p * cos_theta,
    ];
    // Boost along the parent's velocity.
    let beta = [
        parent.px / parent.e,
        parent.py / parent.e,
        parent.pz / parent.e,
    ];
    let gamma = parent.e / m;
    let boost = |e: f64, q: [f64; 3]| {
        let bq = beta[0] * q[0] + beta[1] * q[1] + beta[2] * q[2];
        let k = gamma * gamma / (gamma + 1.0) * bq + gamma * e;
        P4 {
            e: gamma * (e + bq),
            px: q[0] + k * beta[0],
            py: q[1] + k * beta[1],
            pz: q[2] + k * beta[2],
        }
    };
    (boost(e1, q), boost(e2, [-q[0], -q[1], -q[2]]))
}

/// Draws resonance decays until `accept` holds for the pair (bounded; the last draw is kept).
fn decay_in_acceptance(
    rng: &mut Rng64,
    (mass, width, lo, hi): (f64, f64, f64, f64),
    (m1, m2): (f64, f64),
    parent_pt_scale: f64,
    accept: impl Fn(&P4, &P4) -> bool,
) -> (P4, P4) {
    let mut last = None;
    for _ in 0..64 {
        let m = rng.breit_wigner(mass, width, lo, hi);
        let pt = rng.gamma_int(2, parent_pt_scale);
        let y = rng.gauss(0.0, 1.6);
        let phi = rng.phi();
        let pair = two_body_decay(rng, m, m1, m2, pt, y, phi);
        if accept(&pair.0, &pair.1) {
            return pair;
        }
        last = Some(pair);
    }
    // Practically unreachable (the acceptance is ~50 %); a clipped pair still counts.
    last.unwrap_or((
        P4 {
            e: mass / 2.0,
            px: mass / 2.0,
            py: 0.0,
            pz: 0.0,
        },
        P4 {
            e: mass / 2.0,
            px: -mass / 2.0,
            py: 0.0,
            pz: 0.0,
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// Objects

#[derive(Debug, Clone, Copy)]
struct Muon {
    pt: f32,
    eta: f32,
    phi: f32,
    charge: i32,
    iso03: f32,
    iso04: f32,
    dxy: f32,
    dz: f32,
    tight: bool,
    soft: bool,
}

impl Muon {
    /// An isolated muon from a W or Z, with the detector's 2.5 % pT resolution.
    fn prompt(rng: &mut Rng64, p: &P4, charge: i32) -> Self {
        let pt = p.pt() * (1.0 + 0.025 * rng.normal()).max(0.5);
        let iso04 = if rng.chance(0.9) {
            rng.exp(0.035)
        } else {
            rng.exp(0.25)
        };
        Self {
            pt: pt as f32,
            eta: p.eta().clamp(-2.4, 2.4) as f32,
            phi: p.phi() as f32,
            charge,
            iso03: (iso04 * rng.range(0.55, 1.0)) as f32,
            iso04: iso04 as f32,
            dxy: rng.gauss(0.0, 0.0015) as f32,
            dz: rng.gauss(0.0, 0.004) as f32,
            tight: rng.chance(0.96),
            soft: rng.chance(0.98),
        }
    }

    /// A non-prompt muon (heavy-flavour or in-flight decays): power-law pT, not isolated.
    fn nonprompt(rng: &mut Rng64) -> Self {
        let iso04 = rng.exp(0.6);
        Self {
            pt: rng.pareto_below(3.0, 1.6, 500.0) as f32,
            eta: rng.gauss_within(1.3, 2.4) as f32,
            phi: rng.phi() as f32,
            charge: rng.sign(),
            iso03: (iso04 * rng.range(0.5, 1.0)) as f32,
            iso04: iso04 as f32,
            dxy: rng.gauss(0.0, 0.02) as f32,
            dz: rng.gauss(0.0, 0.05) as f32,
            tight: rng.chance(0.55),
            soft: rng.chance(0.85),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Electron {
    pt: f32,
    eta: f32,
    phi: f32,
    charge: i32,
    iso03: f32,
    dxy: f32,
    dz: f32,
    id: bool,
}

impl Electron {
    fn random(rng: &mut Rng64) -> Self {
        Self {
            pt: rng.pareto_below(5.0, 1.8, 500.0) as f32,
            eta: rng.gauss_within(1.4, 2.5) as f32,
            phi: rng.phi() as f32,
            charge: rng.sign(),
            iso03: rng.exp(0.25) as f32,
            dxy: rng.gauss(0.0, 0.01) as f32,
            dz: rng.gauss(0.0, 0.03) as f32,
            id: rng.chance(0.55),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Jet {
    pt: f32,
    eta: f32,
    phi: f32,
    mass: f32,
    btag: f32,
    pu_id: bool,
}

impl Jet {
    fn random(rng: &mut Rng64) -> Self {
        let pt = rng.pareto_below(15.0, 2.4, 2000.0);
        // Jet mass grows with pT: m/pT ~ 0.12 with a spread.
        let mass = pt * rng.gauss(0.12, 0.04).clamp(0.03, 0.4);
        let btag = if rng.chance(0.12) {
            // Heavy-flavour jets: discriminant near 1.
            (1.0 - rng.exp(0.2)).clamp(0.0, 1.0)
        } else {
            rng.exp(0.07).min(1.0)
        };
        Self {
            pt: pt as f32,
            eta: rng.gauss_within(1.9, 4.7) as f32,
            phi: rng.phi() as f32,
            mass: mass as f32,
            btag: btag as f32,
            pu_id: rng.chance(if pt > 30.0 { 0.97 } else { 0.75 }),
        }
    }
}

/// A tau or photon candidate.
#[derive(Debug, Clone, Copy)]
struct Simple {
    pt: f32,
    eta: f32,
    phi: f32,
    mass: f32,
    charge: i32,
}

impl Simple {
    fn tau(rng: &mut Rng64) -> Self {
        // One-prong (a pion) or a multi-hadron decay mode.
        let mass = if rng.chance(0.5) {
            0.1396
        } else {
            rng.range(0.4, 1.6)
        };
        Self {
            pt: rng.pareto_below(15.0, 2.5, 1000.0) as f32,
            eta: rng.gauss_within(1.3, 2.3) as f32,
            phi: rng.phi() as f32,
            mass: mass as f32,
            charge: rng.sign(),
        }
    }

    fn photon(rng: &mut Rng64) -> Self {
        Self {
            pt: rng.pareto_below(10.0, 2.6, 1000.0) as f32,
            eta: rng.gauss_within(1.5, 2.5) as f32,
            phi: rng.phi() as f32,
            mass: 0.0,
            charge: 0,
        }
    }
}

/// Per-event scratch space, reused across events.
#[derive(Debug, Default)]
struct Scratch {
    muons: Vec<Muon>,
    electrons: Vec<Electron>,
    jets: Vec<Jet>,
    taus: Vec<Simple>,
    photons: Vec<Simple>,
}

/// Cumulative multiplicity tables (index = count).
struct Tables {
    extra_muons_prompt: Vec<f64>,
    muons_multijet: Vec<f64>,
    electrons: Vec<f64>,
    taus: Vec<f64>,
}

impl Tables {
    fn new() -> Self {
        Self {
            extra_muons_prompt: cumulative(&[0.85, 0.13, 0.02]),
            muons_multijet: cumulative(&[0.12, 0.62, 0.2, 0.05, 0.01]),
            electrons: cumulative(&[0.72, 0.21, 0.055, 0.015]),
            taus: cumulative(&[0.82, 0.15, 0.03]),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Columns

fn descending<T>(v: &mut [T], pt: impl Fn(&T) -> f32) {
    v.sort_by(|a, b| pt(b).total_cmp(&pt(a)));
}

fn push_offset(offsets: &mut Vec<i32>, n: usize) {
    let last = offsets.last().copied().unwrap_or(0);
    offsets.push(last + n as i32);
}

/// Column buffers for one batch.
#[derive(Debug, Default)]
struct Columns {
    lumi: Vec<u32>,
    event: Vec<u64>,
    hlt: Vec<bool>,
    npvs: Vec<i32>,
    pv: [Vec<f32>; 3],
    met: [Vec<f32>; 3],
    jet_offsets: Vec<i32>,
    jet: [Vec<f32>; 5],
    jet_pu_id: Vec<bool>,
    mu_offsets: Vec<i32>,
    mu: [Vec<f32>; 8],
    mu_charge: Vec<i32>,
    mu_id: [Vec<bool>; 2],
    el_offsets: Vec<i32>,
    el: [Vec<f32>; 7],
    el_charge: Vec<i32>,
    el_id: Vec<bool>,
    tau_offsets: Vec<i32>,
    tau: [Vec<f32>; 4],
    tau_charge: Vec<i32>,
    ph_offsets: Vec<i32>,
    ph: [Vec<f32>; 4],
}

impl Columns {
    fn new() -> Self {
        let mut c = Self::default();
        c.reset();
        c
    }

    fn reset(&mut self) {
        for offsets in [
            &mut self.jet_offsets,
            &mut self.mu_offsets,
            &mut self.el_offsets,
            &mut self.tau_offsets,
            &mut self.ph_offsets,
        ] {
            offsets.clear();
            offsets.push(0);
        }
    }

    fn push_objects(&mut self, s: &Scratch) {
        for j in &s.jets {
            for (col, v) in self
                .jet
                .iter_mut()
                .zip([j.pt, j.eta, j.phi, j.mass, j.btag])
            {
                col.push(v);
            }
            self.jet_pu_id.push(j.pu_id);
        }
        push_offset(&mut self.jet_offsets, s.jets.len());
        for m in &s.muons {
            let values = [
                m.pt,
                m.eta,
                m.phi,
                MUON_MASS as f32,
                m.iso03,
                m.iso04,
                m.dxy,
                m.dz,
            ];
            for (col, v) in self.mu.iter_mut().zip(values) {
                col.push(v);
            }
            self.mu_charge.push(m.charge);
            self.mu_id[0].push(m.tight);
            self.mu_id[1].push(m.soft);
        }
        push_offset(&mut self.mu_offsets, s.muons.len());
        for e in &s.electrons {
            let values = [e.pt, e.eta, e.phi, ELECTRON_MASS, e.iso03, e.dxy, e.dz];
            for (col, v) in self.el.iter_mut().zip(values) {
                col.push(v);
            }
            self.el_charge.push(e.charge);
            self.el_id.push(e.id);
        }
        push_offset(&mut self.el_offsets, s.electrons.len());
        for t in &s.taus {
            for (col, v) in self.tau.iter_mut().zip([t.pt, t.eta, t.phi, t.mass]) {
                col.push(v);
            }
            self.tau_charge.push(t.charge);
        }
        push_offset(&mut self.tau_offsets, s.taus.len());
        for p in &s.photons {
            for (col, v) in self.ph.iter_mut().zip([p.pt, p.eta, p.phi, p.mass]) {
                col.push(v);
            }
        }
        push_offset(&mut self.ph_offsets, s.photons.len());
    }

    /// Turns the buffers into a record batch and empties them.
    fn take_batch(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        fn f32s(v: &mut Vec<f32>) -> ArrayRef {
            Arc::new(Float32Array::from(std::mem::take(v)))
        }
        fn bools(v: &mut Vec<bool>) -> ArrayRef {
            Arc::new(BooleanArray::from(std::mem::take(v)))
        }
        fn i32s(v: &mut Vec<i32>) -> ArrayRef {
            Arc::new(Int32Array::from(std::mem::take(v)))
        }
        fn list(offsets: &OffsetBuffer<i32>, values: ArrayRef) -> Result<ArrayRef, ArrowError> {
            let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
            Ok(Arc::new(ListArray::try_new(
                field,
                offsets.clone(),
                values,
                None,
            )?))
        }
        /// The counter column (`nJet`, …) and the shared offsets of one collection.
        fn counts(offsets: &mut Vec<i32>) -> (ArrayRef, OffsetBuffer<i32>) {
            let n: Vec<u32> = offsets
                .windows(2)
                .map(|w| (w[1] - w[0]).unsigned_abs())
                .collect();
            let buffer = OffsetBuffer::new(std::mem::take(offsets).into());
            (Arc::new(UInt32Array::from(n)), buffer)
        }

        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(std::mem::take(&mut self.lumi))),
            Arc::new(UInt64Array::from(std::mem::take(&mut self.event))),
            bools(&mut self.hlt),
            i32s(&mut self.npvs),
        ];
        columns.extend(self.pv.iter_mut().map(f32s));
        columns.extend(self.met.iter_mut().map(f32s));

        let (n, offsets) = counts(&mut self.jet_offsets);
        columns.push(n);
        for v in &mut self.jet {
            columns.push(list(&offsets, f32s(v))?);
        }
        columns.push(list(&offsets, bools(&mut self.jet_pu_id))?);

        let (n, offsets) = counts(&mut self.mu_offsets);
        columns.push(n);
        for v in &mut self.mu[..4] {
            columns.push(list(&offsets, f32s(v))?);
        }
        columns.push(list(&offsets, i32s(&mut self.mu_charge))?);
        for v in &mut self.mu[4..] {
            columns.push(list(&offsets, f32s(v))?);
        }
        for v in &mut self.mu_id {
            columns.push(list(&offsets, bools(v))?);
        }

        let (n, offsets) = counts(&mut self.el_offsets);
        columns.push(n);
        for v in &mut self.el[..4] {
            columns.push(list(&offsets, f32s(v))?);
        }
        columns.push(list(&offsets, i32s(&mut self.el_charge))?);
        for v in &mut self.el[4..] {
            columns.push(list(&offsets, f32s(v))?);
        }
        columns.push(list(&offsets, bools(&mut self.el_id))?);

        let (n, offsets) = counts(&mut self.tau_offsets);
        columns.push(n);
        for v in &mut self.tau {
            columns.push(list(&offsets, f32s(v))?);
        }
        columns.push(list(&offsets, i32s(&mut self.tau_charge))?);

        let (n, offsets) = counts(&mut self.ph_offsets);
        columns.push(n);
        for v in &mut self.ph {
            columns.push(list(&offsets, f32s(v))?);
        }

        self.reset();
        RecordBatch::try_new(schema.clone(), columns)
    }
}

// ---------------------------------------------------------------------------------------------
// Events

/// Generates event number `i` of its run into `cols`.
fn generate_event(
    rng: &mut Rng64,
    run: &RunInfo,
    i: u64,
    tables: &Tables,
    s: &mut Scratch,
    cols: &mut Columns,
) {
    s.muons.clear();
    s.electrons.clear();
    s.jets.clear();
    s.taus.clear();
    s.photons.clear();

    // Event identity: luminosity blocks in order, event numbers increasing and unique (one
    // recorded event out of every ~20 triggered, so the numbers have gaps).
    cols.lumi.push((1 + i / run.events_per_lumi.max(1)) as u32);
    cols.event.push(1 + i * 20 + rng.below(20));

    // Vertices: 2012 pile-up, luminous region ~5 cm long.
    let npvs = rng.poisson(14.0).max(1);
    cols.npvs.push(npvs as i32);
    cols.pv[0].push(rng.gauss(0.0703, 0.0012) as f32);
    cols.pv[1].push(rng.gauss(0.0618, 0.0012) as f32);
    cols.pv[2].push(rng.gauss(0.4, 5.4) as f32);

    // The hard process.
    let class = rng.uniform();
    let mut neutrino = (0.0, 0.0);
    let jet_mean;
    if class < Z_FRACTION {
        let (a, b) = decay_in_acceptance(
            rng,
            (Z_MASS, Z_WIDTH, 60.0, 120.0),
            (MUON_MASS, MUON_MASS),
            5.0,
            |a, b| a.eta().abs() < 2.4 && b.eta().abs() < 2.4 && a.pt() > 5.0 && b.pt() > 5.0,
        );
        let charge = rng.sign();
        s.muons.push(Muon::prompt(rng, &a, charge));
        s.muons.push(Muon::prompt(rng, &b, -charge));
        jet_mean = 1.2;
    } else if class < Z_FRACTION + W_FRACTION {
        let (mu, nu) = decay_in_acceptance(
            rng,
            (W_MASS, W_WIDTH, 50.0, 110.0),
            (MUON_MASS, 0.0),
            4.5,
            |mu, _| mu.eta().abs() < 2.4 && mu.pt() > 10.0,
        );
        let charge = rng.sign();
        s.muons.push(Muon::prompt(rng, &mu, charge));
        neutrino = (nu.px, nu.py);
        jet_mean = 1.4;
    } else {
        let n = rng.pick(&tables.muons_multijet);
        for _ in 0..n {
            s.muons.push(Muon::nonprompt(rng));
        }
        jet_mean = 2.3;
    }
    if class < Z_FRACTION + W_FRACTION {
        for _ in 0..rng.pick(&tables.extra_muons_prompt) {
            s.muons.push(Muon::nonprompt(rng));
        }
    }

    // Everything else.
    for _ in 0..rng.pick(&tables.electrons) {
        s.electrons.push(Electron::random(rng));
    }
    for _ in 0..rng.poisson(jet_mean).min(14) {
        s.jets.push(Jet::random(rng));
    }
    for _ in 0..rng.pick(&tables.taus) {
        s.taus.push(Simple::tau(rng));
    }
    for _ in 0..rng.poisson(0.5).min(6) {
        s.photons.push(Simple::photon(rng));
    }
    descending(&mut s.muons, |m| m.pt);
    descending(&mut s.electrons, |e| e.pt);
    descending(&mut s.jets, |j| j.pt);
    descending(&mut s.taus, |t| t.pt);
    descending(&mut s.photons, |p| p.pt);

    // Trigger: an isolated muon above 24 GeV, 93 % efficient; rare fakes otherwise.
    let trigger_muon = s.muons.iter().any(|m| m.pt > 24.0 && m.iso04 < 0.15);
    cols.hlt
        .push(rng.chance(if trigger_muon { 0.93 } else { 0.01 }));

    // Missing transverse momentum: the neutrino plus a resolution term growing with the
    // hadronic activity and pile-up, and a rare tail from badly measured jets.
    let ht: f64 = s.jets.iter().map(|j| f64::from(j.pt)).sum();
    let sigma = 4.0 + 0.04 * ht + 0.3 * f64::from(npvs);
    let mut mx = neutrino.0 + sigma * rng.normal();
    let mut my = neutrino.1 + sigma * rng.normal();
    if rng.chance(0.03) {
        let extra = rng.pareto_below(20.0, 2.0, 1000.0);
        let phi = rng.phi();
        mx += extra * phi.cos();
        my += extra * phi.sin();
    }
    let met = mx.hypot(my);
    let visible: f64 = ht
        + s.muons.iter().map(|m| f64::from(m.pt)).sum::<f64>()
        + s.electrons.iter().map(|e| f64::from(e.pt)).sum::<f64>()
        + s.photons.iter().map(|p| f64::from(p.pt)).sum::<f64>();
    let sumet = (visible + f64::from(npvs) * rng.range(8.0, 16.0) + rng.exp(40.0)).max(1.1 * met);
    cols.met[0].push(met as f32);
    cols.met[1].push(my.atan2(mx) as f32);
    cols.met[2].push(sumet as f32);

    cols.push_objects(s);
}

/// Writes one file of a run.
fn write_file(
    task: &FileTask<RunInfo>,
    schema: &SchemaRef,
    props: &WriterProperties,
    shape: Shape,
    report: &mut dyn FnMut(u64),
) -> Result<u64, GenerateError> {
    let mut rng = Rng64::new(task.seed);
    let tables = Tables::new();
    let mut scratch = Scratch::default();
    let mut cols = Columns::new();
    let mut file = ParquetFile::create(&task.path, schema.clone(), props.clone())?;
    let end = task.first_row + task.rows;
    let mut row = task.first_row;
    while row < end {
        let n = (shape.batch_rows as u64).min(end - row);
        for i in row..row + n {
            generate_event(
                &mut rng,
                &task.partition,
                i,
                &tables,
                &mut scratch,
                &mut cols,
            );
        }
        let batch = cols.take_batch(schema).map_err(|e| {
            GenerateError(format!(
                "cannot build a batch for '{}': {e}",
                task.path.display()
            ))
        })?;
        file.write(&batch)?;
        report(n);
        row += n;
    }
    file.finish()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Float32Type, Int32Type, UInt32Type, UInt64Type};

    use super::super::Dataset;
    use super::super::test_support::{read_table, run};
    use super::*;

    #[test]
    fn run_count_grows_with_size() {
        assert_eq!(run_count(1_000), 1);
        assert_eq!(run_count(12_000), 2);
        assert_eq!(run_count(200_000), 6);
        assert_eq!(run_count(100_000_000), 8);
        let tasks = plan(Path::new("/x"), 3_000_000, 1, DEFAULT_SHAPE);
        // Every run of ~400 k events fits in one file; bigger ones roll over.
        assert!(tasks.iter().all(|t| t.rows <= DEFAULT_SHAPE.file_rows));
        assert_eq!(tasks.iter().map(|t| t.rows).sum::<u64>(), 3_000_000);
    }

    #[test]
    fn schema_layout_and_counters() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("lhc");
        let summary = run(Dataset::Lhc, &out, 12_000, 5, false);
        assert_eq!(summary.rows, 12_000);
        assert_eq!(summary.files, 2);

        let files = read_table(&out);
        let dirs: BTreeSet<String> = files.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(
            dirs,
            BTreeSet::from([
                "run=194050/part-00000.parquet".to_string(),
                "run=194075/part-00000.parquet".to_string()
            ])
        );
        let expected = schema();
        let mut total = 0;
        for (path, batches) in &files {
            let mut last_event = 0u64;
            for batch in batches {
                assert_eq!(batch.schema().fields(), expected.fields(), "{path}");
                assert!(batch.schema().field_with_name("run").is_err());
                total += batch.num_rows();
                for (counter, lists) in [
                    (
                        "nJet",
                        &[
                            "Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass", "Jet_btag", "Jet_puId",
                        ][..],
                    ),
                    (
                        "nMuon",
                        &[
                            "Muon_pt",
                            "Muon_charge",
                            "Muon_tightId",
                            "Muon_softId",
                            "Muon_dz",
                        ],
                    ),
                    (
                        "nElectron",
                        &["Electron_pt", "Electron_charge", "Electron_cutBasedId"],
                    ),
                    ("nTau", &["Tau_pt", "Tau_mass", "Tau_charge"]),
                    ("nPhoton", &["Photon_pt", "Photon_mass"]),
                ] {
                    let n = batch
                        .column_by_name(counter)
                        .unwrap()
                        .as_primitive::<UInt32Type>();
                    for name in lists {
                        let list = batch.column_by_name(name).unwrap().as_list::<i32>();
                        for row in 0..batch.num_rows() {
                            assert_eq!(list.value_length(row) as u32, n.value(row), "{name}");
                        }
                    }
                }
                // Events increase within a run, luminosity blocks never go back.
                let events = batch
                    .column_by_name("event")
                    .unwrap()
                    .as_primitive::<UInt64Type>();
                for e in events.values() {
                    assert!(*e > last_event);
                    last_event = *e;
                }
                // Objects sorted by pT, inside the acceptance.
                let pts = batch.column_by_name("Jet_pt").unwrap().as_list::<i32>();
                let etas = batch.column_by_name("Jet_eta").unwrap().as_list::<i32>();
                for row in 0..batch.num_rows() {
                    let pt = pts.value(row);
                    let pt = pt.as_primitive::<Float32Type>().values();
                    assert!(pt.windows(2).all(|w| w[0] >= w[1]));
                    assert!(pt.iter().all(|p| *p >= 15.0));
                    let eta = etas.value(row);
                    assert!(
                        eta.as_primitive::<Float32Type>()
                            .values()
                            .iter()
                            .all(|e| e.abs() < 4.7)
                    );
                }
                let btag = batch.column_by_name("Jet_btag").unwrap().as_list::<i32>();
                let btag = btag.values().as_primitive::<Float32Type>();
                assert!(btag.values().iter().all(|b| (0.0..=1.0).contains(b)));
                let met = batch
                    .column_by_name("MET_pt")
                    .unwrap()
                    .as_primitive::<Float32Type>();
                let sumet = batch
                    .column_by_name("MET_sumet")
                    .unwrap()
                    .as_primitive::<Float32Type>();
                assert!(
                    met.values()
                        .iter()
                        .zip(sumet.values())
                        .all(|(m, s)| m >= &0.0 && s > m)
                );
                assert_eq!(met.null_count(), 0);
            }
        }
        assert_eq!(total, 12_000);
    }

    /// Invariant mass of two massless-ish muons from (pt, eta, phi).
    fn mass(a: (f32, f32, f32), b: (f32, f32, f32)) -> f64 {
        let (pt1, eta1, phi1) = (f64::from(a.0), f64::from(a.1), f64::from(a.2));
        let (pt2, eta2, phi2) = (f64::from(b.0), f64::from(b.1), f64::from(b.2));
        (2.0 * pt1 * pt2 * ((eta1 - eta2).cosh() - (phi1 - phi2).cos()))
            .max(0.0)
            .sqrt()
    }

    #[test]
    fn z_peak_in_opposite_charge_dimuons() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("lhc");
        run(Dataset::Lhc, &out, 8_000, 11, false);
        let (mut events, mut in_window, mut sideband, mut same_sign_window) = (0, 0, 0, 0);
        let mut masses = Vec::new();
        for (_, batches) in read_table(&out) {
            for batch in batches {
                let col = |name: &str| batch.column_by_name(name).unwrap().as_list::<i32>().clone();
                let (pt, eta, phi, q) = (
                    col("Muon_pt"),
                    col("Muon_eta"),
                    col("Muon_phi"),
                    col("Muon_charge"),
                );
                for row in 0..batch.num_rows() {
                    events += 1;
                    let f = |l: &ListArray| {
                        l.value(row).as_primitive::<Float32Type>().values().to_vec()
                    };
                    let (pt, eta, phi) = (f(&pt), f(&eta), f(&phi));
                    let q = q.value(row).as_primitive::<Int32Type>().values().to_vec();
                    if pt.len() < 2 {
                        continue;
                    }
                    // Leading pair, as a dimuon analysis would take it.
                    let m = mass((pt[0], eta[0], phi[0]), (pt[1], eta[1], phi[1]));
                    if q[0] != q[1] {
                        masses.push(m);
                        if (81.0..101.0).contains(&m) {
                            in_window += 1;
                        } else if (50.0..65.0).contains(&m) || (117.0..132.0).contains(&m) {
                            sideband += 1;
                        }
                    } else if (81.0..101.0).contains(&m) {
                        same_sign_window += 1;
                    }
                }
            }
        }
        let fraction = f64::from(in_window) / f64::from(events);
        assert!(fraction > 0.08 && fraction < 0.16, "Z fraction {fraction}");
        assert!(
            in_window > 10 * sideband,
            "window {in_window}, sidebands {sideband}"
        );
        assert!(
            in_window > 10 * same_sign_window,
            "same-sign {same_sign_window}"
        );
        // The peak sits at the Z mass.
        let mut peak: Vec<f64> = masses
            .into_iter()
            .filter(|m| (81.0..101.0).contains(m))
            .collect();
        peak.sort_by(f64::total_cmp);
        let median = peak[peak.len() / 2];
        assert!((median - 91.19).abs() < 1.0, "median {median}");
    }

    #[test]
    fn same_seed_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("c"),
        );
        run(Dataset::Lhc, &a, 3_000, 9, false);
        run(Dataset::Lhc, &b, 3_000, 9, false);
        run(Dataset::Lhc, &c, 3_000, 10, false);
        let path = "run=194050/part-00000.parquet";
        let bytes = |root: &Path| std::fs::read(root.join(path)).unwrap();
        assert_eq!(bytes(&a), bytes(&b));
        assert_ne!(bytes(&a), bytes(&c));
    }
}
