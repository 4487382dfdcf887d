//! The README's Rust snippets are code that compiles and runs: every ```rust
//! block of README.md must appear, line for line and in order, in one of the
//! programs under examples/ (which CI compiles), so a README edit that drifts
//! from them fails here. Lines are compared with their leading and trailing
//! whitespace trimmed and blank lines ignored: a snippet sits indented inside
//! a function in its program.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use std::path::{Path, PathBuf};

/// A ```rust block: the README line its opening fence is on, and its lines.
#[derive(Debug)]
struct Block {
    line: usize,
    lines: Vec<String>,
}

/// The ```rust blocks of `markdown` (an info string such as `rust,ignore`
/// counts too); other fenced blocks are skipped. An unclosed block runs to
/// the end of the text.
fn rust_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    // Inside a fence: whether it is Rust, with the block being read.
    let mut open: Option<Option<Block>> = None;
    for (i, line) in markdown.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut open, fence) {
            (None, Some(info)) => {
                let is_rust = info.split(',').next().is_some_and(|lang| lang.trim() == "rust");
                open = Some(is_rust.then(|| Block { line: i + 1, lines: Vec::new() }));
            }
            (Some(_), Some(rest)) if rest.trim().is_empty() => blocks.extend(open.take().flatten()),
            (Some(Some(block)), _) => block.lines.push(line.to_string()),
            _ => {}
        }
    }
    blocks.extend(open.flatten());
    blocks
}

/// The lines that count: trimmed, blank ones dropped.
fn significant<S: AsRef<str>>(lines: &[S]) -> Vec<&str> {
    lines.iter().map(|l| l.as_ref().trim()).filter(|l| !l.is_empty()).collect()
}

/// How many of `needle`'s first lines appear as one contiguous run in
/// `haystack`, at best; `needle.len()` when all of it does.
fn longest_prefix_run(haystack: &[&str], needle: &[&str]) -> usize {
    (0..haystack.len())
        .map(|start| haystack[start..].iter().zip(needle).take_while(|(h, n)| h == n).count())
        .max()
        .unwrap_or(0)
}

/// Where `block` fails to be a contiguous run of one of `programs`: the
/// program that holds the longest part of it and the first line it lacks;
/// `None` when one program holds it all.
fn mismatch<'a>(block: &'a Block, programs: &'a [(PathBuf, String)]) -> Option<(Option<&'a Path>, &'a str)> {
    let needle = significant(&block.lines);
    let Some(first) = needle.first() else {
        return Some((None, "(an empty block)"));
    };
    let mut best: (Option<&Path>, usize) = (None, 0);
    for (path, text) in programs {
        let lines: Vec<&str> = text.lines().collect();
        let run = longest_prefix_run(&significant(&lines), &needle);
        if run == needle.len() {
            return None;
        }
        if run > best.1 || best.0.is_none() {
            best = (Some(path), run);
        }
    }
    Some((best.0, needle.get(best.1).copied().unwrap_or(first)))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).unwrap()
}

/// Every `examples/*.rs`, sorted by path.
fn programs() -> Vec<(PathBuf, String)> {
    let mut programs: Vec<(PathBuf, String)> = std::fs::read_dir(repo().join("examples"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect();
    programs.sort();
    programs
}

#[test]
fn every_readme_snippet_is_in_an_example() {
    let blocks = rust_blocks(&readme());
    assert!(!blocks.is_empty(), "README.md has no ```rust block: is the fence parser broken?");
    let programs = programs();
    let failures: Vec<String> = blocks
        .iter()
        .filter_map(|block| {
            let (closest, line) = mismatch(block, &programs)?;
            let closest = closest.map_or("none".into(), |p| p.strip_prefix(repo()).unwrap_or(p).display().to_string());
            Some(format!(
                "README.md:{}: no example holds this block; closest {closest}, which lacks `{line}`",
                block.line
            ))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_block_altered_in_one_line_is_not_found() {
    let programs = programs();
    let mut block = rust_blocks(&readme()).swap_remove(0);
    assert_eq!(mismatch(&block, &programs), None, "the README's first block as written is found");
    // A line past the middle with a name in it (not a bare `])?;`), one character changed.
    let middle = block.lines.len() / 2;
    let line = block.lines[middle..].iter().map(|l| l.trim()).find(|l| l.contains(char::is_alphanumeric)).unwrap();
    let changed = line.replacen(char::is_alphanumeric, "#", 1);
    let index = block.lines.iter().position(|l| l.trim() == line).unwrap();
    block.lines[index] = changed.clone();
    let (closest, lacking) = mismatch(&block, &programs).expect("an altered block is not found");
    assert_eq!(lacking, changed, "the altered line is reported");
    assert!(closest.is_some_and(|p| p.ends_with("embedded.rs")), "the program holding the rest is named: {closest:?}");
}

#[test]
fn lines_match_trimmed_in_order_and_contiguous() {
    let program = "fn main() {\n    let a = 1;\n\n    let b = a + 1;\n    println!(\"{b}\");\n}\n";
    let programs = [(PathBuf::from("p.rs"), program.to_string())];
    let block = |text: &str| Block { line: 1, lines: text.lines().map(String::from).collect() };
    assert_eq!(mismatch(&block("let a = 1;\nlet b = a + 1;   \n\n"), &programs), None, "indent and blanks are ignored");
    assert_eq!(mismatch(&block("let a = 1;\nprintln!(\"{b}\");"), &programs).map(|m| m.1), Some("println!(\"{b}\");"));
    assert_eq!(mismatch(&block("let b = a + 1;\nlet a = 1;"), &programs).map(|m| m.1), Some("let a = 1;"));
    assert_eq!(mismatch(&block("let  a = 1;"), &programs).map(|m| m.1), Some("let  a = 1;"), "inner spaces count");
    assert_eq!(mismatch(&block("\n  \n"), &programs).map(|m| m.1), Some("(an empty block)"));
}

#[test]
fn only_rust_fences_are_read() {
    let markdown = "intro\n```sh\ncargo run\n```\n```rust\nlet a = 1;\n\n```\ntext\n```toml\nx = 1\n```\n  ```rust,ignore\nlet b;\n  ```\n```rust\nunclosed();\n";
    let blocks = rust_blocks(markdown);
    let found: Vec<(usize, Vec<&str>)> = blocks.iter().map(|b| (b.line, significant(&b.lines))).collect();
    assert_eq!(found, [(5, vec!["let a = 1;"]), (13, vec!["let b;"]), (16, vec!["unclosed();"])]);
}
