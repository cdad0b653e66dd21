//! Training corpora and their division into jobs for worker threads.
//!
//! A file corpus is streamed: a reader thread reads about 64 KiB of lines at a time and hands
//! them to the workers, so corpora larger than memory train (and each epoch re-reads the
//! file).

use crate::error::{EmbedError, Result};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::sync::mpsc::SyncSender;

/// An analyzer turning one line of text into tokens (for example a Korean morpheme
/// analyzer's `morphs`).
pub type Analyzer<'a> = &'a (dyn Fn(&str) -> Vec<String> + Sync);

/// Where word2vec reads its sentences.
#[derive(Clone, Copy)]
pub enum Corpus<'a> {
    /// A text file, one sentence per line, tokens separated by whitespace (gensim's
    /// `LineSentence`).
    File(&'a std::path::Path),
    /// A text file, one sentence per line, split into tokens by an analyzer.
    AnalyzedFile(&'a std::path::Path, Analyzer<'a>),
    /// Tokenized sentences in memory.
    Sentences(&'a [Vec<String>]),
}

impl std::fmt::Debug for Corpus<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Corpus::File(p) => f.debug_tuple("File").field(p).finish(),
            Corpus::AnalyzedFile(p, _) => f.debug_tuple("AnalyzedFile").field(p).finish(),
            Corpus::Sentences(s) => write!(f, "Sentences({} sentences)", s.len()),
        }
    }
}

/// A unit of work: some lines of a file or a slice of in-memory sentences.
pub(crate) enum Job<'a> {
    Lines(Vec<String>),
    Sentences(&'a [Vec<String>]),
}

const JOB_BYTES: usize = 1 << 16;
const JOB_TOKENS: usize = 10_000;

impl<'a> Corpus<'a> {
    /// Sends the corpus as jobs, `passes` times over; stops early (without error) when the
    /// receivers hang up.
    pub(crate) fn send_jobs(&self, passes: usize, sender: &SyncSender<Job<'a>>) -> Result<()> {
        for _ in 0..passes {
            let delivered = match *self {
                Corpus::File(path) | Corpus::AnalyzedFile(path, _) => send_lines(path, sender)?,
                Corpus::Sentences(sentences) => send_sentences(sentences, sender),
            };
            if !delivered {
                break;
            }
        }
        Ok(())
    }

    /// Calls `visit(Some(token))` for every token of the job and `visit(None)` at the end of
    /// each sentence.
    pub(crate) fn visit(&self, job: &Job<'_>, mut visit: impl FnMut(Option<&str>)) {
        match (job, self) {
            (Job::Lines(lines), Corpus::AnalyzedFile(_, analyzer)) => {
                for line in lines {
                    analyzer(line).iter().for_each(|t| visit(Some(t)));
                    visit(None);
                }
            }
            (Job::Lines(lines), _) => {
                for line in lines {
                    line.split_whitespace().for_each(|t| visit(Some(t)));
                    visit(None);
                }
            }
            (Job::Sentences(sentences), _) => {
                for sentence in *sentences {
                    sentence.iter().for_each(|t| visit(Some(t)));
                    visit(None);
                }
            }
        }
    }
}

/// Streams a file in batches of about `JOB_BYTES`; returns false if the receivers hung up.
/// Errors name the file and, for a line that cannot be read (not UTF-8), its number.
fn send_lines(path: &std::path::Path, sender: &SyncSender<Job<'_>>) -> Result<bool> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path).map_err(EmbedError::file(path))?);
    let mut line_number = 0;
    loop {
        let mut lines = Vec::new();
        let mut bytes = 0;
        while bytes < JOB_BYTES {
            let mut line = String::new();
            line_number += 1;
            let n = reader.read_line(&mut line).map_err(EmbedError::file_line(path, line_number))?;
            if n == 0 {
                break;
            }
            bytes += n;
            lines.push(line);
        }
        if lines.is_empty() {
            return Ok(true);
        }
        if sender.send(Job::Lines(lines)).is_err() {
            return Ok(false);
        }
    }
}

/// Sends sentence slices of about `JOB_TOKENS` tokens; returns false if the receivers hung up.
fn send_sentences<'a>(sentences: &'a [Vec<String>], sender: &SyncSender<Job<'a>>) -> bool {
    let mut start = 0;
    while start < sentences.len() {
        let mut end = start;
        let mut tokens = 0;
        while end < sentences.len() && tokens < JOB_TOKENS {
            tokens += sentences[end].len();
            end += 1;
        }
        if sender.send(Job::Sentences(&sentences[start..end])).is_err() {
            return false;
        }
        start = end;
    }
    true
}

/// Runs `work` over every job of `passes` passes through the corpus on `workers` threads,
/// each with its own state from `init(worker_index)`; the calling thread reads the corpus.
/// Returns the workers' final states in worker order.
pub(crate) fn run_jobs<'a, S, I, W>(
    corpus: &Corpus<'a>,
    passes: usize,
    workers: usize,
    init: I,
    work: W,
) -> Result<Vec<S>>
where
    S: Send,
    I: Fn(usize) -> S + Sync,
    W: Fn(&mut S, &Job<'a>) + Sync,
{
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Job<'a>>(2 * workers.max(1));
    let receiver = std::sync::Mutex::new(receiver);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers.max(1))
            .map(|w| {
                let (receiver, init, work) = (&receiver, &init, &work);
                scope.spawn(move || {
                    let mut state = init(w);
                    loop {
                        let job = receiver.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match job {
                            Ok(job) => work(&mut state, &job),
                            Err(_) => return state,
                        }
                    }
                })
            })
            .collect();
        let read = corpus.send_jobs(passes, &sender);
        drop(sender);
        let states =
            handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect();
        read.map(|()| states)
    })
}
