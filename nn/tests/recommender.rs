//! The recommendation pieces (top-k, ranking metrics, the matrix-factorisation layer's
//! gradients, the MovieLens parser on good and malformed text) and a short run of the example
//! recommender on MovieLens 100K (scripts/setup.sh extracts it into data/ml-100k/).

#[allow(dead_code)]
#[path = "../examples/recommender.rs"]
mod recommender;

use lanes_nn::data::{parse_inter, InteractionSplit, Rating};
use lanes_nn::layers::Layer;
use lanes_nn::recsys::{ndcg_at_k, recall_at_k, recommend, top_k, MatrixFactorization};
use lanes_nn::{loss, NnError, Tensor};

#[test]
fn recommender_short_run_beats_popularity() {
    let cfg = recommender::Config { epochs: 3, lr: 5e-3, ..Default::default() };
    let r = recommender::run(cfg, false)
        .expect("MovieLens 100K in data/ml-100k/ (run scripts/setup.sh, which extracts it from the RecBole wheel)");
    assert!((0.09..0.13).contains(&r.popularity.0), "popularity recall@10 {:.4}", r.popularity.0);
    assert!(r.model.0 > r.popularity.0 * 1.2, "recall@10: model {:.4}, popularity {:.4}", r.model.0, r.popularity.0);
    assert!(r.model.1 > r.popularity.1 * 1.2, "NDCG@10: model {:.4}, popularity {:.4}", r.model.1, r.popularity.1);
}

#[test]
fn top_k_skips_seen_items_and_nan() {
    let s = [0.5, 3.0, f32::NAN, 2.0, 3.0, -1.0, 9.0];
    assert_eq!(top_k(&s, 3, &[]), vec![6, 1, 4]);
    assert_eq!(top_k(&s, 3, &[6, 4]), vec![1, 3, 0]);
    assert_eq!(top_k(&s, 10, &[0, 1, 3, 4, 6]), vec![5]);
    assert!(top_k(&s, 0, &[]).is_empty());
    let scores = Tensor::new(&[2, 3], vec![1., 2., 3., 3., 2., 1.]).unwrap();
    assert_eq!(recommend(&scores, 2, &[vec![2], vec![]]).unwrap(), vec![vec![1, 0], vec![0, 1]]);
    assert!(recommend(&scores, 2, &[vec![]]).is_err());
}

#[test]
fn ranking_metrics() {
    let truth = vec![vec![1, 2], vec![], vec![7]];
    // User 0: one hit at rank 1 of 2 held out; user 1 has nothing held out (skipped); user 2:
    // its only item at rank 0.
    let recs = vec![vec![5, 2, 9], vec![1, 2, 3], vec![7, 8, 9]];
    let r = recall_at_k(&recs, &truth, 3).unwrap();
    assert!((r - 0.75).abs() < 1e-12, "{r}");
    let n = ndcg_at_k(&recs, &truth, 3).unwrap();
    let user0 = (1.0 / 3f64.log2()) / (1.0 + 1.0 / 3f64.log2());
    assert!((n - (user0 + 1.0) / 2.0).abs() < 1e-12, "{n}");
    // k smaller than the held-out count: a perfect list scores 1.
    assert_eq!(recall_at_k(&[vec![1]], &[vec![1, 2]], 1).unwrap(), 1.0);
    assert!(recall_at_k(&recs, &truth[..2], 3).is_err());
    assert!(matches!(recall_at_k(&[vec![1]], &[vec![]], 3), Err(NnError::InvalidArgument(_))));
}

#[test]
fn matrix_factorisation_gradients_match_finite_differences() {
    let mut mf = MatrixFactorization::new(4, 5, 3, 0.5, 3).unwrap();
    // User 2 twice: its gradient is the sum of both rows'.
    let x = Tensor::new(&[3, 1], vec![2., 0., 2.]).unwrap();
    let labels = [1, 4, 3];
    let (_, g) = loss::softmax_cross_entropy(&mf.forward(&x, true).unwrap(), &labels).unwrap();
    let dx = mf.backward(&g).unwrap();
    assert_eq!(dx.shape(), x.shape());
    assert!(dx.data().iter().all(|&v| v == 0.0));
    let grads: Vec<Vec<f32>> = mf.params().into_iter().map(|p| p.grad.to_vec()).collect();
    let h = 1e-3f32;
    for (p, grad) in grads.iter().enumerate() {
        for (i, &g) in grad.iter().enumerate() {
            let mut eval = |delta: f32| {
                mf.params()[p].value[i] += delta;
                loss::softmax_cross_entropy(&mf.forward(&x, false).unwrap(), &labels).unwrap().0
            };
            let up = eval(h);
            let down = eval(-2.0 * h);
            eval(h);
            let fd = (up - down) / (2.0 * h);
            assert!((fd - g).abs() <= 2e-3 + 2e-2 * fd.abs(), "param {p}[{i}]: {g} vs {fd}");
        }
    }
    // Scores through `scores` are those of the layer.
    let s = mf.scores(&[2, 0, 2]).unwrap();
    assert_eq!(s, mf.forward(&x, false).unwrap());
    // Bad user indices and shapes are typed errors.
    for bad in [vec![4.0], vec![-1.0], vec![0.5], vec![f32::NAN]] {
        let t = Tensor::new(&[1], bad).unwrap();
        assert!(matches!(mf.forward(&t, false), Err(NnError::InvalidArgument(_))));
    }
    assert!(matches!(mf.forward(&Tensor::zeros(&[2, 2]).unwrap(), false), Err(NnError::Shape { .. })));
    assert!(mf.scores(&[4]).is_err());
    assert!(MatrixFactorization::new(0, 5, 3, 0.5, 1).is_err());
    let mut fresh = MatrixFactorization::new(4, 5, 3, 0.5, 3).unwrap();
    assert!(fresh.backward(&Tensor::zeros(&[1, 5]).unwrap()).is_err(), "backward before forward");
}

#[test]
fn inter_files_parse_and_split() {
    let text = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n\
                1\t10\t4\t300\n1\t11\t5\t100\n1\t12\t3\t200\n1\t13\t1\t400\n1\t14\t2\t500\n\
                2\t10\t5\t50\n\n2\t10\t3\t60\n3\t12\t4\t10\n";
    let r = parse_inter(text, "t.inter").unwrap();
    assert_eq!(r.len(), 8);
    assert_eq!(r[0], Rating { user: 1, item: 10, rating: 4.0, timestamp: 300 });
    let s = InteractionSplit::chronological(&r, 0.2).unwrap();
    assert_eq!((s.users, s.items), (3, 14));
    // User 1: time order 11, 12, 10, 13, 14; the latest fifth (one) held out.
    assert_eq!(s.train[0], vec![10, 11, 9, 12]);
    assert_eq!(s.test[0], vec![13]);
    // User 2 rated item 10 twice: one interaction, not split; user 3: one interaction.
    assert_eq!((s.train[1].clone(), s.test[1].clone()), (vec![9], vec![]));
    assert_eq!((s.train[2].clone(), s.test[2].clone()), (vec![11], vec![]));
    assert_eq!(s.item_counts()[9], 2);
    assert_eq!(s.train_pairs().len(), 6);
    assert!(InteractionSplit::chronological(&r, 1.0).is_err());
    // Columns found by name, in any order.
    let swapped = "timestamp:float\titem_id:token\tuser_id:token\trating:float\n5\t2\t3\t4.5\n";
    assert_eq!(parse_inter(swapped, "s").unwrap(), vec![Rating { user: 3, item: 2, rating: 4.5, timestamp: 5 }]);

    let bad = |body: &str| match parse_inter(
        &format!("user_id:token\titem_id:token\trating:float\ttimestamp:float\n{body}"),
        "b.inter",
    ) {
        Err(NnError::Data(m)) => m,
        other => panic!("{body:?}: {other:?}"),
    };
    assert!(bad("1\t2\t3\n").contains("b.inter:2: 3 fields"));
    assert!(bad("1\t2\t3\t4\n0\t2\t3\t4\n").contains("b.inter:3: column 1: \"0\""));
    assert!(bad("1\tx\t3\t4\n").contains("column 2"));
    assert!(bad("1\t2\tNaN\t4\n").contains("column 3"));
    assert!(bad("1\t2\t3\t-4\n").contains("column 4"));
    assert!(bad("").contains("no interactions"));
    match parse_inter("user\titem\n1\t2\n", "h.inter") {
        Err(NnError::Data(m)) => assert!(m.contains("no `user_id` column"), "{m}"),
        other => panic!("{other:?}"),
    }
    match lanes_nn::data::movielens_100k(std::path::Path::new("/nonexistent")) {
        Err(NnError::Data(m)) => assert!(m.contains("scripts/setup.sh"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// Found by the `data_readers_no_panic` fuzz target (fuzz/seeds/data_readers_no_panic/
/// crash-inter-huge-user-id, crash-inter-huge-item-id): one valid line with user or item id
/// 4,000,000,000 made the split allocate a list per user id (about 100 GB) or `item_counts` a
/// count per item id (16 GB): an abort, not an error. Ids past `MAX_ID` (and id 0, which
/// `Rating`'s public fields allow) are now a `Data` error before anything is allocated.
#[test]
fn huge_or_zero_ids_are_an_error_not_an_allocation() {
    let header = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n";
    for line in ["4000000000\t1\t1\t1", "1\t4000000000\t1\t1", "4194305\t1\t1\t1"] {
        let r = parse_inter(&format!("{header}{line}\n"), "big.inter").unwrap();
        match InteractionSplit::chronological(&r, 0.2) {
            Err(NnError::Data(m)) => assert!(m.contains("ids must be 1 to 4194304"), "{m}"),
            other => panic!("{line}: {other:?}"),
        }
    }
    let max = InteractionSplit::MAX_ID;
    let edge = [
        Rating { user: 1, item: max, rating: 1.0, timestamp: 0 },
        Rating { user: 2, item: 1, rating: 1.0, timestamp: 0 },
    ];
    let s = InteractionSplit::chronological(&edge, 0.2).unwrap();
    assert_eq!((s.users, s.items, s.item_counts().len()), (2, max as usize, max as usize));
    for bad in
        [Rating { user: 0, item: 1, rating: 1.0, timestamp: 0 }, Rating { user: 1, item: 0, rating: 1.0, timestamp: 0 }]
    {
        assert!(matches!(InteractionSplit::chronological(&[bad], 0.2), Err(NnError::Data(_))), "{bad:?}");
    }
}

/// Found reading the code beside the fuzz target's finds: `movielens_titles` grew its list to the
/// largest item id of `ml-100k.item`, so one line with id 4,000,000,000 asked for 96 GB (an
/// abort). Such a file is now "malformed" (`None`), like id 0.
#[test]
fn titles_with_a_huge_item_id_are_none_not_an_allocation() {
    let dir = std::env::temp_dir().join(format!("lanes-nn-titles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ml-100k.item");
    std::fs::write(&file, "item_id:token\tmovie_title:token_seq\n2\tB\n1\tA\n").unwrap();
    assert_eq!(lanes_nn::data::movielens_titles(&dir), Some(vec!["A".to_string(), "B".to_string()]));
    for id in ["4000000000", "4194305", "0"] {
        std::fs::write(&file, format!("item_id:token\tmovie_title:token_seq\n{id}\tX\n")).unwrap();
        assert_eq!(lanes_nn::data::movielens_titles(&dir), None, "id {id}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
