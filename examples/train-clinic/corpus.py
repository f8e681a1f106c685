"""English text from Debian's dictionary packages, for pretraining the clinic
model and for synonym augmentation, with no download at run time:

* wordnet-base (WordNet 3.0: /usr/share/wordnet/data.{noun,verb,adj,adv}):
  synsets, their lemmas and glosses;
* dict-gcide (GNU Collaborative International Dictionary of English, based on
  the 1913 Webster's: /usr/share/dictd/gcide.dict.dz, dictzip = gzip).

build.sh installs both with apt-get. Nothing here reads the validation or test
rows, nor paraphrases.csv: the seed words that pick the medical part of the
dictionaries come from the *training* rows only.

The pretraining text is one line per (word, sense): "word: gloss" for every
lemma of a chosen WordNet synset (so synonyms such as "pee", "urinate" and
"make water" are each predicted from the same definition, and end up with
related embeddings), the synset's example sentences, and "headword: definition"
for the chosen GCIDE entries.

    /usr/bin/python3 examples/train-clinic/corpus.py --out /tmp/clinic-model/corpus.txt
"""

import argparse
import collections
import gzip
import hashlib
import os
import re

WORDNET = "/usr/share/wordnet"
GCIDE = "/usr/share/dictd/gcide.dict.dz"

# WordNet lexicographer files that hold bodies, their states and processes:
# 08 noun.body, 26 noun.state (diseases, symptoms), 29 verb.body (cough,
# sneeze, vomit), 22 noun.process, 07 noun.attribute, 12 noun.feeling.
MEDICAL_LEXFILES = {8, 26, 29, 22}

# A short stop list: function words and the commonest verbs, which would
# otherwise pull half of the dictionary in as "seed words".
STOP = set("""
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing done down during each even ever every few for from further get gets getting
got had has have having he her here hers herself him himself his how i if in into is it its itself just keep kept
like lot lots make made many me more most much my myself no nor not now of off often on once one only or other our
ours out over own really same she should since so some still such than that the their theirs them then there these
they this those through to too under until up very was we were what when where which while who whom why will with
would you your yours feel feeling felt been really think thing things something time times day days way also lately
go going went come came take took put seem seems seemed know want need lot bit
""".split())

_WORD = re.compile(r"[a-z]+")


def seed_words(train_texts, min_count=2):
    """Content words used at least min_count times in the training rows."""
    c = collections.Counter(w for t in train_texts for w in _WORD.findall(t.lower()))
    return {w for w, n in c.items() if n >= min_count and w not in STOP and len(w) > 2}


# ----------------------------------------------------------------------------
# WordNet


Synset = collections.namedtuple("Synset", "offset pos lexfile lemmas gloss examples")


def read_wordnet(root=WORDNET):
    """Returns [Synset] from data.noun/verb/adj/adv in file order."""
    out = []
    for name, pos in (("noun", "n"), ("verb", "v"), ("adj", "a"), ("adv", "r")):
        with open(os.path.join(root, "data." + name), encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):  # licence header
                    continue
                head, _, gl = line.partition(" | ")
                p = head.split()
                lexfile, n = int(p[1]), int(p[3], 16)
                lemmas = []
                for i in range(n):
                    w = p[4 + 2 * i]
                    w = re.sub(r"\([a-z]+\)$", "", w)  # adjective markers like (a), (p)
                    lemmas.append(w.replace("_", " "))
                gl = gl.strip()
                examples = re.findall(r'"([^"]+)"', gl)
                gloss = re.sub(r';?\s*"[^"]*"', "", gl).strip(" ;")
                out.append(Synset(p[0], pos, lexfile, lemmas, gloss, examples))
    return out


def morph_bases(word, lemma_set):
    """Candidate base forms of an inflected word (a small Morphy: WordNet's
    suffix rules), those that are WordNet lemmas, the word itself first."""
    out = [word] if word in lemma_set else []
    rules = [("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("ies", "y"),
             ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", ""), ("er", ""), ("est", ""),
             ("er", "e"), ("est", "e"), ("ied", "y"), ("ier", "y"), ("iest", "y")]
    for suf, rep in rules:
        if word.endswith(suf) and len(word) > len(suf) + 2:
            b = word[: -len(suf)] + rep
            if b in lemma_set and b not in out:
                out.append(b)
            # doubled consonant: "swollen" no, but "itched"/"stopped" -> "stop"
            if len(b) > 2 and b[-1] == b[-2] and b[:-1] in lemma_set and b[:-1] not in out:
                out.append(b[:-1])
    return out


class Synonyms:
    """WordNet synonyms of a word, for augmentation: nouns and verbs only from
    the senses that are about bodies, their states and processes (so "joint"
    gives "articulation", not "reefer", and "stomach" gives "belly", not
    "tolerate"), adjectives only from their first sense (WordNet lists the
    most frequent sense first)."""

    LEXFILES = {7, 8, 22, 26, 29}

    def __init__(self, synsets, root=WORDNET):
        by_offset = {(s.pos, s.offset): s for s in synsets}
        # index.* lists each lemma's synsets in sense order, most frequent first.
        by_lemma = collections.defaultdict(list)
        for name, pos in (("noun", "n"), ("verb", "v"), ("adj", "a")):
            with open(os.path.join(root, "index." + name), encoding="latin-1") as f:
                for line in f:
                    if line.startswith("  "):
                        continue
                    p = line.split()
                    n_syn = int(p[2])
                    for off in p[len(p) - n_syn:]:
                        by_lemma[p[0].replace("_", " ")].append(by_offset[(pos, off)])
        self.lemma_set = set(by_lemma)
        self.by_lemma = by_lemma
        self.cache = {}

    def of(self, word):
        """Returns [(synonym, suffix)]: synonyms of each base form of the word
        with the inflection ("", "s", "ed", "ing") the word had."""
        word = word.lower()
        if word in self.cache:
            return self.cache[word]
        bases = morph_bases(word, self.lemma_set)[:2]
        out, seen = [], {word, *bases}
        for base in bases:
            suffix = ""
            if base != word:
                suffix = next((x for x in ("ing", "ed", "s") if word.endswith(x)), "")
            first_adj = True
            for s in self.by_lemma.get(base, []):
                if s.pos == "a":
                    if not first_adj:
                        continue
                    first_adj = False
                elif s.pos not in ("n", "v") or s.lexfile not in self.LEXFILES:
                    continue
                # "-ing"/"-ed" belong on verbs, "-s" on nouns and verbs.
                if suffix and (s.pos == "a" or (suffix != "s" and s.pos != "v")):
                    continue
                for l in s.lemmas:
                    l = l.lower()
                    if l not in seen and l not in STOP and l.replace(" ", "").replace("-", "").isalpha():
                        seen.add(l)
                        out.append((l, suffix))
        self.cache[word] = out
        return out


def inflect(phrase, suffix):
    """Puts a suffix on the first word of a phrase ("throw up" + "ing" is
    "throwing up"), with the commonest spelling rules."""
    if not suffix:
        return phrase
    w, sep, rest = phrase.partition(" ")
    if suffix in ("ing", "ed") and len(w) > 2 and w.endswith("e") and not w.endswith("ee"):
        w = w[:-1]
    if suffix == "s" and w.endswith(("s", "x", "ch", "sh")):
        w += "e"
    return w + suffix + sep + rest


# ----------------------------------------------------------------------------
# GCIDE


def read_gcide(path=GCIDE):
    """Returns [(headword, definition text)] with the markup removed. Entries
    are separated by blank-line-delimited blocks that start with
    'Headword \\pronunciation\\, pos.'."""
    with gzip.open(path) as f:
        text = f.read().decode("utf-8", "replace")
    out = []
    for block in re.split(r"\n\n(?=[A-Z][^\n]*\\[^\n]*\\)", text):
        m = re.match(r"([A-Za-z][A-Za-z' -]*?) \\", block)
        if not m:
            continue
        head = m.group(1).strip()
        body = block.split("\n", 1)[1] if "\n" in block else ""
        body = re.sub(r"\[1913 Webster\]|\[PJC\]|\[WordNet[^\]]*\]|\[Webster[^\]]*\]", " ", body)
        body = re.sub(r"--[A-Z][^.\n]*\.", " ", body)  # quotation authors
        body = re.sub(r"\[[^\]]*\]", " ", body)  # etymologies
        body = body.replace("{", "").replace("}", "").replace("\\", "")
        body = re.sub(r"\s+", " ", body).strip()
        if body:
            out.append((head, body))
    return out


# ----------------------------------------------------------------------------


def build(train_texts, wordnet_root=WORDNET, gcide_path=GCIDE, max_gcide_chars=300):
    """Returns the pretraining lines (deterministic order) and statistics."""
    seeds = seed_words(train_texts)
    synsets = read_wordnet(wordnet_root)
    syn = Synonyms(synsets)
    seed_bases = set()
    for w in seeds:
        seed_bases.update(morph_bases(w, syn.lemma_set)[:1])
    lines, chosen = [], set()
    n_wn = 0
    for s in synsets:
        lem = [l.lower() for l in s.lemmas]
        if not (s.lexfile in MEDICAL_LEXFILES or any(l in seed_bases for l in lem)):
            continue
        chosen.update(lem)
        for l in s.lemmas[:6]:
            lines.append(f"{l}: {s.gloss}.")
        for e in s.examples:
            lines.append(e)
        n_wn += 1
    n_gc = 0
    medical = re.compile(r"\((Med|Physiol|Anat|Pathol|Surg)\.\)")
    for head, body in read_gcide(gcide_path):
        h = head.lower()
        if h in seed_bases or (h in chosen and medical.search(body)) or medical.search(body[:80]):
            lines.append(f"{head}: {body[:max_gcide_chars]}")
            n_gc += 1
    stats = {"seed_words": len(seeds), "wordnet_synsets": n_wn, "gcide_entries": n_gc, "lines": len(lines)}
    return lines, stats, syn


def package_versions():
    """Versions of the Debian packages the text comes from (dpkg's database)."""
    out = {}
    try:
        with open("/var/lib/dpkg/status", encoding="utf-8", errors="replace") as f:
            pkg = None
            for line in f:
                if line.startswith("Package: "):
                    pkg = line.split()[1]
                elif line.startswith("Version: ") and pkg in ("wordnet-base", "dict-gcide"):
                    out[pkg] = line.split()[1]
    except OSError:
        pass
    return out


def main():
    import csv
    import json

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/symptom2disease/Symptom2Disease.csv")
    ap.add_argument("--split", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "split.json"))
    ap.add_argument("--out", default="/tmp/clinic-model/corpus.txt")
    args = ap.parse_args()
    with open(args.data, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    with open(args.split) as f:
        train = json.load(f)["train"]
    lines, stats, _ = build([rows[i][2] for i in train])
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    h = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    print(json.dumps({**stats, "words": sum(len(l.split()) for l in lines), "sha256_16": h,
                      "packages": package_versions()}))


if __name__ == "__main__":
    main()
