"""The benchmark's results as the table `make bench` prints."""

from __future__ import annotations

from typing import Any

from fidelity import LOAD_FRACTION, MEDIAN_MS, P99_MS


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def print_table(r: dict[str, Any]) -> None:
    print(f"\nendpoint-loadtest bench  {r['date']}  {r['machine']['cpu']} x{r['machine']['cores']}")
    if "throughput" in r:
        print(
            f"{'client':10} {'users':>5} {'req/s':>9} {'gen CPU%':>9} {'req/s/core':>11}"
            f" {'target CPU%':>12}"
        )
        for row in r["throughput"].values():
            print(
                f"{row['client']:10} {row['users']:>5} {row['rps']:>9.0f}"
                f" {row['worker_cpu_percent']:>9.0f}"
                f" {row['rps_per_core']:>11.0f} {row['target_cpu_percent']:>12.0f}"
            )
        ratios = r["ratios"]
        print(
            f"fast/boto3 {ratios['fast_vs_boto3']:.2f} (target >= 4)   "
            f"fast/raw {ratios['fast_vs_raw']:.2f} (target >= 0.6)"
        )
        for row in r["memory"].values():
            print(
                f"memory {row['client']:6} {row['mb_per_1000_users']:.1f} MB per 1,000 "
                f"connected users (RSS {row['rss_base_mb']} -> {row['rss_loaded_mb']} MB)"
            )
    if "fidelity" not in r:
        return
    f = r["fidelity"]
    print(
        f"\nlatency fidelity (fast client; lognormal p50 {MEDIAN_MS:g} / p99 {P99_MS:g} ms; "
        f"capacity {f['capacity_rps_per_core']['closed']:.0f} closed, "
        f"{f['capacity_rps_per_core']['open']:.0f} open req/s/core)"
    )
    print(
        f"{'run':17} {'req/s':>7} {'load':>5} {'gen CPU%':>8} {'p50 rep/true':>15}"
        f" {'err':>5} {'p99 rep/true':>15} {'err':>5}  service p50/p99 err"
    )
    for name in ("closed_high", "open_high", "closed_simulator", "open_simulator"):
        row = f[name]
        print(
            f"{name:17} {row['rps']:>7.0f} {row['load_fraction']:>5.2f}"
            f" {row['worker_cpu_percent']:>8.0f}"
            f" {_ms(row['reported_ms']['p50']):>7}/{_ms(row['true_ms']['p50']):<7}"
            f" {_pct(row['p50_error']):>5}"
            f" {_ms(row['reported_ms']['p99']):>7}/{_ms(row['true_ms']['p99']):<7}"
            f" {_pct(row['p99_error']):>5}"
            f"  {_pct(row['service_p50_error'])}/{_pct(row['service_p99_error'])}"
        )
    b = f["baseline"]
    print(
        f"baseline: one blocking client, one request at a time: mean {b['client_mean_ms']} vs "
        f"true {b['true_mean_ms']} ms: {b['overhead_ms']} ms that any client sees (loopback, "
        f"the server's own reading and writing)"
    )
    print(
        f"fidelity at {LOAD_FRACTION:.0%} of capacity (worst of closed/open): "
        f"p50 {f['p50_error']:.1%}, p99 {f['p99_error']:.1%} (target <= 5%)"
    )
