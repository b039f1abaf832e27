#!/usr/bin/env python3
"""Runs the examples of the documentation (ctest label `docs`, docs/testing.md).

Every fenced block of README.md and docs/*.md in a runnable language (sh, js, qml, cpp) is
preceded by a marker comment that decides what happens to it:

    <!-- example: NAME [options] -->   run by this script (C++: compiled by examples/CMakeLists.txt)
    <!-- fragment[: why] -->           not runnable on its own (signatures, partial snippets)

Options of an example (values with spaces in quotes):
    needs: gateway       start switchboard-gateway on an OS-chosen port first (one per page);
                         127.0.0.1:8080 / localhost:8080 in the example become its address,
                         KEY=... / TOKEN=... / <api key> / <development token> its printed
                         API key / development token (in C++: string literals, at run time)
    expect: TEXT         the standard output must contain TEXT (repeatable)
    exit: N              expected exit code (default 0)
    background           start it and go on with the next examples of the page; its
                         expectations are awaited (bounded) after them, then it is stopped
    ready: TEXT          background: wait (bounded) for TEXT in its output before going on
    env: NAME=VALUE      environment for the example (repeatable; KEY=... and the address are
                         rewritten as in the code, for variables an earlier block of the page set)
    timeout: SECONDS     bound for the example (default 30)
    check: EXPR          QML: a JavaScript expression over the file's ids that must become true
    browser              JS: runs in headless Chromium (browser_example.js) on a page of the
                         gateway, which serves the browser client (--web); without --web the
                         example is skipped
    wrap: core|qt        C++: a snippet without main(), compiled inside one (examples/); qt:
                         the event loop runs until a logged line contains the first expect
                         (without expect: until it is idle), 10 s at most
    include: HEADER      C++ wrap: a header the snippet needs beside the wrap's (repeatable)
    args: A              C++: command line argument (repeatable; 127.0.0.1:8080 rewritten too)
    links: TARGET        C++ with its own main(): CMake target to link (repeatable); the example
                         is skipped in builds without it

Modes:
    run_examples.py check ROOT               list unmarked blocks; exit 1 if any
    run_examples.py extract-cpp ROOT OUTDIR  write the C++ examples and OUTDIR/examples.txt
    run_examples.py run ROOT PAGE --gateway BIN --bin-dir DIR [--qml-host BIN]
"""

import argparse
import ctypes
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LANGUAGES = {"sh": "sh", "bash": "sh", "shell": "sh", "js": "js", "javascript": "js",
             "qml": "qml", "cpp": "cpp", "c++": "cpp"}
MARKER = re.compile(r"^\s*<!--\s*(example|fragment)\b:?\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(```+)\s*([A-Za-z0-9+_-]*)\s*$")
DOCUMENTED_PORT = re.compile(r"\b(127\.0\.0\.1|localhost):8080\b")


KNOWN_OPTIONS = {"needs", "expect", "exit", "background", "ready", "env", "timeout", "check", "wrap",
                 "include", "args", "links", "browser"}


class Block:
    def __init__(self, page, line, language, code, kind, name, options):
        self.page, self.line, self.language, self.code = page, line, language, code
        self.kind, self.name, self.options = kind, name, options

    def where(self):
        return f"{self.page}:{self.line}"

    def values(self, key):
        return self.options.get(key, [])

    def value(self, key, default=None):
        values = self.options.get(key)
        return values[-1] if values else default


def parse_options(text, where):
    words = shlex.split(text)
    if not words:
        raise SystemExit(f"{where}: example marker without a name")
    name, options, key = words[0], {}, None
    for word in words[1:]:
        if key is not None:  # the value of "key:", whatever it looks like
            options.setdefault(key, []).append(word)
            key = None
        elif word.endswith(":"):
            key = word[:-1]
        else:  # a flag
            options.setdefault(word, []).append("")
    if key is not None:
        raise SystemExit(f"{where}: option {key}: has no value")
    unknown = set(options) - KNOWN_OPTIONS
    if unknown:
        raise SystemExit(f"{where}: unknown option(s) {', '.join(sorted(unknown))}")
    return name, options


def pages(root):
    root = Path(root)
    return [root / "README.md"] + sorted((root / "docs").glob("*.md"))


def blocks_of(root, page):
    """Every fenced block of a page with a language, with the marker right before it."""
    lines = Path(page).read_text(encoding="utf-8").split("\n")
    relative = str(Path(page).relative_to(root))
    found, i, marker, marker_line = [], 0, None, -10
    while i < len(lines):
        m = MARKER.match(lines[i])
        if m:
            marker, marker_line = m, i
            i += 1
            continue
        fence = FENCE.match(lines[i])
        if fence:
            indent, ticks, language = fence.group(1), fence.group(2), fence.group(3).lower()
            start = i
            i += 1
            body = []
            while i < len(lines) and not re.match(r"^\s*" + ticks + r"\s*$", lines[i]):
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
                i += 1
            i += 1
            # The marker counts when only blank lines separate it from the fence.
            attached = marker if marker and all(not l.strip() for l in lines[marker_line + 1:start]) else None
            marker = None
            if language not in LANGUAGES:
                continue
            where = f"{relative}:{start + 1}"
            kind, name, options = None, None, {}
            if attached:
                kind = attached.group(1)
                if kind == "example":
                    name, options = parse_options(attached.group(2), where)
            found.append(Block(relative, start + 1, LANGUAGES[language], "\n".join(body) + "\n",
                               kind, name, options))
            continue
        if lines[i].strip():
            marker = None if not MARKER.match(lines[i]) else marker
        i += 1
    return found


def all_blocks(root):
    return [b for page in pages(root) for b in blocks_of(root, page)]


def check(root):
    blocks = all_blocks(root)
    unmarked = [b for b in blocks if b.kind is None]
    names = {}
    for b in blocks:
        if b.kind == "example":
            if b.name in names:
                print(f"{b.where()}: example name {b.name} already used at {names[b.name]}")
                unmarked.append(b)
            names[b.name] = b.where()
    for b in unmarked:
        if b.kind is None:
            print(f"{b.where()}: ```{b.language} block without <!-- example: NAME ... --> "
                  f"or <!-- fragment --> before it")
    examples = sum(1 for b in blocks if b.kind == "example")
    fragments = sum(1 for b in blocks if b.kind == "fragment")
    print(f"{len(blocks)} blocks: {examples} examples, {fragments} fragments, {len(unmarked)} unmarked")
    return 1 if unmarked else 0


# --- C++: written out at configure time, compiled by examples/CMakeLists.txt -----------------

CPP_URL = re.compile(r'"([^"\n]*\b(?:127\.0\.0\.1|localhost):8080\b[^"\n]*)"')
WRAP_HEAD = {
    "core": ["#include <switchboard/ClientSession.h>", "#include <switchboard/Executor.h>",
             "#include <switchboard/Hub.h>", "#include <switchboard/LoopbackTransport.h>",
             "#include <switchboard/ServerProtocol.h>", "#include <switchboard/Timer.h>"],
    "qt": ["#include <switchboard/qt/Channel.h>", "#include <switchboard/qt/Client.h>",
           "#include <QCoreApplication>", "#include <QDebug>", "#include <QTimer>",
           "#include <QUrl>", "#include <cstdio>", "#include <cstdlib>"],
}
URL_HELPER = """\
// The documented address 127.0.0.1:8080 becomes the test gateway's (SWITCHBOARD_DOCS_PORT).
#include <cstdlib>
#include <deque>
#include <string>
static const char *switchboard_docs_url(const char *documented)
{
    static std::deque<std::string> kept;
    std::string url = documented;
    if (const char *port = std::getenv("SWITCHBOARD_DOCS_PORT"))
        if (const auto at = url.find(":8080"); at != std::string::npos)
            url.replace(at + 1, 4, port);
    return kept.emplace_back(std::move(url)).c_str();
}
// "<development token>" and "<api key>" become the test gateway's (SWITCHBOARD_DOCS_TOKEN / _KEY).
static const char *switchboard_docs_credential(const char *placeholder, const char *variable)
{
    const char *value = std::getenv(variable);
    return value ? value : placeholder;
}
"""
QT_MAIN = """\
// Every message the example logs goes to stdout; the first one containing
// SWITCHBOARD_DOCS_QUIT_ON ends the program (exit 0), a 10 s deadline fails it.
static void switchboard_docs_log(QtMsgType, const QMessageLogContext &, const QString &message)
{
    std::printf("%s\\n", qPrintable(message));
    std::fflush(stdout);
    const QByteArray quitOn = qgetenv("SWITCHBOARD_DOCS_QUIT_ON");
    if (!quitOn.isEmpty() && message.contains(QString::fromUtf8(quitOn)))
        QMetaObject::invokeMethod(qApp, [] { QCoreApplication::exit(0); }, Qt::QueuedConnection);
}

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    qInstallMessageHandler(switchboard_docs_log);
    QTimer::singleShot(10000, &app, [] { std::printf("deadline passed\\n"); QCoreApplication::exit(1); });
    if (qEnvironmentVariableIsEmpty("SWITCHBOARD_DOCS_QUIT_ON"))
        QTimer::singleShot(0, &app, [] { QCoreApplication::exit(0); });
@BODY@
    return app.exec();
}
"""
CORE_MAIN = """\
using namespace switchboard;

int main()
{
@BODY@
    return 0;
}
"""


def cpp_source(block):
    code = CPP_URL.sub(lambda m: f'switchboard_docs_url("{m.group(1)}")', block.code)
    code = code.replace('"<development token>"', 'switchboard_docs_credential("<development token>", "SWITCHBOARD_DOCS_TOKEN")')
    code = code.replace('"<api key>"', 'switchboard_docs_credential("<api key>", "SWITCHBOARD_DOCS_KEY")')
    wrap = block.value("wrap")
    if wrap is None:
        return URL_HELPER + "\n" + code
    if wrap not in WRAP_HEAD:
        raise SystemExit(f"{block.where()}: unknown wrap: {wrap}")
    lines = code.split("\n")
    includes = [l for l in lines if l.startswith("#include")]
    body = "\n".join("    " + l if l else l for l in lines if not l.startswith("#include"))
    includes += [f"#include <{header}>" for header in block.values("include")]
    head = "\n".join(dict.fromkeys(WRAP_HEAD[wrap] + includes)) + "\n" + URL_HELPER + "\n"
    return head + (QT_MAIN if wrap == "qt" else CORE_MAIN).replace("@BODY@", body)


def extract_cpp(root, outdir):
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    listing = []
    for b in all_blocks(root):
        if b.kind != "example" or b.language != "cpp":
            continue
        source = outdir / f"{b.name}.cpp"
        text = f"// Extracted from {b.where()} by tests/docs/run_examples.py: edit the page, not this file.\n" + cpp_source(b)
        if not source.exists() or source.read_text() != text:
            source.write_text(text)
        links = ",".join(b.values("links"))
        listing.append(f"{b.name}|{b.value('wrap', 'main')}|{links}")
    (outdir / "examples.txt").write_text("\n".join(listing) + ("\n" if listing else ""))
    return 0


# --- running -------------------------------------------------------------------------------

PR_SET_PDEATHSIG = 1
LIBC = ctypes.CDLL(None, use_errno=True)


def die_with_parent():
    """In the child before exec: SIGKILL when this runner dies (PR_SET_PDEATHSIG)."""
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.setpgrp()  # own process group, so stopping it stops what it started (curl &, node)


class Guard:
    """Kills every process group an example started when this runner dies, even by SIGKILL.

    PR_SET_PDEATHSIG reaches only the direct child (bash), not what it started (node, curl &):
    a guard process is told every group and kills them all when its pipe from the runner
    closes, which the kernel does however the runner ends."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, __file__, "guard", "-"], stdin=subprocess.PIPE,
                                        text=True, preexec_fn=os.setpgrp)

    def tell(self, line):
        self.process.stdin.write(f"{line}\n")
        self.process.stdin.flush()

    def close(self):
        self.process.stdin.close()
        self.process.wait()


GUARD = None


def guard():
    groups = set()
    for line in sys.stdin:
        group = int(line)
        if group > 0:
            groups.add(group)
        else:
            groups.discard(-group)
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return 0


def started(process):
    if GUARD:
        GUARD.tell(process.pid)  # its own process group (die_with_parent)
    return process


def stop(process):
    """Kills the example's process group: the process and whatever it left in the background."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()
    if GUARD:
        GUARD.tell(-process.pid)


class Gateway:
    def __init__(self, binary, workdir, web=None):
        self.log = open(workdir / "gateway.log", "w+")
        static = ["--static", web] if web else []
        self.process = started(subprocess.Popen([binary, "--port", "0"] + static, stdout=subprocess.PIPE,
                                                stderr=self.log, text=True, preexec_fn=die_with_parent))
        self.key = self.token = self.port = None
        deadline = time.monotonic() + 15
        for line in self.process.stdout:  # the three start lines, then it only logs to stderr
            if line.startswith("api key: "):
                self.key = line.split(":", 1)[1].split()[0]
            elif line.startswith("development token: "):
                self.token = line.split(":", 1)[1].split()[0]
            elif line.startswith("listening on "):
                self.port = line.rsplit(":", 1)[1].strip()
                break
            if time.monotonic() > deadline:
                break
        if not (self.key and self.token and self.port):
            stop(self.process)
            self.log.seek(0)
            raise SystemExit(f"the gateway did not start:\n{self.log.read()}")
        print(f"gateway on 127.0.0.1:{self.port}")

    def close(self):
        stop(self.process)


def adapt(text, gateway):
    """The documented address and credentials become the test gateway's."""
    if gateway is None:
        return text
    text = DOCUMENTED_PORT.sub(lambda m: f"{m.group(1)}:{gateway.port}", text)
    text = re.sub(r"\bKEY=(?:\.\.\.|[^\s;]+)", f"KEY={gateway.key}", text)
    text = re.sub(r"\bTOKEN=(?:\.\.\.|[^\s;]+)", f"TOKEN={gateway.token}", text)
    text = text.replace("<api key>", gateway.key).replace("<development token>", gateway.token)
    return text


class ExampleError(Exception):
    """An example that cannot be started as written."""


class Run:
    """One started example: its process, output file and expectations."""

    def __init__(self, block, process, output, deadline):
        self.block, self.process, self.output, self.deadline = block, process, output, deadline

    def text(self):
        return Path(self.output).read_text(errors="replace")

    def errors(self):
        return Path(str(self.output) + ".err").read_text(errors="replace")

    def missing(self):
        return [e for e in self.block.values("expect") if e not in self.text()]

    def finish(self, background):
        """Waits for the end (or, in the background, for the expectations); returns problems."""
        block, problems = self.block, []
        if background:
            while self.missing() and time.monotonic() < self.deadline and self.process.poll() is None:
                time.sleep(0.05)
            stop(self.process)
        else:
            try:
                self.process.wait(timeout=max(0.1, self.deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                stop(self.process)
                problems.append(f"still running after {block.value('timeout', '30')} s")
            else:
                expected = int(block.value("exit", "0"))
                if self.process.returncode != expected:
                    problems.append(f"exit code {self.process.returncode}, expected {expected}")
                stop(self.process)  # whatever it left in the background
        problems += [f"output lacks {e!r}" for e in self.missing()]
        return problems


def start(block, gateway, args, workdir):
    env = dict(os.environ)
    env.setdefault("NODE_PATH", "/usr/share/nodejs")
    for assignment in block.values("env"):
        name, _, value = adapt(assignment, gateway).partition("=")
        env[name] = value
    if gateway:
        env.update(SWITCHBOARD_DOCS_PORT=gateway.port, SWITCHBOARD_DOCS_KEY=gateway.key,
                   SWITCHBOARD_DOCS_TOKEN=gateway.token)
    code = adapt(block.code, gateway)
    output = workdir / f"{block.name}.out"
    if block.language == "sh":
        script = workdir / f"{block.name}.sh"
        script.write_text(code)
        command = ["bash", "-e", str(script)]
    elif block.language == "js" and "browser" in block.options:
        script = workdir / f"{block.name}.js"
        script.write_text(code)
        command = ["node", str(Path(__file__).with_name("browser_example.js")),
                   "--base", f"http://127.0.0.1:{gateway.port}", "--script", str(script),
                   "--chromium", args.chromium,
                   "--timeout", str(int(float(block.value("timeout", "30")) * 1000) - 5000)]
        for expected in block.values("expect"):
            command += ["--expect", expected]
    elif block.language == "js":
        script = workdir / f"{block.name}.js"
        script.write_text(code)
        command = ["node", str(script)]
    elif block.language == "qml":
        if re.search(r"\bport:\s*8080\b", block.code):
            raise ExampleError("a QML Gateway on port 8080 clashes with switchboard-gateway's "
                               "default port (the gateway of the other examples)")
        script = workdir / f"{block.name}.qml"
        script.write_text(code)
        command = [args.qml_host, str(script), block.value("check", "true"),
                   str(int(float(block.value("timeout", "30")) * 1000) - 2000)]
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    else:  # cpp, compiled by examples/CMakeLists.txt
        binary = Path(args.bin_dir) / f"docs_example_{block.name}"
        if not binary.exists():
            raise ExampleError(f"{binary} is not built")
        command = [str(binary)] + [adapt(a, gateway) for a in block.values("args")]
        if block.value("wrap") == "qt":
            env["SWITCHBOARD_DOCS_QUIT_ON"] = block.value("expect", "")
            env.setdefault("QT_QPA_PLATFORM", "offscreen")
    out, err = open(output, "w"), open(str(output) + ".err", "w")
    process = started(subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                       env=env, cwd=workdir, preexec_fn=die_with_parent))
    out.close()
    err.close()
    return Run(block, process, output, time.monotonic() + float(block.value("timeout", "30")))


def run(args):
    root = Path(args.root)
    page = root / args.page
    blocks = [b for b in blocks_of(root, page) if b.kind == "example"]
    if not blocks:
        print(f"{args.page}: no examples")
        return 0
    global GUARD
    GUARD = Guard()
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-docs-"))
    if not args.web:
        skipped = [b for b in blocks if "browser" in b.options]
        for b in skipped:
            print(f"skip {b.where()} {b.name}: no --web (the browser client's folder, wasm-core build)")
        blocks = [b for b in blocks if b not in skipped]
    gateway = Gateway(args.gateway, workdir, args.web) if any(b.value("needs") == "gateway" for b in blocks) else None
    failures, background = 0, []

    def report(run, problems):
        nonlocal failures
        status = "ok" if not problems else "FAIL"
        print(f"{status:4} {run.block.where()} {run.block.name}")
        if problems:
            failures += 1
            for p in problems:
                print(f"     {p}")
            print("     output:\n" + "\n".join("       | " + l for l in run.text().split("\n")[-40:]))
            print("     errors:\n" + "\n".join("       | " + l for l in run.errors().split("\n")[-20:]))

    try:
        for block in blocks:
            try:
                example = start(block, gateway if block.value("needs") == "gateway" else None, args, workdir)
            except ExampleError as error:
                failures += 1
                print(f"FAIL {block.where()} {block.name}\n     {error}")
                continue
            if "background" in block.options:
                background.append(example)
                ready = block.value("ready")
                while ready and ready not in example.text():
                    if example.process.poll() is not None or time.monotonic() > example.deadline:
                        stop(example.process)
                        background.remove(example)
                        report(example, [f"never printed {ready!r}"])
                        break
                    time.sleep(0.05)
                continue
            report(example, example.finish(False))
        for example in background:
            report(example, example.finish(True))
    finally:
        for example in background:
            stop(example.process)
        if gateway:
            gateway.close()
        GUARD.close()
    print(f"{args.page}: {len(blocks) - failures} of {len(blocks)} examples passed")
    if failures:
        print(f"files of the run: {workdir}")
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["check", "extract-cpp", "run", "guard"])
    parser.add_argument("root")
    parser.add_argument("target", nargs="?")
    parser.add_argument("--gateway")
    parser.add_argument("--bin-dir", default=".")
    parser.add_argument("--qml-host")
    parser.add_argument("--web", help="the browser client's folder (switchboard.js/.wasm)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    if args.mode == "check":
        return check(args.root)
    if args.mode == "guard":
        return guard()
    if args.mode == "extract-cpp":
        return extract_cpp(args.root, args.target)
    args.page = args.target
    for name in ("gateway", "qml_host", "bin_dir", "web"):
        if getattr(args, name):
            setattr(args, name, os.path.abspath(getattr(args, name)))
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
