"""Expected tokens for crates/tokenize/tests/text.rs (`NLTK_CASES`).

Each case is one sentence, so NLTK's `word_tokenize` (Punkt sentence split +
NLTKWordTokenizer) equals `NLTKWordTokenizer().tokenize` on it; that avoids
needing the Punkt model download. Run: `pip install nltk` then
`python3 benches/reference/nltk_word_tokenize_reference.py`.
"""
import json
from nltk.tokenize import NLTKWordTokenizer

SENTENCES = [
    "Good muffins cost $3.88 in New York.",
    "Please don't buy me two of them!",
    "They'll say it's fine, but we've seen otherwise.",
    "I'm sure you'd agree that she can't be wrong.",
    "He said, \"This is the best movie I've ever seen.\"",
    "\"Hello,\" she whispered.",
    "The price rose 5% to 1,000 dollars at 12:30 today.",
    "Email me at someone@example.com or call #42.",
    "What?! You cannot be serious...",
    "We're gonna need a bigger boat, aren't we?",
    "Wait -- is that (really) true?",
    "The students' books were left on the 'old' table.",
    "Rock-and-roll isn't dead; it just moved.",
    "Let's go to the U.S. next year.",
    "It costs 3.50, not 3,50.",
    "I wanna go home & sleep.",
    "She asked: why not?",
    "Their [bracketed] {curly} <angled> words.",
    "It's 'quoted' text, isn't it?",
    "Don't SHOUT, I CAN'T hear YOU'RE voice!",
    "Gimme that, lemme see, I gotta know.",
    "A sentence without a final period",
    "Numbers like 3.14 and -2 and 1e10 stay whole.",
    "You*are*starred and 50$ is cheap.",
    "He won't; she will.",
    "Is this the end...?",
    "Wow!!! Amazing!!!",
    "O'Neil and D'Angelo met at McDonald's.",
    "The cat's toy and the dogs' bones.",
    "“Curly quotes” are ‘fancy’ here.",
    "I'd've gone, y'all.",
    "The '90s were fun.",
    "rock 'n' roll",
    "'Tis the season.",
    "naïve café owners.",
    "Visit https://example.com/a?b=c now.",
    "C++ and A&B at 3:00pm.",
    "He has a Ph.D. in it.",
    "Apples, pears, etc.",
    "Wait... what?",
    "(See above.)",
    "Hello.\"",
    "It's 5 o'clock.",
    "'Hello' said he.",
    "Don’t stop.",
    "A--B",
    "x---y",
    "pre-trained models",
    "\"Quote\" here",
    "email: a@b.c",
]

cases = [(s, NLTKWordTokenizer().tokenize(s)) for s in SENTENCES]
print("const NLTK_CASES: &[(&str, &[&str])] = &[")
for s, toks in cases:
    print(f"    ({json.dumps(s, ensure_ascii=False)}, &{json.dumps(toks, ensure_ascii=False)}),")
print("];")
