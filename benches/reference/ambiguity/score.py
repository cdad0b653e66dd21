"""Score Korean analysers on the project's own ambiguity set (issue 24).

Usage:
    pip install kiwipiepy python-mecab-ko
    python benches/reference/ambiguity/score.py                 # Kiwi + MeCab-ko
    python benches/reference/ambiguity/score.py --malmoi ours.tsv   # + malmoi
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
malmoi (`--malmoi FILE`): a TSV `id<TAB>morphemes`, morphemes `form/TAG`
joined by single spaces; an id missing from the file counts as wrong.

Throughput is sentences per second on the whole set, one thread, analysis only
(the best of `--repeat` timed passes after one warm-up pass).

Prints Markdown tables and writes `results.json` beside this script (or `--json PATH`).
"""

import argparse
import collections
import json
import os
import platform
import re
import sys
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


class KiwiSystem:
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


class MecabSystem:
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


class FileSystem:
    """Morphemes read from a dump: `id<TAB>form/TAG form/TAG ...`."""

    def __init__(self, name, path):
        self.name = name
        self.path = path
        self.by_id = {}
        with open(path, encoding="utf-8") as f:
            for line in f:
                doc_id, _, morphs = line.rstrip("\n").partition("\t")
                self.by_id[doc_id] = [tuple(m.rsplit("/", 1)) for m in morphs.split(" ") if "/" in m]
        self.version = {"file": str(path)}

    def morphemes(self, analysis):
        return analysis


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
    results = {}
    for r in rows:
        if isinstance(system, FileSystem):
            morphs = system.by_id.get(r["id"])
            analysis = morphs if morphs is not None else []
        else:
            analysis = system.analyse(r["sentence"])
        morphs = system.morphemes(analysis)
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
    ap.add_argument("--malmoi", help="malmoi's morphemes: TSV id<TAB>form/TAG form/TAG ...")
    ap.add_argument("--no-reference", action="store_true", help="score only --malmoi (skip Kiwi, MeCab-ko)")
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

    systems = [] if args.no_reference else [KiwiSystem(), MecabSystem()]
    if args.malmoi:
        systems.append(FileSystem("malmoi", args.malmoi))
    if not systems:
        sys.exit("nothing to score")
    sentences = [r["sentence"] for r in rows]
    scored, speed = {}, {}
    for system in systems:
        scored[system.name] = score(system, rows)
        if isinstance(system, FileSystem):
            missing = [r["id"] for r in rows if r["id"] not in system.by_id]
            if missing:
                print(f"{system.name}: {len(missing)} ids missing from {system.path} (counted wrong): "
                      + " ".join(missing[:10]), file=sys.stderr)
        else:
            speed[system.name] = throughput(system, sentences, args.repeat)

    lines, kinds = kind_table(rows, scored)
    print("\n".join(lines))
    if speed:
        print("\n| system | sentences/s (1 thread) |\n|---|---:|")
        for name, value in speed.items():
            print(f"| {name} | {value:,.0f} |")
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
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "misses": {name: [i for i, (ok, _) in res.items() if not ok] for name, res in scored.items()},
    }
    Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
