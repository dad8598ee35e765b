/* vedbus_items: a service's items, a table sorted by path that also answers which paths are nodes;
 * each item's value, declared type, text and changed mark. No D-Bus traffic here. */
#include "venus/vedbus_items.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

/* Index of the first item whose path is >= path. */
static size_t lower_bound(const struct vedbus_table *table, const char *path)
{
    size_t lo = 0, hi = table->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(table->items[mid]->path, path) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct vedbus_item *vedbus_table_find(const struct vedbus_table *table, const char *path)
{
    size_t i = lower_bound(table, path);
    return i < table->count && strcmp(table->items[i]->path, path) == 0 ? table->items[i] : NULL;
}

size_t vedbus_below_node(const char *path, const char *node)
{
    if (strcmp(node, "/") == 0)
        return 1;
    size_t len = strlen(node);
    return strncmp(path, node, len) == 0 && path[len] == '/' ? len + 1 : 0;
}

bool vedbus_table_is_node(const struct vedbus_table *table, const char *path)
{
    if (strcmp(path, "/") == 0)
        return true;
    /* Paths sharing a prefix are contiguous in sorted order. */
    size_t len = strlen(path);
    for (size_t i = lower_bound(table, path); i < table->count; i++) {
        const char *p = table->items[i]->path;
        if (strncmp(p, path, len) != 0)
            break;
        if (p[len] == '/')
            return true;
    }
    return false;
}

static bool leaf_is_prefix_of(const struct vedbus_table *table, const char *path)
{
    char *copy = strdup(path);
    bool found = false;
    if (!copy)
        return false;
    for (char *slash = strchr(copy + 1, '/'); slash && !found; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        found = vedbus_table_find(table, copy) != NULL;
        *slash = '/';
    }
    free(copy);
    return found;
}

static void free_item(struct vedbus_item *item)
{
    if (item->value.type == VEDBUS_TYPE_STRING)
        free((char *)item->value.s);
    free(item->path);
    free(item);
}

int vedbus_item_store(struct vedbus_item *item, const struct vedbus_value *value)
{
    if (vedbus_value_equal(&item->value, value))
        return 0;
    struct vedbus_value copy = *value;
    if (value->type == VEDBUS_TYPE_STRING) {
        copy.s = strdup(value->s);
        if (!copy.s)
            return -ENOMEM;
    }
    if (item->value.type == VEDBUS_TYPE_STRING)
        free((char *)item->value.s);
    item->value = copy;
    item->changed = true;
    return 1;
}

int vedbus_table_add(struct vedbus_table *table, const char *path,
                     const struct vedbus_value *initial, const struct vedbus_item_options *options,
                     bool announce, struct vedbus_item **out)
{
    if (!path || strcmp(path, "/") == 0 || !dbus_validate_path(path, NULL))
        return -EINVAL;
    int r = vedbus_value_check(initial);
    if (r < 0)
        return r == -EILSEQ ? -EINVAL : r;
    if (vedbus_table_find(table, path) || vedbus_table_is_node(table, path) ||
        leaf_is_prefix_of(table, path))
        return -EEXIST;

    struct vedbus_item *item = calloc(1, sizeof(*item));
    if (!item)
        return -ENOMEM;
    if (options)
        item->options = *options;
    item->declared = item->options.type != VEDBUS_TYPE_INVALID ? item->options.type : initial->type;
    item->path = strdup(path);
    struct vedbus_value value;
    r = item->path ? vedbus_value_coerce(item->declared, initial, &value) : -ENOMEM;
    if (r == 0)
        r = vedbus_item_store(item, &value) < 0 ? -ENOMEM : 0;
    if (r == 0 && table->count == table->capacity) {
        size_t capacity = table->capacity ? table->capacity * 2 : 64;
        struct vedbus_item **items = realloc(table->items, capacity * sizeof(*items));
        if (items) {
            table->items = items;
            table->capacity = capacity;
        } else {
            r = -ENOMEM;
        }
    }
    if (r < 0) {
        free_item(item);
        return r;
    }
    size_t at = lower_bound(table, path);
    memmove(&table->items[at + 1], &table->items[at], (table->count - at) * sizeof(*table->items));
    table->items[at] = item;
    table->count++;
    item->changed = announce;
    if (out)
        *out = item;
    return 0;
}

void vedbus_table_free(struct vedbus_table *table)
{
    for (size_t i = 0; i < table->count; i++)
        free_item(table->items[i]);
    free(table->items);
}

const char *vedbus_item_text(const struct vedbus_item *item, char buf[VEDBUS_TEXT_MAX])
{
    const struct vedbus_value *v = &item->value;
    if (v->type == VEDBUS_TYPE_INVALID)
        return "---";
    if (item->options.text) {
        buf[0] = '\0';
        item->options.text(v, buf, VEDBUS_TEXT_MAX, item->options.text_user);
        buf[VEDBUS_TEXT_MAX - 1] = '\0';
        if (!dbus_validate_utf8(buf, NULL)) {
            log_warn("vedbus: %s: text formatter produced invalid UTF-8", item->path);
            return "?";
        }
        return buf;
    }
    return vedbus_value_text(v, item->options.format, buf);
}

const char *vedbus_item_path(const struct vedbus_item *item)
{
    return item->path;
}

int vedbus_item_set(struct vedbus_item *item, const struct vedbus_value *value)
{
    int r = vedbus_value_check(value);
    if (r < 0)
        return r;
    struct vedbus_value coerced;
    r = vedbus_value_coerce(item->declared, value, &coerced);
    if (r < 0)
        return r;
    return vedbus_item_store(item, &coerced);
}

int vedbus_item_set_int(struct vedbus_item *item, int64_t value)
{
    return vedbus_item_set(item, &VEDBUS_INT(value));
}

int vedbus_item_set_double(struct vedbus_item *item, double value)
{
    return vedbus_item_set(item, &VEDBUS_DOUBLE(value));
}

int vedbus_item_set_string(struct vedbus_item *item, const char *value)
{
    return vedbus_item_set(item, &VEDBUS_STRING(value));
}

int vedbus_item_set_invalid(struct vedbus_item *item)
{
    return vedbus_item_set(item, &VEDBUS_INVALID);
}

void vedbus_item_mark_changed(struct vedbus_item *item)
{
    item->changed = true;
}

struct vedbus_value vedbus_item_value(const struct vedbus_item *item)
{
    return item->value;
}
