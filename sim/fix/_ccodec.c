/* The FIX codec's hot loops in C: framing, decoding a well-formed frame, encoding.
 *
 * Why C: the pure-Python codec (sim/fix/codec.py) is already built from C-speed bytes
 * methods (find, translate, split, Adler-32) and still costs ~6 us to decode and ~4.7 us to
 * encode a typical order on the 2-core dev box; most of it is interpreter overhead per field.
 * simplefix parses byte by byte in Python (~5.6k msgs/s here) and QuickFIX's parser is C++
 * behind a SWIG binding that copies every field into a std::string map.  These functions do
 * one pass over the bytes with no Python call per field.
 *
 * Contract: every function either returns the exact result the pure-Python path gives, or
 * None, meaning "not the common case: ask the Python path" (which also produces the precise
 * error).  So the Python code stays the reference and the fallback when this module is not
 * built, and the differential tests compare both on generated and mutated frames.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_FAST_TAG 9999
#define SOH 0x01

static PyObject *tag_ints[MAX_FAST_TAG + 1];     /* 1..9999 as Python ints, owned */
static unsigned char length_tag[MAX_FAST_TAG + 1]; /* 1: a data-length tag (RawDataLength...) */

static Py_ssize_t
find_byte(const unsigned char *s, Py_ssize_t from, Py_ssize_t to, unsigned char c)
{
    if (from >= to)
        return -1;
    const unsigned char *p = memchr(s + from, c, (size_t)(to - from));
    return p ? (Py_ssize_t)(p - s) : -1;
}

static Py_ssize_t
find_seq(const unsigned char *s, Py_ssize_t from, Py_ssize_t to, const char *needle, Py_ssize_t m)
{
    /* memmem is a GNU extension; memchr on the first byte then memcmp is as fast here. */
    while (from + m <= to) {
        const unsigned char *p = memchr(s + from, (unsigned char)needle[0], (size_t)(to - from - m + 1));
        if (!p)
            return -1;
        Py_ssize_t i = (Py_ssize_t)(p - s);
        if (memcmp(p, needle, (size_t)m) == 0)
            return i;
        from = i + 1;
    }
    return -1;
}

static int
starts_with(const unsigned char *s, Py_ssize_t n, Py_ssize_t at, const char *prefix, Py_ssize_t m)
{
    return at >= 0 && at + m <= n && memcmp(s + at, prefix, (size_t)m) == 0;
}

/* all digits and at least one; *value gets the number, or -1 if it has more than 18 digits */
static int
parse_digits(const unsigned char *s, Py_ssize_t from, Py_ssize_t to, long long *value)
{
    if (from >= to)
        return 0;
    long long v = 0;
    for (Py_ssize_t i = from; i < to; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        if (v >= 0)
            v = (i - from < 18) ? v * 10 + (s[i] - '0') : -1;
    }
    *value = v;
    return 1;
}

/* scan_frame(buf, pos, max_body_length) -> (frame | None, pos, skipped, garbled)
 *
 * One step of FrameReader.next_frame (see its Python version for the rule): the next complete
 * frame at or after pos, the new read offset, and the garbage bytes / bad frame starts passed. */
static PyObject *
scan_frame(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t pos, max_body;
    if (!PyArg_ParseTuple(args, "y*nn", &view, &pos, &max_body))
        return NULL;
    const unsigned char *buf = view.buf;
    Py_ssize_t end = view.len;
    Py_ssize_t skipped = 0, garbled = 0;
    PyObject *frame = NULL;

    for (;;) {
        Py_ssize_t start = pos;
        if (!starts_with(buf, end, start, "8=FIX", 5)) {
            Py_ssize_t found = find_seq(buf, start, end, "8=FIX", 5);
            if (found < 0) {
                Py_ssize_t keep = end - 4 > start ? end - 4 : start; /* a partial "8=FI" may complete */
                skipped += keep - start;
                pos = keep;
                break;
            }
            skipped += found - start;
            pos = start = found;
        }
        Py_ssize_t soh1 = find_byte(buf, start, start + 64 < end ? start + 64 : end, SOH);
        if (soh1 < 0) {
            if (end - start >= 64)
                goto resync;
            break;
        }
        if (end < soh1 + 3)
            break;
        if (!starts_with(buf, end, soh1 + 1, "9=", 2))
            goto resync;
        Py_ssize_t soh2 = find_byte(buf, soh1 + 3, soh1 + 24 < end ? soh1 + 24 : end, SOH);
        if (soh2 < 0) {
            if (end - soh1 >= 24)
                goto resync;
            break;
        }
        long long body_len;
        if (!parse_digits(buf, soh1 + 3, soh2, &body_len) || body_len < 0 || body_len > max_body)
            goto resync;
        Py_ssize_t body_end = soh2 + 1 + (Py_ssize_t)body_len;
        if (end < body_end)
            break;
        Py_ssize_t t = find_seq(buf, body_end - 1, end, "\x01" "10=", 4);
        if (t < 0) {
            if (end - body_end > max_body)
                goto resync;
            break;
        }
        Py_ssize_t e = find_byte(buf, t + 4, end, SOH);
        if (e < 0) {
            if (end - t > 64)
                goto resync;
            break;
        }
        pos = e + 1;
        frame = PyBytes_FromStringAndSize((const char *)buf + start, e + 1 - start);
        if (!frame) {
            PyBuffer_Release(&view);
            return NULL;
        }
        break;
    resync:
        garbled += 1;
        skipped += 1;
        pos = start + 1;
    }
    PyBuffer_Release(&view);
    if (!frame) {
        frame = Py_None;
        Py_INCREF(frame);
    }
    return Py_BuildValue("Nnnn", frame, pos, skipped, garbled);
}

/* decode_fields(frame: bytes) -> list[(int, bytes)] | None
 *
 * The pure-Python fast path of decode(): trailer "<SOH>10=ddd<SOH>", fields 8, 9, 35 first,
 * BodyLength and CheckSum right, every field "tag=value" with exactly one '=' and a canonical
 * tag 1..9999 that is not a data-length tag.  Anything else -> None. */
static PyObject *
decode_fields(PyObject *self, PyObject *frame)
{
    if (!PyBytes_CheckExact(frame))
        Py_RETURN_NONE;
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(frame);
    Py_ssize_t n = PyBytes_GET_SIZE(frame);
    if (n < 20 || s[n - 1] != SOH || memcmp(s + n - 8, "\x01" "10=", 4) != 0)
        Py_RETURN_NONE;
    long long cs;
    if (!parse_digits(s, n - 4, n - 1, &cs) || s[0] != '8' || s[1] != '=')
        Py_RETURN_NONE;
    Py_ssize_t p1 = find_byte(s, 0, n, SOH);
    if (!starts_with(s, n, p1 + 1, "9=", 2))
        Py_RETURN_NONE;
    Py_ssize_t p2 = find_byte(s, p1 + 3, n, SOH);
    long long bl;
    if (p2 < 0 || !parse_digits(s, p1 + 3, p2, &bl) || bl != n - 8 - p2)
        Py_RETURN_NONE;
    if (!starts_with(s, n, p2 + 1, "35=", 3))
        Py_RETURN_NONE;
    unsigned int sum = 0;
    for (Py_ssize_t i = 0; i < n - 7; i++)
        sum += s[i];
    if ((long long)(sum & 0xFF) != cs)
        Py_RETURN_NONE;

    /* Fields of frame[:-1]: count them first (SOH count + 1), then fill the list. */
    Py_ssize_t region = n - 1, count = 1;
    for (const unsigned char *p = s; (p = memchr(p, SOH, (size_t)(s + region - p))) != NULL; p++)
        count++;
    PyObject *list = PyList_New(count);
    if (!list)
        return NULL;
    Py_ssize_t pos = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        /* tag: 1-4 digits, no leading zero, then '=' */
        int tag = 0;
        Py_ssize_t i = pos;
        while (i < region && s[i] >= '0' && s[i] <= '9' && i - pos < 5) {
            tag = tag * 10 + (s[i] - '0');
            i++;
        }
        if (i == pos || i - pos > 4 || s[pos] == '0' || i >= region || s[i] != '=' || length_tag[tag])
            goto fallback;
        Py_ssize_t v = i + 1;
        Py_ssize_t soh = find_byte(s, v, region, SOH);
        if (soh < 0)
            soh = region;
        if (memchr(s + v, '=', (size_t)(soh - v)) != NULL)
            goto fallback;
        PyObject *value = PyBytes_FromStringAndSize((const char *)s + v, soh - v);
        if (!value) {
            Py_DECREF(list);
            return NULL;
        }
        PyObject *pair = PyTuple_New(2);
        if (!pair) {
            Py_DECREF(value);
            Py_DECREF(list);
            return NULL;
        }
        Py_INCREF(tag_ints[tag]);
        PyTuple_SET_ITEM(pair, 0, tag_ints[tag]);
        PyTuple_SET_ITEM(pair, 1, value);
        PyList_SET_ITEM(list, k, pair);
        pos = soh + 1;
    }
    return list;
fallback:
    Py_DECREF(list); /* unset items are NULL, which list_dealloc skips */
    Py_RETURN_NONE;
}

/* One field value as bytes to copy: bytes as is, str as latin-1, int as decimal. */
typedef struct {
    const char *data;
    Py_ssize_t len;
    char digits[24];
} value_ref;

static int
value_of(PyObject *v, value_ref *out)
{
    if (PyBytes_CheckExact(v)) {
        out->data = PyBytes_AS_STRING(v);
        out->len = PyBytes_GET_SIZE(v);
        return 1;
    }
    if (PyUnicode_CheckExact(v)) {
        if (PyUnicode_READY(v) < 0) {
            PyErr_Clear();
            return 0;
        }
        if (PyUnicode_KIND(v) != PyUnicode_1BYTE_KIND)
            return 0; /* not latin-1: the Python path raises the precise error */
        out->data = (const char *)PyUnicode_1BYTE_DATA(v);
        out->len = PyUnicode_GET_LENGTH(v);
        return 1;
    }
    if (PyLong_CheckExact(v)) {
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow || (x == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return 0;
        }
        out->len = snprintf(out->digits, sizeof out->digits, "%lld", x);
        out->data = out->digits;
        return 1;
    }
    return 0; /* bool, subclasses, buffers: the Python path's general checks decide */
}

static Py_ssize_t
decimal_len(Py_ssize_t x)
{
    Py_ssize_t d = 1;
    while (x >= 10) {
        x /= 10;
        d++;
    }
    return d;
}

/* encode_fields(begin_string: bytes, msg_type: bytes, fields: list | tuple) -> bytes | None
 *
 * encode() for the common case: tags are ints 1..9999, values exact bytes, latin-1 str or int.
 * Two passes (lengths, then copy) into one bytes object; checksum summed while copying. */
static PyObject *
encode_fields(PyObject *self, PyObject *args)
{
    PyObject *begin, *msg_type, *fields;
    if (!PyArg_ParseTuple(args, "OOO", &begin, &msg_type, &fields))
        return NULL;
    if (!PyBytes_CheckExact(begin) || !PyBytes_CheckExact(msg_type))
        Py_RETURN_NONE;
    if (!PyList_CheckExact(fields) && !PyTuple_CheckExact(fields))
        Py_RETURN_NONE;
    PyObject **items = PySequence_Fast_ITEMS(fields);
    Py_ssize_t count = PySequence_Fast_GET_SIZE(fields);

    /* pass 1: validate and measure */
    Py_ssize_t body = 3 + PyBytes_GET_SIZE(msg_type) + 1; /* 35=X<SOH> */
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *pair = items[k];
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2)
            Py_RETURN_NONE;
        PyObject *t = PyTuple_GET_ITEM(pair, 0);
        if (!PyLong_CheckExact(t))
            Py_RETURN_NONE;
        long tag = PyLong_AsLong(t);
        if (tag < 1 || tag > MAX_FAST_TAG) {
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        value_ref ref;
        if (!value_of(PyTuple_GET_ITEM(pair, 1), &ref))
            Py_RETURN_NONE;
        body += decimal_len(tag) + 1 + ref.len + 1;
    }
    Py_ssize_t blen = PyBytes_GET_SIZE(begin);
    Py_ssize_t total = 2 + blen + 1 + 2 + decimal_len(body) + 1 + body + 7;
    PyObject *out = PyBytes_FromStringAndSize(NULL, total);
    if (!out)
        return NULL;
    char *w = PyBytes_AS_STRING(out);
    char *w0 = w;

    /* pass 2: write */
    w += sprintf(w, "8=");
    memcpy(w, PyBytes_AS_STRING(begin), (size_t)blen);
    w += blen;
    w += sprintf(w, "\x01" "9=%zd\x01" "35=", body);
    memcpy(w, PyBytes_AS_STRING(msg_type), (size_t)PyBytes_GET_SIZE(msg_type));
    w += PyBytes_GET_SIZE(msg_type);
    *w++ = SOH;
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *pair = items[k];
        long tag = PyLong_AsLong(PyTuple_GET_ITEM(pair, 0));
        value_ref ref;
        value_of(PyTuple_GET_ITEM(pair, 1), &ref); /* cannot fail: pass 1 accepted it */
        w += sprintf(w, "%ld=", tag);
        memcpy(w, ref.data, (size_t)ref.len);
        w += ref.len;
        *w++ = SOH;
    }
    unsigned int sum = 0;
    for (const char *p = w0; p < w; p++)
        sum += (unsigned char)*p;
    w += sprintf(w, "10=%03u\x01", sum & 0xFF);
    if (w - w0 != total) { /* a length computed wrong would corrupt the heap: refuse loudly */
        Py_DECREF(out);
        PyErr_SetString(PyExc_SystemError, "_ccodec.encode_fields: length mismatch");
        return NULL;
    }
    return out;
}

/* set_length_tags(tags): the data-length tags (from codec.DATA_FIELDS) that force the exact path */
static PyObject *
set_length_tags(PyObject *self, PyObject *tags)
{
    PyObject *it = PyObject_GetIter(tags);
    if (!it)
        return NULL;
    memset(length_tag, 0, sizeof length_tag);
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        long t = PyLong_AsLong(item);
        Py_DECREF(item);
        if (t == -1 && PyErr_Occurred()) {
            Py_DECREF(it);
            return NULL;
        }
        if (t >= 0 && t <= MAX_FAST_TAG)
            length_tag[t] = 1;
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"scan_frame", scan_frame, METH_VARARGS, "One framing step: (frame | None, pos, skipped, garbled)."},
    {"decode_fields", decode_fields, METH_O, "Fields of a well-formed frame, or None for the exact Python path."},
    {"encode_fields", encode_fields, METH_VARARGS, "Encode the common case, or None for the Python path."},
    {"set_length_tags", set_length_tags, METH_O, "Set the data-length tags that force the exact path."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_ccodec", "The FIX codec's hot loops in C (see sim/fix/codec.py).", -1, methods,
};

PyMODINIT_FUNC
PyInit__ccodec(void)
{
    for (int i = 1; i <= MAX_FAST_TAG; i++) {
        if (!tag_ints[i] && !(tag_ints[i] = PyLong_FromLong(i)))
            return NULL;
    }
    return PyModule_Create(&module);
}
