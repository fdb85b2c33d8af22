"""Leaderboards from run records: Markdown + self-contained HTML per instance set, with plots.

Best known values per instance come from the records themselves plus the set's shipped reference
file (never the cache, which other runs change), so the same records always give the same tables.
- relative excess: (objective - best known primal) / best known primal;
- certified gap: (objective - best known lower bound) / objective;
- shifted geometric mean of time, shift 1 s; a job without a proven optimum is charged the time
  limit when one was set ("failures charged the limit"); "x best" divides by the best method's mean.
"""
from __future__ import annotations

import base64
import io
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
from tabulate import tabulate

from instances.reference import read_references
from instances.sets import reference_paths
from solvers import EXACT_METHODS

from .checks import check_against_reference, trusted
from .reconstruct import GRANULARITIES
from .records import prune_run_key as run_key
from .records import read_records

SGM_SHIFT = 1.0
WIN_RTOL = 1e-9


def latest_records(records: list[dict]) -> list[dict]:
    """One record per job (the last written), in a stable order."""
    by_key = {r["job_key"]: r for r in records}
    return sorted(by_key.values(), key=lambda r: (r["instance_set"], r["setting"], r["objective_kind"], r["instance"], r["solver"]))


def shifted_geometric_mean(times, shift: float = SGM_SHIFT) -> float:
    times = np.asarray(times, dtype=float)
    times = times[np.isfinite(times)]  # a mask scored by bench eval has no solve time (NaN)
    return float(np.exp(np.mean(np.log(times + shift))) - shift) if times.size else math.nan


def best_with_sources(records: list[dict], set_name: str) -> tuple[dict, dict]:
    """({(instance, setting, objective): (best primal, best bound)} from trusted records + shipped refs,
    {key: who supplied the best bound}: a solver label, or "stored (method=...)" for a value of the shipped
    reference file, which wins a tie; keys without a bound have no source).

    A lower bound above the best primal value is wrong (and flagged); it never becomes the best bound.
    """
    shipped = read_references(reference_paths(set_name)[0])
    primal, bounds = defaultdict(lambda: math.inf), defaultdict(list)
    for (inst, setting, obj), entry in shipped.entries.items():
        primal[(inst, setting, obj)] = entry.best_primal
        fields = entry.provenance.get("bound") or entry.provenance.get("opt") or {}
        bounds[(inst, setting, obj)].append((entry.best_bound, f"stored ({fields.get('method', 'unrecorded')})"))
    for r in records:
        key = (r["instance"], r["setting"], r["objective_kind"])
        if trusted(r) and math.isfinite(r["objective"]):
            primal[key] = min(primal[key], r["objective"])
            bounds[key].append((r["lower_bound"], r["solver"]))
    keys = set(primal) | {(r["instance"], r["setting"], r["objective_kind"]) for r in records}
    best, sources = {}, {}
    for k in keys:
        valid = [(b, who) for b, who in bounds[k] if not check_against_reference({"lower_bound": b}, primal[k])]
        bound, who = max(valid, key=lambda pair: pair[0], default=(-math.inf, ""))  # the first of equal bounds
        best[k] = (primal[k], bound)
        if math.isfinite(bound):
            sources[k] = who
    return best, sources


def _why(record: dict) -> str:
    """The first explanation a flagged record carries: a conflict with stored values, a refuted claim, an error."""
    for key in ("reference_conflict", "cross_check", "error"):
        text = record.get(key)
        if text and text != "passed":
            return str(text)[:300]
    return ""


def cross_flags(record: dict, primal: float) -> list[str]:
    """Recorded flags plus the checks against the final best known primal value."""
    flags = {f for f in (record.get("flags") or "").split(",") if f}
    flags.update(check_against_reference(record, primal))
    return sorted(flags)


def method_tables(records: list[dict], best: dict) -> tuple[list[dict], list[dict], list[dict]]:
    """(exact-method rows, all-method rows, flagged records) for one group of records."""
    by_method = defaultdict(list)
    for r in records:
        by_method[r["solver"]].append(r)
    all_rows, exact_rows, flagged = [], [], []
    for method, rs in sorted(by_method.items()):
        excess, gaps, times, wins, n_flagged = [], [], [], 0, 0
        proven, wrong, final_gaps, charged = 0, 0, [], []
        for r in rs:
            primal, bound = best[(r["instance"], r["setting"], r["objective_kind"])]
            flags = cross_flags(r, primal)
            if flags:
                n_flagged += 1
                flagged.append(dict(r, flags=",".join(flags)))
            ok = "infeasible" not in flags and r["status"] != "error" and math.isfinite(r["objective"])
            excess.append((r["objective"] - primal) / primal if ok and primal > 0 else math.nan)
            gaps.append(max(0.0, (r["objective"] - bound) / r["objective"]) if ok and r["objective"] > 0 and math.isfinite(bound) else math.nan)
            wins += ok and r["objective"] <= primal * (1 + WIN_RTOL)
            times.append(r["time_s"])
            is_proven = r["status"] == "optimal" and "wrong_optimal_claim" not in flags
            proven += is_proven
            wrong += "wrong_optimal_claim" in flags
            limit = r.get("time_limit")
            charged.append(r["time_s"] if is_proven or not limit else max(r["time_s"], limit))
            final_gaps.append(r.get("gap", math.inf))
        undamped = [r["relative_error"] * r["undamped_error"] / r["objective"] for r in rs
                    if r.get("undamped_error") is not None and r["objective"] > 0 and math.isfinite(r["objective"])]
        all_rows.append({"method": method, "jobs": len(rs), "mean rel. excess": _nanmean(excess),
                         "max rel. excess": _nanmax(excess), "mean gap to best bound [%]": 100 * _nanmean(gaps), "wins": wins,
                         "SGM time [s]": shifted_geometric_mean(times), "flagged": n_flagged})
        if undamped:  # reconstruct objective: the true output error of the re-fitted weights beside the damped one
            all_rows[-1]["mean undamped rel. error"] = _nanmean(undamped)
        if method in EXACT_METHODS or any(r["status"] in ("optimal", "time_limit") for r in rs):
            exact_rows.append({"method": method, "jobs": len(rs), "proven optimal": proven, "wrong claims": wrong,
                               "SGM time [s] (fail=limit)": shifted_geometric_mean(charged),
                               "mean final gap [%]": 100 * _nanmean([g if math.isfinite(g) else math.nan for g in final_gaps])})
    fastest = min((row["SGM time [s]"] for row in all_rows), default=math.nan)
    for row in all_rows:
        row["time / fastest"] = row["SGM time [s]"] / fastest if fastest > 0 else math.nan
    return exact_rows, all_rows, flagged


def _nanmean(values) -> float:
    values = [v for v in values if math.isfinite(v)]
    return float(np.mean(values)) if values else math.nan


def _nanmax(values) -> float:
    values = [v for v in values if math.isfinite(v)]
    return float(np.max(values)) if values else math.nan


def instance_table(records: list[dict], best: dict, sources: dict | None = None) -> list[dict]:
    rows = {}
    for r in records:
        row = rows.setdefault(r["instance"], {"instance": r["instance"]})
        key = (r["instance"], r["setting"], r["objective_kind"])
        primal, bound = best[key]
        row["best known"], row["best bound"] = primal, bound
        if sources is not None:
            row["bound from"] = sources.get(key, "")
        row[r["solver"]] = r["objective"]
    return [rows[k] for k in sorted(rows)]


def environment(records: list[dict]) -> list[str]:
    def values(key):
        return ", ".join(sorted({str(r.get(key)) for r in records}))

    versions = {k[len("version_"):]: values(k) for k in sorted(records[0]) if k.startswith("version_")}
    return [f"- machine: {values('machine')}; CPU: {values('cpu')}; cores: {values('cpu_count')}",
            f"- commit: {values('git_commit')}; python {values('python')}",
            "- versions: " + "; ".join(f"{k} {v}" for k, v in versions.items() if v != "None"),
            f"- time limit per job [s]: {values('time_limit')}; records: {len(records)}; "
            f"dates: {min(r['date'] for r in records)} to {max(r['date'] for r in records)}"]


def method_colours(methods) -> dict:
    """One colour per method, the same in every plot of a set (tab10, or tab20 beyond 10 methods; sorted order)."""
    import matplotlib

    names = sorted(set(methods))
    cmap, size = (matplotlib.colormaps["tab10"], 10) if len(names) <= 10 else (matplotlib.colormaps["tab20"], 20)
    return {m: cmap(i % size) for i, m in enumerate(names)}


def _plots(records: list[dict], best: dict, title: str, colours: dict | None = None) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = colours or method_colours(r["solver"] for r in records)

    ratios = defaultdict(list)
    for r in records:
        primal = best[(r["instance"], r["setting"], r["objective_kind"])][0]
        ok = r["status"] != "error" and math.isfinite(r["objective"]) and primal > 0
        ratios[r["solver"]].append(r["objective"] / primal if ok else math.inf)
    figures = {}
    fig, ax = plt.subplots(figsize=(6, 4))
    finite = [x for v in ratios.values() for x in v if math.isfinite(x)]
    tau_max = max(finite + [1.0]) * 1.05
    taus = np.geomspace(1.0, max(tau_max, 1.01), 300)
    for method in sorted(ratios):
        values = np.array(ratios[method])
        ax.step(taus, [(values <= t).mean() for t in taus], where="post", label=method, color=colours[method])
    ax.set(xscale="log", xlabel="objective / best known (tau)", ylabel="fraction of instances", ylim=(0, 1.02),
           title=f"Performance profile: {title}")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes, off the data
    figures["profile"] = _png(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    for method in sorted(ratios):  # normalised per instance (objective / best known): modules of any scale side by side
        points = [(max(r["time_s"], 1e-4), ratio) for r, ratio in
                  zip([r for r in records if r["solver"] == method], ratios[method])
                  if math.isfinite(ratio) and math.isfinite(r["time_s"])]
        if points:
            ax.scatter(*zip(*points), label=method, s=12, color=colours[method])
    ax.set(xscale="log", yscale="log", xlabel="time [s]", ylabel="objective / best known",
           title=f"Error vs time: {title}")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figures["scatter"] = _png(fig)
    interval = _interval_figure(plt, records, best, title, colours)
    if interval is not None:
        figures["intervals"] = _png(interval)
    plt.close("all")
    return figures


INTERVAL_MAX_INSTANCES = 40  # the certified-interval chart shows at most this many instances (sorted by name)


def _interval_figure(plt, records: list[dict], best: dict, title: str, colours: dict):
    """Per instance, each method's value as a bar and the certified interval [best bound, best known] behind it,
    all divided by the best known value (so modules of any scale share one log axis); None without a positive best.
    Bars start at the axis's left edge; an instance without a positive bound gets an interval from that edge."""
    by_instance = defaultdict(dict)
    for r in records:
        primal, bound = best[(r["instance"], r["setting"], r["objective_kind"])]
        if r["status"] != "error" and math.isfinite(r["objective"]) and primal > 0:
            by_instance[r["instance"]][r["solver"]] = (r["objective"] / primal, max(bound, 0.0) / primal)
    names = sorted(by_instance)[:INTERVAL_MAX_INSTANCES]
    if not names:
        return None
    methods = sorted({m for n in names for m in by_instance[n]})
    ratios = [v for n in names for v, _ in by_instance[n].values()]
    lows = [b for n in names for _, b in by_instance[n].values()]
    left = max(min(lows + ratios) * 0.9, 1e-3)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.2))
    height = 0.8 / max(len(methods), 1)
    for row, name in enumerate(names):
        bound = max(max(b for _, b in by_instance[name].values()), left)
        ax.barh(row, 1.0 - bound, left=bound, height=0.9, fill=False, hatch="////", edgecolor="0.25", zorder=3,
                label="certified interval [best bound, best known]" if row == 0 else None)
        for k, method in enumerate(methods):
            if method in by_instance[name]:
                value = by_instance[name][method][0]
                ax.barh(row - 0.4 + (k + 0.5) * height, value - left, left=left, height=height * 0.9,
                        color=colours.get(method), label=method if row == 0 else None, zorder=1)
    ax.axvline(1.0, color="k", lw=0.6, zorder=2)
    ax.set_yticks(range(len(names)), [n.replace("layer", "l") for n in names], fontsize=7)
    ax.set(xscale="log", xlabel="value / best known (hatched: the certified interval; the optimum lies in it)",
           xlim=(left, max(ratios) * 1.05 + 1e-9),
           title=f"Certified intervals: {title}")
    ax.invert_yaxis()
    handles, labels = ax.get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    ax.legend(seen.values(), seen.keys(), fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None}, bbox_inches="tight")
    return buffer.getvalue()


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


LEGENDS = {
    "Exact methods": "proven optimal: answers with a cross-checked optimality claim; wrong claims: claims refuted by a "
                     "known value; SGM time (fail=limit): shifted geometric mean of times (shift 1 s), an unproven "
                     "answer counted at its time limit; mean final gap [%]: the method's own 100 (value - its bound) / "
                     "value at its stop (1e-4 % is the solvers' stopping tolerance, a relative gap of 1e-6).",
    "All methods": "mean / max rel. excess: (value - best known value) / best known value; mean gap to best bound [%]: "
                   "100 (value - best bound) / value, the best bound being the largest certified lower bound any "
                   "method or stored reference gave (so at least how far from optimal this value may be: the true "
                   "distance is at most this); wins: answers within 1e-9 of the best known value; SGM time [s]: "
                   "shifted geometric mean of times (shift 1 s; masks scored by bench eval have none); time / "
                   "fastest: SGM time over the smallest SGM time of the table; mean undamped rel. error (reconstruct only): "
                   "||(W - W_refit) X||^2 / ||W X||^2 of the re-fitted weights, while the values ranked are the damped "
                   "objective (H + 0.01 mean(diag H) I) the methods optimise.",
    "Per-instance objectives": "best known: the smallest value any method or reference reached; best bound: the "
                               "largest certified lower bound; bound from: the method (or stored reference) that gave "
                               "it; one column per method.",
}


def _html_table(rows: list[dict], best_marked: bool = False) -> str:
    """An HTML table; with ``best_marked`` the smallest method value of each row is bold (the per-instance table:
    every column after "bound from" is a method)."""
    if not best_marked:
        return tabulate(rows, headers="keys", tablefmt="html", floatfmt=".4g")
    import html

    fixed = {"instance", "best known", "best bound", "bound from"}
    marked = []
    for row in rows:
        values = [v for k, v in row.items() if k not in fixed and isinstance(v, float) and math.isfinite(v)]
        low = min(values, default=None)
        cells = {}
        for k, v in row.items():
            text = f"{v:.4g}" if isinstance(v, float) else html.escape(str(v))
            cells[html.escape(k)] = f"<b>{text}</b>" if k not in fixed and low is not None and v == low else text
        marked.append(cells)
    return tabulate(marked, headers="keys", tablefmt="unsafehtml")


def render_set(set_name: str, records: list[dict], out_dir: Path, *, plots: bool = True, extra_sections=()) -> Path:
    """Write ``<set>.md`` and ``<set>.html`` (plus PNGs) for one instance set; returns the Markdown path."""
    best, sources = best_with_sources(records, set_name)
    colours = method_colours(r["solver"] for r in records) if plots else {}
    md = [f"# Leaderboard: {set_name}", "", "Generated by `bench leaderboard` from run records.", ""]
    md += environment(records)
    html = [f"<h1>Leaderboard: {set_name}</h1>", "<ul>" + "".join(f"<li>{line[2:]}</li>" for line in environment(records)) + "</ul>"]
    groups = defaultdict(list)
    for r in records:
        groups[(r["setting"], r["objective_kind"])].append(r)
    for (setting, objective), rs in sorted(groups.items()):
        exact, everything, flagged = method_tables(rs, best)
        title = f"{setting}, {objective} objective"
        md += ["", f"## {title}", ""]
        html.append(f"<h2>{title}</h2>")
        sections = [("Exact methods", exact), ("All methods", everything), ("Per-instance objectives", instance_table(rs, best, sources))]
        if flagged:
            sections.append(("Flagged answers", [{**{k: f.get(k) for k in ("instance", "solver", "status", "objective",
                                                                            "lower_bound", "flags")},
                                                  "why": _why(f)} for f in flagged]))
        for heading, rows in sections:
            if not rows:
                continue
            md += [f"### {heading}", "", tabulate(rows, headers="keys", tablefmt="github", floatfmt=".4g"), ""]
            html += [f"<h3>{heading}</h3>", _html_table(rows, best_marked=heading == "Per-instance objectives")]
            if heading in LEGENDS:
                md += [f"*{LEGENDS[heading]}*", ""]
                html.append(f"<p><small>{LEGENDS[heading]}</small></p>")
        if plots:
            for kind, png in _plots(rs, best, title, colours).items():
                name = f"{_slug(set_name)}-{_slug(setting)}-{objective}-{kind}.png"
                (out_dir / name).write_bytes(png)
                md += [f"![{kind}]({name})", ""]
                html.append(f'<img alt="{kind}" src="data:image/png;base64,{base64.b64encode(png).decode()}">')
    for heading, text_md, text_html in extra_sections:
        md += ["", f"## {heading}", "", text_md]
        html += [f"<h2>{heading}</h2>", text_html]
    md_path = out_dir / f"{_slug(set_name)}.md"
    md_path.write_text("\n".join(md) + "\n")
    style = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
    (out_dir / f"{_slug(set_name)}.html").write_text(html_page(set_name, "\n".join(html), style))
    return md_path


def html_page(title: str, body: str, style: str = "") -> str:
    """A whole HTML page; the empty icon link spares the browser a request for /favicon.ico (a 404 in its console)."""
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'><title>{title}</title>"
            f"<style>{style}</style></head><body>{body}</body></html>\n")


def flat_columns(records: list[dict]) -> list[str]:
    """The scalar fields of the records (not dicts or lists), in first-seen order: the columns of the flat exports."""
    return list(dict.fromkeys(k for r in records for k in r if not isinstance(r[k], (dict, list))))


def write_csv(records: list[dict], path: Path) -> Path:
    """The flat records shown in the leaderboards as one CSV (``pandas.read_csv(path)``); columns in first-seen order."""
    import csv

    columns = flat_columns(records)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records)
    return path


def write_parquet(records: list[dict], path: Path) -> Path | None:
    """The same flat records as Parquet (``pandas.read_parquet(path)``), when pyarrow is installed (the ``bench``
    extra); None otherwise. A column whose values mix kinds (numbers and text) is stored as text; NaN stays NaN."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    table = {}
    for column in flat_columns(records):
        values = [r.get(column) for r in records]
        kinds = {bool if isinstance(v, bool) else float if isinstance(v, (int, float)) else str
                 for v in values if v is not None}
        if len(kinds) > 1:
            values = [None if v is None else str(v) for v in values]
        elif kinds == {float}:
            values = [None if v is None else float(v) for v in values]
        table[column] = values
    pq.write_table(pa.table(table), path)
    return path


def model_table(results: Path) -> list[dict]:
    """One row per (model, method, pattern, reconstruction granularity): perplexities next to the summed layer error,
    the seconds and peak memory of the run (records before reconstruction granularities: none / matrix from the
    objective, memory unknown)."""
    rows = []
    latest, runs = {}, {}
    for r in read_records(results, "prune_records.jsonl", required="perplexity_pruned"):
        key = (*run_key(r), r.get("device"))
        latest[key], runs[key] = r, runs.get(key, 0) + 1  # repeated runs: the last one is shown, counted in "runs"
    for key, r in latest.items():
        rows.append({"model": r["model"], "method": r["method"], "pattern": r["pattern"] if ":" in r["pattern"]
                     else f"{r['pattern']}@{r['sparsity']:g}", "reconstruct": key[4],
                     "sparsity": r["sparsity_achieved"], "ppl dense": r["perplexity_dense"],
                     "ppl pruned": r["perplexity_pruned"], "summed layer error": r["summed_layer_error"],
                     "summed output error": r.get("summed_weight_error", math.nan),
                     "calibration": f"{r['nsamples']}x{r['seqlen']} {r['calibration']}", "device": r.get("device"),
                     "time [s]": r["time_s"], "reconstruct [s]": r.get("reconstruct_s", 0.0),
                     "peak memory [MiB]": r.get("peak_memory_mb", math.nan), "recon steps": r.get("recon_steps", 0),
                     "recon lr": r.get("recon_lr") if r.get("recon_lr") is not None else math.nan, "runs": runs[key]})
    return sorted(rows, key=lambda x: (x["model"], x["pattern"], x["calibration"], x["method"],
                                       GRANULARITIES.index(x["reconstruct"]) if x["reconstruct"] in GRANULARITIES else 9))


def render_models(results: Path, out_dir: Path) -> Path | None:
    rows = model_table(results)
    if not rows:
        return None
    md = ["# Model-level leaderboard", "", "Perplexity on held-out text after pruning every linear layer "
          "sequentially (`bench prune`), next to the summed per-layer error; method x reconstruction granularity "
          "(`--reconstruct`: none, matrix, submodule, block, model; benchmark/reconstruct.py) with time and peak "
          "memory (torch's peak on CUDA, the process's peak RSS on the CPU).", "",
          tabulate(rows, headers="keys", tablefmt="github", floatfmt=".4g"), ""]
    path = out_dir / "models.md"
    path.write_text("\n".join(md))
    (out_dir / "models.html").write_text(html_page("models", "<h1>Model-level leaderboard</h1>"
                                                   + tabulate(rows, headers="keys", tablefmt="html", floatfmt=".4g")))
    return path


def build_leaderboards(results: Path, instance_sets: list[str] | None = None, out_dir: Path | None = None,
                       plots: bool = True) -> list[Path]:
    """Leaderboards for every instance set in ``results`` (or only ``instance_sets``)."""
    records = latest_records(read_records(Path(results)))
    out_dir = Path(out_dir or Path(results) / "leaderboard")
    if not records:
        if (Path(results) / "prune_records.jsonl").exists():
            out_dir.mkdir(parents=True, exist_ok=True)
            return [render_models(Path(results), out_dir)]
        raise ValueError(f"no records in {Path(results) / 'records.jsonl'}; run `bench run` first")
    names = sorted({r["instance_set"] for r in records})
    if instance_sets:
        missing = [s for s in instance_sets if s not in names]
        if missing:
            raise ValueError(f"no records for instance set(s) {', '.join(missing)}; sets with records: {', '.join(names)}")
        names = instance_sets
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(records, out_dir / "records.csv")
    write_parquet(records, out_dir / "records.parquet")
    models = render_models(Path(results), out_dir)
    return ([models] if models else []) + [render_set(name, [r for r in records if r["instance_set"] == name], out_dir, plots=plots) for name in names]
