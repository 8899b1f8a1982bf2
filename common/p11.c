/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#11 through the module's function list (edge/p11.h). The module is a
 * plug-in by nature (p11-kit proxy, softhsm2, tpm2_pkcs11, a vendor's
 * secure-element library), so it is dlopen()ed, never linked.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "edge/p11.h"

/* DER of the named curve prime256v1 (CKA_EC_PARAMS). */
static const unsigned char p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
					 0xce, 0x3d, 0x03, 0x01, 0x07};

struct edge_p11 {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	bool finalize; /* we initialised the module */
	CK_SESSION_HANDLE session;
	bool have_session, logged_in;
	CK_OBJECT_HANDLE key;
	bool have_key;
	char token[33];
	char module[256];
};

/* PKCS#11 takes input templates and buffers as non-const pointers that it
 * only reads. */
static void *unconst(const void *p)
{
	union {
		const void *c;
		void *v;
	} u = {p};

	return u.v;
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static const char *rv_str(CK_RV rv)
{
	switch (rv) {
	case CKR_PIN_INCORRECT:
		return "wrong PIN (CKR_PIN_INCORRECT)";
	case CKR_PIN_LOCKED:
		return "PIN locked (CKR_PIN_LOCKED)";
	case CKR_PIN_LEN_RANGE:
		return "PIN length out of range (CKR_PIN_LEN_RANGE)";
	case CKR_TOKEN_NOT_PRESENT:
		return "token not present (CKR_TOKEN_NOT_PRESENT)";
	case CKR_DEVICE_REMOVED:
		return "device removed (CKR_DEVICE_REMOVED)";
	case CKR_DEVICE_ERROR:
		return "device error (CKR_DEVICE_ERROR)";
	case CKR_USER_NOT_LOGGED_IN:
		return "not logged in (CKR_USER_NOT_LOGGED_IN)";
	case CKR_KEY_TYPE_INCONSISTENT:
		return "key type inconsistent (CKR_KEY_TYPE_INCONSISTENT)";
	case CKR_MECHANISM_INVALID:
		return "mechanism not supported (CKR_MECHANISM_INVALID)";
	case CKR_TOKEN_WRITE_PROTECTED:
		return "token write-protected (CKR_TOKEN_WRITE_PROTECTED)";
	case CKR_HOST_MEMORY:
		return "out of memory (CKR_HOST_MEMORY)";
	case CKR_GENERAL_ERROR:
		return "general error (CKR_GENERAL_ERROR)";
	case CKR_FUNCTION_FAILED:
		return "function failed (CKR_FUNCTION_FAILED)";
	default:
		return "PKCS#11 error";
	}
}

const char *edge_p11_default_module(void)
{
	return EDGE_P11_DEFAULT_MODULE;
}

bool edge_p11_is_uri(const char *s)
{
	return s && strncmp(s, EDGE_P11_PREFIX, sizeof(EDGE_P11_PREFIX) - 1) == 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes [v, v+n) into out (cap bytes); returns the length or -1. */
static long pct_decode(const char *v, size_t n, unsigned char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)v[i];

		if (c == '%') {
			if (i + 2 >= n || hexval(v[i + 1]) < 0 || hexval(v[i + 2]) < 0)
				return -1;
			c = hexval(v[i + 1]) * 16 + hexval(v[i + 2]);
			i += 2;
		}
		if (o >= cap)
			return -1;
		out[o++] = (unsigned char)c;
	}
	return (long)o;
}

static int set_str(char *dst, size_t cap, const char *v, size_t n, const char *name, char *err,
		   size_t errlen)
{
	long len = pct_decode(v, n, (unsigned char *)dst, cap - 1);

	if (len < 0)
		return fail(err, errlen, -EINVAL,
			    "%s: bad percent-encoding or longer than %zu bytes", name, cap - 1);
	if (memchr(dst, '\0', (size_t)len))
		return fail(err, errlen, -EINVAL, "%s: contains a NUL byte", name);
	dst[len] = '\0';
	return 0;
}

static int path_attr(struct edge_p11_uri *u, const char *a, size_t n, char *err, size_t errlen)
{
	const char *eq = memchr(a, '=', n);
	size_t kl, vl;
	const char *v;
	long len;

	if (!eq)
		return fail(err, errlen, -EINVAL, "\"%.*s\": attribute without a value", (int)n, a);
	kl = (size_t)(eq - a);
	v = eq + 1;
	vl = n - kl - 1;
#define IS(k) (kl == sizeof(k) - 1 && memcmp(a, k, kl) == 0)
	if (IS("token"))
		return set_str(u->token, sizeof(u->token), v, vl, "token", err, errlen);
	if (IS("manufacturer"))
		return set_str(u->manufacturer, sizeof(u->manufacturer), v, vl, "manufacturer", err,
			       errlen);
	if (IS("serial"))
		return set_str(u->serial, sizeof(u->serial), v, vl, "serial", err, errlen);
	if (IS("model"))
		return set_str(u->model, sizeof(u->model), v, vl, "model", err, errlen);
	if (IS("object"))
		return set_str(u->object, sizeof(u->object), v, vl, "object", err, errlen);
	if (IS("type")) {
		int rc = set_str(u->type, sizeof(u->type), v, vl, "type", err, errlen);

		if (rc)
			return rc;
		if (strcmp(u->type, "private") != 0)
			return fail(err, errlen, -EINVAL,
				    "type=%s: only type=private names a device key", u->type);
		return 0;
	}
	if (IS("id")) {
		len = pct_decode(v, vl, u->id, sizeof(u->id));
		if (len <= 0)
			return fail(err, errlen, -EINVAL,
				    "id: empty, bad percent-encoding or over %zu bytes",
				    sizeof(u->id));
		u->id_len = (size_t)len;
		return 0;
	}
	/* Attributes that select a library or slot: accepted, not used for the
	 * match (the token attributes are what stays true across reboots). */
	if (IS("library-manufacturer") || IS("library-description") || IS("library-version") ||
	    IS("slot-description") || IS("slot-manufacturer") || IS("slot-id"))
		return 0;
#undef IS
	return fail(err, errlen, -EINVAL, "unknown attribute \"%.*s\"", (int)kl, a);
}

static int query_attr(struct edge_p11_uri *u, const char *a, size_t n, char *err, size_t errlen)
{
	const char *eq = memchr(a, '=', n);
	size_t kl, vl;
	const char *v;
	char tmp[sizeof(u->pin_file)];
	int rc;

	if (!eq)
		return fail(err, errlen, -EINVAL, "\"%.*s\": query attribute without a value",
			    (int)n, a);
	kl = (size_t)(eq - a);
	v = eq + 1;
	vl = n - kl - 1;
	if (kl == 9 && memcmp(a, "pin-value", 9) == 0)
		return fail(err, errlen, -EINVAL,
			    "pin-value: the PIN must not be written in the configuration; use "
			    "pin-source=file:PATH or pkcs11.pin_file (a 0600 file)");
	if (kl == 10 && memcmp(a, "pin-source", 10) == 0) {
		rc = set_str(tmp, sizeof(tmp), v, vl, "pin-source", err, errlen);
		if (rc)
			return rc;
		/* RFC 7512 leaves the form open; "file:" and plain paths. */
		const char *p = strncmp(tmp, "file:", 5) == 0 ? tmp + 5 : tmp;

		if (strncmp(p, "//", 2) == 0)
			p += 2;
		if (*p != '/')
			return fail(err, errlen, -EINVAL,
				    "pin-source=%s: must be file:/absolute/path", tmp);
		snprintf(u->pin_file, sizeof(u->pin_file), "%s", p);
		return 0;
	}
	if (kl == 11 && memcmp(a, "module-path", 11) == 0)
		return set_str(u->module, sizeof(u->module), v, vl, "module-path", err, errlen);
	if (kl == 11 && memcmp(a, "module-name", 11) == 0)
		return 0; /* p11-kit resolves names; the proxy covers it */
	return fail(err, errlen, -EINVAL, "unknown query attribute \"%.*s\"", (int)kl, a);
}

int edge_p11_uri_parse(const char *uri, struct edge_p11_uri *u, char *err, size_t errlen)
{
	const char *p, *q, *end;
	int rc;

	memset(u, 0, sizeof(*u));
	if (!edge_p11_is_uri(uri))
		return fail(err, errlen, -EINVAL, "not a PKCS#11 URI (must start with pkcs11:)");
	p = uri + sizeof(EDGE_P11_PREFIX) - 1;
	q = strchr(p, '?');
	end = q ? q : p + strlen(p);
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		size_t n = semi ? (size_t)(semi - p) : (size_t)(end - p);

		if (n && (rc = path_attr(u, p, n, err, errlen)) != 0)
			return rc;
		p += n + (semi ? 1 : 0);
	}
	if (q) {
		p = q + 1;
		end = p + strlen(p);
		while (p < end) {
			const char *amp = memchr(p, '&', (size_t)(end - p));
			size_t n = amp ? (size_t)(amp - p) : (size_t)(end - p);

			if (n && (rc = query_attr(u, p, n, err, errlen)) != 0)
				return rc;
			p += n + (amp ? 1 : 0);
		}
	}
	if (!*u->object && !u->id_len)
		return fail(err, errlen, -EINVAL,
			    "names no key: add object=LABEL (or id=...) to the URI");
	return 0;
}

const char *edge_p11_uri_describe(const struct edge_p11_uri *u, char *buf, size_t len)
{
	snprintf(buf, len, "token \"%s\" object \"%s\"", *u->token ? u->token : "(any)",
		 *u->object ? u->object : "(by id)");
	return buf;
}

int edge_secret_check(const char *path, const char *what, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return fail(err, errlen, -errno, "%s %s: %s", what, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, -EINVAL, "%s %s: not a regular file", what, path);
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return fail(err, errlen, -EPERM,
			    "%s %s: mode %04o lets group or others read or change it "
			    "(chmod 600 %s)",
			    what, path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

int edge_p11_pin_read(const char *path, char *pin, size_t pinlen, char *err, size_t errlen)
{
	char buf[160];
	ssize_t n;
	int fd, rc;

	rc = edge_secret_check(path, "PIN file", err, errlen);
	if (rc)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, -errno, "PIN file %s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	rc = errno;
	close(fd);
	if (n < 0)
		return fail(err, errlen, -rc, "PIN file %s: %s", path, strerror(rc));
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!*buf || strlen(buf) >= pinlen || strlen(buf) > 128) {
		explicit_bzero(buf, sizeof(buf));
		return fail(err, errlen, -EINVAL, "PIN file %s: empty or longer than 128 bytes",
			    path);
	}
	memcpy(pin, buf, strlen(buf) + 1);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* CK_TOKEN_INFO strings are blank-padded, not NUL-terminated. */
static bool padded_eq(const unsigned char *field, size_t flen, const char *want)
{
	size_t n = strlen(want);

	if (!*want)
		return true;
	if (n > flen || memcmp(field, want, n) != 0)
		return false;
	for (size_t i = n; i < flen; i++)
		if (field[i] != ' ' && field[i] != '\0')
			return false;
	return true;
}

static void padded_copy(char *out, size_t outlen, const unsigned char *field, size_t flen)
{
	size_t n = flen < outlen - 1 ? flen : outlen - 1;

	memcpy(out, field, n);
	while (n && (out[n - 1] == ' ' || out[n - 1] == '\0'))
		n--;
	out[n] = '\0';
}

static int find_slot(struct edge_p11 *p, const struct edge_p11_uri *u, CK_SLOT_ID *slot,
		     CK_TOKEN_INFO *ti, char *err, size_t errlen)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;
	char seen[160] = "";
	CK_RV rv;

	rv = p->f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK)
		return fail(err, errlen, -EIO, "module %s: C_GetSlotList: %s (0x%lx)", p->module,
			    rv_str(rv), (unsigned long)rv);
	for (CK_ULONG i = 0; i < n; i++) {
		char label[33];
		size_t sl = strlen(seen);

		/* a free slot (SoftHSM2 keeps one) holds no token yet */
		if (p->f->C_GetTokenInfo(slots[i], ti) != CKR_OK ||
		    !(ti->flags & CKF_TOKEN_INITIALIZED))
			continue;
		padded_copy(label, sizeof(label), ti->label, sizeof(ti->label));
		if (sl + strlen(label) + 4 < sizeof(seen))
			snprintf(seen + sl, sizeof(seen) - sl, "%s\"%s\"", sl ? ", " : "", label);
		if (padded_eq(ti->label, sizeof(ti->label), u->token) &&
		    padded_eq(ti->manufacturerID, sizeof(ti->manufacturerID), u->manufacturer) &&
		    padded_eq(ti->serialNumber, sizeof(ti->serialNumber), u->serial) &&
		    padded_eq(ti->model, sizeof(ti->model), u->model)) {
			*slot = slots[i];
			return 0;
		}
	}
	return fail(err, errlen, -ENOENT, "token \"%s\" not found through %s (tokens present: %s)",
		    *u->token ? u->token : "(any)", p->module, *seen ? seen : "none");
}

int edge_p11_open(const char *module, const struct edge_p11_uri *u, const char *pin,
		  struct edge_p11 **out, char *err, size_t errlen)
{
	CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
	CK_TOKEN_INFO ti;
	CK_SLOT_ID slot = 0;
	struct edge_p11 *p;
	CK_RV rv;
	int rc;

	if (*u->module) /* the URI's module-path is the most specific */
		module = u->module;
	else if (!module || !*module)
		module = EDGE_P11_DEFAULT_MODULE;
	p = calloc(1, sizeof(*p));
	if (!p)
		return fail(err, errlen, -ENOMEM, "out of memory");
	snprintf(p->module, sizeof(p->module), "%s", module);
	snprintf(p->token, sizeof(p->token), "%s", u->token);
	/* NODELETE: modules that start threads or register handlers (p11-kit,
	 * tpm2-pkcs11's TCTI libraries) must not be unmapped under them; and a
	 * module loaded again (each connection attempt) is then not re-read. */
	p->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!p->dl) {
		rc = fail(err, errlen, -ENOENT, "PKCS#11 module %s: %s", module, dlerror());
		goto err_p;
	}
	*(void **)&get_list = dlsym(p->dl, "C_GetFunctionList");
	if (!get_list || get_list(&p->f) != CKR_OK || !p->f) {
		rc = fail(err, errlen, -EIO, "PKCS#11 module %s: no C_GetFunctionList", module);
		goto err_dl;
	}
	rv = p->f->C_Initialize(NULL);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		rc = fail(err, errlen, -EIO, "PKCS#11 module %s: C_Initialize: %s (0x%lx)", module,
			  rv_str(rv), (unsigned long)rv);
		goto err_dl;
	}
	p->finalize = rv == CKR_OK;
	rc = find_slot(p, u, &slot, &ti, err, errlen);
	if (rc)
		goto err_init;
	rv =
	    p->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &p->session);
	if (rv != CKR_OK) {
		rc = fail(err, errlen, -EIO, "token \"%s\": C_OpenSession: %s (0x%lx)", u->token,
			  rv_str(rv), (unsigned long)rv);
		goto err_init;
	}
	p->have_session = true;
	if (ti.flags & CKF_LOGIN_REQUIRED) {
		if (!pin) {
			rc = fail(
			    err, errlen, -EACCES,
			    "token \"%s\" needs a PIN: give pin-source=file:PATH in the URI or "
			    "pkcs11.pin_file",
			    u->token);
			goto err_init;
		}
		rv = p->f->C_Login(p->session, CKU_USER, unconst(pin), strlen(pin));
		if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
			rc = fail(err, errlen,
				  rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED ||
					  rv == CKR_PIN_LEN_RANGE
				      ? -EACCES
				      : -EIO,
				  "token \"%s\": login: %s", u->token, rv_str(rv));
			goto err_init;
		}
		p->logged_in = rv == CKR_OK;
	}
	*out = p;
	return 0;

err_init:
	edge_p11_close(p);
	return rc;
err_dl:
	dlclose(p->dl);
err_p:
	free(p);
	return rc;
}

void edge_p11_close(struct edge_p11 *p)
{
	if (!p)
		return;
	if (p->logged_in)
		p->f->C_Logout(p->session);
	if (p->have_session)
		p->f->C_CloseSession(p->session);
	if (p->finalize)
		p->f->C_Finalize(NULL);
	dlclose(p->dl);
	free(p);
}

/* Up to max handles of the objects matching tmpl. */
static int find(struct edge_p11 *p, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *h,
		CK_ULONG max, CK_ULONG *found)
{
	CK_RV rv = p->f->C_FindObjectsInit(p->session, tmpl, n);

	if (rv != CKR_OK)
		return -EIO;
	rv = p->f->C_FindObjects(p->session, h, max, found);
	p->f->C_FindObjectsFinal(p->session);
	return rv == CKR_OK ? 0 : -EIO;
}

/* The template that selects u's objects of class cls. Returns its length. */
static CK_ULONG select_tmpl(const struct edge_p11_uri *u, CK_OBJECT_CLASS *cls, CK_ATTRIBUTE *t)
{
	CK_ULONG n = 0;

	t[n++] = (CK_ATTRIBUTE){CKA_CLASS, cls, sizeof(*cls)};
	if (*u->object)
		t[n++] = (CK_ATTRIBUTE){CKA_LABEL, unconst(u->object), strlen(u->object)};
	if (u->id_len)
		t[n++] = (CK_ATTRIBUTE){CKA_ID, unconst(u->id), u->id_len};
	return n;
}

/* CKA_EC_POINT is a DER OCTET STRING around the point (some modules give
 * the bare point). */
static int point_from_attr(const unsigned char *a, CK_ULONG n, unsigned char point[65])
{
	if (n == 67 && a[0] == 0x04 && a[1] == 65 && a[2] == 0x04) {
		memcpy(point, a + 2, 65);
		return 0;
	}
	if (n == 65 && a[0] == 0x04) {
		memcpy(point, a, 65);
		return 0;
	}
	return -EINVAL;
}

static int public_point(struct edge_p11 *p, const struct edge_p11_uri *u, CK_OBJECT_HANDLE priv,
			unsigned char point[65])
{
	CK_OBJECT_CLASS pub = CKO_PUBLIC_KEY;
	unsigned char buf[80], id[64];
	CK_ATTRIBUTE a = {CKA_EC_POINT, buf, sizeof(buf)};
	CK_ATTRIBUTE ida = {CKA_ID, id, sizeof(id)};
	CK_ATTRIBUTE t[3];
	CK_OBJECT_HANDLE h;
	CK_ULONG n = 0, found = 0;

	/* tpm2-pkcs11 and some HSMs keep the point on the private key too. */
	if (p->f->C_GetAttributeValue(p->session, priv, &a, 1) == CKR_OK &&
	    point_from_attr(buf, a.ulValueLen, point) == 0)
		return 0;
	t[n++] = (CK_ATTRIBUTE){CKA_CLASS, &pub, sizeof(pub)};
	if (p->f->C_GetAttributeValue(p->session, priv, &ida, 1) == CKR_OK && ida.ulValueLen &&
	    ida.ulValueLen != CK_UNAVAILABLE_INFORMATION)
		t[n++] = ida;
	else if (*u->object)
		t[n++] = (CK_ATTRIBUTE){CKA_LABEL, unconst(u->object), strlen(u->object)};
	if (find(p, t, n, &h, 1, &found) || found != 1)
		return -ENOENT;
	a = (CK_ATTRIBUTE){CKA_EC_POINT, buf, sizeof(buf)};
	if (p->f->C_GetAttributeValue(p->session, h, &a, 1) != CKR_OK)
		return -EIO;
	return point_from_attr(buf, a.ulValueLen, point);
}

static int describe_key(struct edge_p11 *p, const struct edge_p11_uri *u, CK_OBJECT_HANDLE h,
			struct edge_p11_key *key, char *err, size_t errlen)
{
	CK_KEY_TYPE kt = 0;
	CK_BBOOL sens = CK_FALSE, extr = CK_TRUE, asens = CK_FALSE, nextr = CK_FALSE;
	unsigned char params[32];
	CK_ATTRIBUTE a[] = {
	    {CKA_KEY_TYPE, &kt, sizeof(kt)},
	    {CKA_EC_PARAMS, params, sizeof(params)},
	    {CKA_SENSITIVE, &sens, sizeof(sens)},
	    {CKA_EXTRACTABLE, &extr, sizeof(extr)},
	    {CKA_ALWAYS_SENSITIVE, &asens, sizeof(asens)},
	    {CKA_NEVER_EXTRACTABLE, &nextr, sizeof(nextr)},
	};
	char d[200];

	edge_p11_uri_describe(u, d, sizeof(d));
	/* Some attributes may be unavailable (CKR_ATTRIBUTE_TYPE_INVALID): the
	 * others are still filled in, and the checks below read what they need. */
	(void)p->f->C_GetAttributeValue(p->session, h, a, sizeof(a) / sizeof(a[0]));
	if (kt != CKK_EC || a[1].ulValueLen != sizeof(p256_oid) ||
	    memcmp(params, p256_oid, sizeof(p256_oid)) != 0)
		return fail(err, errlen, -EINVAL, "%s: not an EC P-256 key", d);
	key->sensitive = sens == CK_TRUE;
	key->extractable = extr == CK_TRUE && a[3].ulValueLen != CK_UNAVAILABLE_INFORMATION;
	key->always_sensitive = asens == CK_TRUE;
	key->never_extractable = nextr == CK_TRUE;
	if (public_point(p, u, h, key->point) != 0)
		return fail(err, errlen, -ENOENT,
			    "%s: no public key found beside the private key (same CKA_ID)", d);
	return 0;
}

int edge_p11_find_key(struct edge_p11 *p, const struct edge_p11_uri *u, struct edge_p11_key *key,
		      char *err, size_t errlen)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[3];
	CK_OBJECT_HANDLE h[2];
	CK_ULONG found = 0;
	char d[200];
	int rc;

	edge_p11_uri_describe(u, d, sizeof(d));
	if (find(p, t, select_tmpl(u, &cls, t), h, 2, &found))
		return fail(err, errlen, -EIO, "%s: C_FindObjects failed", d);
	if (found == 0)
		return fail(err, errlen, -ENOENT, "%s: no such private key in the token", d);
	if (found > 1)
		return fail(err, errlen, -EINVAL, "%s: several private keys match; add id=", d);
	rc = describe_key(p, u, h[0], key, err, errlen);
	if (rc)
		return rc;
	p->key = h[0];
	p->have_key = true;
	return 0;
}

int edge_p11_generate(struct edge_p11 *p, const struct edge_p11_uri *u, struct edge_p11_key *key,
		      char *err, size_t errlen)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	unsigned char id[16];
	const void *idp = u->id;
	size_t idlen = u->id_len;
	CK_OBJECT_HANDLE pub, priv, h;
	CK_ULONG found = 0;
	CK_ATTRIBUTE t[3];
	char d[200];
	CK_RV rv;

	edge_p11_uri_describe(u, d, sizeof(d));
	if (find(p, t, select_tmpl(u, &cls, t), &h, 1, &found))
		return fail(err, errlen, -EIO, "%s: C_FindObjects failed", d);
	if (found)
		return fail(err, errlen, -EEXIST, "%s: a private key with this name exists already",
			    d);
	/* A CKA_ID ties the pair together (libp11 and tpm2-pkcs11 find the
	 * public half by it); random when the URI names none. */
	if (!idlen) {
		if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id))
			return fail(err, errlen, -EIO, "getrandom: %s", strerror(errno));
		idp = id;
		idlen = sizeof(id);
	}
	CK_ATTRIBUTE pt[] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_VERIFY, &yes, sizeof(yes)},
	    {CKA_EC_PARAMS, unconst(p256_oid), sizeof(p256_oid)},
	    {CKA_LABEL, unconst(u->object), strlen(u->object)},
	    {CKA_ID, unconst(idp), idlen},
	};
	CK_ATTRIBUTE kt[] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &yes, sizeof(yes)},
	    {CKA_EXTRACTABLE, &no, sizeof(no)},
	    {CKA_SIGN, &yes, sizeof(yes)},
	    {CKA_DERIVE, &no, sizeof(no)},
	    {CKA_LABEL, unconst(u->object), strlen(u->object)},
	    {CKA_ID, unconst(idp), idlen},
	};
	rv = p->f->C_GenerateKeyPair(p->session, &mech, pt, sizeof(pt) / sizeof(pt[0]), kt,
				     sizeof(kt) / sizeof(kt[0]), &pub, &priv);
	if (rv != CKR_OK)
		return fail(err, errlen, -EIO, "%s: C_GenerateKeyPair (EC P-256): %s (0x%lx)", d,
			    rv_str(rv), (unsigned long)rv);
	p->key = priv;
	p->have_key = true;
	return describe_key(p, u, priv, key, err, errlen);
}

int edge_p11_sign(struct edge_p11 *p, const unsigned char digest[32], unsigned char sig[64],
		  char *err, size_t errlen)
{
	CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
	CK_ULONG n = 64;
	CK_RV rv;

	if (!p->have_key)
		return fail(err, errlen, -EINVAL, "token \"%s\": no key selected", p->token);
	rv = p->f->C_SignInit(p->session, &mech, p->key);
	if (rv == CKR_OK)
		rv = p->f->C_Sign(p->session, unconst(digest), 32, sig, &n);
	if (rv != CKR_OK)
		return fail(err, errlen, -EIO, "token \"%s\": ECDSA signature: %s (0x%lx)",
			    p->token, rv_str(rv), (unsigned long)rv);
	if (n != 64)
		return fail(err, errlen, -EIO, "token \"%s\": ECDSA signature of %lu bytes, not 64",
			    p->token, (unsigned long)n);
	return 0;
}

int edge_p11_check_key(const char *uri, const char *module, const char *pin_file, const char *what,
		       struct edge_p11_key *key, char *err, size_t errlen)
{
	struct edge_p11_uri u;
	struct edge_p11 *p = NULL;
	char pin[160], e[400];
	const char *pf;
	int rc;

	rc = edge_p11_uri_parse(uri, &u, e, sizeof(e));
	if (rc)
		return fail(err, errlen, rc, "%s: %s", what, e);
	pf = *u.pin_file ? u.pin_file : pin_file && *pin_file ? pin_file : NULL;
	if (pf && (rc = edge_p11_pin_read(pf, pin, sizeof(pin), e, sizeof(e))) != 0)
		return fail(err, errlen, rc, "%s: %s", what, e);
	rc = edge_p11_open(module, &u, pf ? pin : NULL, &p, e, sizeof(e));
	explicit_bzero(pin, sizeof(pin));
	if (rc == 0)
		rc = edge_p11_find_key(p, &u, key, e, sizeof(e));
	edge_p11_close(p);
	if (rc)
		return fail(err, errlen, rc, "%s: %s", what, e);
	return 0;
}
