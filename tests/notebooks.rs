//! The notebooks under notebooks/ run headless (nbclient, through
//! tests/python/execute_notebook.py) against a `chronicle serve` this test
//! starts on free ports, as a user runs them against theirs: the server's
//! addresses and a token reach them through `CHRONICLE_FLIGHT`,
//! `CHRONICLE_HTTP` and `CHRONICLE_TOKEN`. Each notebook asserts its
//! results against figures pandas or polars compute from the data the
//! notebook generated, so a wrong answer fails a cell, and a failed cell
//! fails the test. Charts are drawn with matplotlib's Agg backend and saved
//! to the test's directory.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::path::{Path, PathBuf};

use common::serving::{READ_TOKEN, Serving, WRITE_TOKEN, output_text};

fn notebook(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("notebooks").join(name)
}

/// Executes notebook `name` against `server` with `token`; returns whether
/// every cell ran, and what the runner printed.
fn execute(server: &Serving, name: &str, token: &str) -> (bool, String) {
    let plots = server.dir().path("plots");
    std::fs::create_dir_all(&plots).unwrap();
    let executed = server.dir().path(&format!("executed-{name}"));
    let out = server.python(
        &["execute_notebook.py", notebook(name).to_str().unwrap(), executed.to_str().unwrap()],
        &[
            ("CHRONICLE_FLIGHT", &server.flight),
            ("CHRONICLE_HTTP", &server.http),
            ("CHRONICLE_TOKEN", token),
            ("CHRONICLE_PLOTS", plots.to_str().unwrap()),
            ("MPLBACKEND", "Agg"),
        ],
    );
    (out.status.success(), output_text(&out))
}

/// Asserts `name` in the plots directory is a PNG image.
fn assert_png(server: &Serving, name: &str) {
    let bytes = std::fs::read(server.dir().path("plots").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is not a PNG");
}

#[test]
fn both_notebooks_run_against_a_server() {
    let server = Serving::start("notebooks");
    for (name, chart) in
        [("quickstart.ipynb", "quickstart_hourly_temp.png"), ("polars_analysis.ipynb", "polars_usage_user.png")]
    {
        let (ok, text) = execute(&server, name, WRITE_TOKEN);
        println!("{text}");
        assert!(ok, "{name} failed (missing packages? run scripts/install-test-deps.sh):\n{text}");
        assert_png(&server, chart);
    }
    server.stop();
}

#[test]
fn a_failing_cell_fails_the_run() {
    // A read token cannot write: the quickstart's write cell raises (403),
    // and the run must say so instead of carrying on.
    let server = Serving::start("notebooks_failing");
    let (ok, text) = execute(&server, "quickstart.ipynb", READ_TOKEN);
    assert!(!ok, "the quickstart ran with a read-only token:\n{text}");
    assert!(text.contains("a cell failed") && text.contains("403"), "{text}");
    server.stop();
}

#[test]
fn committed_notebooks_carry_no_outputs() {
    // Outputs (tables, embedded PNGs) belong to a run, not to the repository.
    for name in ["quickstart.ipynb", "polars_analysis.ipynb"] {
        let text = std::fs::read_to_string(notebook(name)).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let cells = parsed["cells"].as_array().unwrap_or_else(|| panic!("{name} has no cells"));
        assert!(cells.iter().any(|c| c["cell_type"] == "code"), "{name} has no code");
        for cell in cells.iter().filter(|c| c["cell_type"] == "code") {
            assert_eq!(cell["outputs"], serde_json::json!([]), "{name}: a cell has outputs: clear them");
            assert!(cell["execution_count"].is_null(), "{name}: a cell has an execution count");
        }
    }
}
