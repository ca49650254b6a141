//! The module layout's rule, checked on the source: no import cycle between modules of
//! lanes-kernels ("data flows down only", docs/architecture.md). Every `crate::...` and
//! `super::...` path in code (not comments) is an edge from its file's module to the deepest
//! module the path names; the crate root (re-exports only) is left out.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

fn modules(dir: &Path, prefix: &[String], out: &mut BTreeMap<Module, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            let mut p = prefix.to_vec();
            p.push(name);
            modules(&path, &p, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let mut m = prefix.to_vec();
            if name != "mod" && name != "lib" {
                m.push(name);
            }
            out.insert(m, std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// The paths `crate::a::b` / `super::a` in a line, as segment lists.
fn paths(line: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for start in ["crate::", "super::"] {
        let mut rest = line;
        while let Some(i) = rest.find(start) {
            let before = rest[..i].chars().last();
            let tail = &rest[i..];
            let end = tail.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(tail.len());
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                out.push(tail[..end].split("::").filter(|s| !s.is_empty()).map(String::from).collect());
            }
            rest = &tail[end.max(1)..];
        }
    }
    out
}

fn resolve(from: &Module, path: &[String], known: &BTreeMap<Module, String>) -> Module {
    let mut base: Module = Vec::new();
    let mut segs = path;
    if segs.first().is_some_and(|s| s == "crate") {
        segs = &segs[1..];
    } else {
        base = from.clone();
        while segs.first().is_some_and(|s| s == "super") {
            base.pop();
            segs = &segs[1..];
        }
    }
    let mut target = base.clone();
    let mut best = base;
    for s in segs {
        target.push(s.clone());
        if known.contains_key(&target) {
            best = target.clone();
        }
    }
    best
}

#[test]
fn no_import_cycle_between_modules() {
    let mut known = BTreeMap::new();
    modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &[], &mut known);
    assert!(known.contains_key(&vec!["ops".to_string(), "gemm".to_string(), "ukernel".to_string()]));
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (m, src) in &known {
        for line in src.lines().map(str::trim).filter(|l| !l.starts_with("//")) {
            for p in paths(line) {
                let to = resolve(m, &p, &known);
                if &to != m && !to.is_empty() && !m.is_empty() {
                    edges.entry(m.clone()).or_default().insert(to);
                }
            }
        }
    }
    // Depth-first search for a back edge.
    fn visit(
        m: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        state: &mut BTreeMap<Module, u8>,
        stack: &mut Vec<Module>,
    ) {
        match state.get(m) {
            Some(2) => return,
            Some(1) => {
                let i = stack.iter().position(|s| s == m).unwrap();
                let cycle: Vec<String> = stack[i..].iter().chain([m]).map(|s| s.join("::")).collect();
                panic!("import cycle: {}", cycle.join(" -> "));
            }
            _ => {}
        }
        state.insert(m.clone(), 1);
        stack.push(m.clone());
        for next in edges.get(m).into_iter().flatten() {
            visit(next, edges, state, stack);
        }
        stack.pop();
        state.insert(m.clone(), 2);
    }
    let mut state = BTreeMap::new();
    for m in known.keys() {
        visit(m, &edges, &mut state, &mut Vec::new());
    }
    // The contract is a leaf among the GEMM modules: it imports nothing of the op.
    let ukernel = vec!["ops".to_string(), "gemm".to_string(), "ukernel".to_string()];
    for to in edges.get(&ukernel).into_iter().flatten() {
        assert!(!to.starts_with(&["ops".to_string()]), "ukernel imports {}", to.join("::"));
    }
}
