//! LEGEND-200-like germanium-detector hits.
//!
//! Layout: `out/period=p03/run=r000/datatype=cal/part-NNNNN.parquet`, with periods `p03` and
//! `p04` (spring 2023), runs `r000`… (one week each; more runs for more hits), and both
//! `cal` (Th-228 calibration, ~20 % of hits, the first hours of a run) and `phy` (physics) in
//! every run. The keys live only in the folder names.
//!
//! Columns: `timestamp` (Float64 unix seconds, increasing within a file), `channel` (UInt32
//! LEGEND raw detector id, from a fixed list of 81), `energy` (Float64 keV), `aoe` (A/E,
//! ~1.0 for single-site events, a lower tail for multi-site ones, above 1 for surface alphas),
//! `lq` (late charge, ~N(0, 1) with a positive tail), `is_valid` (~97 % true), `multiplicity`
//! (Int32, detectors hit in the event, mostly 1, up to 5) and `lar_veto` (liquid-argon
//! scintillation seen in coincidence). With waveforms, `waveform` is a FixedSizeList<Int16, 1000>:
//! a per-detector baseline with noise plus a charge-pulse step (rise time longer for multi-site
//! events, slow preamplifier decay) whose amplitude is 4 ADC counts per keV.
//!
//! Spectra:
//! - **cal**: the Th-228 chain's gamma lines (2614.5, 583.2, 238.6, 510.8, 727.3, 860.6,
//!   1620.5 keV, …) with energy-dependent full-energy-peak probability, Compton continua up to
//!   each Compton edge, the 2614.5 keV double- (1592.5) and single-escape (2103.5) peaks.
//! - **phy**: Ar-39 (falling below 565 keV), Ge-76 2νββ (broad, Q = 2039 keV), K-40 1460.8 keV
//!   and K-42 1524.6 keV lines with their continua, the K-42 beta continuum, weak Bi-214 and
//!   Tl-208 lines, and a few degraded alphas.
//!
//! Resolution: FWHM(E) = sqrt(a + b·E) with FWHM ≈ 2.5 keV at 2614.5 keV, times a per-detector
//! factor between 0.9 and 1.15.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, FixedSizeListArray, Float64Array, Int16Array, Int32Array, UInt32Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use parquet::file::properties::WriterProperties;

use super::random::{Rng64, cumulative, hash01};
use super::writer::{
    DEFAULT_SHAPE, FileTask, ParquetFile, Shape, default_threads, plan_partition, run_tasks,
    split_by_weights, writer_properties,
};
use super::{GenerateError, GenerateOptions, GenerateSummary};

/// Samples per waveform.
pub(crate) const WAVEFORM_LEN: usize = 1000;
/// Waveform gain: ADC counts per keV.
const ADC_PER_KEV: f64 = 4.0;

/// Smaller files with waveforms (2 kB a row): 8 Ki-row batches, 16 Ki-row groups, 256 Ki rows a file.
const WAVEFORM_SHAPE: Shape = Shape {
    batch_rows: 8_192,
    row_group_rows: 16_384,
    file_rows: 262_144,
};

/// Periods and their start (unix seconds, 2023-03-13 and 2023-05-22, 00:00 UTC).
const PERIODS: [(&str, f64); 2] = [("p03", 1_678_665_600.0), ("p04", 1_684_713_600.0)];
/// Relative sizes of the runs within a period.
const RUN_WEIGHTS: [f64; 8] = [1.0, 0.8, 1.2, 0.9, 1.1, 0.7, 1.3, 1.0];
/// Share of each run's hits taken in calibration mode.
const CAL_FRACTION: f64 = 0.2;

const DAY: f64 = 86_400.0;
const HOUR: f64 = 3_600.0;

/// FWHM(E)² = a + b·E (keV²): 1 keV at zero energy, 2.5 keV at 2614.5 keV.
const FWHM_A: f64 = 1.0;
const FWHM_B: f64 = (2.5 * 2.5 - FWHM_A) / 2614.5;

/// Th-228 chain gamma lines (keV) and their emission probabilities; 2614.5 keV comes first.
const TH228_LINES: [(f64, f64); 13] = [
    (2614.5, 0.359),
    (583.2, 0.305),
    (238.6, 0.436),
    (510.8, 0.081),
    (727.3, 0.0667),
    (860.6, 0.0448),
    (1620.5, 0.0149),
    (785.4, 0.011),
    (763.1, 0.0064),
    (300.1, 0.0328),
    (277.4, 0.0227),
    (1078.6, 0.0056),
    (1512.7, 0.0029),
];

/// Physics-data components, in the order of [`PHY_WEIGHTS`].
#[derive(Debug, Clone, Copy)]
enum Phy {
    Ar39,
    TwoNuBetaBeta,
    K42Gamma,
    K42Beta,
    K40Gamma,
    Bi214Gamma,
    Tl208Gamma,
    Alpha,
}

const PHY_COMPONENTS: [Phy; 8] = [
    Phy::Ar39,
    Phy::TwoNuBetaBeta,
    Phy::K42Gamma,
    Phy::K42Beta,
    Phy::K40Gamma,
    Phy::Bi214Gamma,
    Phy::Tl208Gamma,
    Phy::Alpha,
];
const PHY_WEIGHTS: [f64; 8] = [0.5, 0.3, 0.07, 0.03, 0.06, 0.01, 0.005, 0.003];

/// One (period, run, datatype) partition.
#[derive(Debug, Clone)]
struct Partition {
    /// Calibration (true) or physics data.
    cal: bool,
    /// Time of the partition's first possible hit (unix seconds).
    t0: f64,
    /// Seconds per hit (hits are spread evenly, with jitter, over the partition's time span).
    dt: f64,
    /// Whether to write waveforms.
    waveforms: bool,
}

/// The fixed list of detector raw ids: a few special channels, then ten strings of 6–9
/// detectors each.
pub(crate) fn channels() -> Vec<u32> {
    let mut ids = vec![
        1_084_803, 1_084_804, 1_084_805, 1_121_600, 1_121_601, 1_121_602, 1_121_603, 1_121_604,
    ];
    let strings = [
        1_104_000, 1_105_600, 1_107_200, 1_108_800, 1_110_400, 1_112_000, 1_113_600, 1_115_200,
        1_116_800, 1_118_400,
    ];
    for (s, base) in strings.iter().enumerate() {
        ids.extend((0..6 + (s as u32 % 4)).map(|k| base + k));
    }
    ids
}

/// Periods and runs per period for `hits` hits: one period below 2 000 hits, then two; runs
/// grow as sqrt(hits / 40 000), between 1 and 8.
fn layout(hits: u64) -> (usize, usize) {
    let periods = if hits < 2_000 { 1 } else { PERIODS.len() };
    let runs = ((hits as f64 / 40_000.0).sqrt().ceil() as usize).clamp(1, RUN_WEIGHTS.len());
    (periods, runs)
}

/// Writes `opts.events` hits under `opts.out` (which the caller has prepared).
pub(crate) fn generate(
    opts: &GenerateOptions,
    progress: &dyn Fn(u64),
) -> Result<GenerateSummary, GenerateError> {
    let shape = if opts.waveforms {
        WAVEFORM_SHAPE
    } else {
        DEFAULT_SHAPE
    };
    let tasks = plan(&opts.out, opts.events, opts.seed, opts.waveforms, shape);
    let schema = schema(opts.waveforms);
    let props = writer_properties(shape, &["channel", "multiplicity"])?;
    let channels = channels();
    let detectors: Vec<Detector> = channels.iter().map(|&id| Detector::new(id)).collect();
    run_tasks(&tasks, default_threads(), progress, |task, report| {
        write_file(task, &schema, &props, shape, &detectors, report)
    })
}

fn plan(
    out: &Path,
    hits: u64,
    seed: u64,
    waveforms: bool,
    shape: Shape,
) -> Vec<FileTask<Partition>> {
    let (periods, runs) = layout(hits);
    let weights: Vec<f64> = (0..periods)
        .flat_map(|_| RUN_WEIGHTS[..runs].iter().copied())
        .collect();
    let shares = split_by_weights(hits, &weights);
    let mut tasks = Vec::new();
    let mut partition_index = 0u64;
    for (p, (period, period_start)) in PERIODS.iter().take(periods).enumerate() {
        for r in 0..runs {
            let share = shares[p * runs + r];
            let cal_hits = (share as f64 * CAL_FRACTION).round() as u64;
            let run_start = period_start + r as f64 * 7.0 * DAY + HOUR;
            // Calibration fills the first four hours of the run, physics the rest of the week.
            let parts = [
                ("cal", cal_hits, run_start, 4.0 * HOUR),
                (
                    "phy",
                    share - cal_hits,
                    run_start + 5.0 * HOUR,
                    7.0 * DAY - 6.0 * HOUR,
                ),
            ];
            for (datatype, n, t0, span) in parts {
                if n > 0 {
                    let dir = out
                        .join(format!("period={period}"))
                        .join(format!("run=r{r:03}"))
                        .join(format!("datatype={datatype}"));
                    let partition = Partition {
                        cal: datatype == "cal",
                        t0,
                        dt: span / n as f64,
                        waveforms,
                    };
                    plan_partition(
                        &mut tasks,
                        &dir,
                        n,
                        shape,
                        seed,
                        partition_index,
                        &partition,
                    );
                }
                partition_index += 1;
            }
        }
    }
    tasks
}

/// The Arrow schema of the files (partition keys are not stored).
pub(crate) fn schema(waveforms: bool) -> SchemaRef {
    let mut fields = vec![
        Field::new("timestamp", DataType::Float64, false),
        Field::new("channel", DataType::UInt32, false),
        Field::new("energy", DataType::Float64, false),
        Field::new("aoe", DataType::Float64, false),
        Field::new("lq", DataType::Float64, false),
        Field::new("is_valid", DataType::Boolean, false),
        Field::new("multiplicity", DataType::Int32, false),
        Field::new("lar_veto", DataType::Boolean, false),
    ];
    if waveforms {
        fields.push(Field::new("waveform", waveform_type(), false));
    }
    Arc::new(Schema::new(fields))
}

fn waveform_type() -> DataType {
    DataType::FixedSizeList(
        Arc::new(Field::new_list_field(DataType::Int16, true)),
        WAVEFORM_LEN as i32,
    )
}

/// Per-detector constants.
#[derive(Debug, Clone, Copy)]
struct Detector {
    id: u32,
    /// Resolution relative to the nominal curve.
    resolution: f64,
    /// Waveform baseline (ADC counts).
    baseline: f64,
}

impl Detector {
    fn new(id: u32) -> Self {
        Self {
            id,
            resolution: 0.9 + 0.25 * hash01(u64::from(id)),
            baseline: 11_000.0 + 4_000.0 * hash01(u64::from(id) ^ 0x5bd1_e995),
        }
    }
}

/// A hit before measurement effects: true deposited energy and its topology.
#[derive(Debug, Clone, Copy)]
struct Deposit {
    energy: f64,
    /// Single-site event (A/E near 1).
    single_site: bool,
    /// Surface alpha (A/E above 1, large LQ).
    alpha: bool,
    /// Probability that the liquid argon sees light in coincidence.
    veto_prob: f64,
}

/// Compton edge (keV) of a gamma of `e` keV.
fn compton_edge(e: f64) -> f64 {
    let k = 2.0 * e / 511.0;
    e * k / (1.0 + k)
}

/// A gamma of energy `e` interacting in a detector: full-energy peak (probability falling with
/// energy) or a Compton-scattering continuum below the edge, with multiple scatters above it.
fn gamma_deposit(rng: &mut Rng64, e: f64, veto_prob: f64) -> Deposit {
    let fep = 0.55 * (e / 238.6).powf(-0.4);
    let (energy, single_site) = if rng.chance(fep) {
        // Low-energy photo-absorption is mostly single-site; high-energy peaks multi-site.
        let mut energy = e;
        if rng.chance(0.08) {
            // Incomplete charge collection: a small low-energy tail.
            energy -= rng.exp(2.5);
        }
        (energy, rng.chance(0.9 - 0.75 * (e / 2614.5).min(1.0)))
    } else {
        let edge = compton_edge(e);
        let energy = if rng.chance(0.85) || edge >= e {
            25.0 + (edge - 25.0).max(0.0) * rng.uniform().powf(0.75)
        } else {
            rng.range(edge, e)
        };
        (energy, rng.chance(0.5))
    };
    Deposit {
        energy,
        single_site,
        alpha: false,
        veto_prob,
    }
}

/// A calibration (Th-228) hit.
fn cal_deposit(rng: &mut Rng64, lines: &[f64]) -> Deposit {
    let index = rng.pick(lines).min(TH228_LINES.len() - 1);
    let (line, _) = TH228_LINES[index];
    if index == 0 {
        // Pair production: double escape (single-site) and single escape (multi-site) peaks.
        let u = rng.uniform();
        if u < 0.012 {
            return Deposit {
                energy: line - 1022.0,
                single_site: rng.chance(0.9),
                alpha: false,
                veto_prob: 0.5,
            };
        }
        if u < 0.042 {
            return Deposit {
                energy: line - 511.0,
                single_site: rng.chance(0.08),
                alpha: false,
                veto_prob: 0.5,
            };
        }
    }
    gamma_deposit(rng, line, 0.5)
}

/// A physics-data hit.
fn phy_deposit(rng: &mut Rng64, components: &[f64]) -> Deposit {
    let beta = |energy: f64, veto_prob: f64| Deposit {
        energy,
        single_site: true,
        alpha: false,
        veto_prob,
    };
    match PHY_COMPONENTS[rng.pick(components).min(PHY_COMPONENTS.len() - 1)] {
        Phy::Ar39 => {
            // Beta spectrum, endpoint 565 keV, seen as a falling exponential above threshold.
            let mut energy = 565.0;
            for _ in 0..8 {
                energy = 20.0 + rng.exp(110.0);
                if energy < 565.0 {
                    break;
                }
            }
            beta(energy.min(565.0), 0.05)
        }
        // The summed-electron spectrum of 2νββ: broad, peaking near Q/3 (Q = 2039 keV).
        Phy::TwoNuBetaBeta => beta(2039.06 * rng.beta_int(3, 5), 0.01),
        Phy::K42Gamma => gamma_deposit(rng, 1524.6, 0.35),
        Phy::K42Beta => beta(25.0 + 3500.0 * rng.beta_int(2, 4), 0.6),
        Phy::K40Gamma => gamma_deposit(rng, 1460.8, 0.3),
        Phy::Bi214Gamma => gamma_deposit(rng, 609.3, 0.4),
        Phy::Tl208Gamma => gamma_deposit(rng, 2614.5, 0.4),
        Phy::Alpha => Deposit {
            // Po-210 alphas on the p+ surface, degraded by the dead layer.
            energy: 5304.0 * (1.0 - 0.6 * rng.uniform().powi(3)),
            single_site: true,
            alpha: true,
            veto_prob: 0.02,
        },
    }
}

/// Column buffers for one batch.
#[derive(Debug, Default)]
struct Columns {
    timestamp: Vec<f64>,
    channel: Vec<u32>,
    energy: Vec<f64>,
    aoe: Vec<f64>,
    lq: Vec<f64>,
    is_valid: Vec<bool>,
    multiplicity: Vec<i32>,
    lar_veto: Vec<bool>,
    waveform: Vec<i16>,
}

impl Columns {
    fn take_batch(
        &mut self,
        schema: &SchemaRef,
        waveforms: bool,
    ) -> Result<RecordBatch, ArrowError> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(std::mem::take(&mut self.timestamp))),
            Arc::new(UInt32Array::from(std::mem::take(&mut self.channel))),
            Arc::new(Float64Array::from(std::mem::take(&mut self.energy))),
            Arc::new(Float64Array::from(std::mem::take(&mut self.aoe))),
            Arc::new(Float64Array::from(std::mem::take(&mut self.lq))),
            Arc::new(BooleanArray::from(std::mem::take(&mut self.is_valid))),
            Arc::new(Int32Array::from(std::mem::take(&mut self.multiplicity))),
            Arc::new(BooleanArray::from(std::mem::take(&mut self.lar_veto))),
        ];
        if waveforms {
            let values = Arc::new(Int16Array::from(std::mem::take(&mut self.waveform)));
            let field = Arc::new(Field::new_list_field(DataType::Int16, true));
            columns.push(Arc::new(FixedSizeListArray::try_new(
                field,
                WAVEFORM_LEN as i32,
                values,
                None,
            )?));
        }
        RecordBatch::try_new(schema.clone(), columns)
    }
}

/// Appends one digitised trace: baseline and noise (σ ≈ 3 ADC), then a charge step of
/// `energy` × 4 ADC/keV rising at sample ~500 (slower for multi-site events, A/E < 1) and
/// decaying with the preamplifier's time constant. Saturates at the int16 range.
fn push_waveform(rng: &mut Rng64, out: &mut Vec<i16>, baseline: f64, energy: f64, aoe: f64) {
    const NOISE: f64 = 3.0;
    let t0 = 500.0 + rng.gauss(0.0, 4.0);
    let rise = 6.0 / aoe.clamp(0.5, 1.5);
    let amplitude = energy.max(0.0) * ADC_PER_KEV;
    let decay = (-1.0 / 8_000.0f64).exp();
    let mut tail = 1.0;
    let scale = 3.0f64.sqrt() * NOISE;
    for k in 0..WAVEFORM_LEN {
        let x = (k as f64 - t0) / rise;
        let step = if x < -12.0 {
            0.0
        } else if x > 12.0 {
            1.0
        } else {
            1.0 / (1.0 + (-x).exp())
        };
        if x > 0.0 {
            tail *= decay;
        }
        // Irwin–Hall: four 16-bit uniforms from one draw, close to a unit Gaussian.
        let r = rand::RngCore::next_u64(rng);
        let sum = ((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48)) as f64;
        let noise = (sum / 65_536.0 - 2.0) * scale;
        let value = baseline + amplitude * step * tail + noise;
        out.push(
            value
                .round()
                .clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16,
        );
    }
}

/// Generates hit number `i` of its partition into `cols`.
fn generate_hit(
    rng: &mut Rng64,
    part: &Partition,
    i: u64,
    detectors: &[Detector],
    tables: &Tables,
    cols: &mut Columns,
) {
    let index = rng.below(detectors.len() as u64) as usize;
    let Some(detector) = detectors.get(index) else {
        return;
    };
    cols.timestamp
        .push(part.t0 + (i as f64 + rng.uniform()) * part.dt);
    cols.channel.push(detector.id);

    let deposit = if part.cal {
        cal_deposit(rng, &tables.cal_lines)
    } else {
        phy_deposit(rng, &tables.phy)
    };
    let fwhm = (FWHM_A + FWHM_B * deposit.energy.max(0.0)).sqrt() * detector.resolution;
    let energy = (deposit.energy + fwhm / 2.355 * rng.normal()).max(0.0);
    cols.energy.push(energy);

    let aoe_sigma = 0.007 + 1.5 / energy.max(20.0);
    let aoe = if deposit.alpha {
        1.05 + rng.exp(0.1)
    } else if deposit.single_site {
        1.0 + aoe_sigma * rng.normal()
    } else {
        0.99 - rng.exp(0.05) + aoe_sigma * rng.normal()
    };
    cols.aoe.push(aoe);
    let lq = if deposit.alpha {
        5.0 + rng.exp(5.0)
    } else if rng.chance(0.04) {
        rng.normal() + rng.exp(4.0)
    } else {
        rng.normal()
    };
    cols.lq.push(lq);
    cols.is_valid.push(rng.chance(0.97));
    let multiplicity_table = if part.cal {
        &tables.cal_multiplicity
    } else {
        &tables.phy_multiplicity
    };
    cols.multiplicity
        .push(1 + rng.pick(multiplicity_table) as i32);
    cols.lar_veto.push(rng.chance(deposit.veto_prob));
    if part.waveforms {
        push_waveform(rng, &mut cols.waveform, detector.baseline, energy, aoe);
    }
}

/// Cumulative-weight tables.
struct Tables {
    cal_lines: Vec<f64>,
    phy: Vec<f64>,
    cal_multiplicity: Vec<f64>,
    phy_multiplicity: Vec<f64>,
}

impl Tables {
    fn new() -> Self {
        let lines: Vec<f64> = TH228_LINES.iter().map(|(_, w)| *w).collect();
        Self {
            cal_lines: cumulative(&lines),
            phy: cumulative(&PHY_WEIGHTS),
            cal_multiplicity: cumulative(&[0.72, 0.2, 0.06, 0.015, 0.005]),
            phy_multiplicity: cumulative(&[0.88, 0.09, 0.025, 0.004, 0.001]),
        }
    }
}

/// Writes one file of a partition.
fn write_file(
    task: &FileTask<Partition>,
    schema: &SchemaRef,
    props: &WriterProperties,
    shape: Shape,
    detectors: &[Detector],
    report: &mut dyn FnMut(u64),
) -> Result<u64, GenerateError> {
    let mut rng = Rng64::new(task.seed);
    let tables = Tables::new();
    let part = &task.partition;
    let mut cols = Columns::default();
    let mut file = ParquetFile::create(&task.path, schema.clone(), props.clone())?;
    let end = task.first_row + task.rows;
    let mut row = task.first_row;
    while row < end {
        let n = (shape.batch_rows as u64).min(end - row);
        for i in row..row + n {
            generate_hit(&mut rng, part, i, detectors, &tables, &mut cols);
        }
        let batch = cols.take_batch(schema, part.waveforms).map_err(|e| {
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
    use arrow::datatypes::{Float64Type, Int16Type, Int32Type, UInt32Type};

    use super::super::Dataset;
    use super::super::test_support::{read_table, run};
    use super::*;

    #[test]
    fn layout_grows_with_size() {
        assert_eq!(layout(500), (1, 1));
        assert_eq!(layout(20_000), (2, 1));
        assert_eq!(layout(500_000), (2, 4));
        assert_eq!(layout(1_000_000_000), (2, 8));
        let ids = channels();
        assert_eq!(ids.len(), 81);
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len());
        assert!(ids.contains(&1_084_803) && ids.contains(&1_104_000) && ids.contains(&1_121_600));
    }

    #[test]
    fn schema_layout_and_spectra() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("legend");
        let summary = run(Dataset::Legend, &out, 20_000, 4, false);
        assert_eq!(summary.rows, 20_000);
        let files = read_table(&out);
        let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "period=p03/run=r000/datatype=cal/part-00000.parquet",
                "period=p03/run=r000/datatype=phy/part-00000.parquet",
                "period=p04/run=r000/datatype=cal/part-00000.parquet",
                "period=p04/run=r000/datatype=phy/part-00000.parquet",
            ]
        );
        let ids: BTreeSet<u32> = channels().into_iter().collect();
        let expected = schema(false);
        let (mut cal, mut phy) = (Vec::new(), Vec::new());
        let (mut rows, mut valid, mut single) = (0usize, 0usize, 0usize);
        for (path, batches) in &files {
            let mut last = 0.0;
            for batch in batches {
                assert_eq!(batch.schema().fields(), expected.fields());
                rows += batch.num_rows();
                let col = |name: &str| batch.column_by_name(name).unwrap().clone();
                let ts = col("timestamp");
                for t in ts.as_primitive::<Float64Type>().values() {
                    assert!(*t > last, "{path}: timestamps must increase");
                    last = *t;
                    // 2023-01-01 .. 2024-01-01
                    assert!((1_672_531_200.0..1_704_067_200.0).contains(t));
                }
                assert!(
                    col("channel")
                        .as_primitive::<UInt32Type>()
                        .values()
                        .iter()
                        .all(|c| ids.contains(c))
                );
                let m = col("multiplicity");
                let m = m.as_primitive::<Int32Type>().values();
                assert!(m.iter().all(|m| (1..=5).contains(m)));
                single += m.iter().filter(|m| **m == 1).count();
                valid += col("is_valid").as_boolean().true_count();
                let energies = col("energy");
                let energies = energies.as_primitive::<Float64Type>().values().to_vec();
                if path.contains("datatype=cal") {
                    cal.extend(energies)
                } else {
                    phy.extend(energies)
                }
            }
        }
        assert_eq!(rows, 20_000);
        let valid = valid as f64 / rows as f64;
        assert!((0.95..0.99).contains(&valid), "valid {valid}");
        assert!(single as f64 / rows as f64 > 0.7);
        assert_eq!(cal.len(), 4_000);

        let count =
            |e: &[f64], lo: f64, hi: f64| e.iter().filter(|x| (lo..hi).contains(*x)).count();
        // Th-228: the 2614.5 keV line stands far above its surroundings; so do 583.2 and 860.6.
        let tl = count(&cal, 2609.5, 2619.5);
        let around = count(&cal, 2585.0, 2595.0) + count(&cal, 2635.0, 2645.0);
        assert!(tl > 100 && tl > 5 * around, "2614.5: {tl} vs {around}");
        for line in [583.2, 860.6] {
            let peak = count(&cal, line - 5.0, line + 5.0);
            let side =
                count(&cal, line - 25.0, line - 15.0) + count(&cal, line + 15.0, line + 25.0);
            assert!(peak > 2 * side, "{line}: {peak} vs {side}");
        }
        // Resolution: the 2614.5 keV peak's core is a few keV wide.
        let core = count(&cal, 2613.0, 2616.0);
        assert!(core as f64 > 0.6 * tl as f64, "core {core} of {tl}");
        // Physics: K-40 and K-42 lines over the 2νββ continuum; no Th calibration peak.
        for line in [1460.8, 1524.6] {
            let peak = count(&phy, line - 5.0, line + 5.0);
            let side =
                count(&phy, line - 35.0, line - 25.0) + count(&phy, line + 25.0, line + 35.0);
            assert!(peak > 5 * side && peak > 50, "{line}: {peak} vs {side}");
        }
        let phy_tl = count(&phy, 2609.5, 2619.5);
        assert!((phy_tl as f64) / (phy.len() as f64) < 0.2 * tl as f64 / cal.len() as f64);
        // Ar-39 dominates the low-energy physics spectrum.
        assert!(count(&phy, 0.0, 565.0) as f64 > 0.5 * phy.len() as f64);
    }

    #[test]
    fn waveforms_are_deterministic_and_scale_with_energy() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        run(Dataset::Legend, &a, 400, 21, true);
        run(Dataset::Legend, &b, 400, 21, true);
        let (ta, tb) = (read_table(&a), read_table(&b));
        assert_eq!(ta.len(), tb.len());
        for (path, _) in &ta {
            assert_eq!(
                std::fs::read(a.join(path)).unwrap(),
                std::fs::read(b.join(path)).unwrap()
            );
        }
        let expected = schema(true);
        for (_, batches) in &ta {
            for batch in batches {
                assert_eq!(batch.schema().fields(), expected.fields());
                let energy = batch.column_by_name("energy").unwrap();
                let energy = energy.as_primitive::<Float64Type>();
                let wf = batch
                    .column_by_name("waveform")
                    .unwrap()
                    .as_fixed_size_list()
                    .clone();
                assert_eq!(wf.value_length(), WAVEFORM_LEN as i32);
                for row in 0..batch.num_rows() {
                    let trace = wf.value(row);
                    let trace = trace.as_primitive::<Int16Type>().values();
                    let base: f64 = trace[..400].iter().map(|v| f64::from(*v)).sum::<f64>() / 400.0;
                    let top: f64 =
                        trace[560..600].iter().map(|v| f64::from(*v)).sum::<f64>() / 40.0;
                    let e = energy.value(row);
                    if e > 100.0 && top < 32_000.0 {
                        let gain = (top - base) / e;
                        assert!((3.7..4.05).contains(&gain), "gain {gain} at {e} keV");
                    }
                }
            }
        }
        // Without the option, no waveform column.
        let c = dir.path().join("c");
        run(Dataset::Legend, &c, 400, 21, false);
        let (_, batches) = &read_table(&c)[0];
        assert!(batches[0].column_by_name("waveform").is_none());
        assert_eq!(batches[0].num_columns(), 8);
        assert_eq!(batches[0].column(0).null_count(), 0);
    }
}
