#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpus of fuzz_max30102: synthetic photoplethysmograms
(pulses are dips of reflected light on a DC level, a smaller diastolic
wave, breathing wander, noise) as the MAX30102 FIFO would deliver them,
in the target's input format (see fuzz_max30102.c). Deterministic."""
import math
import os
import random

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def ppg(n, fs, bpm, spo2, dc_ir=130000, perf=0.02, noise=25, seed=1):
    rnd = random.Random(seed)
    r = (110.0 - spo2) / 25.0  # SpO2 = 110 - 25 R
    dc_red = dc_ir * 0.8
    out = []
    for k in range(n):
        t = k / fs
        ph = (t * bpm / 60.0) % 1.0
        pulse = math.exp(-((ph - 0.25) / 0.08) ** 2) + 0.35 * math.exp(-((ph - 0.6) / 0.1) ** 2)
        wander = 0.004 * math.sin(2 * math.pi * 0.25 * t)
        ir = dc_ir * (1 - perf * pulse + wander) + rnd.gauss(0, noise)
        red = dc_red * (1 - r * perf * pulse + wander) + rnd.gauss(0, noise)
        out.append((max(0, min(0x3FFFF, int(red))), max(0, min(0x3FFFF, int(ir)))))
    return out


def sample_bytes(red, ir):
    return bytes([(red >> 16) & 3, (red >> 8) & 255, red & 255, (ir >> 16) & 3, (ir >> 8) & 255, ir & 255])


def driver_input(samples, per_fetch=25, ctl0=0, ovf_at=None, wrap=True):
    """First byte 0 (driver mode), then one fetch per per_fetch samples."""
    out = bytearray([0])
    rd = 0
    for i in range(0, len(samples), per_fetch):
        chunk = samples[i:i + per_fetch]
        ctl = ctl0 if i == 0 else 0
        ovf = 3 if ovf_at is not None and i == ovf_at else 0
        wr = (rd + len(chunk)) & 0x1F
        out += bytes([ctl, wr, ovf, rd])
        for red, ir in chunk:
            out += sample_bytes(red, ir)
        rd = wr if wrap else 0
    return bytes(out)


def ppg_input(samples, fs, ir_only=False):
    out = bytearray([1 | (2 if ir_only else 0), fs - 10])
    for red, ir in samples:
        out += sample_bytes(red, ir)
    return bytes(out)


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(HERE, exist_ok=True)
    write("drv_72bpm_97pct", driver_input(ppg(700, 100, 72, 97)))
    write("drv_120bpm_92pct", driver_input(ppg(700, 100, 120, 92, seed=2)))
    write("drv_50bpm_99pct", driver_input(ppg(700, 100, 50, 99, seed=3)))
    write("drv_50hz", driver_input(ppg(350, 50, 80, 96, seed=4), per_fetch=12, ctl0=4 | 8))
    write("drv_overflow", driver_input(ppg(700, 100, 72, 97, seed=5), ovf_at=250))
    write("drv_no_finger", driver_input(ppg(300, 100, 72, 97, dc_ir=3000, seed=6)))
    write("drv_bus_errors", driver_input(ppg(200, 100, 72, 97, seed=7), ctl0=1) + bytes([2, 10, 0, 0]))
    write("drv_full_fifo", bytes([0, 0, 5, 5, 5]) + b"".join(sample_bytes(r, i) for r, i in ppg(32, 100, 72, 97)))
    write("ppg_100hz", ppg_input(ppg(500, 100, 72, 97, seed=8), 100))
    write("ppg_25hz_ir_only", ppg_input(ppg(250, 25, 65, 98, seed=9), 25, ir_only=True))
    write("ppg_200hz_fast", ppg_input(ppg(512, 200, 180, 95, seed=10), 200))


if __name__ == "__main__":
    main()
