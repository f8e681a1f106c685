"""A cased BERT WordPiece tokenizer with character offsets, and the
vocabulary builder for the de-identification model.

Names are capitalised, so the model is cased (BertNormalizer with
lowercase=false and no accent stripping). The normalisation, pre-tokenisation
and WordPiece rules are those of examples/train-clinic/wordpiece.py (reused
from there), which match Hugging Face tokenizers and Lepton's Go tokenizer;
this module adds what token classification needs: the [start, end) offset of
every piece in the original text. check_tokenizer.mjs and a Go test confirm
that Lepton and transformers.js produce the same ids.

The vocabulary is learnt from the text of the training notes with every
identifier cut out: words and word pieces of the notes' ordinary language,
plus every single character of a broad Latin alphabet (alone and as a "##"
continuation). So names, numbers and addresses are always spelled in
pieces that ordinary words taught, the same way in training and in test:
a name the model never saw is tokenised like one it did.
"""

import collections
import os
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train-clinic"))
sys.dont_write_bytecode = True
import wordpiece  # noqa: E402  (examples/train-clinic/wordpiece.py)

SPECIALS = wordpiece.SPECIALS


def _is_cjk(ch):
    return wordpiece._is_chinese(ord(ch))


def pre_tokenize(text):
    """Returns [(word, start, end)] with offsets into text: BertNormalizer
    without lowercasing or accent stripping (control characters dropped,
    whitespace splits, CJK ideographs isolated) and BertPreTokenizer
    (whitespace splits, every punctuation character is a word)."""
    words = []
    cur, cur_start = [], -1

    def flush(end):
        nonlocal cur, cur_start
        if cur:
            words.append(("".join(cur), cur_start, end))
        cur, cur_start = [], -1

    last_end = 0
    for i, ch in enumerate(text):
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or wordpiece._is_control(ch):
            continue  # dropped; the word continues across it
        if wordpiece._is_whitespace(ch):
            flush(last_end)
            continue
        if wordpiece._is_punctuation(ch) or _is_cjk(ch):
            flush(last_end)
            words.append((ch, i, i + 1))
            last_end = i + 1
            continue
        if not cur:
            cur_start = i
        cur.append(ch)
        last_end = i + 1
    flush(last_end)
    return words


def tokenize(text, vocab, max_chars=100, spell=None):
    """Returns [(piece, start, end)]. A word that WordPiece cannot cover is
    one [UNK] spanning the word, as in Hugging Face.

    spell, for training only, is a function (word, start) -> bool; a word
    for which it returns True is tokenised as if the vocabulary had no
    whole words (see Tokenizer.encode)."""
    out = []
    for word, s, e in pre_tokenize(text):
        if len(word) > max_chars:
            out.append(("[UNK]", s, e))
            continue
        wv = vocab
        if spell is not None and spell(word, s):
            wv = _PiecesOnly(vocab)
        # Map word character positions to text offsets (dropped control
        # characters inside a word make them differ).
        pos = [i for i in range(s, e) if not (ord(text[i]) == 0 or ord(text[i]) == 0xFFFD or wordpiece._is_control(text[i]))]
        pieces = wordpiece.wordpiece(word, wv, max_chars)
        if pieces == ["[UNK]"]:
            out.append(("[UNK]", s, e))
            continue
        k = 0
        for p in pieces:
            n = len(p) - 2 if p.startswith("##") else len(p)
            out.append((p, pos[k], pos[k + n - 1] + 1))
            k += n
    return out


class _PiecesOnly:
    """A view of a vocabulary without its whole words: only single
    characters, word-initial prefixes (PREFIX_MAX characters at most) and
    "##" pieces match, which is how a word the vocabulary lacks is split."""

    def __init__(self, vocab):
        self.vocab = vocab

    def __contains__(self, piece):
        if piece.startswith("##"):
            return piece in self.vocab
        return len(piece) <= PREFIX_MAX and piece in self.vocab


PREFIX_MAX = 4  # build_vocab's longest word-initial prefix


class Tokenizer:
    def __init__(self, tokens):
        self.tokens = list(tokens)
        self.vocab = {t: i for i, t in enumerate(self.tokens)}

    def encode(self, text, spell=None):
        """Returns ids (without [CLS]/[SEP]) and [(start, end)] offsets.

        spell (training only) picks words to tokenise as if they were not in
        the vocabulary: subword regularisation. Without it, every word the
        vocabulary lacks (every name, every word of an unseen template)
        would be split into pieces and every word it has would not, and the
        model would learn "split into pieces" as a sign of an identifier;
        spelling some ordinary words out in training takes that shortcut
        away."""
        pieces = tokenize(text, self.vocab, spell=spell)
        return [self.vocab[p] for p, _, _ in pieces], [(s, e) for _, s, e in pieces]


def alphabet():
    """Printable ASCII, Latin-1 letters and Latin Extended-A: every
    character a name in the generator's lists (or a European name outside
    them) is written with."""
    chars = [chr(c) for c in range(33, 127)]
    chars += [chr(c) for c in range(0xC0, 0x250) if unicodedata.category(chr(c)).startswith("L")]
    chars += ["£", "€", "°", "±", "µ", "·", "–", "—", "‘", "’", "“", "”", "…"]
    return chars


# Ordinary English words that occur in this corpus only inside identifiers
# (dates and addresses) but that any general vocabulary has: a pretrained
# BERT's would. Giving them whole tokens teaches the model nothing about
# which values are identifiers.
COMMON_WORDS = ("January February March April May June July August September October November December "
                "Jan Feb Mar Apr Jun Jul Aug Sep Oct Nov Dec Street Road Avenue Lane Close Drive Crescent "
                "Way Place Gardens Terrace Court Rise Mews Row Boulevard St Rd Ave Flat Apt Box PO of the").split()


def build_vocab(texts_without_identifiers, min_word=3, min_piece=8, max_pieces=1500):
    """Vocabulary: specials, single characters (initial and ##), words of
    the identifier-free training text seen at least min_word times and
    COMMON_WORDS, and the most frequent word-initial prefixes and ##
    substrings (2-4 characters) of those words, so that unseen words split
    into a few pieces."""
    words = collections.Counter()
    for t in texts_without_identifiers:
        for w, _, _ in pre_tokenize(t):
            words[w] += 1
    keep = [w for w, c in sorted(words.items(), key=lambda x: (-x[1], x[0])) if c >= min_word and len(w) > 1]
    pieces = collections.Counter()
    for w, c in words.items():
        if len(w) < 3 or any(ch.isdigit() for ch in w):
            continue
        for n in (2, 3, 4):
            if len(w) > n:
                pieces[w[:n]] += c
            for i in range(1, len(w) - n + 1):
                pieces["##" + w[i:i + n]] += c
    top = [p for p, c in sorted(pieces.items(), key=lambda x: (-x[1], x[0])) if c >= min_piece][:max_pieces]
    out, seen = [], set()
    for t in SPECIALS + alphabet() + ["##" + c for c in alphabet()] + keep + COMMON_WORDS + top:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def tokenizer_json(tokens, max_len):
    """tokenizer.json for the cased vocabulary: train-clinic's, with
    lowercase off (strip_accents then defaults to off too)."""
    tj = wordpiece.tokenizer_json(tokens, max_len)
    tj["truncation"] = None  # Lepton's Tag reads long notes in overlapping windows instead
    tj["normalizer"]["lowercase"] = False
    tj["normalizer"]["strip_accents"] = False
    return tj
