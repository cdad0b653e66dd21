//! Word-cloud layout invariants: no overlaps, inside the canvas, sizes by
//! frequency, reproducible from a seed, safe SVG.

use malmoi_tokenize::freq::FreqDist;
use malmoi_tokenize::wordcloud::{Layout, WordCloud, WordCloudError};

/// A Zipf-like mix of Korean and English words: count of rank r is 1000 / r.
fn zipf(words: usize) -> FreqDist {
    let mut fd = FreqDist::new();
    for rank in 1..=words {
        let word = if rank % 3 == 0 { format!("word{rank}") } else { format!("단어{rank}") };
        fd.add_count(&word, 1000 / rank);
    }
    fd
}

fn assert_valid(layout: &Layout) {
    let (w, h) = layout.size();
    let words = layout.words();
    for (i, a) in words.iter().enumerate() {
        let r = a.bbox;
        assert!(r.x0 >= 0.0 && r.y0 >= 0.0 && r.x1 <= w as f64 && r.y1 <= h as f64, "{a:?}");
        for b in &words[i + 1..] {
            assert!(!a.bbox.overlaps(&b.bbox), "{a:?} overlaps {b:?}");
        }
    }
    for pair in words.windows(2) {
        assert!(pair[0].count >= pair[1].count, "words must come in frequency order");
        assert!(pair[0].font_size >= pair[1].font_size, "sizes must not grow as counts fall");
    }
}

#[test]
fn layouts_never_overlap_and_stay_inside() {
    for (seed, (w, h)) in [(0, (800, 400)), (1, (400, 400)), (2, (300, 600))] {
        let layout = WordCloud::new().with_size(w, h).with_seed(seed).generate(&zipf(300)).unwrap();
        assert!(layout.words().len() >= 60, "only {} words placed", layout.words().len());
        assert_valid(&layout);
    }
}

#[test]
fn vertical_words_are_rotated_in_the_svg() {
    let layout = WordCloud::new().with_prefer_horizontal(0.0).generate(&zipf(20)).unwrap();
    assert_valid(&layout);
    assert!(layout.words().iter().all(|w| w.vertical || w.bbox.x1 - w.bbox.x0 > w.bbox.y1 - w.bbox.y0));
    assert!(layout.to_svg().contains("rotate(-90"));
}

#[test]
fn the_same_seed_gives_the_same_picture() {
    let fd = zipf(100);
    let svg = |seed| WordCloud::new().with_seed(seed).generate(&fd).unwrap().to_svg();
    assert_eq!(svg(42), svg(42));
    assert_ne!(svg(42), svg(43));
}

#[test]
fn bigger_counts_get_bigger_fonts() {
    let fd: FreqDist = "a a a a a a a a b b c".split(' ').collect();
    let layout = WordCloud::new().with_font_sizes(10.0, 100.0).with_scaling(1.0).generate(&fd).unwrap();
    let sizes: Vec<(&str, f64)> = layout.words().iter().map(|w| (w.text.as_str(), w.font_size)).collect();
    assert_eq!(sizes, [("a", 100.0), ("b", 10.0 + 90.0 * 2.0 / 8.0), ("c", 10.0 + 90.0 / 8.0)]);
}

#[test]
fn svg_escapes_text_and_lists_korean_fonts() {
    let fd: FreqDist = ["<b>&\"'", "영화", "\u{1}"].into_iter().collect();
    let svg = WordCloud::new().generate(&fd).unwrap().to_svg();
    assert!(svg.contains(">&lt;b&gt;&amp;&quot;&apos;</text>"), "{svg}");
    assert!(!svg.contains('\u{1}'));
    for font in ["Noto Sans CJK KR", "Malgun Gothic", "Apple SD Gothic Neo", "NanumGothic", "sans-serif"] {
        assert!(svg.contains(font), "missing {font}");
    }
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
}

#[test]
fn empty_input_gives_an_empty_picture() {
    let layout = WordCloud::new().generate(&FreqDist::new()).unwrap();
    assert!(layout.words().is_empty());
    assert!(!layout.to_svg().contains("<text"));
    let blank = WordCloud::new().generate_from_frequencies(&[("  ", 5), ("x", 0)]).unwrap();
    assert!(blank.words().is_empty());
}

#[test]
fn bad_options_are_errors() {
    let fd = zipf(5);
    let err = |cloud: WordCloud| matches!(cloud.generate(&fd), Err(WordCloudError::InvalidOptions(_)));
    assert!(err(WordCloud::new().with_size(0, 100)));
    assert!(err(WordCloud::new().with_font_sizes(20.0, 10.0)));
    assert!(err(WordCloud::new().with_font_sizes(0.0, 10.0)));
    assert!(err(WordCloud::new().with_prefer_horizontal(1.5)));
    assert!(err(WordCloud::new().with_scaling(f64::NAN)));
}

#[test]
fn writes_atomically_and_names_the_file_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cloud.svg");
    let layout = WordCloud::new().generate(&zipf(30)).unwrap();
    layout.write_svg(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), layout.to_svg());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");

    let missing = dir.path().join("no/such/dir/cloud.svg");
    let err = layout.write_svg(&missing).unwrap_err();
    assert!(matches!(err, WordCloudError::Io { .. }) && err.to_string().contains("cloud.svg"));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_words_lay_out_validly(
            words in prop::collection::vec(("\\PC{0,12}", 0usize..1000), 0..40),
            seed in any::<u64>(),
        ) {
            let pairs: Vec<(&str, usize)> = words.iter().map(|(w, n)| (w.as_str(), *n)).collect();
            let layout = WordCloud::new().with_size(300, 200).with_seed(seed)
                .generate_from_frequencies(&pairs).unwrap();
            assert_valid(&layout);
            let svg = layout.to_svg();
            prop_assert_eq!(svg.matches("<text").count(), layout.words().len());
            prop_assert!(!svg.chars().any(|c| (c as u32) < 0x20 && c != '\n'));
        }
    }
}
