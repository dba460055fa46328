//! Dumps LH5 files as JSON lines, for the differential tests against legend-lh5io.
//!
//! `lh5_dump FILE` prints one line per LH5 object that is not a struct or table:
//! `{"path", "datatype", "arrow", "units", "values"}`, or `{"path", "datatype", "error"}` when
//! hepq cannot read it. Non-finite floats are written as the strings `"NaN"`, `"inf"`,
//! `"-inf"`. `lh5_dump --tables FILE` prints one line per table instead: its name, rows,
//! columns and unsupported columns with their reasons.

use std::io::Write;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use serde_json::{Value, json};

fn float(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v.is_infinite() {
        json!(if v > 0.0 { "inf" } else { "-inf" })
    } else {
        json!(v)
    }
}

fn to_json(a: &ArrayRef) -> Result<Vec<Value>, String> {
    macro_rules! prim {
        ($t:ty) => {
            a.as_primitive::<$t>()
                .values()
                .iter()
                .map(|v| json!(v))
                .collect()
        };
    }
    Ok(match a.data_type() {
        DataType::Boolean => a.as_boolean().iter().map(|v| json!(v)).collect(),
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Float32 => a
            .as_primitive::<Float32Type>()
            .values()
            .iter()
            .map(|&v| float(f64::from(v)))
            .collect(),
        DataType::Float64 => a
            .as_primitive::<Float64Type>()
            .values()
            .iter()
            .map(|&v| float(v))
            .collect(),
        DataType::Utf8 => a.as_string::<i32>().iter().map(|v| json!(v)).collect(),
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            (0..l.len())
                .map(|i| to_json(&l.value(i)).map(Value::Array))
                .collect::<Result<_, _>>()?
        }
        DataType::FixedSizeList(_, _) => {
            let l = a.as_fixed_size_list();
            (0..l.len())
                .map(|i| to_json(&l.value(i)).map(Value::Array))
                .collect::<Result<_, _>>()?
        }
        DataType::Struct(fields) => {
            let s = a.as_struct();
            let mut columns = Vec::new();
            for (f, c) in fields.iter().zip(s.columns()) {
                columns.push((f.name().clone(), to_json(c)?));
            }
            (0..s.len())
                .map(|i| {
                    Value::Object(
                        columns
                            .iter()
                            .map(|(n, c)| (n.clone(), c[i].clone()))
                            .collect(),
                    )
                })
                .collect()
        }
        other => return Err(format!("no JSON for {other}")),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (tables, files) = match args.first().map(String::as_str) {
        Some("--tables") => (true, &args[1..]),
        _ => (false, &args[..]),
    };
    if files.is_empty() {
        eprintln!("usage: lh5_dump [--tables] FILE...");
        std::process::exit(2);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = false;
    for path in files {
        let file = match hepq_lh5::Lh5File::open(path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{e}");
                failed = true;
                continue;
            }
        };
        if tables {
            let names = match file.tables() {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("{e}");
                    failed = true;
                    continue;
                }
            };
            for name in names {
                let line = match file.table(&name) {
                    Ok(t) => json!({
                        "file": path, "table": name, "rows": t.num_rows(),
                        "columns": t.schema().fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>(),
                        "unsupported": t.unsupported().iter().map(|u| json!([u.column, u.reason])).collect::<Vec<_>>(),
                    }),
                    Err(e) => json!({"file": path, "table": name, "error": e.to_string()}),
                };
                let _ = writeln!(out, "{line}");
            }
            continue;
        }
        let objects = match file.objects() {
            Ok(o) => o,
            Err(e) => {
                eprintln!("{e}");
                failed = true;
                continue;
            }
        };
        for o in objects {
            let line = match file.read_object(&o.path) {
                Ok((field, array)) => match to_json(&array) {
                    Ok(values) => json!({
                        "path": o.path, "datatype": o.datatype,
                        "arrow": field.data_type().to_string(),
                        "units": field.metadata().get(hepq_lh5::UNITS_KEY),
                        "values": values,
                    }),
                    Err(e) => json!({"path": o.path, "datatype": o.datatype, "error": e}),
                },
                Err(e) => json!({"path": o.path, "datatype": o.datatype, "error": e.to_string()}),
            };
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = out.flush();
    if failed {
        std::process::exit(1);
    }
}
