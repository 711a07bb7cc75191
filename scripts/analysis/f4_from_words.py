#!/usr/bin/python3
"""How much of f4 (the 1-token scale) can any model read from a held-out concept's name?

A yardstick for the MLLM's text-to-image regression: ridge regression from the bag of words of
a concept's English label (plus the drawing style) to the f4 of each training image, scored on
the held-out splits as MSE relative to the best constant guess (the training mean), the same
ratio `puma train mllm` logs as rel4. Then, per prompt, the training images nearest to the
prediction by cosine around the mean: what kind of image the prediction points at.

Run from the repository root after training the mini CLIP and a decoder (which writes the
feature cache), with Debian's python3-numpy:
    python3 scripts/analysis/f4_from_words.py [runs] [data/emoji]
"""
import json
import re
import struct
import sys

import numpy as np

runs = sys.argv[1] if len(sys.argv) > 1 else 'runs'
data = sys.argv[2] if len(sys.argv) > 2 else 'data/emoji'
PROMPTS = ['slightly smiling face', 'woozy face', 'blue heart', 'white heart', 'police officer', 'whale', 'cloud', 'pineapple']


def read_f0(path):
    """f0 [N, 256, C] from the feature cache (float16 safetensors)."""
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        meta = header['f0']
        start, end = meta['data_offsets']
        f.seek(8 + n + start)
        return np.frombuffer(f.read(end - start), dtype=np.float16).reshape(meta['shape']).astype(np.float32)


def words(text):
    return set(re.findall(r'[a-z]+', text.lower()))


index = json.load(open(f'{data}/index.json'))
concepts, images = index['concepts'], index['images']
f4 = read_f0(f'{runs}/cache/features.safetensors').mean(1)
split = np.array([im['split'] for im in images])
train = split == 'train'
vocab = {}
for im in images:
    if im['split'] == 'train':
        for w in words(concepts[im['concept']]['label']):
            vocab.setdefault(w, len(vocab))


def design(label, google):
    x = np.zeros(len(vocab) + 2, np.float32)
    for w in words(label):
        if w in vocab:
            x[vocab[w]] = 1
    x[-2], x[-1] = 1, google
    return x


X = np.stack([design(concepts[im['concept']]['label'], im['style'] == 'google') for im in images])
mean = f4[train].mean(0)
print(f'{len(vocab)} words, {train.sum()} training images')
for lam in (1, 3, 10):
    W = np.linalg.solve(X[train].T @ X[train] + lam * np.eye(X.shape[1]), X[train].T @ f4[train])
    rel = {s: ((X[split == s] @ W - f4[split == s]) ** 2).mean() / ((f4[split == s] - mean) ** 2).mean() for s in ('train', 'val', 'test')}
    print(f'ridge lambda {lam}: f4 MSE / constant guess  train {rel["train"]:.3f}  val {rel["val"]:.3f}  test {rel["test"]:.3f}')

W = np.linalg.solve(X[train].T @ X[train] + 3 * np.eye(X.shape[1]), X[train].T @ f4[train])
ids = np.where(train)[0]
Z = f4[ids] - mean
Z /= np.linalg.norm(Z, axis=1, keepdims=True)
for p in PROMPTS:
    y = design(p, 1) @ W - mean
    near = ids[np.argsort(-(Z @ (y / np.linalg.norm(y))))[:5]]
    print(f'{p!r} points at: ' + ' | '.join(concepts[images[i]['concept']]['label'] for i in near))
