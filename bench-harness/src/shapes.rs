//! Shape lists: data files with one `M N K` per line (see `shapes/gemm.txt`).

use std::fmt;

/// The default shape list, compiled in (the file stays the source of truth for other benches).
pub const DEFAULT_SHAPES: &str = include_str!("../shapes/gemm.txt");
/// A short list for smoke tests (`--quick`).
pub const QUICK_SHAPES: &str = include_str!("../shapes/quick.txt");

/// Largest matrix the harness accepts (elements of A, B or C): 2^30 f32 = 4 GiB.
const MAX_ELEMENTS: usize = 1 << 30;

/// One GEMM problem size: `C (m x n) = A (m x k) * B (k x n)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    pub m: usize,
    pub n: usize,
    pub k: usize,
}

impl Shape {
    pub const fn new(m: usize, n: usize, k: usize) -> Self {
        Self { m, n, k }
    }

    /// The case name used in every output: `MxNxK`.
    pub fn name(&self) -> String {
        format!("{}x{}x{}", self.m, self.n, self.k)
    }

    /// Floating-point operations of one product: `2*m*n*k` (a multiply and an add per term).
    pub fn flop(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64
    }

    /// Multiply-adds, `m*n*k`.
    pub fn macs(&self) -> u128 {
        self.m as u128 * self.n as u128 * self.k as u128
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.m, self.n, self.k)
    }
}

/// A line of a shape file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    /// 1-based line number (0 when the whole file is at fault).
    pub line: usize,
    pub text: String,
    pub reason: String,
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.reason)
        } else {
            write!(
                f,
                "line {}: {}: `{}` (expected `M N K`: three positive integers, e.g. `512 512 512`)",
                self.line, self.reason, self.text
            )
        }
    }
}

impl std::error::Error for ShapeError {}

/// Parses a shape list: one `M N K` per line (`MxNxK` is accepted too); `#` starts a comment;
/// blank lines are skipped. Every bad line is an error naming its line number.
pub fn parse_shapes(src: &str) -> Result<Vec<Shape>, ShapeError> {
    let mut shapes = Vec::new();
    for (idx, raw) in src.lines().enumerate() {
        let text = raw.split('#').next().unwrap_or("").trim();
        if text.is_empty() {
            continue;
        }
        let err = |reason: &str| ShapeError { line: idx + 1, text: text.to_string(), reason: reason.to_string() };
        let fields: Vec<&str> =
            text.split(|c: char| c.is_whitespace() || c == 'x' || c == 'X').filter(|f| !f.is_empty()).collect();
        if fields.len() != 3 {
            return Err(err(&format!("{} fields instead of 3", fields.len())));
        }
        let mut dims = [0usize; 3];
        for (d, f) in dims.iter_mut().zip(&fields) {
            *d = f.parse().map_err(|_| err(&format!("`{f}` is not a non-negative integer")))?;
        }
        let shape = Shape::new(dims[0], dims[1], dims[2]);
        if dims.contains(&0) {
            return Err(err("every dimension must be at least 1"));
        }
        let too_big = [(shape.m, shape.k), (shape.k, shape.n), (shape.m, shape.n)]
            .iter()
            .any(|&(r, c)| r.checked_mul(c).is_none_or(|e| e > MAX_ELEMENTS));
        if too_big {
            return Err(err("a matrix would exceed 2^30 elements"));
        }
        shapes.push(shape);
    }
    if shapes.is_empty() {
        return Err(ShapeError { line: 0, text: String::new(), reason: "the shape list holds no shapes".into() });
    }
    Ok(shapes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comments_blank_lines_and_both_separators() {
        let src = "# header\n\n 64 64 64  # square\n1x3072x768\n3136\t64   576\n";
        let shapes = parse_shapes(src).unwrap();
        assert_eq!(shapes, vec![Shape::new(64, 64, 64), Shape::new(1, 3072, 768), Shape::new(3136, 64, 576)]);
        assert_eq!(shapes[1].name(), "1x3072x768");
        assert_eq!(shapes[0].flop(), 2.0 * 64.0 * 64.0 * 64.0);
    }

    #[test]
    fn bundled_lists_parse() {
        let shapes = parse_shapes(DEFAULT_SHAPES).unwrap();
        assert_eq!(shapes.len(), 15);
        assert!(shapes.contains(&Shape::new(1, 3072, 768)));
        assert!(shapes.contains(&Shape::new(1, 4096, 4096)), "the GEMV beyond the last-level cache");
        assert!(shapes.contains(&Shape::new(4096, 1, 4096)), "the N = 1 GEMV");
        assert!(shapes.contains(&Shape::new(512, 512, 4608)));
        assert!(!parse_shapes(QUICK_SHAPES).unwrap().is_empty());
    }

    #[test]
    fn bad_lines_name_the_line_and_the_problem() {
        let e = parse_shapes("64 64 64\n12 34\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("line 2: 2 fields instead of 3"), "{e}");
        assert!(e.to_string().contains("expected `M N K`"), "{e}");

        let e = parse_shapes("64 -1 64").unwrap_err();
        assert!(e.to_string().contains("`-1` is not a non-negative integer"), "{e}");

        let e = parse_shapes("\n\n8 eight 8").unwrap_err();
        assert_eq!(e.line, 3);

        let e = parse_shapes("0 8 8").unwrap_err();
        assert!(e.reason.contains("at least 1"));

        let e = parse_shapes("1 2 3 4").unwrap_err();
        assert!(e.reason.contains("4 fields"));

        let e = parse_shapes("100000 100000 100000").unwrap_err();
        assert!(e.reason.contains("2^30"));
    }

    #[test]
    fn empty_list_is_an_error() {
        let e = parse_shapes("# only comments\n\n").unwrap_err();
        assert_eq!(e.line, 0);
        assert!(e.to_string().contains("no shapes"));
    }
}
