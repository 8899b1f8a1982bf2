#!/usr/bin/python3
"""bench/fleet: edge-fleet-exporter holding N devices' retained statuses.

Starts a throwaway mosquitto (mutual TLS), publishes N retained statuses with
bin/edge-fleet-benchpub, and measures, beside baselines from the same run:
  - exporter RSS/PSS (/proc/PID/smaps_rollup) with N devices vs with 0 devices;
  - /metrics scrape time (median of --scrapes curl runs) vs nginx serving a
    static file with the very same bytes (same client, same loopback);
  - how long a fresh exporter takes to load N retained statuses;
  - what a real Prometheus reports (scrape_duration_seconds, series).
Prints a markdown table (docs/fleet.md keeps the latest one).

  EDGE_BUILD_DIR=build PYTHONPATH=tests/lib /usr/bin/python3 bench/fleet/run.py [--devices N]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../tests/lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../tests/integration"))
import edgetest  # noqa: E402
from edgetest import BIN, Harness, free_port, wait_port  # noqa: E402
from test_fleet_prometheus import Exporter, Prometheus, parse_metrics, sample  # noqa: E402


def smaps(pid):
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if parts[0] in ("Rss:", "Pss:"):
                out[parts[0][:-1]] = int(parts[1])
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                out["HWM"] = int(line.split()[1])
    return out


def cpu_s(pid):
    """user + system CPU seconds the process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def curl_times(url, n):
    times, size = [], 0
    for _ in range(n):
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_total} %{size_download}",
                            url], stdout=subprocess.PIPE, text=True, check=True)
        t, s = r.stdout.split()
        times.append(float(t))
        size = int(s)
    return statistics.median(times), size


def start_nginx(h, root):
    port = free_port()
    conf = h.path("nginx.conf")
    tmp = h.path("nginx-tmp")
    os.makedirs(tmp, exist_ok=True)
    with open(conf, "w") as f:
        f.write(f"""user root;
daemon off;
worker_processes 1;
pid {h.path('nginx.pid')};
error_log {h.path('nginx.log')} warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  types {{ text/plain txt; }}
  sendfile on;
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
""")
    p = subprocess.Popen(["nginx", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    h.procs.append(p)
    wait_port(port)
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=10000)
    ap.add_argument("--scrapes", type=int, default=21)
    args = ap.parse_args()
    n = args.devices
    rows = []
    with Harness("bench-fleet") as h:
        h.make_pki()
        broker = h.start_broker()
        # baseline: the same exporter with 0 devices
        idle = Exporter(h, broker, name="exporter-idle", log_level="notice")
        idle.wait(lambda f: sample(f, "edge_exporter_mqtt_connected") == 1, "connected")
        time.sleep(0.5)
        idle_mem = smaps(idle.proc.pid)
        idle_t, idle_size = curl_times(idle.url(), args.scrapes)
        idle.stop()

        live = Exporter(h, broker, name="exporter-live", log_level="notice")
        live.wait(lambda f: sample(f, "edge_exporter_mqtt_connected") == 1, "connected")
        crt, key = h.device_cert
        cpu0 = cpu_s(live.proc.pid)
        t0 = time.time()
        r = subprocess.run([os.path.join(BIN, "edge-fleet-benchpub"), "127.0.0.1",
                            str(broker.port), h.ca.ca_crt, crt, key, str(n)],
                           stdout=subprocess.PIPE, text=True, check=True)
        pub_s = time.time() - t0
        print(r.stdout.strip(), file=sys.stderr)
        # wait for the exporter to go idle without scraping it (a scrape of a
        # growing fleet would be counted as ingestion CPU)
        last = cpu_s(live.proc.pid)
        while True:
            time.sleep(0.5)
            now = cpu_s(live.proc.pid)
            if now - last < 0.005:
                break
            last = now
        ingest_cpu = last - cpu0
        live.wait(lambda f: sample(f, "edge_devices_total") == n, f"{n} devices live", timeout=120)
        live_ready_s = time.time() - t0
        # a fresh exporter loading every retained status
        t0 = time.time()
        fresh = Exporter(h, broker, name="exporter-fresh", log_level="notice")
        fresh.wait(lambda f: sample(f, "edge_devices_total") == n, f"{n} retained", timeout=120)
        retained_s = time.time() - t0
        fresh.stop()

        time.sleep(0.5)
        full_mem = smaps(live.proc.pid)
        body = live.text()
        fams = parse_metrics(body)
        series = sum(len(v) for v in fams.values())
        cpu0 = cpu_s(live.proc.pid)
        full_t, full_size = curl_times(live.url(), args.scrapes)
        scrape_cpu = (cpu_s(live.proc.pid) - cpu0) / args.scrapes
        render_s = sample(live.metrics(), "edge_exporter_render_duration_seconds")

        root = h.path("www")
        os.makedirs(root)
        with open(os.path.join(root, "metrics.txt"), "w") as f:
            f.write(body)
        nginx_port = start_nginx(h, root)
        nginx_t, nginx_size = curl_times(f"http://127.0.0.1:{nginx_port}/metrics.txt",
                                         args.scrapes)

        # a real Prometheus scraping it every 5 s
        prom = Prometheus(h, [f"127.0.0.1:{live.port}"])
        with open(h.path("prometheus.yml")) as f:
            conf = f.read().replace("scrape_interval: 1s", "scrape_interval: 5s").replace(
                "scrape_timeout: 1s", "scrape_timeout: 5s")
        prom.proc.kill()
        prom.proc.wait()
        with open(h.path("prometheus.yml"), "w") as f:
            f.write(conf)
        prom = Prometheus(h, [], config=h.path("prometheus.yml"))
        prom.wait_value("edge_devices_total", n, timeout=60)
        time.sleep(11)
        prom_scrape = prom.value('scrape_duration_seconds{job="edge-fleet"}')
        prom_samples = prom.value('scrape_samples_scraped{job="edge-fleet"}')
        live_after = smaps(live.proc.pid)

    def kb(v):
        return f"{v / 1024:.1f} MiB"

    print(f"\nedge-fleet-exporter, {n} devices ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})\n")
    print("| measure | value | baseline (same run) | ratio |")
    print("|---|---|---|---|")
    print(f"| RSS | {kb(full_mem['Rss'])} | {kb(idle_mem['Rss'])} (0 devices) | "
          f"+{(full_mem['Rss'] - idle_mem['Rss']) / n * 1024:.0f} B/device |")
    print(f"| PSS | {kb(full_mem['Pss'])} | {kb(idle_mem['Pss'])} (0 devices) | "
          f"+{(full_mem['Pss'] - idle_mem['Pss']) / n * 1024:.0f} B/device |")
    print(f"| RSS after {args.scrapes} curl + Prometheus scrapes | {kb(live_after['Rss'])} | | |")
    print(f"| peak RSS (VmHWM, a scrape in flight) | {kb(live_after['HWM'])} | {kb(idle_mem['HWM'])} (0 devices) | |")
    print(f"| /metrics body | {full_size / 1e6:.2f} MB, {series} samples | {idle_size} B (0 devices) | |")
    print(f"| /metrics scrape, median of {args.scrapes} (curl) | {full_t * 1000:.1f} ms | "
          f"{nginx_t * 1000:.1f} ms (nginx, same bytes from a file) | {full_t / nginx_t:.2f}x |")
    print(f"| /metrics scrape, 0 devices | {idle_t * 1000:.2f} ms | | |")
    print(f"| render time (edge_exporter_render_duration_seconds) | {render_s * 1000:.1f} ms | | |")
    print(f"| exporter CPU per scrape | {scrape_cpu * 1000:.1f} ms | | |")
    print(f"| exporter CPU per received message (status or alert) | "
          f"{ingest_cpu / (n + n // 10) * 1e6:.0f} µs | | |")
    print(f"| Prometheus scrape_duration_seconds | {prom_scrape * 1000:.1f} ms | | |")
    print(f"| Prometheus scrape_samples_scraped | {prom_samples:.0f} | | |")
    print(f"| publish {n} retained statuses (benchpub, QoS 1) | {pub_s:.2f} s | | |")
    print(f"| live exporter has all {n} (checked after it went idle) | {live_ready_s:.2f} s after publishing began | | |")
    print(f"| fresh exporter loads {n} retained | {retained_s:.2f} s | | |")
    if abs(nginx_size - full_size) > full_size / 100:
        print(f"warning: nginx served {nginx_size} bytes, the exporter {full_size}", file=sys.stderr)


if __name__ == "__main__":
    main()
