//! The interactive shell of `hepq sql`: history, multi-line statements, backslash commands.

use std::io::Write;
use std::time::Instant;

use hepq_sql::HepqSession;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use super::output::{OutputFormat, write_batches};
use super::sql_cmd::execute_with_progress;
use super::{CliError, CliResult, data_dir};

const HELP: &str = "\
Statements end with ';' and may span lines. Commands:
  \\d          list tables          \\d NAME   describe a table
  \\timing     toggle timing        \\?        this help
  \\q          quit (or Ctrl-D)     Ctrl-C    discard the current input";

/// Reads statements until `\q` or end of input, printing each result.
pub async fn run(session: &HepqSession, format: OutputFormat) -> CliResult<()> {
    let mut editor = DefaultEditor::new()
        .map_err(|e| CliError::Message(format!("cannot start the shell: {e}")))?;
    let history = data_dir().join("history");
    if let Some(parent) = history.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = editor.load_history(&history);
    println!(
        "hepq {} — type \\? for help, \\q to quit.",
        env!("CARGO_PKG_VERSION")
    );
    match session.catalog() {
        Some(catalog) => println!(
            "Catalog: {} (tables and views you create are kept).",
            catalog.location()
        ),
        None => println!(
            "No warehouse: tables and views last until you quit (--warehouse DIR, or \
             --warehouse default, keeps them)."
        ),
    }

    let mut buffer = String::new();
    let mut timing = true;
    loop {
        let prompt = if buffer.is_empty() {
            "hepq> "
        } else {
            "   -> "
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(CliError::Message(format!("cannot read input: {e}"))),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            let sql = match backslash(trimmed) {
                Backslash::Quit => break,
                Backslash::Help => {
                    println!("{HELP}");
                    continue;
                }
                Backslash::Timing => {
                    timing = !timing;
                    println!("Timing is {}.", if timing { "on" } else { "off" });
                    continue;
                }
                Backslash::Sql(sql) => sql,
                Backslash::Unknown => {
                    eprintln!("Unknown command {trimmed}; \\? lists commands.");
                    continue;
                }
            };
            run_one(session, &sql, format, timing).await;
            continue;
        }
        if !buffer.is_empty() {
            buffer.push('\n');
        }
        buffer.push_str(&line);
        if !statement_complete(&buffer) {
            continue;
        }
        let _ = editor.add_history_entry(buffer.as_str());
        let sql = std::mem::take(&mut buffer);
        run_one(session, &sql, format, timing).await;
    }
    let _ = editor.save_history(&history);
    Ok(())
}

async fn run_one(session: &HepqSession, sql: &str, format: OutputFormat, timing: bool) {
    let started = Instant::now();
    let result = async {
        let Some(df) = session.run_script(sql).await? else {
            return Ok(None);
        };
        Ok::<_, CliError>(Some(execute_with_progress(session, df).await?))
    }
    .await;
    match result {
        Ok(Some(batches)) => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            if let Err(e) = write_batches(&mut out, format, &batches) {
                eprintln!("Error: {e}");
            }
            let _ = out.flush();
            if timing {
                println!("Time: {:.3}s", started.elapsed().as_secs_f64());
            }
        }
        Ok(None) => {}
        Err(e) => eprintln!("Error: {e}"),
    }
}

enum Backslash {
    Quit,
    Help,
    Timing,
    Sql(String),
    Unknown,
}

fn backslash(command: &str) -> Backslash {
    let mut words = command.split_whitespace();
    match (words.next(), words.next()) {
        (Some("\\q"), _) => Backslash::Quit,
        (Some("\\?") | Some("\\h"), _) => Backslash::Help,
        (Some("\\timing"), _) => Backslash::Timing,
        (Some("\\d"), None) => Backslash::Sql(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables \
             WHERE table_schema NOT IN ('information_schema', 'hepq') ORDER BY 1, 2"
                .into(),
        ),
        (Some("\\d"), Some(name)) => Backslash::Sql(format!("DESCRIBE {name}")),
        _ => Backslash::Unknown,
    }
}

/// Whether `sql` ends with a `;` outside quotes and comments.
fn statement_complete(sql: &str) -> bool {
    let mut in_single = false;
    let mut in_double = false;
    let mut last_significant = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if !in_double => in_single = !in_single,
            '"' if !in_single => in_double = !in_double,
            '-' if !in_single && !in_double && chars.peek() == Some(&'-') => {
                // A line comment runs to the end of the line.
                for next in chars.by_ref() {
                    if next == '\n' {
                        break;
                    }
                }
                continue;
            }
            _ => {}
        }
        if !c.is_whitespace() {
            last_significant = Some((c, in_single || in_double));
        }
    }
    matches!(last_significant, Some((';', false)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_end_at_semicolons_outside_quotes() {
        assert!(statement_complete("select 1;"));
        assert!(statement_complete("select 1;  \n"));
        assert!(!statement_complete("select ';'"));
        assert!(!statement_complete("select 1 -- done;"));
        assert!(statement_complete("select 1 -- one\n;"));
        assert!(!statement_complete("select\n  a"));
    }
}
