/* SPDX-License-Identifier: Apache-2.0 */
/* edgectl's reading of the agent's answers: see reply.h. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reply.h"

static const char *str(const cJSON *o, const char *k, const char *def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : def;
}

static double num(const cJSON *o, const char *k, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

/* The numbers come from the agent's JSON: any double, 1e999 included.
 * Beyond 1e12 s (some 31,700 years) a duration or a date means nothing, and
 * the conversions to integers would be undefined: they are clamped there. */
#define SECONDS_MAX 1e12

static void duration(double s, char *out, size_t len)
{
	uint64_t t = s > 0 ? (uint64_t)(s < SECONDS_MAX ? s : SECONDS_MAX) : 0;

	if (t >= 86400)
		snprintf(out, len, "%" PRIu64 "d %" PRIu64 "h %" PRIu64 "min", t / 86400,
			 t % 86400 / 3600, t % 3600 / 60);
	else if (t >= 3600)
		snprintf(out, len, "%" PRIu64 "h %" PRIu64 "min %" PRIu64 "s", t / 3600,
			 t % 3600 / 60, t % 60);
	else if (t >= 60)
		snprintf(out, len, "%" PRIu64 "min %" PRIu64 "s", t / 60, t % 60);
	else
		snprintf(out, len, "%" PRIu64 "s", t);
}

/* Epoch milliseconds as UTC text, with the date or the time of day only;
 * "?" for a date gmtime cannot give. */
static void stamp_ms(double ms, bool date, char *out, size_t len)
{
	double s = ms / 1000;
	time_t t = (time_t)(s > SECONDS_MAX ? SECONDS_MAX : s < -SECONDS_MAX ? -SECONDS_MAX : s);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || (date ? strftime(out, len, "%Y-%m-%d %H:%M:%S UTC", &tm)
					: strftime(out, len, "%H:%M:%S", &tm)) == 0)
		snprintf(out, len, "?");
}

static void when(double ms, char *out, size_t len)
{
	double now = (double)time(NULL) * 1000, ago = (now - ms) / 1000;
	char rel[48], stamp[32];

	if (ms <= 0) {
		snprintf(out, len, "never");
		return;
	}
	stamp_ms(ms, true, stamp, sizeof(stamp));
	if (ago > -2 && ago < 1) { /* clocks of a few ms apart */
		snprintf(out, len, "%s; just now", stamp);
		return;
	}
	duration(ago < 0 ? -ago : ago, rel, sizeof(rel));
	snprintf(out, len, "%s; %s %s", stamp, rel, ago < 0 ? "left" : "ago");
}

static void print_status(const cJSON *resp, FILE *out)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(resp, "status");
	const cJSON *sensors = cJSON_GetObjectItemCaseSensitive(st, "sensors");
	const cJSON *alerts = cJSON_GetObjectItemCaseSensitive(st, "alerts");
	const cJSON *rules = cJSON_GetObjectItemCaseSensitive(resp, "alerts");
	const cJSON *mem = cJSON_GetObjectItemCaseSensitive(st, "memory");
	const cJSON *s;
	bool connected = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "connected"));
	bool healthy = connected;
	char buf[96];

	cJSON_ArrayForEach (s, sensors)
		healthy &= !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(s, "healthy")) ||
			   cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(s, "enabled"));
	fprintf(out, "%s edge-agent %s - device %s\n", healthy ? "\u25cf" : "\u00d7",
		str(st, "version", "?"), str(st, "deviceId", "?"));
	fprintf(out, "      Active: %s (%s) since ", connected ? "online" : "offline",
		connected ? "connected" : "broker unreachable");
	duration(num(st, "uptimeS", 0), buf, sizeof(buf));
	fprintf(out, "%s; pid %.0f\n", buf, num(resp, "pid", 0));
	fprintf(out, "      Config: %s\n", str(resp, "config", "?"));
	fprintf(out, "       Board: %s, boot %s, firmware %s\n", str(st, "board", "?"),
		str(st, "boot", "?"), str(st, "firmware", "?"));
	{
		const cJSON *ota = cJSON_GetObjectItemCaseSensitive(st, "ota");

		if (cJSON_IsObject(ota))
			fprintf(out, "      Update: %s%s%s%s%s%s%s\n", str(ota, "state", "?"),
				str(ota, "version", NULL) ? " " : "", str(ota, "version", ""),
				str(ota, "slot", NULL) ? ", booted slot " : "",
				str(ota, "slot", ""), str(ota, "error", NULL) ? "; " : "",
				str(ota, "error", ""));
	}
	fprintf(out, "      Broker: %s:%.0f, reconnects %.0f\n", str(resp, "broker", "?"),
		num(resp, "port", 0), num(st, "reconnects", 0));
	when(num(st, "lastPublishMs", 0), buf, sizeof(buf));
	fprintf(out, "Last publish: %s\n", buf);
	fprintf(out,
		"     Backlog: %.0f message(s), %.1f KiB; dropped %.0f (cap %.0f, errors %.0f)\n",
		num(st, "backlog", 0), num(st, "backlogBytes", 0) / 1024, num(st, "dropped", 0),
		num(st, "droppedCap", 0), num(st, "droppedError", 0));
	fprintf(out, "     Records: %.0f built, %.0f incomplete\n", num(st, "records", 0),
		num(st, "recordsIncomplete", 0));
	fprintf(out, "      Alerts: %.0f active, %.0f total\n", num(alerts, "active", 0),
		num(alerts, "total", 0));
	cJSON_ArrayForEach (s, rules)
		fprintf(out, "              %-16s %-8s %s (%s = %g)\n", str(s, "rule", "?"),
			str(s, "state", "?"), str(s, "severity", "?"), str(s, "metric", "?"),
			num(s, "value", 0));
	when(num(st, "certExpiresMs", 0), buf, sizeof(buf));
	fprintf(out, " Certificate: %s\n", num(st, "certExpiresMs", 0) > 0 ? buf : "unknown");
	fprintf(out, "     Sensors:\n");
	cJSON_ArrayForEach (s, sensors) {
		bool en = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(s, "enabled"));
		bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "healthy"));

		when(num(s, "lastReadingMs", 0), buf, sizeof(buf));
		fprintf(out,
			"              %s %-12s %-9s %.0f readings, %.0f errors, last %s%s%s\n",
			!en  ? "-"
			: ok ? "\u25cf"
			     : "\u00d7",
			s->string ? s->string : "?", /* "sensors" may be an array */
			!en  ? "disabled"
			: ok ? "healthy"
			     : "failing",
			num(s, "readings", 0), num(s, "errors", 0), buf,
			str(s, "error", NULL) ? ": " : "", str(s, "error", ""));
	}
	fprintf(out, "      Memory: rss %.1f MiB, pss %.1f MiB\n", num(mem, "rssKb", 0) / 1024,
		num(mem, "pssKb", 0) / 1024);
	fprintf(out, "  Last error: %s\n",
		*str(st, "lastError", "") ? str(st, "lastError", "") : "-");
}

static int print_result(const cJSON *resp, bool json, FILE *out)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(resp, "result");
	const char *status = str(res, "status", "error");
	char *text;

	if (json) {
		text = cJSON_PrintUnformatted(res);
		fprintf(out, "%s\n", text ? text : "null");
		free(text);
	} else {
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(res, "data");

		fprintf(out, "%s: %s\n", status, str(res, "message", ""));
		if (data && !cJSON_IsNull(data) && cJSON_GetArraySize(data)) {
			text = cJSON_Print(data);
			fprintf(out, "%s\n", text ? text : "");
			free(text);
		}
	}
	return strcmp(status, "ok") == 0 ? 0 : EDGECTL_EXIT_FAILED;
}

int edgectl_answer(const char *verb, const char *line, bool json, FILE *out, FILE *err)
{
	cJSON *resp = cJSON_Parse(line);
	int rc;

	if (!resp) {
		fprintf(err, "edgectl: unreadable answer from the agent\n");
		return EDGECTL_EXIT_FAILED;
	}
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"))) {
		fprintf(err, "edgectl: %s\n", str(resp, "error", "the agent refused"));
		rc = EDGECTL_EXIT_FAILED;
	} else if (strcmp(verb, "status") == 0) {
		if (json) {
			char *t = cJSON_PrintUnformatted(resp);

			fprintf(out, "%s\n", t ? t : "");
			free(t);
		} else {
			print_status(resp, out);
		}
		rc = 0;
	} else if (strcmp(verb, "tail") == 0) {
		rc = EDGECTL_TAIL_FOLLOWS;
	} else {
		rc = print_result(resp, json, out);
	}
	cJSON_Delete(resp);
	return rc;
}

int edgectl_tail_line(const char *line, bool json, FILE *out, FILE *err)
{
	cJSON *o = cJSON_Parse(line);

	if (cJSON_GetObjectItemCaseSensitive(o, "dropped")) {
		/* the agent's note that this client was too slow: not a reading */
		if (json)
			fprintf(out, "%s\n", line);
		else
			fprintf(err, "edgectl: %.0f reading(s) dropped (output too slow)\n",
				num(o, "dropped", 0));
		fflush(out);
		cJSON_Delete(o);
		return 0;
	} else if (json || !o) {
		fprintf(out, "%s\n", line);
	} else {
		char stamp[32];
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");

		stamp_ms(num(o, "timestamp", 0), false, stamp, sizeof(stamp));
		fprintf(out, "%s  %-10s %-18s %14.10g %s\n", stamp, str(o, "sensor", "?"),
			str(o, "metric", "?"), cJSON_IsNumber(v) ? v->valuedouble : 0,
			str(o, "unit", ""));
	}
	fflush(out);
	cJSON_Delete(o);
	return 1;
}

int edgectl_print_nodes(const cJSON *resp, bool json, FILE *out)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(resp, "result");
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(res, "nodes"), *n;
	const cJSON *bind = cJSON_GetObjectItemCaseSensitive(res, "bind");
	const char *status = str(res, "status", "error");
	char buf[96];

	if (json || !nodes) {
		char *text = json ? cJSON_PrintUnformatted(res) : NULL;

		if (json)
			fprintf(out, "%s\n", text ? text : "null");
		else
			fprintf(out, "%s: %s\n", status, str(res, "message", ""));
		free(text);
		return strcmp(status, "ok") == 0 ? 0 : EDGECTL_EXIT_FAILED;
	}
	fprintf(out, "Keys: %s%s%s\n", str(res, "keysFile", "?"),
		*str(res, "keysError", "") ? " - " : "", str(res, "keysError", ""));
	if (cJSON_GetObjectItemCaseSensitive(res, "pkiCaFile"))
		fprintf(out, "Certificates: %s%s%s%s\n", str(res, "pkiCaFile", "?"),
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "pkiOn")) ? ""
										     : " (off)",
			*str(res, "pkiError", "") ? " - " : "", str(res, "pkiError", ""));
	if (cJSON_GetObjectItemCaseSensitive(res, "endpoint"))
		fprintf(out, "Endpoint: %s\n",
			*str(res, "endpoint", "") ? str(res, "endpoint", "")
						  : "none (not listening)");
	if (cJSON_IsObject(bind)) {
		double next = num(bind, "nextRetryMs", 0), now = (double)time(NULL) * 1000;

		/* a reload asked for endpoints that cannot be bound: say so loudly */
		fprintf(out, "Rebind: %s wanted, failing: %s (attempt %.0f, next in %.0f s)\n",
			*str(bind, "want", "") ? str(bind, "want", "") : "(ingress off)",
			str(bind, "error", "?"), num(bind, "attempts", 0),
			next > now ? (next - now + 999) / 1000 : 0);
	}
	fprintf(out, "%-24s %-8s %-8s %9s %9s %9s %9s  %s\n", "NODE", "STATE", "SESSION",
		"ACCEPTED", "REFUSED", "RATE-LIM", "READINGS", "LAST SEEN");
	cJSON_ArrayForEach (n, nodes) {
		bool revoked = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n, "revoked"));
		bool session = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n, "session"));

		when(num(n, "lastSeenMs", 0), buf, sizeof(buf));
		fprintf(out, "%-24s %-8s %-8s %9.0f %9.0f %9.0f %9.0f  %s\n", str(n, "id", "?"),
			revoked ? "revoked" : "ok", session ? "open" : "-", num(n, "accepted", 0),
			num(n, "refused", 0), num(n, "rateLimited", 0), num(n, "readings", 0), buf);
	}
	fprintf(out, "%d node(s)\n", cJSON_GetArraySize(nodes));
	return 0;
}
