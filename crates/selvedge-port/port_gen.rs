//! Copies loom's and shuttle's own test files from the Cargo registry into a build's
//! `OUT_DIR`, renamed to selvedge, and applies `differences.txt`: the one list of upstream
//! tests that do not pass under selvedge, each with its reason. Shared by `selvedge-port`'s
//! build script (the acceptance tests) and `selvedge-bench`'s (loom's tests under both tools).
//!
//! Invariants:
//! - Upstream code is never committed: it is read from the registry at build time (the crates
//!   are dev-dependencies, so Cargo has unpacked them).
//! - Edits are textual and local (a crate path renamed, a test's attributes and name), so an
//!   upstream file keeps its line numbers and a failure points at the upstream line.
//! - Every test the list names must be found, so the list cannot silently go stale.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// An upstream crate in the Cargo registry: the newest unpacked `name-<major.minor>.*`.
pub(crate) fn registry_crate(name_and_series: &str) -> Result<PathBuf, String> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok_or("neither `CARGO_HOME` nor `HOME` is set")?;
    let src = cargo_home.join("registry").join("src");
    let mut found: Vec<(Vec<u64>, PathBuf)> = Vec::new();
    let prefix = format!("{name_and_series}.");
    for index in fs::read_dir(&src).map_err(|e| format!("{}: {e}", src.display()))? {
        let index = index.map_err(|e| e.to_string())?.path();
        let Ok(entries) = fs::read_dir(&index) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(patch) = name.strip_prefix(&prefix) else {
                continue;
            };
            let Ok(patch) = patch.parse::<u64>() else {
                continue;
            };
            let series: Vec<u64> = name_and_series
                .rsplit('-')
                .next()
                .unwrap_or("")
                .split('.')
                .filter_map(|p| p.parse().ok())
                .chain([patch])
                .collect();
            found.push((series, entry.path()));
        }
    }
    found.sort();
    found.pop().map(|(_, path)| path).ok_or_else(|| {
        format!(
            "`{name_and_series}.*` is not unpacked under {}: it is a dev-dependency of \
             `selvedge-port`; run `cargo fetch` (or any `cargo test`) with network access once",
            src.display()
        )
    })
}

/// What `differences.txt` says about one upstream test (or file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Runs under selvedge with the opposite outcome to upstream's; the wrapper checks that
    /// it still does (and, with `expect`, that the panic says so).
    Differs { expect: Option<String> },
    /// Fails as upstream expects (it panics), but with selvedge's words for the failure, not
    /// the upstream message the test looks for; the wrapper checks the panic says `expect`.
    PanicsDifferently { expect: String },
    /// Cut out before compiling: it uses API selvedge does not offer.
    Excised,
    /// A line (named by its text) cut out before compiling: an import of something cut out,
    /// or a macro call that generates `tests` tests, each counted as excised.
    ExcisedLine { tests: usize },
    /// A helper item (a `fn`, `struct`, `impl`), named by the start of its first line, cut out
    /// with its doc comment: it uses API selvedge does not offer, and only excised tests use it.
    ExcisedItem,
    /// Ignored upstream, run under selvedge (where selvedge does what the test asks).
    Unignore,
    /// A whole file left out.
    ExcludedFile,
}

/// One line of `differences.txt`: `suite/path.rs::test | verdict | reason`.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) suite: String,
    pub(crate) file: String,
    /// `None` for a whole file.
    pub(crate) test: Option<String>,
    pub(crate) verdict: Verdict,
    pub(crate) reason: String,
}

pub(crate) fn parse_differences(text: &str) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.splitn(3, " | ").map(str::trim).collect();
        let [target, verdict, reason] = parts[..] else {
            return Err(format!(
                "differences.txt:{}: expected `suite/file.rs::test | verdict | reason`",
                n + 1
            ));
        };
        let (path, test) = match target.split_once(".rs::") {
            Some((path, test)) => (format!("{path}.rs"), Some(test.to_string())),
            None => (target.to_string(), None),
        };
        let (suite, file) = path
            .split_once('/')
            .ok_or_else(|| format!("differences.txt:{}: `{path}` has no suite", n + 1))?;
        let verdict = match verdict {
            "differs" => Verdict::Differs { expect: None },
            v if v.starts_with("differs expecting ") => Verdict::Differs {
                expect: Some(
                    v["differs expecting ".len()..]
                        .trim_matches('`')
                        .to_string(),
                ),
            },
            v if v.starts_with("panics-differently expecting ") => Verdict::PanicsDifferently {
                expect: v["panics-differently expecting ".len()..]
                    .trim_matches('`')
                    .to_string(),
            },
            "excised" => Verdict::Excised,
            "excised-line" => Verdict::ExcisedLine { tests: 0 },
            "excised-item" => Verdict::ExcisedItem,
            v if v.starts_with("excised-line ") => Verdict::ExcisedLine {
                tests: v["excised-line ".len()..].trim().parse().map_err(|_| {
                    format!("differences.txt:{}: `{v}`: expected a test count", n + 1)
                })?,
            },
            "unignore" => Verdict::Unignore,
            "excluded" => Verdict::ExcludedFile,
            other => {
                return Err(format!(
                    "differences.txt:{}: unknown verdict `{other}`",
                    n + 1
                ))
            }
        };
        if (verdict == Verdict::ExcludedFile) != test.is_none() {
            return Err(format!(
                "differences.txt:{}: `excluded` names a file, the others a test",
                n + 1
            ));
        }
        out.push(Entry {
            suite: suite.to_string(),
            file: file.to_string(),
            test,
            verdict,
            reason: reason.to_string(),
        });
    }
    Ok(out)
}

/// Replaces the crate path `from::` with `to::` wherever `from` is a whole word.
pub(crate) fn rename_crate(src: &str, from: &str, to: &str) -> String {
    let pattern = format!("{from}::");
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(found) = rest.find(&pattern) {
        let boundary = found == 0 || !is_ident(rest.as_bytes()[found - 1]);
        out.push_str(&rest[..found]);
        out.push_str(if boundary { to } else { from });
        out.push_str("::");
        rest = &rest[found + pattern.len()..];
    }
    out.push_str(rest);
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A test function found in a source file.
#[derive(Clone, Debug)]
pub(crate) struct TestFn {
    pub(crate) name: String,
    /// Where its attributes (and doc comments) start, and where its body ends.
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// The byte range of the `fn` keyword through the name.
    pub(crate) name_at: usize,
    pub(crate) should_panic: bool,
    pub(crate) ignored: bool,
}

/// Every `#[test]` function of `src`, in order (also inside `macro_rules!` bodies).
pub(crate) fn test_fns(src: &str) -> Vec<TestFn> {
    let mut out = Vec::new();
    let mut search = 0;
    while let Some(found) = src[search..].find("#[test]") {
        let attr = search + found;
        search = attr + "#[test]".len();
        if in_comment_or_string(src, attr) {
            continue;
        }
        let start = attributes_start(src, attr);
        // Forward past further attributes to `fn name`.
        let Some(fn_at) = find_fn_keyword(src, search) else {
            continue;
        };
        let name_start = fn_at + 2 + src[fn_at + 2..].len() - src[fn_at + 2..].trim_start().len();
        let name: String = src[name_start..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let Some(open) = src[name_start..].find('{').map(|o| name_start + o) else {
            continue;
        };
        let Some(end) = matching_brace(src, open) else {
            continue;
        };
        let attrs = &src[start..fn_at];
        out.push(TestFn {
            name,
            start,
            end: end + 1,
            name_at: fn_at,
            should_panic: attrs.contains("#[should_panic"),
            ignored: attrs.contains("#[ignore"),
        });
        search = end + 1;
    }
    out
}

/// The `fn` keyword of the item after `from`, skipping attributes, comments and qualifiers.
fn find_fn_keyword(src: &str, from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        let rest = &src[i..];
        let trimmed = rest.trim_start();
        i += rest.len() - trimmed.len();
        if trimmed.starts_with("#[") {
            let close = matching_bracket(src, i + 1)?;
            i = close + 1;
        } else if trimmed.starts_with("//") {
            i += trimmed.find('\n').unwrap_or(trimmed.len());
        } else if trimmed.starts_with("fn ") {
            return Some(i);
        } else if let Some(q) = ["pub ", "async ", "unsafe "]
            .iter()
            .find(|q| trimmed.starts_with(**q))
        {
            i += q.len();
        } else {
            return None;
        }
    }
}

/// Start of the block of attribute and comment lines that ends with the line holding `at`.
fn attributes_start(src: &str, at: usize) -> usize {
    let mut start = src[..at].rfind('\n').map_or(0, |n| n + 1);
    while start > 0 {
        let prev_start = src[..start - 1].rfind('\n').map_or(0, |n| n + 1);
        let line = src[prev_start..start - 1].trim();
        if line.starts_with("#[") || line.starts_with("///") || line.starts_with("//") {
            start = prev_start;
        } else {
            break;
        }
    }
    start
}

fn in_comment_or_string(src: &str, at: usize) -> bool {
    let line_start = src[..at].rfind('\n').map_or(0, |n| n + 1);
    let before = &src[line_start..at];
    before.contains("//") || before.matches('"').count() % 2 == 1
}

fn matching_bracket(src: &str, open: usize) -> Option<usize> {
    matching(src, open, b'[', b']')
}

fn matching_brace(src: &str, open: usize) -> Option<usize> {
    matching(src, open, b'{', b'}')
}

/// The index of the delimiter closing the one at `open`, skipping comments, strings and
/// character literals.
fn matching(src: &str, open: usize, left: u8, right: u8) -> Option<usize> {
    let b = src.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i += src[i..].find('\n').unwrap_or(src.len() - i);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut nest = 1;
                i += 2;
                while i < b.len() && nest > 0 {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        nest += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        nest -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'r' if (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#'))
                && (i == 0 || !is_ident(b[i - 1])) =>
            {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) == Some(&b'"') {
                    let closing = format!("\"{}", "#".repeat(hashes));
                    let body = i + 2 + hashes;
                    i = body + src[body..].find(&closing)? + closing.len();
                    continue;
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'\'' => {
                // A character literal (`'x'`, `'\n'`), not a lifetime.
                if b.get(i + 1) == Some(&b'\\') {
                    i += 2;
                    while i < b.len() && b[i] != b'\'' {
                        i += 1;
                    }
                } else if b.get(i + 2) == Some(&b'\'') {
                    i += 2;
                } else if let Some(c) = src[i + 1..].chars().next() {
                    if src[i + 1 + c.len_utf8()..].starts_with('\'') {
                        i += c.len_utf8() + 1;
                    }
                }
            }
            c if c == left => depth += 1,
            c if c == right => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// What `apply` did to one file.
#[derive(Default, Debug)]
pub(crate) struct Applied {
    pub(crate) source: String,
    /// Tests turned into difference wrappers: `(name, reason)`.
    pub(crate) differs: Vec<(String, String)>,
    /// Tests cut out: `(name, how many tests, reason)`.
    pub(crate) excised: Vec<(String, usize, String)>,
}

/// Writes a difference wrapper on one line: `(name, upstream name, should_panic, expect,
/// reason) -> source`.
pub(crate) type Wrapper = dyn Fn(&str, &str, bool, Option<&str>, &str) -> String;

/// Applies the entries for one file to its (renamed) source. `wrapper` writes a difference
/// wrapper on one line: `(name, upstream name, should_panic, expect, reason) -> source`.
pub(crate) fn apply(
    source: &str,
    entries: &[&Entry],
    wrapper: &Wrapper,
) -> Result<Applied, String> {
    let tests = test_fns(source);
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut applied = Applied::default();
    for entry in entries {
        let name = entry
            .test
            .as_deref()
            .expect("file entries are handled by the caller");
        if let Verdict::ExcisedLine { tests } = entry.verdict {
            let at = source
                .lines()
                .scan(0, |offset, line| {
                    let start = *offset;
                    *offset += line.len() + 1;
                    Some((start, line))
                })
                .find(|(_, line)| line.trim() == name)
                .map(|(start, line)| (start, start + line.len()));
            let Some((start, end)) = at else {
                return Err(format!(
                    "differences.txt names the line `{name}` in `{}/{}`, which has no such line: \
                     update the list",
                    entry.suite, entry.file
                ));
            };
            edits.push((start, end, String::new()));
            if tests > 0 {
                applied
                    .excised
                    .push((name.to_string(), tests, entry.reason.clone()));
            }
            continue;
        }
        if entry.verdict == Verdict::ExcisedItem {
            let Some((start, end)) = item_span(source, name) else {
                return Err(format!(
                    "differences.txt names the item `{name}` in `{}/{}`, which has no line \
                     starting so: update the list",
                    entry.suite, entry.file
                ));
            };
            edits.push((start, end, String::new()));
            continue;
        }
        let found: Vec<&TestFn> = tests.iter().filter(|t| t.name == name).collect();
        let Some(test) = found.first() else {
            return Err(format!(
                "differences.txt names `{}/{}::{name}`, which is not a test there: update the list",
                entry.suite, entry.file
            ));
        };
        let text = &source[test.start..test.end];
        let attrs_end = test.name_at - test.start;
        match &entry.verdict {
            Verdict::Excised => {
                edits.push((test.start, test.end, String::new()));
                applied
                    .excised
                    .push((name.to_string(), 1, entry.reason.clone()));
            }
            Verdict::Unignore => {
                let attrs = strip_attribute(&text[..attrs_end], "#[ignore");
                edits.push((test.start, test.name_at, attrs));
            }
            Verdict::Differs { .. } | Verdict::PanicsDifferently { .. } => {
                let (should_panic, expect) = match &entry.verdict {
                    Verdict::Differs { expect } => (test.should_panic, expect.clone()),
                    Verdict::PanicsDifferently { expect } => {
                        if !test.should_panic {
                            return Err(format!(
                                "differences.txt says `{}/{}::{name}` panics differently, but \
                                 upstream does not expect it to panic: use `differs`",
                                entry.suite, entry.file
                            ));
                        }
                        // Checked as a test that must panic, saying `expect`.
                        (false, Some(expect.clone()))
                    }
                    _ => unreachable!("matched above"),
                };
                let upstream = format!("__upstream_{name}");
                let attrs = strip_attribute(&text[..attrs_end], "#[test]");
                let attrs = strip_attribute(&attrs, "#[should_panic");
                let attrs = strip_attribute(&attrs, "#[ignore");
                let body =
                    text[attrs_end..].replacen(&format!("fn {name}"), &format!("fn {upstream}"), 1);
                let wrapped = wrapper(
                    name,
                    &upstream,
                    should_panic,
                    expect.as_deref(),
                    &entry.reason,
                );
                // On the closing brace's line, so the file keeps its line numbers.
                edits.push((test.start, test.end, format!("{attrs}{body} {wrapped}")));
                applied
                    .differs
                    .push((name.to_string(), entry.reason.clone()));
            }
            Verdict::ExcludedFile | Verdict::ExcisedLine { .. } | Verdict::ExcisedItem => {
                unreachable!("handled above or by the caller")
            }
        }
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = source.to_string();
    for (start, end, text) in edits {
        out.replace_range(start..end, &text);
    }
    applied.source = out;
    Ok(applied)
}

/// The item whose first line (trimmed) starts with `head`, with its doc comment and
/// attributes: through the `;` ending that line, or the `}` closing its first `{`.
fn item_span(src: &str, head: &str) -> Option<(usize, usize)> {
    let mut offset = 0;
    for line in src.split_inclusive('\n') {
        if line.trim_start().starts_with(head) {
            let start = attributes_start(src, offset);
            let end = if line.trim_end().ends_with(';') {
                offset + line.trim_end().len()
            } else {
                let open = offset + src[offset..].find('{')?;
                matching_brace(src, open)? + 1
            };
            return Some((start, end));
        }
        offset += line.len();
    }
    None
}

/// Removes every line of `attrs` that starts with `attribute` (keeping its line break, so
/// line numbers hold).
fn strip_attribute(attrs: &str, attribute: &str) -> String {
    let mut out = String::new();
    for line in attrs.split_inclusive('\n') {
        if line.trim_start().starts_with(attribute) {
            if line.ends_with('\n') {
                out.push('\n');
            }
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Writes `files` (relative path, contents) under `dir`, and `mod.rs`: a module tree that
/// mirrors the directories (`basic/mutex.rs` is `basic::mutex`) and declares each file by
/// absolute `#[path]`, so it can be `include!`d.
pub(crate) fn write_tree(dir: &Path, files: &[(String, String)]) -> Result<(), String> {
    let _ = fs::remove_dir_all(dir);
    let mut tree = Node::default();
    for (rel, contents) in files {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().expect("a file has a parent"))
            .map_err(|e| e.to_string())?;
        fs::write(&path, contents).map_err(|e| e.to_string())?;
        let mut node = &mut tree;
        let parts: Vec<&str> = rel.split('/').collect();
        for dir in &parts[..parts.len() - 1] {
            node = node.dirs.entry(dir.to_string()).or_default();
        }
        let mut module = parts[parts.len() - 1]
            .trim_end_matches(".rs")
            .replace('-', "_");
        if [
            "yield", "async", "await", "type", "mod", "loop", "match", "move", "static", "try",
        ]
        .contains(&module.as_str())
        {
            module = format!("r#{module}");
        }
        node.files.push((module, path.display().to_string()));
    }
    let mut modules = String::new();
    tree.write(&mut modules, 0);
    fs::write(dir.join("mod.rs"), modules).map_err(|e| e.to_string())
}

#[derive(Default)]
struct Node {
    dirs: std::collections::BTreeMap<String, Node>,
    files: Vec<(String, String)>,
}

impl Node {
    fn write(&self, out: &mut String, depth: usize) {
        let indent = "    ".repeat(depth);
        for (module, path) in &self.files {
            let _ = writeln!(
                out,
                "{indent}#[path = {path:?}]\n{indent}pub(crate) mod {module};"
            );
        }
        for (dir, node) in &self.dirs {
            let _ = writeln!(out, "{indent}pub(crate) mod {dir} {{");
            node.write(out, depth + 1);
            let _ = writeln!(out, "{indent}}}");
        }
    }
}
