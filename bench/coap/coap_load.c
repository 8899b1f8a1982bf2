/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-coap-load: many CoAP/DTLS-PSK nodes in one process, each with its own
 * session (its own UDP socket and source port), on libcoap's client API.
 *
 *   post        each node: handshake, then --count POSTs in lock-step
 *   hold        each node: handshake and one POST, then hold the session for
 *               --seconds (or until stdin closes); prints "held N" once all
 *               are established
 *   storm       each peer: handshakes with a wrong key, over and over, a new
 *               source port each time, for --seconds
 *   handshakes  sequential fresh sessions (handshake + one POST): per second
 *
 * One JSON line of results per mode on stdout; progress on stderr.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <coap3/coap.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct peer {
	char id[65];
	uint8_t key[64];
	size_t klen;
	coap_session_t *s;
	uint16_t local_port;
	bool connected, failed, waiting, held;
	int sent, answered;
	uint64_t t_start, t_hs, t_sent, t_first;
	double *rtt;
	size_t n_rtt;
	unsigned codes[256];
	uint16_t mid;
	uint8_t tok[8];
};

static struct {
	const char *host, *keys, *id, *key_text, *key_hex, *format, *mode, *method, *path;
	uint16_t port;
	int nodes, count, local_port;
	double seconds;
	bool wrong_key, no_close, verbose;
} opt = {.host = "127.0.0.1",
	 .port = 5684,
	 .format = "json",
	 .method = "post",
	 .path = "v1/readings",
	 .count = 1,
	 .seconds = 10};

static struct peer *peers;
static size_t n_peers;
/* steady state: from the moment every node has its first answer (all
 * handshakes done) to the end; per_s also counts the handshakes */
static size_t n_first, n_answers, steady_n0;
static uint64_t steady_t0;
static coap_context_t *ctx;
static unsigned long handshakes_done, handshakes_failed;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

static size_t unhex(const char *h, uint8_t *out, size_t max)
{
	size_t n = strlen(h) / 2;

	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(hexval(h[2 * i]) << 4 | hexval(h[2 * i + 1]));
	return n;
}

static int load_keys(void)
{
	FILE *f = fopen(opt.keys, "r");
	char *buf;
	long len;
	cJSON *root, *it;
	size_t i = 0;

	if (!f) {
		perror(opt.keys);
		return -1;
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		fclose(f);
		return -1;
	}
	buf[len] = '\0';
	fclose(f);
	root = cJSON_Parse(buf);
	free(buf);
	n_peers = (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(root, "nodes"));
	if (opt.nodes > 0 && (size_t)opt.nodes < n_peers)
		n_peers = (size_t)opt.nodes;
	peers = calloc(n_peers ? n_peers : 1, sizeof(*peers));
	cJSON_ArrayForEach (it, cJSON_GetObjectItem(root, "nodes")) {
		const cJSON *id = cJSON_GetObjectItem(it, "id"),
			    *k = cJSON_GetObjectItem(it, "psk_hex");

		if (i == n_peers)
			break;
		if (!cJSON_IsString(id) || !cJSON_IsString(k))
			continue;
		snprintf(peers[i].id, sizeof(peers[i].id), "%s", id->valuestring);
		peers[i].klen = unhex(k->valuestring, peers[i].key, sizeof(peers[i].key));
		i++;
	}
	n_peers = i;
	cJSON_Delete(root);
	return 0;
}

/* A SenML pack for one node: relative time 0, a value that moves. */
static size_t pack_for(const struct peer *p, int seq, uint8_t *out, size_t max)
{
	int hr = 60 + seq % 40;

	if (strcmp(opt.format, "cbor") == 0) {
		/* [{-2: "<id>/", 0: "heartRate", 1: "beat/min", 2: hr}] */
		size_t n = 0, idl = strlen(p->id) + 1;

		out[n++] = 0x81;
		out[n++] = 0xa4;
		out[n++] = 0x21;
		out[n++] = (uint8_t)(0x60 | (idl < 24 ? idl : 24));
		if (idl >= 24)
			out[n++] = (uint8_t)idl;
		memcpy(out + n, p->id, idl - 1);
		n += idl - 1;
		out[n++] = '/';
		out[n++] = 0x00;
		out[n++] = 0x69;
		memcpy(out + n, "heartRate", 9);
		n += 9;
		out[n++] = 0x01;
		out[n++] = 0x68;
		memcpy(out + n, "beat/min", 8);
		n += 8;
		out[n++] = 0x02;
		out[n++] = 0x18;
		out[n++] = (uint8_t)hr;
		return n;
	}
	return (size_t)snprintf(
	    (char *)out, max, "[{\"bn\":\"%s/\",\"n\":\"heartRate\",\"u\":\"beat/min\",\"v\":%d}]",
	    p->id, hr);
}

static int send_post(struct peer *p)
{
	coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON,
					strcmp(opt.method, "put") ? COAP_REQUEST_CODE_POST
								  : COAP_REQUEST_CODE_PUT,
					coap_new_message_id(p->s), coap_session_max_pdu_size(p->s));
	uint8_t body[512], buf[4];
	size_t len = pack_for(p, p->sent, body, sizeof(body)), toklen;
	const char *seg = opt.path;

	if (!pdu)
		return -1;
	coap_session_new_token(p->s, &toklen, p->tok);
	coap_add_token(pdu, toklen, p->tok);
	while (*seg) {
		size_t n = strcspn(seg, "/");

		coap_add_option(pdu, COAP_OPTION_URI_PATH, n, (const uint8_t *)seg);
		seg += n;
		if (*seg == '/')
			seg++;
	}
	coap_add_option(
	    pdu, COAP_OPTION_CONTENT_FORMAT,
	    coap_encode_var_safe(buf, sizeof(buf), strcmp(opt.format, "cbor") ? 110 : 112), buf);
	coap_add_data(pdu, len, body);
	p->mid = (uint16_t)coap_pdu_get_mid(pdu);
	p->t_sent = now_us();
	p->waiting = true;
	p->sent++;
	if (coap_send(p->s, pdu) == COAP_INVALID_MID) {
		p->waiting = false;
		p->failed = true;
		return -1;
	}
	return 0;
}

static struct peer *peer_of(coap_session_t *s)
{
	return coap_session_get_app_data(s);
}

static coap_response_t on_response(coap_session_t *s, const coap_pdu_t *sent,
				   const coap_pdu_t *recv, const coap_mid_t mid)
{
	struct peer *p = peer_of(s);
	uint8_t code = (uint8_t)coap_pdu_get_code(recv);

	(void)sent;
	(void)mid;
	if (!p || !p->waiting)
		return COAP_RESPONSE_OK;
	p->waiting = false;
	n_answers++;
	if (!p->answered++) {
		p->t_first = now_us();
		if (++n_first == n_peers) {
			steady_t0 = p->t_first;
			steady_n0 = n_answers;
		}
	}
	p->codes[code]++;
	if (p->rtt)
		p->rtt[p->n_rtt++] = (double)(now_us() - p->t_sent) / 1000.0;
	if (opt.verbose)
		fprintf(stderr, "%s: %u.%02u\n", p->id, code >> 5, code & 0x1f);
	return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *s, const coap_pdu_t *sent, const coap_nack_reason_t reason,
		    const coap_mid_t mid)
{
	struct peer *p = peer_of(s);

	(void)sent;
	(void)mid;
	if (!p)
		return;
	if (reason == COAP_NACK_TOO_MANY_RETRIES || reason == COAP_NACK_TLS_FAILED ||
	    reason == COAP_NACK_NOT_DELIVERABLE) {
		p->waiting = false;
		p->failed = true;
	}
}

static int on_event(coap_session_t *s, const coap_event_t ev)
{
	struct peer *p = peer_of(s);

	if (!p)
		return 0;
	if (ev == COAP_EVENT_DTLS_CONNECTED) {
		p->connected = true;
		p->t_hs = now_us();
		handshakes_done++;
	} else if (ev == COAP_EVENT_DTLS_ERROR || ev == COAP_EVENT_DTLS_CLOSED) {
		if (!p->connected)
			handshakes_failed++;
		p->failed = true;
		p->waiting = false;
	}
	return 0;
}

static int open_session(struct peer *p, uint16_t local_port)
{
	coap_address_t dst, src;
	coap_dtls_cpsk_t cpsk;
	static const uint8_t wrong[16] = "not-the-right-k";

	coap_address_init(&dst);
	dst.addr.sin.sin_family = AF_INET;
	dst.addr.sin.sin_port = htons(opt.port);
	inet_pton(AF_INET, opt.host, &dst.addr.sin.sin_addr);
	dst.size = sizeof(dst.addr.sin);
	coap_address_init(&src);
	src.addr.sin.sin_family = AF_INET;
	src.addr.sin.sin_port = htons(local_port);
	src.size = sizeof(src.addr.sin);
	memset(&cpsk, 0, sizeof(cpsk));
	cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
	cpsk.psk_info.identity.s = (const uint8_t *)p->id;
	cpsk.psk_info.identity.length = strlen(p->id);
	cpsk.psk_info.key.s = opt.wrong_key ? wrong : p->key;
	cpsk.psk_info.key.length = opt.wrong_key ? sizeof(wrong) : p->klen;
	p->connected = p->failed = p->waiting = false;
	p->t_start = now_us();
	p->s = coap_new_client_session_psk2(ctx, local_port ? &src : NULL, &dst, COAP_PROTO_DTLS,
					    &cpsk);
	if (!p->s)
		return -1;
	coap_session_set_app_data(p->s, p);
	return 0;
}

static void close_session(struct peer *p)
{
	if (!p->s)
		return;
	coap_session_set_app_data(p->s, NULL);
	coap_session_release(p->s);
	p->s = NULL;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void add_codes(cJSON *o, const unsigned *codes)
{
	cJSON *c = cJSON_AddObjectToObject(o, "codes");
	char k[8];

	for (int i = 0; i < 256; i++)
		if (codes[i]) {
			snprintf(k, sizeof(k), "%d.%02d", i >> 5, i & 0x1f);
			cJSON_AddNumberToObject(c, k, codes[i]);
		}
}

static void print(cJSON *o)
{
	char *t = cJSON_PrintUnformatted(o);

	printf("%s\n", t);
	fflush(stdout);
	free(t);
	cJSON_Delete(o);
}

/* post / hold: every node connects and sends, in lock-step per node. */
static int run_post(bool hold)
{
	uint64_t start = now_us(), deadline = start + (uint64_t)(opt.seconds * 1e6);
	size_t done = 0, established = 0;
	bool announced = false;
	unsigned codes[256] = {0};
	double *all;
	size_t n_all = 0;
	cJSON *o;

	for (size_t i = 0; i < n_peers; i++) {
		peers[i].rtt = calloc((size_t)opt.count + 1, sizeof(double));
		if (open_session(&peers[i],
				 opt.local_port ? (uint16_t)(opt.local_port + (int)i) : 0) ||
		    send_post(&peers[i]))
			peers[i].failed = true;
	}
	while (now_us() < deadline) {
		coap_io_process(ctx, 50);
		done = established = 0;
		for (size_t i = 0; i < n_peers; i++) {
			struct peer *p = &peers[i];

			if (!p->waiting && !p->failed && p->sent < opt.count && !hold)
				send_post(p);
			if (p->failed ||
			    (!p->waiting && (hold ? p->answered > 0 : p->sent >= opt.count)))
				done++;
			established += p->connected && p->answered > 0 && !p->failed;
		}
		if (hold && !announced && done == n_peers) {
			fprintf(stdout, "held %zu of %zu\n", established, n_peers);
			fflush(stdout);
			announced = true;
		}
		if (hold) {
			struct pollfd pf = {.fd = 0, .events = POLLIN};

			if (announced && poll(&pf, 1, 0) > 0) {
				char c;

				if (read(0, &c, 1) <= 0)
					break;
			}
			continue;
		}
		if (done == n_peers)
			break;
	}
	if (opt.no_close) {
		/* a node losing power: no close_notify, nothing flushed */
		for (size_t i = 0; i < n_peers; i++)
			printf("%s %s\n", peers[i].id,
			       peers[i].codes[COAP_RESPONSE_CODE(204)] ? "2.04" : "none");
		fflush(stdout);
		_exit(0);
	}
	all = calloc(n_peers * ((size_t)opt.count + 1) + 1, sizeof(double));
	if (!all) {
		fprintf(stderr, "edge-coap-load: no memory for %zu round-trip times\n",
			n_peers * ((size_t)opt.count + 1));
		return 1;
	}
	for (size_t i = 0; i < n_peers; i++) {
		struct peer *p = &peers[i];

		for (int c = 0; c < 256; c++)
			codes[c] += p->codes[c];
		for (size_t k = 0; k < p->n_rtt; k++)
			all[n_all++] = p->rtt[k];
	}
	qsort(all, n_all, sizeof(double), cmp_d);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "mode", hold ? "hold" : "post");
	cJSON_AddNumberToObject(o, "nodes", (double)n_peers);
	cJSON_AddNumberToObject(o, "established", (double)established);
	cJSON_AddNumberToObject(o, "seconds", (double)(now_us() - start) / 1e6);
	add_codes(o, codes);
	cJSON_AddNumberToObject(o, "answered", (double)n_all);
	if (n_all) {
		cJSON_AddNumberToObject(o, "rtt_ms_min", all[0]);
		cJSON_AddNumberToObject(o, "rtt_ms_p50", all[n_all / 2]);
		cJSON_AddNumberToObject(o, "rtt_ms_p99", all[(n_all * 99) / 100]);
		cJSON_AddNumberToObject(o, "rtt_ms_max", all[n_all - 1]);
		uint64_t end = now_us();

		cJSON_AddNumberToObject(o, "per_s", (double)n_all / ((double)(end - start) / 1e6));
		if (steady_t0 && end > steady_t0 && n_answers > steady_n0)
			cJSON_AddNumberToObject(o, "steady_per_s",
						(double)(n_answers - steady_n0) /
						    ((double)(end - steady_t0) / 1e6));
	}
	if (n_peers == 1 && peers[0].t_hs)
		cJSON_AddNumberToObject(o, "handshake_ms",
					(double)(peers[0].t_hs - peers[0].t_start) / 1000.0);
	if (n_peers == 1 && n_all)
		cJSON_AddNumberToObject(o, "first_answer_ms",
					(double)(peers[0].t_first - peers[0].t_start) / 1000.0);
	print(o);
	free(all);
	for (size_t i = 0; i < n_peers; i++)
		close_session(&peers[i]);
	coap_io_process(ctx, 100); /* let the close_notify go */
	return 0;
}

/* storm: wrong-key handshakes, a fresh source port each attempt. */
static int run_storm(void)
{
	uint64_t start = now_us(), deadline = start + (uint64_t)(opt.seconds * 1e6);
	unsigned long attempts = 0;
	cJSON *o;

	opt.wrong_key = true;
	while (now_us() < deadline) {
		for (size_t i = 0; i < n_peers; i++) {
			struct peer *p = &peers[i];

			/* each attempt lives 2 s (the server should drop it sooner) */
			if (p->s && !p->failed && now_us() - p->t_start < 2000000)
				continue;
			close_session(p);
			if (open_session(p, 0) == 0) {
				send_post(p);
				attempts++;
			}
		}
		coap_io_process(ctx, 20);
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "mode", "storm");
	cJSON_AddNumberToObject(o, "peers", (double)n_peers);
	cJSON_AddNumberToObject(o, "attempts", (double)attempts);
	cJSON_AddNumberToObject(o, "connected", (double)handshakes_done);
	print(o);
	for (size_t i = 0; i < n_peers; i++)
		close_session(&peers[i]);
	return 0;
}

/* handshakes: one node, a fresh session per round (handshake + one POST). */
static int run_handshakes(void)
{
	uint64_t start = now_us(), deadline = start + (uint64_t)(opt.seconds * 1e6);
	unsigned long ok = 0, failed = 0;
	struct peer *p = &peers[0];
	cJSON *o;

	while (now_us() < deadline) {
		uint64_t t0 = now_us();

		memset(p->codes, 0, sizeof(p->codes));
		p->answered = p->sent = 0;
		if (open_session(p, 0) || send_post(p)) {
			failed++;
			close_session(p);
			continue;
		}
		while (p->waiting && !p->failed && now_us() - t0 < 5000000)
			coap_io_process(ctx, 20);
		if (p->codes[COAP_RESPONSE_CODE(204)])
			ok++;
		else
			failed++;
		close_session(p);
		coap_io_process(ctx, COAP_IO_NO_WAIT);
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "mode", "handshakes");
	cJSON_AddNumberToObject(o, "ok", (double)ok);
	cJSON_AddNumberToObject(o, "failed", (double)failed);
	cJSON_AddNumberToObject(o, "per_s", (double)ok / ((double)(now_us() - start) / 1e6));
	print(o);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: edge-coap-load [--host H] [--port P] (--keys FILE [--nodes N] | --id ID "
		"(--key-text K | --key-hex H))\n"
		"                      [--format json|cbor] [--count N] [--seconds S] "
		"[--local-port P] [--no-close] [-v]\n"
		"                      [--method post|put] [--path v1/readings]\n"
		"                      post|hold|storm|handshakes\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"host", required_argument, NULL, 'H'},
					   {"port", required_argument, NULL, 'p'},
					   {"keys", required_argument, NULL, 'k'},
					   {"nodes", required_argument, NULL, 'n'},
					   {"id", required_argument, NULL, 'i'},
					   {"key-text", required_argument, NULL, 't'},
					   {"key-hex", required_argument, NULL, 'x'},
					   {"format", required_argument, NULL, 'f'},
					   {"count", required_argument, NULL, 'c'},
					   {"seconds", required_argument, NULL, 's'},
					   {"local-port", required_argument, NULL, 'l'},
					   {"no-close", no_argument, NULL, 'N'},
					   {"verbose", no_argument, NULL, 'v'},
					   {"method", required_argument, NULL, 'm'},
					   {"path", required_argument, NULL, 'P'},
					   {NULL, 0, NULL, 0}};
	struct rlimit rl;
	int c, rc;

	while ((c = getopt_long(argc, argv, "v", lo, NULL)) != -1) {
		switch (c) {
		case 'H':
			opt.host = optarg;
			break;
		case 'p':
			opt.port = (uint16_t)atoi(optarg);
			break;
		case 'k':
			opt.keys = optarg;
			break;
		case 'n':
			opt.nodes = atoi(optarg);
			break;
		case 'i':
			opt.id = optarg;
			break;
		case 't':
			opt.key_text = optarg;
			break;
		case 'x':
			opt.key_hex = optarg;
			break;
		case 'f':
			opt.format = optarg;
			break;
		case 'c':
			opt.count = atoi(optarg);
			break;
		case 's':
			opt.seconds = atof(optarg);
			break;
		case 'l':
			opt.local_port = atoi(optarg);
			break;
		case 'N':
			opt.no_close = true;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'm':
			opt.method = optarg;
			break;
		case 'P':
			opt.path = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage();
		return 2;
	}
	opt.mode = argv[optind];
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { /* a socket per session */
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (opt.keys) {
		if (load_keys())
			return 1;
	} else if (opt.id && (opt.key_text || opt.key_hex)) {
		n_peers = 1;
		peers = calloc(1, sizeof(*peers));
		snprintf(peers[0].id, sizeof(peers[0].id), "%s", opt.id);
		if (opt.key_text) {
			peers[0].klen = strlen(opt.key_text) < 64 ? strlen(opt.key_text) : 64;
			memcpy(peers[0].key, opt.key_text, peers[0].klen);
		} else {
			peers[0].klen = unhex(opt.key_hex, peers[0].key, sizeof(peers[0].key));
		}
	} else {
		usage();
		return 2;
	}
	coap_startup();
	coap_set_log_level(opt.verbose ? LOG_INFO : LOG_EMERG);
	coap_dtls_set_log_level(opt.verbose ? LOG_INFO : LOG_EMERG);
	ctx = coap_new_context(NULL);
	if (!ctx)
		return 1;
	coap_register_response_handler(ctx, on_response);
	coap_register_nack_handler(ctx, on_nack);
	coap_register_event_handler(ctx, on_event);
	if (strcmp(opt.mode, "post") == 0)
		rc = run_post(false);
	else if (strcmp(opt.mode, "hold") == 0)
		rc = run_post(true);
	else if (strcmp(opt.mode, "storm") == 0)
		rc = run_storm();
	else if (strcmp(opt.mode, "handshakes") == 0)
		rc = run_handshakes();
	else {
		usage();
		rc = 2;
	}
	coap_free_context(ctx);
	coap_cleanup();
	return rc;
}
