"""Score Korean analysers on the project's own ambiguity set (issue 24).

Usage:
    pip install kiwipiepy python-mecab-ko
    python benches/reference/ambiguity/score.py                 # Kiwi + MeCab-ko
    python benches/reference/ambiguity/score.py --malmoi-bin target/release/examples/morphs   # + malmoi, timed
    python benches/reference/ambiguity/score.py --malmoi ours.tsv   # + malmoi from a dump (not timed)
    python benches/reference/ambiguity/score.py --check         # validate the set only
    python benches/reference/ambiguity/score.py --audit         # no row credited for another word
    python benches/reference/ambiguity/score.py --show 10 --pairs   # misses and per-pair table

The set is `ambiguity_set.tsv` beside this script: a TSV with header
`id kind sentence target form tag note`, split on tabs (no quoting).

One metric for every system: a sentence counts as correct when the expected
(form, tag) is among the morphemes the analyser outputs for the whole sentence.
Forms are compared after Unicode NFC; tags after `norm_tag` (below), applied
to the expected tag and to every system alike:
  * Kiwi's irregular/regular markers are dropped: `VV-I`, `VA-R`, ... -> `VV`, `VA`;
  * mecab-ko-dic's unit bound noun `NNBC` becomes `NNB` (Kiwi and the Sejong set use NNB).
Kiwi morphemes are `Kiwi(num_workers=1).tokenize(sentence)` (its default model),
as (token.form, token.tag).
MeCab-ko morphemes are `mecab.MeCab().pos(sentence)` -- (surface, pos) per node,
e.g. ('구웠', 'VV+EP') -- plus, for every node whose feature has an `expression`
(Inflect, Compound and Preanalysis entries, e.g. `굽/VV/*+었/EP/*`), each
(form, tag) of that expression, so MeCab-ko's own lemmas count like Kiwi's.
malmoi (`--malmoi FILE`, column `malmoi (file)`): a TSV `id<TAB>morphemes`,
morphemes `form/TAG` joined by single spaces; an id missing from the file
counts as wrong.
malmoi (`--malmoi-bin PATH`, column `malmoi (<engine>)`): the set's sentences
go to a temporary TSV `id<TAB>sentence` (no header) and this script runs
`PATH --engine ENGINE --dump-pos TMP --repeat R` with RAYON_NUM_THREADS=1.
The binary prints the same dump on stdout and times itself, reporting on
stderr `malmoi analysis: N texts, best of R passes S s on one thread = X texts/s`.

Throughput is sentences per second on the whole set, one thread, analysis only
(the best of `--repeat` timed passes after one warm-up pass). Kiwi, MeCab-ko
and malmoi's binary are timed back to back in one run, before any scoring.

Prints Markdown tables and writes `results.json` beside this script (or `--json PATH`).
"""

import argparse
import collections
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import unicodedata
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
SET_PATH = HERE / "ambiguity_set.tsv"
HEADER = ["id", "kind", "sentence", "target", "form", "tag", "note"]
KINDS = ["irregular", "verb_adjective", "noun_particle", "long_distance"]
MIN_PER_KIND = 120
MIN_TOTAL = 520
# mecab-ko-dic's tag set (NNBC folded into NNB by norm_tag).
TAGS = set(
    "NNG NNP NNB NR NP VV VA VX VCP VCN MM MAG MAJ IC JKS JKC JKG JKO JKB JKV JKQ JX JC "
    "EP EF EC ETN ETM XPN XSN XSV XSA XR SF SE SSO SSC SC SY SL SH SN".split()
)
PAIR = re.compile(r"^\[([^\]]+)\]")


def norm_form(form):
    return unicodedata.normalize("NFC", form)


def norm_tag(tag):
    """Fold tags into one set: drop Kiwi's -I/-R markers, NNBC -> NNB."""
    tag = re.sub(r"-[IR]$", "", tag)
    return "NNB" if tag == "NNBC" else tag


def read_set(path):
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header != HEADER:
            sys.exit(f"{path}: header {header} != {HEADER}")
        rows = []
        for lineno, line in enumerate(f, start=2):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != len(HEADER):
                sys.exit(f"{path}:{lineno}: {len(fields)} fields, want {len(HEADER)}")
            row = dict(zip(HEADER, fields))
            row["pair"] = pair_of(row)
            rows.append(row)
    return rows


def pair_of(row):
    """The ambiguous pair an item belongs to: the `[...]` label opening its note."""
    m = PAIR.match(row["note"])
    return m.group(1) if m else row["target"]


# ---------------------------------------------------------------- checking the set


def check_set(rows):
    """Validate the set; returns (errors, warnings, summary lines)."""
    errors, warnings = [], []
    ids = collections.Counter(r["id"] for r in rows)
    errors += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    for r in rows:
        where = r["id"]
        if r["kind"] not in KINDS:
            errors.append(f"{where}: kind {r['kind']!r}")
        if norm_tag(r["tag"]) not in TAGS:
            errors.append(f"{where}: tag {r['tag']!r} not in the mecab-ko-dic set")
        if r["sentence"] != norm_form(r["sentence"]):
            errors.append(f"{where}: sentence not NFC")
        count = r["sentence"].count(r["target"])
        if count == 0:
            errors.append(f"{where}: target {r['target']!r} not in sentence")
        elif count > 1:
            warnings.append(f"{where}: target {r['target']!r} occurs {count} times")
        else:
            start = r["sentence"].index(r["target"])
            outside = r["sentence"][:start] + "\t" + r["sentence"][start + len(r["target"]) :]
            for word in re.findall(r"\S+", outside):
                if word.startswith(r["form"]):
                    warnings.append(f"{where}: expected form {r['form']!r} also begins {word!r}")
    kinds = collections.Counter(r["kind"] for r in rows)
    for kind in KINDS:
        if kinds[kind] < MIN_PER_KIND:
            errors.append(f"kind {kind}: {kinds[kind]} sentences < {MIN_PER_KIND}")
    if len(rows) < MIN_TOTAL:
        errors.append(f"{len(rows)} sentences < {MIN_TOTAL}")
    summary = [f"{len(rows)} sentences; " + ", ".join(f"{k} {kinds[k]}" for k in KINDS)]
    by_pair = collections.defaultdict(collections.Counter)
    for r in rows:
        by_pair[(r["kind"], r["pair"])][f"{r['form']}/{r['tag']}"] += 1
    for (kind, pair), readings in sorted(by_pair.items()):
        share = max(readings.values()) / sum(readings.values())
        line = f"{kind:15} {pair:16} " + "  ".join(f"{k} {n}" for k, n in readings.most_common())
        summary.append(line)
        if len(readings) > 1 and share > 0.67:
            warnings.append(f"pair {pair} in {kind} unbalanced: {dict(readings)}")
    return errors, warnings, summary


# ---------------------------------------------------------------- analysers


class PythonSystem:
    """An analyser called in this process, sentence by sentence."""

    def measure(self, rows, repeat):
        """Sentences per second over the set (see `throughput`)."""
        return throughput(self, [r["sentence"] for r in rows], repeat)

    def analyses(self, rows):
        return {r["id"]: self.analyse(r["sentence"]) for r in rows}


class KiwiSystem(PythonSystem):
    name = "Kiwi"

    def __init__(self):
        from kiwipiepy import Kiwi

        self.kiwi = Kiwi(num_workers=1)
        self.version = {
            "kiwipiepy": metadata.version("kiwipiepy"),
            "kiwipiepy_model": metadata.version("kiwipiepy_model"),
            "model_type": self.kiwi.model_type,
        }

    def analyse(self, sentence):
        return [(t.form, t.tag) for t in self.kiwi.tokenize(sentence)]

    def morphemes(self, analysis):
        return analysis


class MecabSystem(PythonSystem):
    name = "MeCab-ko"

    def __init__(self):
        import mecab

        self.mecab = mecab.MeCab()
        self.version = {
            "python-mecab-ko": metadata.version("python-mecab-ko"),
            "python-mecab-ko-dic": metadata.version("python-mecab-ko-dic"),
        }

    def analyse(self, sentence):
        return [(n.surface, n.feature.pos, n.feature.expression) for n in self.mecab.parse(sentence)]

    def morphemes(self, analysis):
        """`mecab.pos()` pairs plus every (form, tag) of Inflect/Compound expressions."""
        out = []
        for surface, pos, expression in analysis:
            out.append((surface, pos))
            if expression:
                for part in expression.split("+"):
                    form, tag = part.rsplit("/", 2)[:2]
                    out.append((form, tag))
        return out


def parse_dump(lines):
    """`id<TAB>form/TAG form/TAG ...` lines -> {id: [(form, tag), ...]}."""
    by_id = {}
    for line in lines:
        doc_id, _, morphs = line.rstrip("\n").partition("\t")
        by_id[doc_id] = [tuple(m.rsplit("/", 1)) for m in morphs.split(" ") if "/" in m]
    return by_id


class DumpSystem:
    """malmoi's morphemes from a dump (`parse_dump`); `source` names where it came from."""

    by_id = None
    source = ""

    def analyses(self, rows):
        """The dump's morphemes per row; ids it lacks get none (counted wrong) and are reported."""
        if self.by_id is None:
            raise RuntimeError(f"{self.name}: scored before its dump was read")
        missing = [r["id"] for r in rows if r["id"] not in self.by_id]
        extra = sorted(set(self.by_id) - {r["id"] for r in rows})
        if missing:
            print(f"{self.name}: {len(missing)} ids missing from {self.source} (counted wrong): "
                  + " ".join(missing[:10]), file=sys.stderr)
        if extra:
            print(f"{self.name}: {len(extra)} ids in {self.source} not in the set (ignored): "
                  + " ".join(extra[:10]), file=sys.stderr)
        return {r["id"]: self.by_id.get(r["id"], []) for r in rows}

    def morphemes(self, analysis):
        return analysis


class FileSystem(DumpSystem):
    """A dump read from a file; nothing to time."""

    name = "malmoi (file)"

    def __init__(self, path):
        self.path = self.source = str(path)
        with open(path, encoding="utf-8") as f:
            self.by_id = parse_dump(f)
        self.version = {"file": self.path}

    def measure(self, rows, repeat):
        return None


# What the malmoi binary prints on stderr after timing itself.
MALMOI_TIMING = re.compile(
    r"malmoi analysis: (?P<n>\d+) texts, best of (?P<r>\d+) passes (?P<secs>\d+(?:\.\d+)?) s "
    r"on one thread = (?P<rate>\d+(?:\.\d+)?) texts/s"
)


class BinarySystem(DumpSystem):
    """malmoi's example binary: one run gives the dump and its own one-thread timing."""

    def __init__(self, binary, engine):
        if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
            sys.exit(f"--malmoi-bin {binary}: not an executable file (cargo build --release --example morphs)")
        self.binary = binary
        self.engine = engine
        self.name = f"malmoi ({engine})"
        self.source = f"the output of {binary}"
        built = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.stat(binary).st_mtime))
        self.version = {"binary": binary, "built": built, "engine": engine}

    def measure(self, rows, repeat):
        """Runs the binary on the set; keeps its dump and returns the texts/s it reports."""
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".tsv", delete=False) as f:
            f.writelines(f"{r['id']}\t{r['sentence']}\n" for r in rows)
        command = [self.binary, "--engine", self.engine, "--dump-pos", f.name, "--repeat", str(repeat)]
        try:
            done = subprocess.run(command, capture_output=True, env=os.environ | {"RAYON_NUM_THREADS": "1"})
        except OSError as e:
            sys.exit(f"{self.name}: cannot run {' '.join(command)}: {e}")
        finally:
            os.unlink(f.name)
        stderr = done.stderr.decode("utf-8", errors="replace")
        timing = [m for m in map(MALMOI_TIMING.fullmatch, stderr.splitlines()) if m]
        if done.returncode != 0 or not timing:
            why = f"exit status {done.returncode}" if done.returncode != 0 else "no 'malmoi analysis: ...' line"
            sys.exit(f"{self.name}: {' '.join(command)} failed ({why}); stderr tail:\n" + tail(stderr))
        timing = timing[-1]
        n, passes = int(timing["n"]), int(timing["r"])
        if (n, passes) != (len(rows), repeat):
            sys.exit(f"{self.name}: timed {n} texts x {passes} passes, asked for {len(rows)} x {repeat}; "
                     "stderr tail:\n" + tail(stderr))
        try:
            self.by_id = parse_dump(done.stdout.decode("utf-8").splitlines())
        except UnicodeDecodeError as e:
            sys.exit(f"{self.name}: stdout is not UTF-8 ({e})")
        self.version |= {"repeat": passes, "seconds": float(timing["secs"]), "timing": timing[0]}
        return float(timing["rate"])


def tail(text, lines=20):
    return "\n".join(text.rstrip("\n").splitlines()[-lines:]) or "(empty)"


def is_correct(row, morphemes):
    want = (norm_form(row["form"]), norm_tag(row["tag"]))
    return want in {(norm_form(f), norm_tag(t)) for f, t in morphemes}


def throughput(system, sentences, repeat):
    for s in sentences:
        system.analyse(s)
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        for s in sentences:
            system.analyse(s)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return len(sentences) / best


def score(system, rows):
    """Per-row correctness and the morphemes behind it."""
    analyses = system.analyses(rows)
    results = {}
    for r in rows:
        morphs = system.morphemes(analyses[r["id"]])
        results[r["id"]] = (is_correct(r, morphs), morphs)
    return results


def audit(rows, kiwi, mecab_system):
    """Rows whose expected (form, tag) also comes from outside the target's span.

    Such a row would be credited for the wrong word; uses Kiwi's token offsets
    and MeCab-ko's node spans. Returns (system name, row id, sentence) triples.
    """
    found = []
    for r in rows:
        start = r["sentence"].index(r["target"])
        end = start + len(r["target"])
        want = (norm_form(r["form"]), norm_tag(r["tag"]))
        spans = [
            (kiwi.name, [((t.form, t.tag), (t.start, t.start + t.len)) for t in kiwi.kiwi.tokenize(r["sentence"])]),
            (mecab_system.name, mecab_spans(mecab_system, r["sentence"])),
        ]
        for name, pieces in spans:
            outside = {(norm_form(f), norm_tag(t)) for (f, t), (a, b) in pieces if b <= start or a >= end}
            if want in outside:
                found.append((name, r["id"], r["sentence"]))
    return found


def mecab_spans(system, sentence):
    """MeCab-ko morphemes (as `MecabSystem.morphemes`) with the span of the node they come from."""
    pieces = []
    for node in system.mecab.parse(sentence):
        analysis = [(node.surface, node.feature.pos, node.feature.expression)]
        pieces += [(m, node.span) for m in system.morphemes(analysis)]
    return pieces


# ---------------------------------------------------------------- reporting


def accuracy(rows, results, keep):
    chosen = [r for r in rows if keep(r)]
    right = sum(results[r["id"]][0] for r in chosen)
    return len(chosen), right


def pct(right, n):
    return f"{100.0 * right / n:.1f}%" if n else "-"


def kind_table(rows, scored):
    names = list(scored)
    lines = ["| kind | n | " + " | ".join(names) + " |", "|---|---:|" + "---:|" * len(names)]
    groups = [(k, lambda r, k=k: r["kind"] == k) for k in KINDS] + [("**overall**", lambda r: True)]
    table = {}
    for label, keep in groups:
        cells = []
        for name in names:
            n, right = accuracy(rows, scored[name], keep)
            cells.append(pct(right, n))
            table.setdefault(label.strip("*"), {"n": n})[name] = {"correct": right, "accuracy": right / n}
        lines.append(f"| {label} | {n} | " + " | ".join(cells) + " |")
    return lines, table


def pair_table(rows, scored):
    names = list(scored)
    lines = ["| kind | pair | n | " + " | ".join(names) + " |", "|---|---|---:|" + "---:|" * len(names)]
    table = {}
    for kind, pair in sorted({(r["kind"], r["pair"]) for r in rows}):
        cells, entry = [], {}
        for name in names:
            n, right = accuracy(rows, scored[name], lambda r: r["kind"] == kind and r["pair"] == pair)
            cells.append(pct(right, n))
            entry[name] = right
        entry["n"] = n
        table[f"{kind}/{pair}"] = entry
        lines.append(f"| {kind} | {pair} | {n} | " + " | ".join(cells) + " |")
    return lines, table


def speed_ratios(speed, references=("Kiwi", "MeCab-ko")):
    """{"malmoi (...) / Kiwi": times faster, ...} for every timed malmoi and timed reference."""
    return {
        f"{name} / {ref}": value / speed[ref]
        for name, value in speed.items()
        if name.startswith("malmoi")
        for ref in references
        if ref in speed
    }


def speed_lines(speed, ratios, load):
    lines = ["| system | sentences/s (1 thread) |", "|---|---:|"]
    lines += [f"| {name} | {value:,.0f} |" for name, value in speed.items()]
    lines += [""] + [f"{pair}: {ratio:.2f}x" for pair, ratio in ratios.items()]
    lines.append(f"load average after timing: {', '.join(f'{x:.2f}' for x in load)} ({os.cpu_count()} cpus)")
    return lines


def show_misses(rows, scored, count):
    for name, results in scored.items():
        misses = [r for r in rows if not results[r["id"]][0]]
        print(f"\n### {name}: {len(misses)} misses (first {min(count, len(misses))})\n")
        for r in misses[:count]:
            morphs = " ".join(f"{f}/{t}" for f, t in results[r["id"]][1])
            print(f"- {r['id']} want {r['form']}/{r['tag']} for {r['target']}: {r['sentence']}\n  got: {morphs}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default=str(SET_PATH), help="the ambiguity set TSV")
    ap.add_argument("--check", action="store_true", help="validate the set and exit")
    ap.add_argument(
        "--audit", action="store_true", help="list rows Kiwi/MeCab-ko would be credited for another word, and exit"
    )
    ap.add_argument("--malmoi", help="malmoi's morphemes: TSV id<TAB>form/TAG form/TAG ... (column 'malmoi (file)')")
    ap.add_argument(
        "--malmoi-bin", metavar="PATH", help="malmoi's example binary (target/release/examples/morphs): scored and timed"
    )
    ap.add_argument(
        "--malmoi-engine", choices=["context", "mecab"], help="--engine for --malmoi-bin (default context)"
    )
    ap.add_argument(
        "--no-reference", action="store_true", help="score only malmoi (--malmoi/--malmoi-bin; skip Kiwi, MeCab-ko)"
    )
    ap.add_argument("--repeat", type=int, default=3, help="timed passes for throughput (best is kept)")
    ap.add_argument("--pairs", action="store_true", help="also print the per-pair table")
    ap.add_argument("--show", type=int, default=0, help="print the first N misses of each system")
    ap.add_argument("--json", default=str(HERE / "results.json"), help="where to write the results")
    args = ap.parse_args()

    rows = read_set(args.set)
    errors, warnings, summary = check_set(rows)
    if args.check:
        print("\n".join(summary))
        print("\n".join(f"warning: {w}" for w in warnings))
        print("\n".join(f"error: {e}" for e in errors))
        print(f"{len(errors)} errors, {len(warnings)} warnings")
        sys.exit(1 if errors else 0)
    if errors:
        sys.exit("the set does not validate (run --check):\n" + "\n".join(errors))

    if args.audit:
        found = audit(rows, KiwiSystem(), MecabSystem())
        print("\n".join(f"{name}\t{row_id}\t{sentence}" for name, row_id, sentence in found))
        print(f"{len(found)} rows credited from outside the target span")
        sys.exit(1 if found else 0)

    if args.repeat < 1:
        sys.exit("--repeat must be at least 1")
    systems = [] if args.no_reference else [KiwiSystem(), MecabSystem()]
    if args.malmoi:
        systems.append(FileSystem(args.malmoi))
    if args.malmoi_engine and not args.malmoi_bin:
        sys.exit("--malmoi-engine needs --malmoi-bin")
    if args.malmoi_bin:
        systems.append(BinarySystem(args.malmoi_bin, args.malmoi_engine or "context"))
    if not systems:
        sys.exit("nothing to score")
    # Timing first, back to back (Kiwi, MeCab-ko, then malmoi's binary), so all run under the same load.
    speed = {}
    for system in systems:
        rate = system.measure(rows, args.repeat)
        if rate is not None:
            speed[system.name] = rate
    load = os.getloadavg()
    scored = {system.name: score(system, rows) for system in systems}
    ratios = speed_ratios(speed)

    lines, kinds = kind_table(rows, scored)
    print("\n".join(lines))
    if speed:
        print("\n" + "\n".join(speed_lines(speed, ratios, load)))
    plines, pairs = pair_table(rows, scored)
    if args.pairs:
        print("\n" + "\n".join(plines))
    if args.show:
        show_misses(rows, scored, args.show)

    result = {
        "set": Path(args.set).name,
        "sentences": len(rows),
        "metric": "expected (form, tag) among the sentence's output morphemes; NFC forms; "
        "tags: Kiwi -I/-R dropped, NNBC -> NNB; MeCab-ko pos() plus expression parts",
        "versions": {s.name: s.version for s in systems} | {"python": platform.python_version()},
        "by_kind": kinds,
        "by_pair": pairs,
        "sentences_per_second_one_thread": {k: round(v, 1) for k, v in speed.items()},
        "speed_ratios": {k: round(v, 2) for k, v in ratios.items()},
        "load_average_1_5_15": [round(x, 2) for x in load],
        "cpus": os.cpu_count(),
        "misses": {name: [i for i, (ok, _) in res.items() if not ok] for name, res in scored.items()},
    }
    Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
