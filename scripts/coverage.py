#!/usr/bin/env python3
"""Line coverage of apu.ko from a guest run (scripts/debug-guest.sh).

The guest's /init (tests/vm/init, gcov_dump) sends the module's gcov counters
on the console after rmmod: a gzipped tar of the apu_*.gcda files as hex lines
"APU-GCOV hex ..." between "APU-GCOV begin SHA256 DIR" and "APU-GCOV end".
This script takes them from the console log, puts them beside the .gcno files
of the instrumented build (--objdir, built with APU_GCOV=1) and reads both
with gcov (gcov-12 where present, the compiler's own) into --out:

  summary.txt   "apu.ko line coverage (LABEL): NN.N% (X of Y lines)", then
                per file, the functions never called and the functions with
                uncovered lines (most first)
  coverage.json the same, for tools
  gcov/         the annotated sources (*.gcov: "#####" marks a line never run)

Several --log: the counters of those runs (of the same apu.ko) summed.

Lines are those of the driver's own sources (kernel/*.c, kernel/*.h,
include/, uapi/), as gcov counts them; inline functions of kernel headers
are not counted. Exit status 0 with a summary, 1 when no coverage could be
read (the summary then says why).
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile


def gcov_tool():
    for t in ("gcov-12", "gcov"):
        if shutil.which(t):
            return t
    return None


def read_blob(log):
    """The last complete APU-GCOV block of the log: (bytes, guest dir) or an error."""
    blob = None
    err = "no APU-GCOV block in the console log (kernel without CONFIG_GCOV_KERNEL, or apu.ko not built with APU_GCOV=1?)"
    cur = None
    with open(log, "r", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("APU-GCOV begin "):
                parts = line.split()
                cur = {"sha": parts[2], "dir": parts[3] if len(parts) > 3 else "", "hex": []}
            elif line.startswith("APU-GCOV hex ") and cur is not None:
                cur["hex"].append(line[len("APU-GCOV hex "):].replace(" ", ""))
            elif line == "APU-GCOV end" and cur is not None:
                try:
                    data = bytes.fromhex("".join(cur["hex"]))
                except ValueError:
                    err = "the APU-GCOV block is garbled (console output mixed into it?)"
                    cur = None
                    continue
                if hashlib.sha256(data).hexdigest() != cur["sha"]:
                    err = "the APU-GCOV block fails its SHA256 (console output mixed into it?)"
                else:
                    blob = (data, cur["dir"])
                cur = None
    if cur is not None and blob is None:
        err = "the APU-GCOV block has no end (the guest stopped while sending it?)"
    return blob, err


def rel(path, roots):
    p = os.path.realpath(path)
    for name, root in roots:
        root = os.path.realpath(root)
        if p.startswith(root + os.sep):
            return name + "/" + os.path.relpath(p, root)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", required=True, action="append",
                    help="console log of the guest run; several: their counters summed")
    ap.add_argument("--objdir", required=True, help="the instrumented module's build directory (.gcno)")
    ap.add_argument("--top", required=True, help="the repository (kernel/, include/, uapi/)")
    ap.add_argument("--label", default="debug kernel", help="what ran, for the first line")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    out = a.out
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    head = "apu.ko line coverage (%s): " % a.label

    def fail(why):
        with open(os.path.join(out, "summary.txt"), "w") as f:
            f.write(head + "unavailable: " + why + "\n")
        print(head + "unavailable: " + why)
        return 1

    tool = gcov_tool()
    if not tool:
        return fail("no gcov on this machine")
    blobs = []
    for log in a.log:
        blob, err = read_blob(log)
        if blob is None:
            return fail("%s: %s" % (log, err))
        blobs.append(blob)
    guest_dir = blobs[0][1]

    # The object directory as gcov wants it: each .gcno with its .gcda.
    obj = os.path.join(out, "obj")
    os.makedirs(obj)
    gcnos = sorted(f for f in os.listdir(a.objdir) if f.endswith(".gcno") and f.startswith("apu_"))
    if not gcnos:
        return fail("no .gcno files in %s (apu.ko not built with APU_GCOV=1?)" % a.objdir)
    for g in gcnos:
        shutil.copy(os.path.join(a.objdir, g), obj)

    roots = [("kernel", a.objdir), ("kernel", os.path.join(a.top, "kernel")),
             ("include", os.path.join(a.top, "include")), ("uapi", os.path.join(a.top, "uapi"))]
    lines = {}  # file -> {line: count}, summed over the runs
    funcs = {}  # (file, name, start) -> dict
    paths = {}  # file -> its path here
    gdir = os.path.join(out, "gcov")
    os.makedirs(gdir)
    for data, _ in blobs:
        for f in os.listdir(obj):
            if f.endswith(".gcda"):
                os.unlink(os.path.join(obj, f))
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as t:
            for m in t.getmembers():
                name = os.path.basename(m.name)
                if m.isfile() and name.endswith(".gcda"):
                    with open(os.path.join(obj, name), "wb") as f:
                        f.write(t.extractfile(m).read())
        for g in gcnos:
            src = os.path.join(a.objdir, g[:-5] + ".c")
            if not os.path.exists(src):
                continue
            r = subprocess.run([tool, "--json-format", "--stdout", "-o", obj, src],
                               capture_output=True, text=True, cwd=obj)
            if r.returncode != 0:
                return fail("%s failed on %s: %s" % (tool, src, r.stderr.strip()[:300]))
            for doc in r.stdout.splitlines():
                doc = doc.strip()
                if not doc:
                    continue
                j = json.loads(doc)
                cwd = j.get("current_working_directory") or a.objdir
                for fe in j.get("files", []):
                    path = os.path.join(cwd, fe["file"])
                    name = rel(path, roots)
                    if name is None:
                        continue
                    paths[name] = path
                    fl = lines.setdefault(name, {})
                    for ln in fe.get("lines", []):
                        n = ln["line_number"]
                        fl[n] = fl.get(n, 0) + ln["count"]
                    for fn in fe.get("functions", []):
                        key = (name, fn.get("demangled_name") or fn["name"], fn["start_line"])
                        e = funcs.setdefault(key, {"end": fn["end_line"], "calls": 0})
                        e["calls"] += fn["execution_count"]
    shutil.rmtree(obj)
    # The annotated sources, as gcov writes them: count, "#####" for a line
    # never run, "-" for a line without code.
    for name, fl in lines.items():
        try:
            with open(paths[name], errors="replace") as f:
                text = f.read().splitlines()
        except OSError:
            continue
        with open(os.path.join(gdir, name.replace("/", "_") + ".gcov"), "w") as f:
            for i, t in enumerate(text, 1):
                c = fl.get(i)
                f.write("%9s:%5d:%s\n" % ("-" if c is None else "#####" if c == 0 else c, i, t))

    total = sum(len(v) for v in lines.values())
    hit = sum(1 for v in lines.values() for c in v.values() if c > 0)
    if total == 0:
        return fail("gcov found no lines of the driver's sources")
    pct = 100.0 * hit / total

    fn_rows = []
    for (name, fn, start), e in funcs.items():
        fl = lines.get(name, {})
        ls = [n for n in fl if start <= n <= e["end"]]
        miss = [n for n in ls if fl[n] == 0]
        fn_rows.append({"file": name, "function": fn, "line": start, "calls": e["calls"],
                        "lines": len(ls), "uncovered": len(miss)})
    # Functions never called whose lines all ran all the same are generated
    # by macros on the lines of others (the tracepoints' perf and probe
    # stubs): counted, not listed.
    never = sorted((r for r in fn_rows if r["calls"] == 0 and r["uncovered"] > 0),
                   key=lambda r: (-r["uncovered"], r["file"], r["line"]))
    shadow = [r for r in fn_rows if r["calls"] == 0 and r["uncovered"] == 0]
    partial = sorted((r for r in fn_rows if r["calls"] > 0 and r["uncovered"] > 0),
                     key=lambda r: (-r["uncovered"], r["file"], r["line"]))

    s = io.StringIO()
    s.write(head + "%.1f%% (%d of %d lines)\n" % (pct, hit, total))
    s.write("functions: %d of %d called\n" % (len(fn_rows) - len(never), len(fn_rows)))
    s.write("\nper file (lines covered):\n")
    for name in sorted(lines):
        v = lines[name]
        h = sum(1 for c in v.values() if c > 0)
        s.write("  %-24s %5.1f%%  %4d of %4d\n" % (name, 100.0 * h / len(v) if v else 0, h, len(v)))
    s.write("\nfunctions never called (%d, %d lines; largest first):\n" %
            (len(never), sum(r["uncovered"] for r in never)))
    for r in never:
        s.write("  %-40s %s:%d  %d lines\n" % (r["function"], r["file"], r["line"], r["uncovered"]))
    if shadow:
        s.write("  (and %d never called whose lines other functions ran: macro-generated, as %s)\n" %
                (len(shadow), ", ".join(sorted({r["function"] for r in shadow})[:2])))
    s.write("\nfunctions called, with uncovered lines (%d, %d lines; most first):\n" %
            (len(partial), sum(r["uncovered"] for r in partial)))
    for r in partial:
        s.write("  %-40s %s:%d  %d of %d lines uncovered\n" %
                (r["function"], r["file"], r["line"], r["uncovered"], r["lines"]))
    s.write("\n(annotated sources: %s/*.gcov; guest counters from %s)\n" % (gdir, guest_dir))
    with open(os.path.join(out, "summary.txt"), "w") as f:
        f.write(s.getvalue())
    with open(os.path.join(out, "coverage.json"), "w") as f:
        json.dump({"label": a.label, "lines": total, "covered": hit, "percent": round(pct, 2),
                   "files": {n: {"lines": len(v), "covered": sum(1 for c in v.values() if c > 0)}
                             for n, v in sorted(lines.items())},
                   "functions": sorted(fn_rows, key=lambda r: (r["file"], r["line"]))}, f, indent=1)
    print(s.getvalue().splitlines()[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
