/* libFuzzer target: the value of a D-Bus SetValue call, decoded and brought to an item's type
 * exactly as the daemon's SetValue does (vedbus_decode_set_value), without a bus.
 *
 * Input byte 0 picks how the message is made:
 *   even: a SetValue call whose arguments are built from the remaining bytes by a small recipe
 *         (every basic type, nested variants, arrays, structs, dicts; see read_node), then
 *         marshalled and demarshalled as it would cross the wire;
 *   odd:  the remaining bytes are a whole wire message for dbus_message_demarshal (libdbus
 *         validates it as it does on receipt; what passes reaches the decoder whatever its
 *         signature).
 * A decoded value must be of the item's type (or invalid), and a string must be valid UTF-8. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dbus/dbus.h>

#include "daemon/config.h"
#include "venus/vedbus.h"
#include "fuzz_util.h"

#define MAX_NODES    64
#define MAX_DEPTH    12
#define MAX_STRING   80
#define MAX_CHILDREN 4

struct reader {
    const uint8_t *data;
    size_t size, pos;
};

static uint8_t next(struct reader *r)
{
    return r->pos < r->size ? r->data[r->pos++] : 0;
}

static void next_bytes(struct reader *r, void *out, size_t n)
{
    uint8_t *o = out;
    for (size_t i = 0; i < n; i++)
        o[i] = next(r);
}

enum node_kind {
    N_BOOL,
    N_BYTE,
    N_I16,
    N_U16,
    N_I32,
    N_U32,
    N_I64,
    N_U64,
    N_DOUBLE,
    N_STRING,
    N_PATH,
    N_SIG,
    N_VARIANT,
    N_ARRAY_I32,
    N_ARRAY_EMPTY_S,
    N_STRUCT,
    N_DICT,
    N_KINDS
};

struct node {
    enum node_kind kind;
    DBusBasicValue value;
    char text[MAX_STRING + 1];
    struct node *child[MAX_CHILDREN];
    size_t n_children;
    char signature[256];
};

struct tree {
    struct node nodes[MAX_NODES];
    size_t used;
};

static const char *const basic_signature[] = {"b", "y", "n", "q", "i", "u",
                                              "x", "t", "d", "s", "o", "g"};

/* A string libdbus accepts: the fuzzer's bytes if they are valid UTF-8 without NUL, else the
 * same bytes folded into printable ASCII. */
static void read_string(struct reader *r, char *out)
{
    size_t len = next(r) % (MAX_STRING + 1);
    next_bytes(r, out, len);
    out[len] = '\0';
    if (strlen(out) == len && dbus_validate_utf8(out, NULL))
        return;
    for (size_t i = 0; i < len; i++)
        out[i] = (char)(' ' + (unsigned char)out[i] % 95);
}

static struct node *read_node(struct reader *r, struct tree *t, unsigned depth)
{
    if (t->used == MAX_NODES)
        return NULL;
    struct node *n = &t->nodes[t->used++];
    memset(n, 0, sizeof(*n));
    n->kind = (enum node_kind)(next(r) % N_KINDS);
    if (depth >= MAX_DEPTH && n->kind >= N_VARIANT)
        n->kind = N_I32;
    switch (n->kind) {
    case N_BOOL:
        n->value.bool_val = next(r) & 1;
        break;
    case N_STRING:
        read_string(r, n->text);
        break;
    case N_PATH:
        snprintf(n->text, sizeof(n->text), "/P%u", next(r));
        break;
    case N_SIG:
        snprintf(n->text, sizeof(n->text), "%s", basic_signature[next(r) % 12]);
        break;
    case N_VARIANT:
    case N_DICT:
        n->child[n->n_children] = read_node(r, t, depth + 1);
        if (!n->child[n->n_children])
            return NULL;
        n->n_children++;
        break;
    case N_ARRAY_I32:
        n->n_children = next(r) % MAX_CHILDREN; /* element count; values read when appended */
        break;
    case N_STRUCT:
        for (size_t i = 0, count = 1 + next(r) % (MAX_CHILDREN - 1); i < count; i++) {
            if (!(n->child[i] = read_node(r, t, depth + 1)))
                return NULL;
            n->n_children++;
        }
        break;
    case N_ARRAY_EMPTY_S:
    case N_KINDS:
        break;
    default:
        next_bytes(r, &n->value, sizeof(n->value));
        break;
    }
    /* The node's own signature, used for the variants and dicts that hold it. */
    switch (n->kind) {
    case N_VARIANT:
        strcpy(n->signature, "v");
        break;
    case N_ARRAY_I32:
        strcpy(n->signature, "ai");
        break;
    case N_ARRAY_EMPTY_S:
        strcpy(n->signature, "as");
        break;
    case N_DICT:
        strcpy(n->signature, "a{sv}");
        break;
    case N_STRUCT:
        strcpy(n->signature, "(");
        for (size_t i = 0; i < n->n_children; i++)
            if (strlen(n->signature) + strlen(n->child[i]->signature) + 2 < sizeof(n->signature))
                strcat(n->signature, n->child[i]->signature);
            else
                return NULL;
        strcat(n->signature, ")");
        break;
    default:
        strcpy(n->signature, basic_signature[n->kind]);
        break;
    }
    return n;
}

static const int basic_type[] = {DBUS_TYPE_BOOLEAN, DBUS_TYPE_BYTE,        DBUS_TYPE_INT16,
                                 DBUS_TYPE_UINT16,  DBUS_TYPE_INT32,       DBUS_TYPE_UINT32,
                                 DBUS_TYPE_INT64,   DBUS_TYPE_UINT64,      DBUS_TYPE_DOUBLE,
                                 DBUS_TYPE_STRING,  DBUS_TYPE_OBJECT_PATH, DBUS_TYPE_SIGNATURE};

static bool append_node(DBusMessageIter *it, const struct node *n, struct reader *r)
{
    DBusMessageIter sub, entry;
    bool ok;
    const char *s = n->text;
    switch (n->kind) {
    case N_STRING:
    case N_PATH:
    case N_SIG:
        return dbus_message_iter_append_basic(it, basic_type[n->kind], &s);
    case N_VARIANT:
        return dbus_message_iter_open_container(it, DBUS_TYPE_VARIANT, n->child[0]->signature,
                                                &sub) &&
               append_node(&sub, n->child[0], r) && dbus_message_iter_close_container(it, &sub);
    case N_ARRAY_I32:
        ok = dbus_message_iter_open_container(it, DBUS_TYPE_ARRAY, "i", &sub);
        for (size_t i = 0; ok && i < n->n_children; i++) {
            dbus_int32_t v = (dbus_int32_t)next(r);
            ok = dbus_message_iter_append_basic(&sub, DBUS_TYPE_INT32, &v);
        }
        return ok && dbus_message_iter_close_container(it, &sub);
    case N_ARRAY_EMPTY_S:
        return dbus_message_iter_open_container(it, DBUS_TYPE_ARRAY, "s", &sub) &&
               dbus_message_iter_close_container(it, &sub);
    case N_STRUCT:
        ok = dbus_message_iter_open_container(it, DBUS_TYPE_STRUCT, NULL, &sub);
        for (size_t i = 0; ok && i < n->n_children; i++)
            ok = append_node(&sub, n->child[i], r);
        return ok && dbus_message_iter_close_container(it, &sub);
    case N_DICT: {
        DBusMessageIter var;
        const char *key = "Value";
        ok = dbus_message_iter_open_container(it, DBUS_TYPE_ARRAY, "{sv}", &sub) &&
             dbus_message_iter_open_container(&sub, DBUS_TYPE_DICT_ENTRY, NULL, &entry) &&
             dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &key) &&
             dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, n->child[0]->signature,
                                              &var) &&
             append_node(&var, n->child[0], r) && dbus_message_iter_close_container(&entry, &var) &&
             dbus_message_iter_close_container(&sub, &entry) &&
             dbus_message_iter_close_container(it, &sub);
        return ok;
    }
    default:
        return dbus_message_iter_append_basic(it, basic_type[n->kind], &n->value);
    }
}

/* A SetValue call carrying the recipe's arguments: normally one variant, sometimes none, a bare
 * value or two arguments (what a confused client might send). */
static DBusMessage *build_call(struct reader *r)
{
    DBusMessage *msg =
        dbus_message_new_method_call("com.victronenergy.battery.fuzz", "/Distributor/A/Fuse/0/Name",
                                     "com.victronenergy.BusItem", "SetValue");
    if (!msg)
        return NULL;
    DBusMessageIter args;
    dbus_message_iter_init_append(msg, &args);
    unsigned shape = next(r) % 8; /* 0: no argument, 1: bare value, 2: two, else one variant */
    bool ok = true;
    for (unsigned a = 0; ok && shape != 0 && a < (shape == 2 ? 2u : 1u); a++) {
        struct tree *t = calloc(1, sizeof(*t));
        struct node *n = t ? read_node(r, t, 0) : NULL;
        if (!n) {
            free(t);
            break;
        }
        if (shape == 1) {
            ok = append_node(&args, n, r);
        } else {
            DBusMessageIter var;
            ok = dbus_message_iter_open_container(&args, DBUS_TYPE_VARIANT, n->signature, &var) &&
                 append_node(&var, n, r) && dbus_message_iter_close_container(&args, &var);
        }
        free(t);
    }
    if (!ok) {
        dbus_message_unref(msg);
        return NULL;
    }
    /* Across the wire and back: the daemon only ever sees what libdbus accepted on receipt. */
    char *wire = NULL;
    int len = 0;
    dbus_message_set_serial(msg, 1);
    bool marshalled = dbus_message_marshal(msg, &wire, &len);
    dbus_message_unref(msg);
    if (!marshalled)
        return NULL;
    DBusError err;
    dbus_error_init(&err);
    msg = dbus_message_demarshal(wire, len, &err);
    dbus_free(wire);
    check(msg != NULL, "libdbus refused a message it marshalled itself");
    return msg;
}

static void decode_for_every_type(DBusMessage *msg)
{
    static const enum vedbus_type declared[] = {VEDBUS_TYPE_INVALID, VEDBUS_TYPE_INT,
                                                VEDBUS_TYPE_DOUBLE, VEDBUS_TYPE_STRING};
    for (size_t i = 0; i < sizeof(declared) / sizeof(declared[0]); i++) {
        struct vedbus_value v = {.type = VEDBUS_TYPE_INVALID};
        int rc = vedbus_decode_set_value(msg, declared[i], &v);
        if (rc < 0) {
            check(rc == -EINVAL, "decode failed with another code than -EINVAL");
            continue;
        }
        check(v.type == VEDBUS_TYPE_INVALID || declared[i] == VEDBUS_TYPE_INVALID ||
                  v.type == declared[i],
              "decoded value not of the item's type");
        if (v.type == VEDBUS_TYPE_STRING) {
            check(v.s && dbus_validate_utf8(v.s, NULL), "decoded string not valid UTF-8");
            /* what a name item then checks: dbus-valid UTF-8 is never "not valid UTF-8" */
            check(name_check(v.s, &name_limit_fuse, NULL) != NAME_BAD_UTF8,
                  "name_check disagrees with libdbus on UTF-8");
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    DBusMessage *msg;
    if (data[0] & 1) {
        DBusError err;
        dbus_error_init(&err);
        msg = dbus_message_demarshal((const char *)data + 1, (int)(size - 1), &err);
        dbus_error_free(&err);
    } else {
        struct reader r = {.data = data + 1, .size = size - 1};
        msg = build_call(&r);
    }
    if (!msg)
        return 0;
    decode_for_every_type(msg);
    dbus_message_unref(msg);
    return 0;
}
