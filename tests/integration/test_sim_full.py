"""The agent on the sim-full board: the real drivers (MAX30102, MAX30205,
MLX90614, NMEA GPS on a UART, BLE-cuff decoding) run against register-level
chip models and their readings become complete HealthData records."""
# ctest-timeout: 120
import json

import edgetest as et


def test_records_from_real_drivers():
    with et.Harness("simfull") as h:
        h.make_pki()
        b = h.start_broker()
        sub = h.subscribe(b, ["health/device_data", "sensors/sim-0001/#"])
        a = h.start_agent(h.agent_config(b, board="sim-full"))
        recs = sub.wait("health/device_data", 2, timeout=40)
        for m in recs:
            r = json.loads(m[1])
            et.check(len(r) == 9, f"record {r}")
            et.check(40 <= r["heartRate"] <= 200 and 80 <= r["oxygenSaturation"] <= 100, str(r))
        metrics = {m[0].split("/")[-1] for m in sub.snapshot("sensors/sim-0001/+")}
        for want in ("heart_rate", "spo2", "body_temperature", "latitude", "systolic"):
            et.check(want in metrics, f"no {want} readings: {sorted(metrics)}")
        et.check(a.stop() == 0, "exit code")


if __name__ == "__main__":
    et.main([test_records_from_real_drivers])
