#!/usr/bin/env python3
"""Goldens for the CLIP tokenizer and text encoder (issue 20), from transformers 5.23.0 and torch 2.13.0+cpu.

Writes, under Tests/Fixtures/clip/ (vocab.json and merges.txt come from tools/make_clip_vocab.py):

- `vocab_layout/`: the folder layout published Stable Diffusion 2.x checkpoints ship in `tokenizer/`:
  vocab.json + merges.txt (the tests read the two files one level up) + special_tokens_map.json
  (pad "!") + tokenizer_config.json (which names pad "<|endoftext|>", as the published file does;
  special_tokens_map.json wins). Only the two small JSON files are written here.
- `tokenizer_json_layout/`: what transformers 5.23 `save_pretrained` writes for the same tokenizer:
  tokenizer.json (stored gzip-compressed as tokenizer.json.gz, 3.6 MB -> 0.6 MB; the tests
  decompress it into a temporary folder) + tokenizer_config.json.
- `tokenizer_goldens.json`: for every string, the ids of
  `CLIPTokenizer(padding="max_length", max_length=77, truncation=True)` loaded from each layout, and
  for strings longer than 77 tokens the text diffusers' StableDiffusionPipeline warns about
  (`tokenizer.batch_decode(untruncated_ids[:, 76:-1])`).
- `tokenizer_random_goldens.json`: ids (vocab layout, trailing pads dropped) of 1000 seeded random
  strings drawn from letters, digits, marks, punctuation, symbols, white space, `!`, `'s`, special
  tokens, emoji and random code points of every plane (a differential test of the whole pipeline).
- `variants/NAME/`: small JSON files that, beside the vocabulary or tokenizer.json, make folders
  where transformers 5.23 reads the special tokens differently (special_tokens_map.json is read only
  when tokenizer_config.json has no `added_tokens_decoder`; it is read beside tokenizer.json too),
  and `variant_goldens.json`, their ids on a few strings.
- `text_encoder/`: a random `CLIPTextModel` (the tiny SD 2 test config of diffusers
  tests/pipelines/stable_diffusion_2: hidden 32, 5 layers, 4 heads, intermediate 37, gelu, with CLIP's
  49 408 ids), weights drawn at a scale where every layer matters, rounded to float16 and saved by
  5.23 `save_pretrained` in float16 (unprefixed keys, as 5.23 saves a fresh model). The script
  checks that 5.23 loads the same weights with the `text_model.` prefix of published folders (and
  their `text_model.embeddings.position_ids`) to the same output.
- `text_encoder_goldens.json`: token batches (batch 2) and their `last_hidden_state` (float32 forward
  of the float16-rounded weights), flattened batch x seq x hidden.

With `--real DIR` it writes, instead, a Stable Diffusion 2.1 text encoder at its real shape (the
published text_encoder/config.json: hidden 1024, 23 layers, 16 heads, MLP 4096, gelu; random
float32 weights, 340 M parameters, 1.4 GB) as published folders store it (`text_model.` keys and
`text_model.embeddings.position_ids`) into DIR/text_encoder/, and its `last_hidden_state` for two
prompt batches into DIR/clip_text_encoder_goldens.json, for the env-gated Swift test
(`SKIPSTEP_SD_REAL_DIR=DIR swift test --filter CLIPTextModelTests`). Nothing is written to the
repository then.

Run: /work/venv-engine/bin/python tools/make_clip_goldens.py [--real DIR]
"""
import argparse
import gzip
import hashlib
import json
import shutil
import tempfile
import unicodedata
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

assert transformers.__version__ == "5.23.0", transformers.__version__
assert torch.__version__.startswith("2.13.0"), torch.__version__

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "clip"

SPECIAL_TOKENS_MAP = {
    "bos_token": {"content": "<|startoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
    "eos_token": {"content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
    "pad_token": "!",
    "unk_token": {"content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
}
TOKENIZER_CONFIG = {
    "add_prefix_space": False,
    "bos_token": {"__type": "AddedToken", **SPECIAL_TOKENS_MAP["bos_token"]},
    "do_lower_case": True,
    "eos_token": {"__type": "AddedToken", **SPECIAL_TOKENS_MAP["eos_token"]},
    "errors": "replace",
    "model_max_length": 77,
    "name_or_path": "stabilityai/stable-diffusion-2",
    "pad_token": "<|endoftext|>",
    "special_tokens_map_file": "./special_tokens_map.json",
    "tokenizer_class": "CLIPTokenizer",
    "unk_token": {"__type": "AddedToken", **SPECIAL_TOKENS_MAP["unk_token"]},
}

WORDS = ("a photograph of an astronaut riding a horse on mars in the style of a renaissance painting with "
         "dramatic lighting and intricate detail").split()
LONG_200 = " ".join(WORDS[i % len(WORDS)] for i in range(200))

STRINGS = [
    "", " ", "   ", "\t", "\n\n", " \t\r\n\u000b\u000c ",
    "a cat!", "! !! !!!", "!", "!!!", "a!b", "hello!!!World", "...!", "wow!!! amazing!",
    "it's we'd", "don't you'll they're I've I'm", "IT'S WE'D", "'''", "''s", "!'s",
    "café", unicodedata.normalize("NFD", "café"), "ΟΔΟΣ", "Straße ẞ", "İstanbul", "ǅemal",
    "東京タワーの夜景", "한국어 문장", "👩‍💻 coding", "emoji 😀😃 and flag 🇺🇸", "\u2126 ohm, \u212b angstrom",
    "<|endoftext|>", "hello<|endoftext|>world", "<|ENDOFTEXT|>", "<|startoftext|> a <|endoftext|>",
    "<|endoftext|!>", "&amp; &lt;b&gt;", "3.14", "1234567890", "x² ½ ١٢٣",
    "tabs\tand\nnewlines\r\nhere", "nbsp\u00a0here", "ideographic\u3000space", "zero\u200bwidth",
    "bom\ufeffhere", "next\u0085line", "line\u2028sep", "ﬁne ﬀ ligatures", "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ",
    "e-mail: someone@example.com #tag @user", "a--b__c~~d", "\u0301 lone accent",
    "A High-Resolution Photo of a RED Fox, 4K, trending on ArtStation",
    LONG_200,
    " ".join(["cat"] * 75),
    " ".join(["cat"] * 76),
    " ".join(["cat"] * 74) + " !!",
    " ".join(["cat"] * 74) + " hello, world. it's 東京 café!  <|endoftext|> 👩‍💻",
    "!" * 100,
]


def tokenizer_goldens(vocab_dir: Path, json_dir: Path):
    from_vocab = CLIPTokenizer.from_pretrained(str(vocab_dir))
    from_json = CLIPTokenizer.from_pretrained(str(json_dir))
    assert (from_vocab.pad_token, from_vocab.pad_token_id) == ("!", 0), (from_vocab.pad_token, from_vocab.pad_token_id)
    assert (from_json.pad_token, from_json.pad_token_id) == ("!", 0)
    assert from_vocab.model_max_length == from_json.model_max_length == 77
    cases = []
    for text in STRINGS:
        case = {"text": text}
        for name, tok in (("vocab_layout", from_vocab), ("tokenizer_json_layout", from_json)):
            ids = tok(text, padding="max_length", max_length=tok.model_max_length, truncation=True).input_ids
            case[name] = ids
            # pipeline_stable_diffusion.py `encode_prompt`: the truncation warning's text.
            untruncated = tok(text, padding="longest").input_ids
            if len(untruncated) > len(ids):
                case[name + "_dropped"] = tok.batch_decode([untruncated[tok.model_max_length - 1:-1]])[0]
        cases.append(case)
    assert len(cases) >= 40
    long_ids = next(c for c in cases if c["text"] == LONG_200)["vocab_layout"]
    assert long_ids[76] == 49407 and len(long_ids) == 77
    return cases


# name → (base: "vocab" or "tokenizer_json", {file name: JSON object}).
VARIANTS = {
    # tokenizer.json as 5.23 saves it, plus a special_tokens_map.json naming pad <|endoftext|>: the map applies.
    "tokenizer_json_with_map": ("tokenizer_json", {
        "special_tokens_map.json": {"pad_token": "<|endoftext|>"}}),
    # A config with added_tokens_decoder (as transformers 4.3x saved it): the map is not read, pad stays "!".
    "vocab_with_decoder": ("vocab", {
        "tokenizer_config.json": {
            "added_tokens_decoder": {
                "0": {"content": "!", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True},
                "49406": {"content": "<|startoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False, "special": True},
                "49407": {"content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False, "special": True}},
            "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "!", "unk_token": "<|endoftext|>",
            "model_max_length": 77, "tokenizer_class": "CLIPTokenizer"},
        "special_tokens_map.json": {"pad_token": "<|endoftext|>"}}),
    # No special-token files at all: CLIPTokenizer's defaults (pad <|endoftext|>), model_max_length 77 given.
    "vocab_defaults": ("vocab", {"tokenizer_config.json": {"model_max_length": 77}}),
    # Special tokens not normalized: "<|ENDOFTEXT|>" is then not the EOS token.
    "vocab_unnormalized_specials": ("vocab", {
        "tokenizer_config.json": {"model_max_length": 77},
        "special_tokens_map.json": {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
                                    "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}}),
}
VARIANT_STRINGS = ["a cat!", "! !! !!!", "<|ENDOFTEXT|> <|endoftext|>", "hello world", " ".join(["dog"] * 80)]


def variant_goldens(vocab_dir: Path, json_dir: Path, tmp: Path):
    results = {}
    for name, (base, files) in VARIANTS.items():
        committed = OUT / "variants" / name
        committed.mkdir(parents=True, exist_ok=True)
        folder = tmp / "variant" / name
        folder.mkdir(parents=True)
        if base == "vocab":
            for f in ("vocab.json", "merges.txt"):
                shutil.copy(vocab_dir / f, folder / f)
        else:
            for f in ("tokenizer.json", "tokenizer_config.json"):
                shutil.copy(json_dir / f, folder / f)
        for f, content in files.items():
            (committed / f).write_text(json.dumps(content, indent=2) + "\n")
            shutil.copy(committed / f, folder / f)
        tok = CLIPTokenizer.from_pretrained(str(folder))
        results[name] = {"base": base, "pad_token_id": tok.pad_token_id,
                         "cases": [{"text": t, "ids": tok(t, padding="max_length", max_length=77, truncation=True).input_ids}
                                   for t in VARIANT_STRINGS]}
    assert results["tokenizer_json_with_map"]["pad_token_id"] == 49407
    assert results["vocab_with_decoder"]["pad_token_id"] == 0
    return results


def random_strings(count: int, seed: int):
    import random
    rng = random.Random(seed)
    pieces = ["a", "Z", "é", "e\u0301", "ß", "İ", "Σ", "ς", "ǅ", "ﬁ", "Ａ", "東", "한", "ا", "ऄ", "\u0301", "\u0308",
              "0", "7", "٣", "²", "½", "Ⅻ", "!", "!!", "?", ".", ",", "'", "'s", "'LL", "'d", "-", "_", "<", "|", ">",
              "<|endoftext|>", "<|startoftext|>", "<|ENDOFTEXT|>", "&amp;", "#", "@", "$", "€", "©", "™", "∑",
              " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\u0085", "\u200b", "\u200d", "\ufeff",
              "😀", "👩\u200d💻", "🇺🇸", "\ufe0f", "cat", "Dog", "HELLO", "it", "we",
              # NFC: Hangul jamo that compose, marks of several combining classes (reordered), singletons,
              # private use, noncharacters, unassigned code points (Foundation's NFC mangles those).
              "\u1100", "\u1161", "\u11a8", "\uac00", "\u0323", "\u0307", "\u05b0", "\u0345", "\u1e0b", "\u212b",
              "\u0344", "\uf900", "\ue000", "\U000f0000", "\ufffe", "\ufdd0", "\U0010ffff", "\U000e03d2", "\U00016eaf",
              "\U0001e6f1", "\U00011f04", "\U00010d50"]
    strings = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(0, 24)):
            if rng.random() < 0.8:
                parts.append(rng.choice(pieces))
            else:
                plane = rng.choice([0x0000, 0x0000, 0x10000, 0x20000, 0xE0000])
                cp = plane + rng.randint(0x20, 0xFFFF)
                if 0xD800 <= cp <= 0xDFFF or cp > 0x10FFFF:
                    cp = 0x41
                parts.append(chr(cp))
        strings.append("".join(parts))
    return strings


def randomize(model: CLIPTextModel, seed: int):
    """Weights at a scale where attention, the MLP and every LayerNorm change the output, rounded to float16."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name and name.endswith("weight"):
                values = 1 + 0.2 * torch.randn(p.shape, generator=g)
            elif name.endswith("bias"):
                values = 0.1 * torch.randn(p.shape, generator=g)
            elif "embedding" in name:
                values = 0.5 * torch.randn(p.shape, generator=g)
            else:
                values = torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5
            p.copy_(values.half().float())


# stabilityai/stable-diffusion-2-1(-base) text_encoder/config.json, the keys that shape the model.
SD21_TEXT_CONFIG = dict(architectures=["CLIPTextModel"], bos_token_id=0, eos_token_id=2, pad_token_id=1,
                        hidden_act="gelu", hidden_size=1024, intermediate_size=4096, layer_norm_eps=1e-05,
                        max_position_embeddings=77, num_attention_heads=16, num_hidden_layers=23,
                        projection_dim=512, vocab_size=49408)


def make_real(directory: Path):
    """The real-shape text encoder and its goldens (not committed: 1.4 GB)."""
    directory.mkdir(parents=True, exist_ok=True)
    tok_dir = directory / "clip_tokenizer"
    tok_dir.mkdir(exist_ok=True)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(OUT / name, tok_dir / name)
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        shutil.copy(OUT / "vocab_layout" / name, tok_dir / name)
    tok = CLIPTokenizer.from_pretrained(str(tok_dir))
    torch.manual_seed(0)
    model = CLIPTextModel(CLIPTextConfig(**SD21_TEXT_CONFIG)).eval()
    randomize(model, seed=21)
    encoder_dir = directory / "text_encoder"
    encoder_dir.mkdir(exist_ok=True)
    model.config.save_pretrained(str(encoder_dir))
    weights = {"text_model." + k: v.contiguous() for k, v in model.state_dict().items()}
    weights["text_model.embeddings.position_ids"] = torch.arange(77).unsqueeze(0)
    save_file(weights, str(encoder_dir / "model.safetensors"), metadata={"format": "pt"})
    goldens = []
    with torch.no_grad():
        for prompts in (["a photograph of an astronaut riding a horse", ""], ["a cat! ! !! !!!", LONG_200]):
            ids = tok(prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
            hidden = model(input_ids=ids).last_hidden_state
            goldens.append({"ids": ids.tolist(), "shape": list(hidden.shape),
                            "last_hidden_state": [float(v) for v in hidden.flatten()]})
    (directory / "clip_text_encoder_goldens.json").write_text(json.dumps(
        {"source": "transformers 5.23.0 CLIPTextModel (SD 2.1 config, random weights) last_hidden_state, "
                   "torch 2.13.0+cpu float32; tools/make_clip_goldens.py --real", "batches": goldens}) + "\n")
    print(f"wrote {encoder_dir} ({sum(v.numel() for v in model.state_dict().values()) / 1e6:.1f} M parameters)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real", type=Path, help="write the real-shape SD 2.1 text encoder and goldens here instead")
    args = parser.parse_args()
    if args.real:
        make_real(args.real)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # vocab.json + merges.txt layout (published SD 2.x `tokenizer/`).
        vocab_layout = OUT / "vocab_layout"
        vocab_layout.mkdir(exist_ok=True)
        (vocab_layout / "special_tokens_map.json").write_text(json.dumps(SPECIAL_TOKENS_MAP, indent=2) + "\n")
        (vocab_layout / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2) + "\n")
        vocab_dir = tmp / "vocab_layout"
        shutil.copytree(vocab_layout, vocab_dir)
        for name in ("vocab.json", "merges.txt"):
            shutil.copy(OUT / name, vocab_dir / name)
        # tokenizer.json layout: what 5.23 saves for the same tokenizer.
        json_dir = tmp / "tokenizer_json_layout"
        CLIPTokenizer.from_pretrained(str(vocab_dir)).save_pretrained(str(json_dir))
        assert sorted(p.name for p in json_dir.iterdir()) == ["tokenizer.json", "tokenizer_config.json"]
        saved = json.loads((json_dir / "tokenizer.json").read_text())
        assert saved["padding"] is None and saved["truncation"] is None, "the saved tokenizer.json pads or truncates"
        json_layout = OUT / "tokenizer_json_layout"
        json_layout.mkdir(exist_ok=True)
        shutil.copy(json_dir / "tokenizer_config.json", json_layout / "tokenizer_config.json")
        with open(json_layout / "tokenizer.json.gz", "wb") as f:
            # mtime 0 and no file name: the same bytes on every run.
            with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as z:
                z.write((json_dir / "tokenizer.json").read_bytes())
        cases = tokenizer_goldens(vocab_dir, json_dir)
        (OUT / "tokenizer_goldens.json").write_text(json.dumps(
            {"source": "transformers 5.23.0 CLIPTokenizer(padding='max_length', max_length=77, truncation=True); "
                       "tools/make_clip_goldens.py", "cases": cases}, ensure_ascii=False, indent=1) + "\n")
        print(f"{len(cases)} tokenizer strings")
        from_vocab = CLIPTokenizer.from_pretrained(str(vocab_dir))
        random_cases = []
        for text in random_strings(1000, seed=20):
            ids = from_vocab(text, padding="max_length", max_length=77, truncation=True).input_ids
            while len(ids) > 2 and ids[-1] == from_vocab.pad_token_id and ids[-2] != from_vocab.eos_token_id:
                ids.pop()
            random_cases.append({"text": text, "ids": ids})
        (OUT / "tokenizer_random_goldens.json").write_text(json.dumps(
            {"source": "transformers 5.23.0 CLIPTokenizer (vocab layout, padding='max_length', max_length=77, "
                       "truncation=True), trailing pad ids dropped up to the EOS; tools/make_clip_goldens.py",
             "cases": random_cases}, ensure_ascii=False) + "\n")
        (OUT / "variant_goldens.json").write_text(json.dumps(
            {"source": "transformers 5.23.0 CLIPTokenizer; tools/make_clip_goldens.py",
             "variants": variant_goldens(vocab_dir, json_dir, tmp)}, ensure_ascii=False, indent=1) + "\n")

        # The text encoder.
        torch.manual_seed(0)
        config = CLIPTextConfig(bos_token_id=0, eos_token_id=2, hidden_size=32, intermediate_size=37,
                                layer_norm_eps=1e-05, num_attention_heads=4, num_hidden_layers=5, pad_token_id=1,
                                vocab_size=49408, hidden_act="gelu", projection_dim=512)
        model = CLIPTextModel(config).eval()
        randomize(model, seed=20)
        encoder_dir = OUT / "text_encoder"
        if encoder_dir.exists():
            shutil.rmtree(encoder_dir)
        model.half().save_pretrained(str(encoder_dir))
        model.float()
        weights = load_file(str(encoder_dir / "model.safetensors"))
        assert all(v.dtype == torch.float16 for v in weights.values())
        assert not any(k.startswith("text_model.") for k in weights), "5.23 saved prefixed keys"

        tok = CLIPTokenizer.from_pretrained(str(vocab_dir))
        batches = [
            ["a photograph of an astronaut riding a horse", ""],
            ["a cat! ! !! !!!", LONG_200],
            [" ".join(WORDS[:10]), "<|endoftext|> ΟΔΟΣ café 3.14"],
        ]
        goldens = []
        with torch.no_grad():
            for prompts in batches:
                ids = tok(prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
                hidden = model(input_ids=ids).last_hidden_state
                goldens.append({"ids": ids.tolist(), "shape": list(hidden.shape),
                                "last_hidden_state": [float(v) for v in hidden.flatten()]})
            # A short batch (not 77 tokens): positions 0..<T.
            short = torch.tensor([[49406, 320, 2368, 49407], [49406, 0, 0, 49407]])
            hidden = model(input_ids=short).last_hidden_state
            goldens.append({"ids": short.tolist(), "shape": list(hidden.shape),
                            "last_hidden_state": [float(v) for v in hidden.flatten()]})

            # Published folders carry `text_model.` and position_ids; 5.23 loads them to the same model.
            prefixed_dir = tmp / "prefixed"
            prefixed_dir.mkdir()
            shutil.copy(encoder_dir / "config.json", prefixed_dir / "config.json")
            prefixed = {"text_model." + k: v for k, v in weights.items()}
            prefixed["text_model.embeddings.position_ids"] = torch.arange(77).unsqueeze(0)
            save_file(prefixed, str(prefixed_dir / "model.safetensors"), metadata={"format": "pt"})
            reloaded = CLIPTextModel.from_pretrained(str(prefixed_dir), dtype=torch.float32).eval()
            ids = torch.tensor(goldens[0]["ids"])
            assert torch.equal(reloaded(input_ids=ids).last_hidden_state, model(input_ids=ids).last_hidden_state)
        (OUT / "text_encoder_goldens.json").write_text(json.dumps(
            {"source": "transformers 5.23.0 CLIPTextModel(...).last_hidden_state, torch 2.13.0+cpu float32, "
                       "weights text_encoder/model.safetensors; tools/make_clip_goldens.py", "batches": goldens}) + "\n")

    for path in sorted(OUT.rglob("*")):
        if path.is_file():
            print(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(OUT)}  {path.stat().st_size}")


if __name__ == "__main__":
    main()
