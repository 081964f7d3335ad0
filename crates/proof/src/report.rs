//! One section of the report: figures next to their targets, as a markdown table. A
//! section fails when any checked figure misses its target; `scripts/report` exits
//! non-zero then.

use std::fmt::Write as _;

/// Marks the targets of performance figures: missing one is reported, not fatal.
const MEASURED: &str = "(not an invariant)";

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    Pass,
    Fail,
    /// A measurement without a target, or one reported but not enforced.
    Info,
    Skipped,
}

pub struct Row {
    figure: String,
    value: String,
    target: String,
    verdict: Verdict,
}

pub struct Section {
    title: String,
    intro: Vec<String>,
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Section {
    pub fn new(title: &str) -> Section {
        Section { title: title.into(), intro: Vec::new(), rows: Vec::new(), notes: Vec::new() }
    }

    pub fn intro(&mut self, text: impl Into<String>) -> &mut Self {
        self.intro.push(text.into());
        self
    }

    pub fn note(&mut self, text: impl Into<String>) -> &mut Self {
        self.notes.push(text.into());
        self
    }

    /// A figure with a target it must meet.
    pub fn check(&mut self, figure: &str, value: impl Into<String>, target: &str, ok: bool) -> &mut Self {
        let verdict = if ok { Verdict::Pass } else { Verdict::Fail };
        self.push(figure, value.into(), target, verdict)
    }

    pub fn info(&mut self, figure: &str, value: impl Into<String>) -> &mut Self {
        self.push(figure, value.into(), "", Verdict::Info)
    }

    /// A figure with a target that is reported but not an invariant (performance).
    pub fn measure(&mut self, figure: &str, value: impl Into<String>, target: &str, ok: bool) -> &mut Self {
        let verdict = if ok { Verdict::Pass } else { Verdict::Fail };
        self.push(figure, value.into(), &format!("{target} {MEASURED}"), verdict)
    }

    pub fn skipped(&mut self, figure: &str, reason: &str) -> &mut Self {
        self.push(figure, format!("skipped: {reason}"), "", Verdict::Skipped)
    }

    fn push(&mut self, figure: &str, value: String, target: &str, verdict: Verdict) -> &mut Self {
        self.rows.push(Row { figure: figure.into(), value, target: target.into(), verdict });
        self
    }

    /// True when an invariant (a `check`, not a `measure`) failed.
    pub fn broken(&self) -> bool {
        self.rows.iter().any(|r| r.verdict == Verdict::Fail && !r.target.ends_with(MEASURED))
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("## {}\n\n", self.title);
        for p in &self.intro {
            let _ = writeln!(out, "{p}\n");
        }
        out.push_str("| Figure | Result | Target | |\n|---|---|---|---|\n");
        for r in &self.rows {
            let mark = match r.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "**FAIL**",
                Verdict::Info | Verdict::Skipped => "",
            };
            let _ = writeln!(out, "| {} | {} | {} | {} |", cell(&r.figure), cell(&r.value), cell(&r.target), mark);
        }
        for n in &self.notes {
            let _ = write!(out, "\n{n}\n");
        }
        out.push('\n');
        out
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
