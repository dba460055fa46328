//! Corrupt LH5 files: truncated, zeroed and bit-flipped copies of a real LEGEND file must give
//! errors (or, where the damage misses what is read, values), never a panic or a hang.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

fn testdata(name: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/legend-testdata/lh5")
        .join(name);
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(e) => {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(!ci, "missing test data {} ({e})", path.display());
            eprintln!("skipping: missing test data {}", path.display());
            None
        }
    }
}

/// Opens `bytes` and reads every object and table; returns how many reads succeeded.
fn read_everything(bytes: Vec<u8>) -> usize {
    let Ok(file) = hepq_lh5::Lh5File::from_bytes_with_limit("corrupt.lh5", bytes, 64 << 20) else {
        return 0;
    };
    let mut ok = 0;
    if let Ok(objects) = file.objects() {
        for o in objects {
            match file.read_object(&o.path) {
                Ok(_) => ok += 1,
                Err(e) => assert!(e.to_string().contains("corrupt.lh5"), "{e}"),
            }
        }
    }
    if let Ok(tables) = file.tables() {
        for t in tables {
            if let Ok(table) = file.table(&t)
                && table.read(&file, None).is_ok()
            {
                ok += 1;
            }
        }
    }
    ok
}

const FILES: [&str; 2] = [
    // superblock v0, gzip + shuffle
    "prod-ref-l200/generated/tier/hit/cal/p03/r001/l200-p03-r001-cal-20230318T012144Z-tier_hit.lh5",
    // superblock v2, zstd, encoded waveforms
    "prod-ref-l200/generated/tier/raw/cal/p14/r005/l200-p14-r004-cal-20250606T010224Z-tier_raw.lh5",
];

#[test]
fn intact_files_read_completely() {
    for name in FILES {
        let Some(bytes) = testdata(name) else { return };
        assert!(read_everything(bytes) > 20, "{name}");
    }
}

#[test]
fn truncated_files_give_errors() {
    for name in FILES {
        let Some(bytes) = testdata(name) else { return };
        for cut in [
            0,
            7,
            8,
            100,
            512,
            2048,
            bytes.len() / 4,
            bytes.len() / 2,
            bytes.len() - 1,
        ] {
            read_everything(bytes[..cut.min(bytes.len())].to_vec());
        }
    }
}

#[test]
fn flipped_and_zeroed_bytes_never_panic() {
    for name in FILES {
        let Some(bytes) = testdata(name) else { return };
        let mut state = 0x9E37_79B9u32;
        let mut next = |n: usize| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state as usize) % n.max(1)
        };
        // Damage concentrated in the metadata at the start, and spread over the file.
        for round in 0..40 {
            let mut b = bytes.clone();
            let span = if round % 2 == 0 {
                8192.min(b.len())
            } else {
                b.len()
            };
            for _ in 0..(1 + round % 7) {
                let i = next(span);
                b[i] = if round % 3 == 0 {
                    0
                } else {
                    b[i] ^ (1 << next(8))
                };
            }
            read_everything(b);
        }
    }
}
