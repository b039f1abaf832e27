#!/usr/bin/env python3
"""The charts of docs/benchmarks.md (ctest docs_charts, label `docs`).

    test_plot_charts.py ROOT

Runs bench/plot-charts.py on the newest committed bench/results/comparison-*.csv into a temporary
directory and checks that
  - every SVG is well-formed XML with one bar per server (or percentile) and group of the CSV,
    each bar's value the median the test computes from the CSV itself, and one legend entry per
    series;
  - the committed docs/charts/*.svg are exactly what the script makes of that CSV (so a changed
    script or CSV without regenerated charts fails here), and docs/benchmarks.md shows them;
  - a server the script does not know gets a bar per group and a legend entry;
  - a CSV (written here) with two windows for one configuration gets a group per window in the
    flat-out charts (throughput, CPU per delivery), each bar the median of its window's runs only;
  - the CSV header of bench/run-comparison.sh and of the committed CSV has every column the chart
    script needs, and the script refuses (exit 2, naming the column) a CSV without one.
"""

import csv
import re
import statistics
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(sys.argv.pop(1) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2])
SCRIPT = ROOT / "bench" / "plot-charts.py"
SVG = "{http://www.w3.org/2000/svg}"
REQUIRED = ["server", "subscribers", "payload", "load", "run", "deliveries_per_s",
            "p50_ms", "p90_ms", "p99_ms", "mem_per_conn_bytes"]


def newest_csv():
    # By name without the extension: a second run of a day (comparison-DATE-LABEL.csv) is newer.
    found = sorted((ROOT / "bench" / "results").glob("comparison-*.csv"), key=lambda p: p.stem)
    if not found:
        raise AssertionError("no bench/results/comparison-*.csv")
    return found[-1]


def data_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#") and line.strip()))


def plot(csv_path, out):
    return subprocess.run([sys.executable, str(SCRIPT), str(csv_path), "--out", str(out)],
                          capture_output=True, text=True, timeout=60)


def bars(svg_path):
    """{(group, series): value from the bar's title}, legend labels, count of whiskers."""
    root = ET.parse(svg_path).getroot()
    assert root.tag == SVG + "svg", root.tag
    values = {}
    for rect in root.iter(SVG + "rect"):
        if rect.get("class") == "bar":
            title = rect.find(SVG + "title").text
            median = float(re.search(r": ([0-9.]+) \(", title).group(1))
            values[(rect.get("data-group"), rect.get("data-series"))] = median
            assert float(rect.get("height")) >= 0, title
    legend = [g.find(SVG + "text").text for g in root.iter(SVG + "g") if g.get("class") == "legend"]
    whiskers = sum(1 for p in root.iter(SVG + "path") if p.get("class") == "whisker")
    return values, legend, whiskers


def median_of(rows, column, scale=1.0):
    numbers = [float(r[column]) for r in rows if r[column] != ""]
    return statistics.median(numbers) * scale if numbers else None


def thousands(n):
    return f"{int(n):,}".replace(",", " ")


def close(a, b):
    return abs(a - b) <= max(0.006 * abs(b), 0.006)  # the labels carry three significant digits


class PlotCharts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.csv = newest_csv()
        cls.rows = data_rows(cls.csv)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = Path(cls.tmp.name) / "charts"
        cls.plotted = plot(cls.csv, cls.out)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.assertEqual(self.plotted.returncode, 0, self.plotted.stderr)
        self.servers = list(dict.fromkeys(r["server"] for r in self.rows))

    def test_throughput_has_a_bar_per_server_and_configuration(self):
        self.check_flat_chart("throughput.svg", "deliveries_per_s", 1e-6)

    def test_cpu_has_a_bar_per_server_and_configuration(self):
        self.check_flat_chart("cpu.svg", "server_cpu_ns_per_delivery", 1.0)

    def check_flat_chart(self, name, column, scale):
        values, legend, whiskers = bars(self.out / name)
        flat = [r for r in self.rows if r["load"] == "flat"]
        # A CSV run at several windows (--window LIST) has a group per configuration and window.
        windows = {}
        for r in flat:
            windows.setdefault((r["subscribers"], r["payload"]), set()).add(r.get("window") or "")
        by_window = any(len(w) > 1 for w in windows.values())
        configurations = list(dict.fromkeys((r["subscribers"], r["payload"], r.get("window") if by_window else None)
                                            for r in flat))
        self.assertEqual(len(legend), len(self.servers))
        expected = 0
        for n, payload, window in configurations:
            for server in self.servers:
                m = median_of([r for r in flat if (r["subscribers"], r["payload"], r["server"]) == (n, payload, server)
                               and (window is None or r.get("window") == window)], column, scale)
                if m is None:
                    continue
                expected += 1
                group = f"{thousands(n)} subscribers, {thousands(payload)} B"
                if window is not None:
                    group += f", window {thousands(window)}"
                key = (group, legend[self.servers.index(server)])
                self.assertIn(key, values)
                self.assertTrue(close(values[key], m), (key, values[key], m))
        self.assertEqual(len(values), expected)
        self.assertGreater(whiskers, 0, "several runs, so there are spreads to draw")

    def test_latency_has_three_percentiles_per_server(self):
        fixed = [r for r in self.rows if r["load"] == "fixed"]
        configurations = list(dict.fromkeys((r["subscribers"], r["payload"]) for r in fixed))
        self.assertTrue(configurations)
        for n, payload in configurations:
            values, legend, _ = bars(self.out / f"latency-{n}-{payload}.svg")
            self.assertEqual(legend, ["p50", "p90", "p99"])
            picked = [r for r in fixed if (r["subscribers"], r["payload"]) == (n, payload)]
            servers = list(dict.fromkeys(r["server"] for r in picked))
            self.assertEqual(len(values), 3 * len(servers), values)
            groups = list(dict.fromkeys(g for g, _ in values))
            for server, group in zip(servers, groups):
                for p in legend:
                    m = median_of([r for r in picked if r["server"] == server], f"{p}_ms")
                    self.assertTrue(close(values[(group, p)], m), (server, p, values[(group, p)], m))

    def test_memory_has_a_bar_per_server_and_subscriber_count(self):
        values, legend, _ = bars(self.out / "memory.svg")
        counts = list(dict.fromkeys(r["subscribers"] for r in self.rows))
        self.assertEqual(len(legend), len(self.servers))
        self.assertEqual(len(values), len(counts) * len(self.servers))
        for (group, series), v in values.items():
            server = self.servers[legend.index(series)]
            n = next(c for c in counts if group == f"{thousands(c)} subscribers")
            m = median_of([r for r in self.rows if r["server"] == server and r["subscribers"] == n],
                          "mem_per_conn_bytes", 1e-3)
            self.assertTrue(close(v, m), (group, series, v, m))

    def test_committed_charts_are_what_the_script_makes(self):
        made = sorted(p.name for p in self.out.glob("*.svg"))
        committed = sorted(p.name for p in (ROOT / "docs" / "charts").glob("*.svg"))
        hint = f"regenerate: python3 bench/plot-charts.py {self.csv.relative_to(ROOT)} --out docs/charts"
        self.assertEqual(made, committed, hint)
        for name in made:
            self.assertEqual((self.out / name).read_text(), (ROOT / "docs" / "charts" / name).read_text(),
                             f"docs/charts/{name} is stale; {hint}")
        page = (ROOT / "docs" / "benchmarks.md").read_text()
        shown = set(re.findall(r"\(charts/([^)]+\.svg)\)", page))
        self.assertTrue(shown, "docs/benchmarks.md shows no chart")
        self.assertLessEqual(shown, set(made), "docs/benchmarks.md shows a chart the script does not make")

    def test_every_required_column_is_written_and_read(self):
        script = (ROOT / "bench" / "run-comparison.sh").read_text()
        written = re.search(r"^csv_columns=(\S+)", script, re.M).group(1).split(",")
        with open(self.csv, newline="") as f:
            header = next(csv.reader(line for line in f if not line.startswith("#")))
        for column in REQUIRED:
            self.assertIn(column, written, "bench/run-comparison.sh no longer writes it")
            self.assertIn(column, header, f"{self.csv.name} lacks it")

    def test_a_new_server_adds_its_bars(self):
        # A server the chart script does not know (as one added to run-comparison.sh would be):
        # the rows of the first server again, under another name.
        first = self.servers[0]
        with open(self.csv, newline="") as f:
            lines = f.readlines()
        extended = Path(self.tmp.name) / "with-another-server.csv"
        extended.write_text("".join(lines + [line.replace(first + ",", "another,", 1)
                                             for line in lines if line.startswith(first + ",")]))
        out = Path(self.tmp.name) / "out-another"
        result = plot(extended, out)
        self.assertEqual(result.returncode, 0, result.stderr)
        for name in ("throughput.svg", "cpu.svg", "memory.svg"):
            before, legend_before, _ = bars(self.out / name)
            after, legend_after, _ = bars(out / name)
            self.assertEqual(legend_after, legend_before + ["another"], name)
            groups = {g for g, _ in before}
            self.assertEqual(len(after), len(before) + len(groups), name)
            for group in groups:
                self.assertEqual(after[(group, "another")], before[(group, legend_before[0])], (name, group))

    def test_two_windows_of_a_configuration_get_separate_bars(self):
        # One configuration flat out at windows 32 and 64, three runs each, for two servers; the
        # medians of each window differ from the median over both, so mixing them would show.
        header = ("server,subscribers,payload,load,run,rate_msg_per_s,window,deliveries_per_s,"
                  "server_cpu_ns_per_delivery,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,handshakes_per_s,"
                  "mem_per_conn_bytes,missed,disconnects")
        flat = {("switchboard", "32"): [(4.0e6, 200), (4.2e6, 190), (3.0e6, 260)],
                ("switchboard", "64"): [(5.0e6, 180), (5.5e6, 170), (4.8e6, 185)],
                ("uws", "32"): [(4.4e6, 170), (4.5e6, 160), (4.3e6, 175)],
                ("uws", "64"): [(2.0e6, 400), (2.1e6, 390), (1.9e6, 410)]}
        lines = ["# date: 2030-01-01 00:00 UTC", header]
        for (server, window), runs in flat.items():
            for run, (d, ns) in enumerate(runs, 1):
                lines.append(f"{server},1000,64,flat,{run},0.0,{window},{d:.0f},{ns},1,2,3,4,5,10000,6000,0,0")
        for server in ("switchboard", "uws"):
            lines.append(f"{server},1000,64,fixed,1,50.0,32,50000,3000,1,2,3,4,5,10000,6000,0,0")
        path = Path(self.tmp.name) / "two-windows.csv"
        path.write_text("\n".join(lines) + "\n")
        out = Path(self.tmp.name) / "out-two-windows"
        result = plot(path, out)
        self.assertEqual(result.returncode, 0, result.stderr)
        for name, pick, scale in (("throughput.svg", 0, 1e-6), ("cpu.svg", 1, 1.0)):
            values, legend, _ = bars(out / name)
            self.assertEqual(legend, ["switchboard-gateway", "uWebSockets.js"], name)
            self.assertEqual(len(values), 4, (name, values))
            for (server, window), runs in flat.items():
                key = (f"1 000 subscribers, 64 B, window {window}", legend[0 if server == "switchboard" else 1])
                self.assertIn(key, values, name)
                expected = statistics.median(r[pick] for r in runs) * scale
                self.assertTrue(close(values[key], expected), (name, key, values[key], expected))
                mixed = statistics.median(r[pick] for w in ("32", "64") for r in flat[(server, w)]) * scale
                self.assertFalse(close(values[key], mixed), (name, key, "the windows were mixed"))
            labels = [t.text for t in ET.parse(out / name).getroot().iter(SVG + "text")]
            self.assertIn("window 32", labels, name)
            self.assertIn("window 64", labels, name)
        # Charts of other loads keep their groups: memory per subscriber count, latency per server.
        memory, _, _ = bars(out / "memory.svg")
        self.assertEqual({g for g, _ in memory}, {"1 000 subscribers"})
        self.assertTrue((out / "latency-1000-64.svg").exists())

    def test_a_csv_without_a_required_column_is_refused(self):
        with open(self.csv, newline="") as f:
            lines = [line for line in f if not line.startswith("#")]
        table = list(csv.reader(lines))
        for column in REQUIRED:
            with self.subTest(column=column):
                keep = [i for i, name in enumerate(table[0]) if name != column]
                broken = Path(self.tmp.name) / f"without-{column}.csv"
                with open(broken, "w", newline="") as f:
                    csv.writer(f).writerows([[row[i] for i in keep] for row in table])
                result = plot(broken, Path(self.tmp.name) / f"out-{column}")
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn(column, result.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
