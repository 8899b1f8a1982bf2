/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's configuration: one table (edge/cfgtab.h) for every key, with
 * the alert rules and the sensor overrides as record tables; validate()
 * holds the rules between keys that a table cannot express.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "edge/cfgtab.h"
#include "edge/p11.h"
#include "edge/sensor.h"

#define OVERLAY_NAME "config.overlay.json"
#define CONFIG_MAX   (1u << 20)

static const char *const log_levels[] = {"error", "warning", "notice", "info", "debug", NULL};
static const int log_level_values[] = {3, 4, 5, 6, 7};
static const char *const protocols[] = {"v5", "v311", NULL};
static const int protocol_values[] = {EDGE_MQTT_V5, EDGE_MQTT_V311};
static const char *const tls_versions[] = {"tlsv1.2", "tlsv1.3", NULL};
static const char *const sync_modes[] = {"normal", "full", NULL};
static const int sync_values[] = {EDGE_SYNC_NORMAL, EDGE_SYNC_FULL};
static const char *const ota_boot_modes[] = {"service", "uboot", "tryboot", NULL};
static const int ota_boot_values[] = {EDGE_OTA_BOOT_SERVICE, EDGE_OTA_BOOT_UBOOT,
				      EDGE_OTA_BOOT_TRYBOOT};
/* indexed by enum edge_alert_cmp */
static const char *const cmp_names[] = {">", ">=", "<", "<=", NULL};

/* "alerts": one record per rule; a new array replaces the rule set. */
#define EDGE_CFG_T struct edge_alert_rule
static const struct edge_cfg_key alert_keys[] = {
    {"name", EDGE_CFG_STRING, EDGE_CFG_F_REQUIRED | EDGE_CFG_F_NAME, EDGE_CFG_FIELD(name),
     .desc = "rule name, unique"},
    {"metric", EDGE_CFG_STRING, EDGE_CFG_F_REQUIRED | EDGE_CFG_F_NAME, EDGE_CFG_FIELD(metric),
     .desc = "channel: heart_rate, spo2, systolic, diastolic, body_temperature, ..."},
    {"comparison", EDGE_CFG_ENUM, EDGE_CFG_F_REQUIRED, EDGE_CFG_FIELD(cmp), .names = cmp_names,
     .desc = "how the reading compares with the threshold"},
    {"threshold", EDGE_CFG_DOUBLE, EDGE_CFG_F_REQUIRED, EDGE_CFG_FIELD(threshold), .min = -HUGE_VAL,
     .max = HUGE_VAL, .desc = "in the metric's unit (bpm, %, mmHg, degC)"},
    {"for_s", EDGE_CFG_UINT, 0, EDGE_CFG_FIELD(for_s), .min = 0, .max = 86400, .def = "0",
     .desc = "the condition must hold this long before the alert fires"},
    {"severity", EDGE_CFG_STRING, EDGE_CFG_F_NAME, EDGE_CFG_FIELD(severity), .def = "warning",
     .desc = "{severity} of the alert topic"},
};
static const struct edge_cfgtab alert_tab = EDGE_CFGTAB(alert_keys, 0);
#undef EDGE_CFG_T

/* "sensors": overrides merged by sensor name; 0 keeps the board's value. */
#define EDGE_CFG_T struct edge_sensor_override
static const struct edge_cfg_key sensor_keys[] = {
    {"name", EDGE_CFG_STRING, EDGE_CFG_F_KEY, EDGE_CFG_FIELD(name), .desc = "sensor name"},
    {"interval_ms", EDGE_CFG_UINT, 0, EDGE_CFG_FIELD(interval_ms), .min = 10, .max = 86400000,
     .desc = "sampling period"},
    {"freshness_ms", EDGE_CFG_UINT, 0, EDGE_CFG_FIELD(freshness_ms), .min = 10, .max = 86400000,
     .desc = "older readings are left out of records"},
};
static const struct edge_cfgtab sensor_tab = EDGE_CFGTAB(sensor_keys, 0);
#undef EDGE_CFG_T

static int check_alert(void *base, size_t i, struct edge_cfg_ctx *ctx);

#define EDGE_CFG_T struct edge_config
#define F	   EDGE_CFG_FIELD
#define RUNTIME	   EDGE_CFG_F_RUNTIME
/* One row per key; objects have a row for their description. Keep
 * DESIGN 5.5 and docs/ in step: the keys and defaults are a contract. */
static const struct edge_cfg_key config_keys[] = {
    {"device_id", EDGE_CFG_STRING, EDGE_CFG_F_NAME, F(device_id),
     .desc = "device identity: topics, client id, records (required)"},
    {"board", EDGE_CFG_STRING, 0, F(board), .def = "sim",
     .desc = "board descriptor name (edge-agent --list-boards)"},
    {"boards_dir", EDGE_CFG_STRING, 0, F(boards_dir),
     .desc = "directory searched for <board>.json before the built-in boards"},
    {"state_dir", EDGE_CFG_STRING, 0, F(state_dir), .def = "/var/lib/edge-agent",
     .desc = "outbox, sequence counter, issued certificates"},
    {"log_level", EDGE_CFG_ENUM, RUNTIME, F(log_level), .names = log_levels,
     .values = log_level_values, .def = "info", .desc = "least severe level logged"},
    {"mqtt", EDGE_CFG_OBJECT, .desc = "broker connection"},
    {"mqtt.host", EDGE_CFG_STRING, 0, F(mqtt.host), .def = "127.0.0.1",
     .desc = "broker host name or address"},
    {"mqtt.port", EDGE_CFG_UINT, 0, F(mqtt.port), .min = 1, .max = 65535, .def = "8883",
     .desc = "broker TLS port"},
    {"mqtt.protocol", EDGE_CFG_ENUM, 0, F(mqtt.protocol), .names = protocols,
     .values = protocol_values, .def = "v5",
     .desc = "MQTT version; seq/boot user properties need v5"},
    {"mqtt.keepalive_s", EDGE_CFG_UINT, 0, F(mqtt.keepalive_s), .min = 5, .max = 65535, .def = "30",
     .desc = "MQTT keepalive"},
    {"mqtt.client_id", EDGE_CFG_STRING, 0, F(mqtt.client_id),
     .desc = "client id (default: device_id)"},
    {"mqtt.clean_start", EDGE_CFG_BOOL, 0, F(mqtt.clean_start), .def = "false",
     .desc = "start a new session on each connect; false resumes the broker's session"},
    {"mqtt.session_expiry_s", EDGE_CFG_UINT, 0, F(mqtt.session_expiry_s), .min = 0,
     .max = 4294967295.0, .def = "3600",
     .desc = "MQTT 5 with clean_start false: the broker keeps the session (and the commands "
	     "sent meanwhile) this long after a disconnect; 0 ends it with the connection, "
	     "4294967295 never"},
    {"mqtt.inflight", EDGE_CFG_UINT, 0, F(mqtt.inflight), .min = 1, .max = 65535, .def = "128",
     .desc = "outbox messages published but not yet acknowledged"},
    {"mqtt.connect_timeout_s", EDGE_CFG_UINT, 0, F(mqtt.connect_timeout_s), .min = 1, .max = 600,
     .def = "20", .desc = "give up a connection attempt without CONNACK after this"},
    {"mqtt.tls", EDGE_CFG_OBJECT, .desc = "TLS (always on, server always verified)"},
    {"mqtt.tls.ca_file", EDGE_CFG_STRING, 0, F(mqtt.tls.ca_file),
     .desc = "CA bundle that signs the broker certificate (default with provisioning: "
	     "<state_dir>/ca.crt)"},
    {"mqtt.tls.cert_file", EDGE_CFG_STRING, 0, F(mqtt.tls.cert_file),
     .desc = "client certificate for mutual TLS (default with provisioning: "
	     "<state_dir>/device.crt)"},
    {"mqtt.tls.key_file", EDGE_CFG_STRING, 0, F(mqtt.tls.key_file),
     .desc = "client private key for mutual TLS"},
    {"mqtt.tls.version", EDGE_CFG_STRING, 0, F(mqtt.tls.version), .names = tls_versions,
     .def = "tlsv1.2", .desc = "lowest TLS version accepted"},
    {"mqtt.username", EDGE_CFG_STRING, 0, F(mqtt.username),
     .desc = "MQTT user name (platform mqttUsers)"},
    {"mqtt.password_file", EDGE_CFG_STRING, 0, F(mqtt.password_file),
     .desc = "file holding the MQTT password"},
    {"mqtt.backoff", EDGE_CFG_OBJECT, .desc = "reconnect backoff: full jitter"},
    {"mqtt.backoff.base_ms", EDGE_CFG_UINT, 0, F(mqtt.backoff.base_ms), .min = 10, .max = 3600000,
     .def = "1000", .desc = "first reconnect delay ceiling"},
    {"mqtt.backoff.cap_ms", EDGE_CFG_UINT, 0, F(mqtt.backoff.cap_ms), .min = 10, .max = 86400000,
     .def = "60000", .desc = "largest reconnect delay"},
    {"store", EDGE_CFG_OBJECT, .desc = "SQLite outbox"},
    {"store.max_rows", EDGE_CFG_UINT, 0, F(store.max_rows), .min = 100, .max = 1e12,
     .def = "1000000", .desc = "outbox row cap; the oldest are dropped beyond it"},
    {"store.max_bytes", EDGE_CFG_UINT, 0, F(store.max_bytes), .min = 65536, .max = 1e15,
     .def = "268435456", .desc = "outbox payload byte cap; the oldest are dropped beyond it"},
    {"store.synchronous", EDGE_CFG_ENUM, 0, F(store.synchronous), .names = sync_modes,
     .values = sync_values, .def = "normal",
     .desc = "normal survives a process crash, full also a power cut"},
    {"store.shutdown_flush_ms", EDGE_CFG_UINT, 0, F(store.shutdown_flush_ms), .min = 0,
     .max = 60000, .def = "3000", .desc = "time to keep publishing the backlog after SIGTERM"},
    {"record", EDGE_CFG_OBJECT, .desc = "HealthData records"},
    {"record.interval_ms", EDGE_CFG_UINT, RUNTIME, F(record.interval_ms), .min = 50, .max = 3600000,
     .def = "1000", .desc = "how often a HealthData record is built"},
    {"record.sensor_topics", EDGE_CFG_BOOL, 0, F(record.sensor_topics), .def = "true",
     .desc = "also publish each reading on the sensor topic"},
    {"record.location", EDGE_CFG_OBJECT, 0, F(record.static_location),
     .desc = "static location of a fixed installation (instead of GPS)"},
    {"record.location.latitude", EDGE_CFG_DOUBLE, 0, F(record.latitude), .min = -90, .max = 90,
     .def = "0", .desc = "degrees north"},
    {"record.location.longitude", EDGE_CFG_DOUBLE, 0, F(record.longitude), .min = -180, .max = 180,
     .def = "0", .desc = "degrees east"},
    {"topics", EDGE_CFG_OBJECT,
     .desc = "topic templates: {device_id} {metric} {severity} {action}"},
    {"topics.device_data", EDGE_CFG_STRING, 0, F(topics.device_data), .def = "health/device_data",
     .desc = "HealthData records"},
    {"topics.sensor", EDGE_CFG_STRING, 0, F(topics.sensor), .def = "sensors/{device_id}/{metric}",
     .desc = "single readings"},
    {"topics.status", EDGE_CFG_STRING, 0, F(topics.status), .def = "devices/{device_id}/status",
     .desc = "retained status and Last Will"},
    {"topics.alerts", EDGE_CFG_STRING, 0, F(topics.alerts), .def = "alerts/{severity}",
     .desc = "edge alerts"},
    {"topics.commands", EDGE_CFG_STRING, 0, F(topics.commands),
     .def = "commands/{device_id}/{action}", .desc = "incoming commands"},
    {"topics.responses", EDGE_CFG_STRING, 0, F(topics.responses),
     .def = "devices/{device_id}/responses/{action}", .desc = "command results"},
    {"topics.ota", EDGE_CFG_STRING, 0, F(topics.ota), .def = "devices/{device_id}/ota",
     .desc = "OTA state"},
    {"status", EDGE_CFG_OBJECT, .desc = "status messages"},
    {"status.interval_s", EDGE_CFG_UINT, RUNTIME, F(status.interval_s), .min = 5, .max = 86400,
     .def = "60", .desc = "status refresh period"},
    {"provisioning", EDGE_CFG_OBJECT, 0, F(provisioning.enabled),
     .desc = "zero-touch registration when no device certificate exists"},
    {"provisioning.url", EDGE_CFG_STRING, 0, F(provisioning.url),
     .desc = "provisioning API base URL (https://...)"},
    {"provisioning.ca_file", EDGE_CFG_STRING, 0, F(provisioning.ca_file),
     .desc = "CA that signs the API's certificate"},
    {"provisioning.claim_token_file", EDGE_CFG_STRING, 0, F(provisioning.claim_token_file),
     .desc = "factory claim token"},
    {"provisioning.renew_before_days", EDGE_CFG_UINT, 0, F(provisioning.renew_before_days),
     .min = 1, .max = 3650, .def = "30",
     .desc = "renew the device certificate this long before it expires"},
    {"provisioning.csr_file", EDGE_CFG_STRING, 0, F(provisioning.csr_file),
     .desc = "factory CSR of the device key (default: made at registration)"},
    {"provisioning.realtime_platform", EDGE_CFG_STRING, 0, F(provisioning.realtime_platform),
     .def = "health-data",
     .desc = "realtime platform the data goes to (the server claims it once)"},
    {"provisioning.model", EDGE_CFG_STRING, 0, F(provisioning.model), .def = "edge-gateway",
     .desc = "model reported at registration"},
    {"commands", EDGE_CFG_OBJECT, .desc = "remote commands (docs/commands.md)"},
    {"commands.require_signed", EDGE_CFG_BOOL, 0, F(commands.require_signed), .def = "false",
     .desc = "reboot, restart and config.set must carry a JWS ES256 signature"},
    {"commands.signing_key_file", EDGE_CFG_STRING, 0, F(commands.signing_key_file),
     .desc = "platform public key (PEM, P-256) that signs commands"},
    {"commands.max_payload", EDGE_CFG_UINT, 0, F(commands.max_payload), .min = 256, .max = 1048576,
     .def = "16384", .desc = "larger command payloads are refused"},
    {"commands.dedup_max", EDGE_CFG_UINT, 0, F(commands.dedup_max), .min = 8, .max = 4096,
     .def = "256", .desc = "command ids (with their results) remembered"},
    {"commands.dedup_ttl_s", EDGE_CFG_UINT, 0, F(commands.dedup_ttl_s), .min = 60, .max = 2592000,
     .def = "86400", .desc = "how long a command id is remembered"},
    {"ctl", EDGE_CFG_OBJECT, .desc = "local control socket (edgectl)"},
    {"ctl.enabled", EDGE_CFG_BOOL, 0, F(ctl.enabled), .def = "true",
     .desc = "serve the control socket"},
    {"ctl.socket", EDGE_CFG_STRING, 0, F(ctl.socket),
     .desc = "socket path (default <state_dir>/edgectl.sock)"},
    {"ctl.group", EDGE_CFG_STRING, 0, F(ctl.group),
     .desc = "group owning the socket (mode 0660); empty keeps ours"},
    {"ctl.max_clients", EDGE_CFG_UINT, 0, F(ctl.max_clients), .min = 1, .max = 64, .def = "8",
     .desc = "concurrent edgectl connections"},
    {"ingress", EDGE_CFG_OBJECT, .desc = "readings from constrained nodes (docs/ingress.md)"},
    {"ingress.coap", EDGE_CFG_OBJECT, 0, F(ingress.coap.enabled),
     .desc = "CoAP/DTLS-PSK endpoint for battery nodes: POST /v1/readings (SenML)"},
    {"ingress.coap.address", EDGE_CFG_STRING, 0, F(ingress.coap.address),
     .def = "::", .desc = "address of the coaps:// endpoint (\"::\" takes IPv4 and IPv6)"},
    {"ingress.coap.port", EDGE_CFG_UINT, 0, F(ingress.coap.port), .min = 1, .max = 65535,
     .def = "5684", .desc = "coaps:// UDP port"},
    {"ingress.coap.plain_address", EDGE_CFG_STRING, 0, F(ingress.coap.plain_address),
     .def = "127.0.0.1",
     .desc = "address of the plain coap:// endpoint (labs); requests from beyond loopback get "
	     "4.01"},
    {"ingress.coap.plain_port", EDGE_CFG_UINT, 0, F(ingress.coap.plain_port), .min = 0,
     .max = 65535, .def = "0",
     .desc = "plain coap:// UDP port for labs (node named by ?node=ID); 0 = off"},
    {"ingress.coap.keys_file", EDGE_CFG_STRING, 0, F(ingress.coap.keys_file),
     .def = "/etc/edge-agent/nodes.json",
     .desc = "node ids and PSKs (edge-factory nodes); 0600, owned by root"},
    {"ingress.coap.max_age_s", EDGE_CFG_UINT, 0, F(ingress.coap.max_age_s), .min = 60,
     .max = 31536000, .def = "86400", .desc = "readings older than this are refused (4.00)"},
    {"ingress.coap.freshness_ms", EDGE_CFG_UINT, 0, F(ingress.coap.freshness_ms), .min = 1000,
     .max = 86400000, .def = "300000",
     .desc = "a node's vital counts for its HealthData record this long"},
    {"ingress.coap.rate_per_min", EDGE_CFG_UINT, 0, F(ingress.coap.rate_per_min), .min = 1,
     .max = 600000, .def = "120",
     .desc = "packs per minute per node (token bucket); beyond it 4.29 with Max-Age"},
    {"ingress.coap.burst", EDGE_CFG_UINT, 0, F(ingress.coap.burst), .min = 1, .max = 10000,
     .def = "20", .desc = "packs a node may send at once before the rate applies"},
    {"ingress.coap.max_sessions", EDGE_CFG_UINT, 0, F(ingress.coap.max_sessions), .min = 1,
     .max = 100000, .def = "1024",
     .desc = "established DTLS sessions; beyond it the least recently active is closed"},
    {"ingress.coap.max_handshakes", EDGE_CFG_UINT, 0, F(ingress.coap.max_handshakes), .min = 2,
     .max = 4096, .def = "32",
     .desc = "DTLS handshakes in progress; beyond it the oldest is dropped, and from half of it "
	     "new peers must first return a cookie"},
    {"ingress.coap.handshake_timeout_ms", EDGE_CFG_UINT, 0, F(ingress.coap.handshake_timeout_ms),
     .min = 200, .max = 120000, .def = "10000",
     .desc = "a DTLS handshake not finished in this time is dropped"},
    {"ingress.coap.session_timeout_s", EDGE_CFG_UINT, 0, F(ingress.coap.session_timeout_s),
     .min = 10, .max = 604800, .def = "3600", .desc = "an idle DTLS session is closed after this"},
    {"ingress.coap.pki", EDGE_CFG_OBJECT, 0, F(ingress.coap.pki.enabled),
     .desc = "DTLS with certificates beside PSK, same port: node id = the client certificate's "
	     "CN, listed in keys_file"},
    {"ingress.coap.pki.ca_file", EDGE_CFG_STRING, 0, F(ingress.coap.pki.ca_file),
     .desc = "CA (PEM) that signs node certificates; the only one trusted (required)"},
    {"ingress.coap.pki.cert_file", EDGE_CFG_STRING, 0, F(ingress.coap.pki.cert_file),
     .desc = "the gateway's certificate (PEM) shown to nodes (required)"},
    {"ingress.coap.pki.key_file", EDGE_CFG_STRING, 0, F(ingress.coap.pki.key_file),
     .desc = "the gateway's private key (PEM) for cert_file (required)"},
    {"watchdog", EDGE_CFG_OBJECT,
     .desc = "hardware watchdog: resets the board when the agent hangs (docs/hardware.md)"},
    {"watchdog.enabled", EDGE_CFG_BOOL, 0, F(watchdog.enabled), .def = "true",
     .desc = "arm the board's watchdog and feed it while the agent is healthy (boards without "
	     "one: nothing to arm)"},
    {"watchdog.timeout_s", EDGE_CFG_UINT, 0, F(watchdog.timeout_s), .min = 2, .max = 3600,
     .def = "15", .desc = "seconds without a feed before the board resets (BCM2835: 15 at most)"},
    {"watchdog.device", EDGE_CFG_STRING, 0, F(watchdog.device),
     .desc = "watchdog device, e.g. /dev/watchdog1; empty = the board's \"watchdog\""},
    {"ota", EDGE_CFG_OBJECT, .desc = "over-the-air updates (docs/ota.md)"},
    {"ota.enabled", EDGE_CFG_BOOL, 0, F(ota.enabled), .def = "true",
     .desc = "answer the ota command (without a manifest key every install is refused)"},
    {"ota.dir", EDGE_CFG_STRING, 0, F(ota.dir),
     .desc = "state.json, history.json and downloads; empty = <state_dir>/ota"},
    {"ota.manifest_key_file", EDGE_CFG_STRING, 0, F(ota.manifest_key_file),
     .desc = "vendor P-256 public key (PEM) that signs manifests (edge-ota-sign keygen)"},
    {"ota.ca_file", EDGE_CFG_STRING, 0, F(ota.ca_file),
     .desc = "CA bundle for the image server; empty = the system's trust store"},
    {"ota.allow_http", EDGE_CFG_BOOL, 0, F(ota.allow_http), .def = "false",
     .desc = "accept http:// image URLs (the image is still hashed; labs only)"},
    {"ota.max_bytes", EDGE_CFG_UINT, 0, F(ota.max_bytes), .min = 1, .max = 9007199254740992.0,
     .def = "4294967296", .desc = "largest image accepted"},
    {"ota.reserve_bytes", EDGE_CFG_UINT, 0, F(ota.reserve_bytes), .min = 0,
     .max = 9007199254740992.0, .def = "67108864",
     .desc = "free space left on ota.dir's file system after the download"},
    {"ota.download_deadline_h", EDGE_CFG_UINT, 0, F(ota.download_deadline_h), .min = 1, .max = 8760,
     .def = "72", .desc = "a download still not done after this has failed"},
    {"ota.health_window_s", EDGE_CFG_UINT, 0, F(ota.health_window_s), .min = 1, .max = 86400,
     .def = "300", .desc = "trial length: healthy this long -> commit"},
    {"ota.health_cmd", EDGE_CFG_STRING, 0, F(ota.health_cmd),
     .desc = "optional command (sh -c) that must exit 0 at the end of the trial"},
    {"ota.max_trial_starts", EDGE_CFG_UINT, 0, F(ota.max_trial_starts), .min = 1, .max = 100,
     .def = "3", .desc = "agent starts allowed in a trial before it has failed"},
    {"ota.bundle", EDGE_CFG_OBJECT, 0, F(ota.bundle.enabled),
     .desc = "the bundle installer: the image into the inactive A/B slot"},
    {"ota.bundle.boot", EDGE_CFG_ENUM, 0, F(ota.bundle.boot), .names = ota_boot_modes,
     .values = ota_boot_values, .def = "service",
     .desc = "service (the agent's own files), uboot (libubootenv) or tryboot (Raspberry Pi)"},
    {"ota.bundle.slots", EDGE_CFG_OBJECT, .desc = "the two slots (uboot, tryboot)"},
    {"ota.bundle.slots.A", EDGE_CFG_STRING, 0, F(ota.bundle.slots.a),
     .desc = "slot A: a partition or a file"},
    {"ota.bundle.slots.B", EDGE_CFG_STRING, 0, F(ota.bundle.slots.b),
     .desc = "slot B: a partition or a file"},
    {"ota.bundle.tries", EDGE_CFG_UINT, 0, F(ota.bundle.tries), .min = 1, .max = 9, .def = "3",
     .desc = "boots the boot loader gives a new slot before falling back"},
    {"ota.bundle.uboot_env_config", EDGE_CFG_STRING, 0, F(ota.bundle.uboot_env_config),
     .def = "/etc/fw_env.config", .desc = "libubootenv's configuration (uboot)"},
    {"ota.bundle.cmdline", EDGE_CFG_STRING, 0, F(ota.bundle.cmdline), .def = "/proc/cmdline",
     .desc = "where edge.slot=A|B of the booted slot is read (uboot)"},
    {"ota.bundle.tryboot_dir", EDGE_CFG_STRING, 0, F(ota.bundle.tryboot_dir),
     .def = "/boot/firmware", .desc = "the firmware partition holding autoboot.txt (tryboot)"},
    {"ota.rauc", EDGE_CFG_OBJECT, 0, F(ota.rauc.enabled),
     .desc = "the rauc installer (rauc install, mark-good/mark-bad)"},
    {"ota.rauc.conf", EDGE_CFG_STRING, 0, F(ota.rauc.conf),
     .desc = "RAUC system.conf; empty = RAUC's default"},
    {"ota.swupdate", EDGE_CFG_OBJECT, 0, F(ota.swupdate.enabled),
     .desc = "the swupdate installer (swupdate -k -e -i; boot through U-Boot variables)"},
    {"ota.swupdate.key_file", EDGE_CFG_STRING, 0, F(ota.swupdate.key_file),
     .desc = "the certificate SWUpdate checks .swu signatures with"},
    {"ota.swupdate.selection_a", EDGE_CFG_STRING, 0, F(ota.swupdate.selection_a),
     .def = "stable,copy1", .desc = "-e selection that writes slot A"},
    {"ota.swupdate.selection_b", EDGE_CFG_STRING, 0, F(ota.swupdate.selection_b),
     .def = "stable,copy2", .desc = "-e selection that writes slot B"},
    {"ota.swupdate.hwrevision", EDGE_CFG_STRING, 0, F(ota.swupdate.hwrevision),
     .desc = "BOARD:REVISION passed as -H (a build with hardware compatibility refuses every "
	     ".swu without it); empty = SWUpdate reads /etc/hwrevision"},
    /* PKCS#11 (docs/security.md): the device key stays in a token. */
    {"pkcs11", EDGE_CFG_OBJECT,
     .desc = "device key in a token (TPM 2.0, secure element, HSM): mqtt.tls.key_file = "
	     "\"pkcs11:token=...;object=...;type=private\""},
    {"pkcs11.module", EDGE_CFG_STRING, 0, F(pkcs11.module),
     .desc = "PKCS#11 module (.so); empty = p11-kit's proxy, which loads every module "
	     "registered on the system"},
    {"pkcs11.pin_file", EDGE_CFG_STRING, 0, F(pkcs11.pin_file),
     .desc = "file holding the token's user PIN (0600) when the URI has no pin-source"},
    {"sensors", EDGE_CFG_MAP, RUNTIME, F(sensors), EDGE_CFG_COUNT(n_sensors), .sub = &sensor_tab,
     .desc = "per-sensor overrides of the board by sensor name; unset keys keep the board's"},
    {"alerts", EDGE_CFG_ARRAY, RUNTIME, F(alerts), EDGE_CFG_COUNT(n_alerts), .sub = &alert_tab,
     .check = check_alert, .desc = "edge alert rules (a new list replaces the old one)"},
};
static const struct edge_cfgtab tab = EDGE_CFGTAB(config_keys, 0);
#undef RUNTIME
#undef F
#undef EDGE_CFG_T

const struct edge_cfgtab *edge_config_table(void)
{
	return &tab;
}

const char *edge_alert_cmp_str(int cmp)
{
	return cmp >= 0 && cmp < 4 ? cmp_names[cmp] : NULL;
}

static int check_alert(void *base, size_t i, struct edge_cfg_ctx *ctx)
{
	const struct edge_config *cfg = base;
	const struct edge_alert_rule *rule = &cfg->alerts[i];

	if (edge_channel_from_name(rule->metric) < 0)
		return edge_cfg_errorf(ctx, "metric",
				       "\"%s\" is not a channel name (heart_rate, spo2, systolic, "
				       "diastolic, body_temperature, ...)",
				       rule->metric);
	for (size_t j = 0; j < i; j++)
		if (strcmp(cfg->alerts[j].name, rule->name) == 0)
			return edge_cfg_errorf(ctx, "name", "\"%s\" twice", rule->name);
	return 0;
}

void edge_config_defaults(struct edge_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* no allocating key in this table: cannot fail */
	(void)edge_cfg_defaults(&tab, cfg);
}

/* Cross-field rules the table cannot express. root: the whole file (NULL
 * for an overlay, which cannot change these keys). */
static int validate(struct edge_config *cfg, const cJSON *root, const char *origin, char *err,
		    size_t errlen)
{
	const cJSON *loc;

	if (root && !cJSON_GetObjectItemCaseSensitive(root, "device_id"))
		return edge_cfg_fail(err, errlen, "%s: device_id: required", origin);
	if (!*cfg->state_dir || cfg->state_dir[0] != '/')
		return edge_cfg_fail(err, errlen, "%s: state_dir: must be an absolute path",
				     origin);
	if (cfg->mqtt.backoff.cap_ms < cfg->mqtt.backoff.base_ms)
		return edge_cfg_fail(err, errlen, "%s: mqtt.backoff.cap_ms: %u is below base_ms %u",
				     origin, cfg->mqtt.backoff.cap_ms, cfg->mqtt.backoff.base_ms);
	if (!*cfg->mqtt.client_id)
		strcpy(cfg->mqtt.client_id, cfg->device_id);
	if (!*cfg->mqtt.host)
		return edge_cfg_fail(err, errlen, "%s: mqtt.host: must not be empty", origin);
	if (!!*cfg->mqtt.tls.cert_file != !!*cfg->mqtt.tls.key_file)
		return edge_cfg_fail(err, errlen,
				     "%s: mqtt.tls.%s: cert_file and key_file go together", origin,
				     *cfg->mqtt.tls.cert_file ? "key_file" : "cert_file");
	if (edge_p11_is_uri(cfg->mqtt.tls.key_file)) {
		struct edge_p11_uri u;
		char e[300];

		if (edge_p11_uri_parse(cfg->mqtt.tls.key_file, &u, e, sizeof(e)))
			return edge_cfg_fail(err, errlen, "%s: mqtt.tls.key_file: %s", origin, e);
		if (*cfg->pkcs11.pin_file && *cfg->pkcs11.pin_file != '/')
			return edge_cfg_fail(
			    err, errlen, "%s: pkcs11.pin_file: must be an absolute path", origin);
	}
	if (*cfg->mqtt.password_file && !*cfg->mqtt.username)
		return edge_cfg_fail(err, errlen, "%s: mqtt.password_file: needs mqtt.username",
				     origin);
	if (cfg->provisioning.enabled) {
		if (strncmp(cfg->provisioning.url, "https://", 8) != 0)
			return edge_cfg_fail(
			    err, errlen, "%s: provisioning.url: must start with https://", origin);
		if (!*cfg->provisioning.ca_file)
			return edge_cfg_fail(err, errlen, "%s: provisioning.ca_file: required",
					     origin);
		if (!*cfg->provisioning.claim_token_file)
			return edge_cfg_fail(err, errlen,
					     "%s: provisioning.claim_token_file: required", origin);
		/* The issued identity lives in state_dir unless given explicitly. */
		if (!*cfg->mqtt.tls.cert_file) {
			snprintf(cfg->mqtt.tls.cert_file, sizeof(cfg->mqtt.tls.cert_file),
				 "%.200s/device.crt", cfg->state_dir);
			snprintf(cfg->mqtt.tls.key_file, sizeof(cfg->mqtt.tls.key_file),
				 "%.200s/device.key", cfg->state_dir);
		}
		if (!*cfg->mqtt.tls.ca_file)
			snprintf(cfg->mqtt.tls.ca_file, sizeof(cfg->mqtt.tls.ca_file),
				 "%.200s/ca.crt", cfg->state_dir);
	}
	if (!*cfg->mqtt.tls.ca_file)
		return edge_cfg_fail(
		    err, errlen, "%s: mqtt.tls.ca_file: required (the broker is always verified)",
		    origin);
	if (!*cfg->mqtt.tls.cert_file && !*cfg->mqtt.username)
		return edge_cfg_fail(
		    err, errlen,
		    "%s: mqtt.tls.cert_file: the broker needs a client certificate "
		    "or mqtt.username",
		    origin);
	if (!*cfg->ota.dir)
		snprintf(cfg->ota.dir, sizeof(cfg->ota.dir), "%.200s/ota", cfg->state_dir);
	else if (cfg->ota.dir[0] != '/')
		return edge_cfg_fail(err, errlen, "%s: ota.dir: must be an absolute path", origin);
	if (cfg->ota.bundle.enabled && cfg->ota.bundle.boot != EDGE_OTA_BOOT_SERVICE &&
	    (!*cfg->ota.bundle.slots.a || !*cfg->ota.bundle.slots.b))
		return edge_cfg_fail(err, errlen,
				     "%s: ota.bundle.slots: A and B are required with boot \"%s\"",
				     origin, ota_boot_modes[cfg->ota.bundle.boot]);
	/* the trial needs a status published inside its window */
	if (cfg->ota.health_window_s <= cfg->status.interval_s)
		return edge_cfg_fail(err, errlen,
				     "%s: ota.health_window_s: %u must be longer than "
				     "status.interval_s (%u): a trial needs a status in its window",
				     origin, cfg->ota.health_window_s, cfg->status.interval_s);
	if (cfg->ingress.coap.enabled && cfg->ingress.coap.pki.enabled) {
		const char *miss = !*cfg->ingress.coap.pki.ca_file     ? "ca_file"
				   : !*cfg->ingress.coap.pki.cert_file ? "cert_file"
				   : !*cfg->ingress.coap.pki.key_file  ? "key_file"
								       : NULL;

		if (miss)
			return edge_cfg_fail(err, errlen, "%s: ingress.coap.pki.%s: required",
					     origin, miss);
	}
	if (cfg->ota.swupdate.enabled && !*cfg->ota.swupdate.key_file)
		return edge_cfg_fail(err, errlen, "%s: ota.swupdate.key_file: required", origin);
	loc = root ? cJSON_GetObjectItemCaseSensitive(
			 cJSON_GetObjectItemCaseSensitive(root, "record"), "location")
		   : NULL;
	if (loc && (!cJSON_GetObjectItemCaseSensitive(loc, "latitude") ||
		    !cJSON_GetObjectItemCaseSensitive(loc, "longitude")))
		return edge_cfg_fail(err, errlen,
				     "%s: record.location: needs latitude and longitude", origin);
	/* every topic template: non-empty, no wildcards */
	for (size_t i = 0; i < tab.n_keys; i++) {
		const char *t = (const char *)cfg + config_keys[i].off;

		if (config_keys[i].type != EDGE_CFG_STRING ||
		    strncmp(config_keys[i].path, "topics.", 7) != 0)
			continue;
		if (!*t || strpbrk(t, "#+"))
			return edge_cfg_fail(
			    err, errlen,
			    "%s: %s: \"%s\" must be a non-empty topic without wildcards", origin,
			    config_keys[i].path, t);
	}
	if (!strstr(cfg->topics.commands, "{action}") ||
	    strstr(cfg->topics.commands, "{action}")[8] != '\0')
		return edge_cfg_fail(err, errlen, "%s: topics.commands: must end with {action}",
				     origin);
	if (cfg->commands.require_signed && !*cfg->commands.signing_key_file)
		return edge_cfg_fail(
		    err, errlen,
		    "%s: commands.signing_key_file: required with commands.require_signed", origin);
	return 0;
}

/* The whole file: defaults, its keys, the rules between keys. */
static int load_root(const cJSON *root, const char *origin, struct edge_config *cfg, char *err,
		     size_t errlen)
{
	int rc;

	edge_config_defaults(cfg);
	rc = edge_cfg_apply(&tab, cfg, root, 0, origin, err, errlen);
	return rc ? rc : validate(cfg, root, origin, err, errlen);
}

/* An overlay: run-time keys only, over what cfg holds. */
static int apply_root(const cJSON *root, const char *origin, struct edge_config *cfg, char *err,
		      size_t errlen)
{
	int rc = edge_cfg_apply(&tab, cfg, root, EDGE_CFG_MERGE | EDGE_CFG_RUNTIME_ONLY, origin,
				err, errlen);

	return rc ? rc : validate(cfg, NULL, origin, err, errlen);
}

int edge_config_parse(const char *json, size_t len, const char *origin, struct edge_config *cfg,
		      char *err, size_t errlen)
{
	cJSON *root;
	int rc;

	edge_config_defaults(cfg);
	rc = edge_cfg_parse_json(json, len, origin, &root, err, errlen);
	if (rc)
		return rc;
	rc = load_root(root, origin, cfg, err, errlen);
	cJSON_Delete(root);
	return rc;
}

int edge_config_load(const char *path, struct edge_config *cfg, char *err, size_t errlen)
{
	char opath[EDGE_PATH_MAX + 32];
	cJSON *root;
	int rc;

	edge_config_defaults(cfg);
	if (edge_cfg_read_json(path, CONFIG_MAX, &root, err, errlen))
		return -EINVAL;
	rc = load_root(root, path, cfg, err, errlen);
	cJSON_Delete(root);
	if (rc)
		return rc;
	edge_config_overlay_path(cfg, opath, sizeof(opath));
	rc = edge_cfg_read_json(opath, CONFIG_MAX, &root, err, errlen);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return -EINVAL;
	rc = apply_root(root, opath, cfg, err, errlen);
	cJSON_Delete(root);
	return rc;
}

int edge_config_overlay_path(const struct edge_config *cfg, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/" OVERLAY_NAME, cfg->state_dir);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int edge_config_apply_json(struct edge_config *cfg, const char *json, size_t len,
			   const char *origin, char *err, size_t errlen)
{
	cJSON *root;
	int rc = edge_cfg_parse_json(json, len, origin, &root, err, errlen);

	if (rc)
		return rc;
	rc = apply_root(root, origin, cfg, err, errlen);
	cJSON_Delete(root);
	return rc;
}

void edge_config_print_reference(FILE *out)
{
	fprintf(out, "Configuration keys (JSON):\n");
	edge_cfg_print_reference(&tab, out);
}

int edge_topic_format(char *out, size_t outlen, const char *tmpl, const char *device_id,
		      const char *metric, const char *severity, const char *action)
{
	static const char *const keys[] = {"{device_id}", "{metric}", "{severity}", "{action}"};
	const char *vals[] = {device_id, metric, severity, action};
	size_t o = 0;

	for (const char *p = tmpl; *p;) {
		size_t k;

		for (k = 0; k < 4; k++)
			if (strncmp(p, keys[k], strlen(keys[k])) == 0)
				break;
		if (k < 4) {
			const char *v = vals[k] ? vals[k] : "";
			size_t n = strlen(v);

			if (o + n >= outlen)
				return -ENAMETOOLONG;
			memcpy(out + o, v, n);
			o += n;
			p += strlen(keys[k]);
		} else {
			if (o + 1 >= outlen)
				return -ENAMETOOLONG;
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return (int)o;
}
