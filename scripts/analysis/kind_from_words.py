#!/usr/bin/python3
"""How often can a held-out concept's kind be told from the words of its name alone?

A yardstick for kind@1 of `puma eval t2i`: no image, no MLLM, only the text. A ridge regression
from the bag of words of a training concept's English label to its kind (Unicode subcategory,
one-hot), trained on the training split's concepts, predicts each held-out concept's kind from its
label; the share predicted right is what reading the words could give a text-to-image model, if
its images were then always judged by kind without loss. Reported over all held-out concepts of
the split, over the n names `puma eval t2i --n` takes (the same spread pick as conceptImages in
src/eval/common.ts), and apart for names made only of training words (label or tag) and names
with a word no training text has (knownWordsTest).

Run from the repository root after `puma data build`, with Debian's python3-numpy:
    python3 scripts/analysis/kind_from_words.py [n] [split] [data/emoji]
"""
import json
import re
import sys

import numpy as np

n = int(sys.argv[1]) if len(sys.argv) > 1 else 96
split = sys.argv[2] if len(sys.argv) > 2 else 'test'
data = sys.argv[3] if len(sys.argv) > 3 else 'data/emoji'


def words(text):
    return set(re.findall(r'[a-z]+', text.lower()))


index = json.load(open(f'{data}/index.json'))
concepts, images = index['concepts'], index['images']


def concepts_in(s):
    seen = []
    for im in images:
        if im['split'] == s and im['concept'] not in seen:
            seen.append(im['concept'])
    return seen


train, held = concepts_in('train'), concepts_in(split)
pick = held if n >= len(held) else [held[(i * len(held)) // n] for i in range(n)]
train_words = set()
for c in train:
    train_words |= words(concepts[c]['label'])
    for t in concepts[c]['tags']:
        train_words |= words(t)
vocab = {w: i for i, w in enumerate(sorted(train_words))}
kinds = sorted({concepts[c]['subcategory'] for c in train + held})
kind_index = {k: i for i, k in enumerate(kinds)}


def design(c):
    x = np.zeros(len(vocab) + 1, np.float32)
    x[-1] = 1
    for w in words(concepts[c]['label']):
        if w in vocab:
            x[vocab[w]] = 1
    return x


X = np.stack([design(c) for c in train])
Y = np.eye(len(kinds), dtype=np.float32)[[kind_index[concepts[c]['subcategory']] for c in train]]
W = np.linalg.solve(X.T @ X + np.eye(X.shape[1]), X.T @ Y)


def report(name, cs):
    right = np.array([np.argmax(design(c) @ W) == kind_index[concepts[c]['subcategory']] for c in cs])
    known = np.array([words(concepts[c]['label']) <= train_words for c in cs])
    # chance: the kind of a concept drawn at random from the split, as kindChance
    chance = np.mean([np.mean([concepts[p]['subcategory'] == concepts[c]['subcategory'] for p in held]) for c in cs])
    print(f'{name}: {len(cs)} names, kind from the words {right.mean() * 100:.1f}%  '
          f'known words ({known.sum()}) {right[known].mean() * 100:.1f}%  '
          f'with an unseen word ({(~known).sum()}) {right[~known].mean() * 100:.1f}%  (chance {chance * 100:.1f}%)')


print(f'{len(train)} training concepts, {len(vocab)} training words, {len(kinds)} kinds')
report(f'every {split} concept', held)
report(f'the {len(pick)} names of puma eval t2i --n {n}', pick)
