#!/usr/bin/env python3
"""Writes CLIP's BPE vocabulary as transformers reads it: Tests/Fixtures/clip/vocab.json and merges.txt.

Neither the diffusers nor the transformers wheel ships CLIP's vocabulary; the open-clip-torch 3.3.0
wheel does (open_clip/bpe_simple_vocab_16e6.txt.gz, OpenAI's BPE, MIT licence). This script
downloads that wheel (`pip download --no-deps`, into a temporary folder), rebuilds the vocabulary
exactly as open_clip's `SimpleTokenizer.__init__` does (the 256 byte symbols in CLIP's
byte->unicode order, the same with `</w>`, the first 48 894 merges joined, then the two specials,
49 408 ids) with transformers' special-token names `<|startoftext|>` (49406) and `<|endoftext|>`
(49407), and writes merges.txt as `#version: 0.2` + exactly those 48 894 merges (transformers
5.23 no longer cuts the file at 48 894, so the file must hold no more).

Checks: transformers 5.23 `CLIPTokenizer(vocab, merges)` and open_clip's `SimpleTokenizer` give
the same ids on ASCII prompts (open_clip additionally runs ftfy and HTML unescape, which do
nothing to plain ASCII without entities).

Run: PYTHONPATH=/work/pylib-sdclip /work/venv-engine/bin/python tools/make_clip_vocab.py
     (needs transformers==5.23.0, torch, numpy, regex, and ftfy==6.3.1 for open_clip's module;
     pip install --target /work/pylib-sdclip ftfy==6.3.1 wcwidth==0.9.4)
"""
import gzip
import hashlib
import importlib.util
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

OPEN_CLIP = "open-clip-torch==3.3.0"
WHEEL_SHA256 = "c549ad5ed6bfc119cc11105033c0a2b9d7a2a4afeb40a58a09aab3da1a0043ce"
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "clip"


def bytes_to_unicode():
    """open_clip/tokenizer.py `bytes_to_unicode` (OpenAI CLIP)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def main():
    import transformers
    assert transformers.__version__ == "5.23.0", transformers.__version__
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", OPEN_CLIP, "-d", tmp],
                       check=True)
        wheels = list(Path(tmp).glob("open_clip_torch-3.3.0-*.whl"))
        assert len(wheels) == 1, wheels
        digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
        assert digest == WHEEL_SHA256, f"wheel SHA-256 {digest}, expected {WHEEL_SHA256}"
        with zipfile.ZipFile(wheels[0]) as wheel:
            wheel.extract("open_clip/bpe_simple_vocab_16e6.txt.gz", tmp)
            wheel.extract("open_clip/tokenizer.py", tmp)
        gz = Path(tmp) / "open_clip" / "bpe_simple_vocab_16e6.txt.gz"
        lines = gzip.open(gz).read().decode("utf-8").split("\n")
        merges = [tuple(line.split()) for line in lines[1:49152 - 256 - 2 + 1]]
        assert len(merges) == 48894 and all(len(m) == 2 for m in merges)
        symbols = list(bytes_to_unicode().values())
        vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
        vocab += ["<|startoftext|>", "<|endoftext|>"]
        assert len(vocab) == 49408 and len(set(vocab)) == 49408
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False), "utf-8")
        (OUT / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), "utf-8")

        spec = importlib.util.spec_from_file_location("open_clip_tokenizer", Path(tmp) / "open_clip" / "tokenizer.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        open_clip = module.SimpleTokenizer(bpe_path=str(gz))
        check(open_clip)
    for name in ("vocab.json", "merges.txt"):
        print(f"{hashlib.sha256((OUT / name).read_bytes()).hexdigest()}  {name}  {(OUT / name).stat().st_size} bytes")


def check(open_clip):
    from transformers import CLIPTokenizer
    tok = CLIPTokenizer(vocab=str(OUT / "vocab.json"), merges=str(OUT / "merges.txt"))
    assert len(tok) == 49408, len(tok)
    assert (tok.bos_token_id, tok.eos_token_id) == (49406, 49407)
    prompts = [
        "a photograph of an astronaut riding a horse",
        "A high-resolution photo of a red fox, 4k, trending on artstation",
        "it's we'd they're I'll you've I'm",
        "pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism",
        "3.14159 + 2 = 5.14159; x_1^2 <= (y/2)",
        "Hello,   WORLD!!  #hashtag @user ~tilde `backtick` [brackets] {braces}",
        "the quick brown fox jumps over the lazy dog " * 3,
    ]
    for prompt in prompts:
        theirs = open_clip.encode(prompt)
        ours = tok(prompt, add_special_tokens=False)["input_ids"]
        assert theirs == ours, (prompt, theirs, ours)
    print(f"transformers {transformers_version()} CLIPTokenizer == open_clip SimpleTokenizer on {len(prompts)} ASCII prompts")


def transformers_version():
    import transformers
    return transformers.__version__


if __name__ == "__main__":
    main()
