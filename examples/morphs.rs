//! Korean morphological analysis from the command line.
//!
//! ```text
//! cargo run --release --example morphs -- "아버지가방에들어가신다"
//! cargo run --release --example morphs -- --dump ../shared/data/nsmc/ratings_test.txt > ours.tsv
//! ```
//!
//! The first form prints morphs, pos, nouns and stems of each argument. With
//! `--dump FILE` it reads an NSMC TSV (`id<TAB>document<TAB>label`, header
//! line, no quoting), analyses every document in parallel and prints
//! `id<TAB>morph1 morph2 …` per line, the input of
//! `benches/reference/mecab_agreement.py`. `--dump-pos` prints `surface/TAG`.

use std::error::Error;
use std::time::Instant;

use malmoi::tokenize::korean::Analyzer;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let analyzer = Analyzer::new()?;
    match args.first().map(String::as_str) {
        Some(mode @ ("--dump" | "--dump-pos")) => {
            let path = args.get(1).ok_or("usage: --dump NSMC_TSV")?;
            dump(&analyzer, path, mode == "--dump-pos")
        }
        Some(_) => {
            for text in &args {
                show(&analyzer, text)?;
            }
            Ok(())
        }
        None => show(&analyzer, "아버지가방에들어가신다"),
    }
}

fn show(analyzer: &Analyzer, text: &str) -> Result<(), Box<dyn Error>> {
    println!("text:   {text}");
    println!("morphs: {:?}", analyzer.morphs(text)?);
    println!("pos:    {:?}", analyzer.pos(text)?);
    println!("nouns:  {:?}", analyzer.nouns(text)?);
    println!("stems:  {:?}", analyzer.morphs_stem(text)?);
    Ok(())
}

/// Analyses every document of an NSMC TSV and prints one line per document.
fn dump(analyzer: &Analyzer, path: &str, with_tags: bool) -> Result<(), Box<dyn Error>> {
    let content = std::fs::read_to_string(path)?;
    let rows: Vec<(&str, &str)> = content
        .lines()
        .skip(1)
        .map(|line| {
            let mut fields = line.split('\t');
            (fields.next().unwrap_or(""), fields.next().unwrap_or(""))
        })
        .collect();
    let started = Instant::now();
    let lines: Vec<String> = if with_tags {
        rows.iter()
            .map(|(id, doc)| {
                let pos = analyzer.pos(doc)?;
                let tagged: Vec<String> = pos.iter().map(|(s, t)| format!("{s}/{t}")).collect();
                Ok(format!("{id}\t{}", tagged.join(" ")))
            })
            .collect::<Result<_, Box<dyn Error>>>()?
    } else {
        let docs: Vec<&str> = rows.iter().map(|(_, doc)| *doc).collect();
        let morphs = analyzer.batch_morphs(&docs, false)?;
        rows.iter()
            .zip(morphs)
            .map(|((id, _), m)| format!("{id}\t{}", m.join(" ")))
            .collect()
    };
    let seconds = started.elapsed().as_secs_f64();
    for line in &lines {
        println!("{line}");
    }
    eprintln!(
        "{} documents in {seconds:.2} s ({:.0} docs/s)",
        rows.len(),
        rows.len() as f64 / seconds
    );
    Ok(())
}
